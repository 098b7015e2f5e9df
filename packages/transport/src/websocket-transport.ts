/**
 * The Transport port on WebSockets (DESIGN.md §4): one authenticated connection per pair of
 * regions, either side may dial; every message is bounded and shape-checked before the replica
 * sees it; a full send buffer answers false instead of queueing; links are pinged, timed out and
 * redialled with exponential backoff and full jitter. Before a peer has proven its key, its socket
 * takes only handshake-sized messages and holds one of a bounded set of slots (admission.ts); over
 * TLS the client certificate is checked before the upgrade and the handshake is bound to the
 * channel (handshake.ts).
 *
 * This file drives connections through their steps and owns the link state; its parts: the
 * accepting side (accepting.ts), the dialing side (dialing.ts), one connection (connection.ts), one
 * peer's state and backoff (peer-state.ts), framing and backpressure (framing.ts), and the log lines
 * of failed connections (link-failures.ts).
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { type OriginId, originId } from '@allot/core';
import type { PeerLink, ReplicationFrame, Transport, TransportHandlers } from '@allot/replica';
import type { RawData, WebSocket } from 'ws';
import { Acceptor } from './accepting.js';
import { decodeMessage } from './codec.js';
import {
  type Connection,
  clearHandshakeTimer,
  clearHelloTimer,
  newConnection,
  raisePayloadMax,
  releaseSlot,
  replaces,
} from './connection.js';
import { dialSocket } from './dialing.js';
import { postMessage, sendFrame } from './framing.js';
import { type HandshakeContext, handshakeStep, helloMessage, initialHandshake } from './handshake.js';
import { CLOSE_WAIT_MS, HANDSHAKE_BYTES_MAX } from './limits.js';
import { LinkFailures } from './link-failures.js';
import { type ResolvedOptions, resolveOptions, type WebSocketTransportOptions } from './options.js';
import {
  clearRetryTimer,
  linkUp,
  newPeerState,
  type PeerState,
  peerLinkOf,
  redialDelayMs,
} from './peer-state.js';
import { CloseCode, isTransportMessage, type WireMessage } from './protocol.js';
import { closeReason, rawBytes } from './sockets.js';
import type { Admission } from './upgrade-gate.js';

/**
 * The Transport port on WebSockets. Accepts peers on `/v1/replication` of the HTTP server it is
 * attached to, dials every configured peer once started, and hands the replica only frames from
 * peers that completed the mutual Ed25519 handshake.
 */
export class WebSocketTransport implements Transport {
  private readonly options: ResolvedOptions;
  private readonly context: HandshakeContext;
  private readonly acceptor: Acceptor;
  private readonly failures: LinkFailures;
  private readonly peerStates = new Map<string, PeerState>();
  private readonly connections = new Set<Connection>();
  private handlers: TransportHandlers | null = null;
  private started = false;
  private stopped = false;
  private nextSerial = 1;
  private nextPingNonce = 1;
  private pingTimer: NodeJS.Timeout | null = null;

  constructor(options: WebSocketTransportOptions) {
    const resolved = resolveOptions(options);
    this.options = resolved;
    this.acceptor = new Acceptor(resolved.logger, resolved.tls !== null, resolved.configuredAddresses, {
      refusing: () => this.stopped || this.handlers === null,
      stopped: () => this.stopped,
      accepted: (ws, admission) => this.accepted(ws, admission),
    });
    this.failures = new LinkFailures(resolved.logger, this.acceptor.gate, (region) =>
      this.peerStates.get(region),
    );
    for (const config of resolved.peers) this.peerStates.set(config.region, newPeerState(config));
    this.context = {
      cluster: resolved.cluster,
      region: resolved.region,
      incarnation: resolved.incarnation,
      crypto: resolved.crypto,
      peerKey: (region) => this.peerStates.get(region)?.config.publicKey,
    };
  }

  /** Registers the replica's handlers (once, before anything is connected). */
  attach(handlers: TransportHandlers): void {
    if (this.handlers !== null) throw new Error('transport handlers are already attached');
    this.handlers = handlers;
  }

  /**
   * Accepts peers on `server`'s upgrade requests for /v1/replication. Upgrades of other paths are
   * left to other listeners, or answered 404 when this is the only one (fastify registers none).
   */
  attachTo(server: HttpServer | HttpsServer): void {
    if (this.stopped) throw new Error('the transport is closed');
    this.acceptor.attachTo(server);
  }

  /** Starts dialing every peer (and keeps redialing any that is not connected) until `close`. */
  start(): void {
    if (this.handlers === null) throw new Error('attach the replica handlers before starting the transport');
    if (this.stopped) throw new Error('the transport is closed');
    if (this.started) return;
    this.started = true;
    for (const peer of this.peerStates.values()) this.dial(peer);
  }

  /** Stops dialing and accepting, closes every connection, and resolves once all are closed. */
  async close(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      if (this.pingTimer !== null) clearInterval(this.pingTimer);
      this.acceptor.close();
      for (const peer of this.peerStates.values()) clearRetryTimer(peer);
      for (const connection of [...this.connections]) {
        this.end(connection, CloseCode.goingAway, 'shutting down', 'debug');
      }
    }
    await Promise.all([...this.connections].map((connection) => connection.closed));
  }

  /**
   * Sends a frame to a connected peer; false when it is not connected or its send buffer is full.
   * A `segments` run longer than one frame may hold goes as consecutive frames of whole segments
   * (split-run.ts), all or none of them. A frame that cannot be
   * sent at all throws UnsendableMessageError (a bug of the sender).
   */
  send(region: string, frame: ReplicationFrame): boolean {
    const link = this.peerStates.get(region)?.link;
    if (link === undefined || link === null) return false;
    return sendFrame(link.ws, frame, this.options);
  }

  /** Closes the connection to `region` because its frame did not verify; it may reconnect later. */
  drop(region: string, reason: string): void {
    const link = this.peerStates.get(region)?.link;
    if (link === undefined || link === null) return;
    // The replica calls this from inside its own handlers: tell it the peer is down afterwards.
    this.end(link, CloseCode.dropped, reason, 'warn', { deferDown: true });
  }

  /** Every configured peer and its link state. */
  peers(): PeerLink[] {
    const now = performance.now();
    return [...this.peerStates.values()].map((peer) => peerLinkOf(peer, now));
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  /** A socket the acceptor let through: its handshake starts, with a hello due in time. */
  private accepted(ws: WebSocket, admission: Admission): void {
    const connection = this.track(ws, false, null);
    connection.address = admission.address;
    connection.slot = admission;
    connection.step = 'handshake';
    connection.handshake = initialHandshake('acceptor', connection.nonce, null, admission.channel);
    connection.helloTimer = setTimeout(() => {
      connection.helloTimer = null;
      this.end(connection, CloseCode.handshakeTimeout, 'no hello in time', 'debug');
    }, this.options.helloTimeoutMs);
    connection.helloTimer.unref();
  }

  private dial(peer: PeerState): void {
    if (!this.started || this.stopped || peer.link !== null || peer.dialing !== null) return;
    let channel: Uint8Array | null = null;
    const ws = dialSocket(peer.config.url, this.options, (address, binding) => {
      connection.address = address;
      channel = binding;
    });
    const connection = this.track(ws, true, peer.config.region);
    peer.dialing = connection;
    ws.on('open', () => {
      if (connection.step !== 'connecting') return;
      connection.step = 'handshake';
      connection.handshake = initialHandshake('dialer', connection.nonce, peer.config.region, channel);
      this.post(connection, helloMessage(this.context, connection.nonce, null));
    });
  }

  /** Registers `ws` and its events; the handshake timer runs from here. */
  private track(ws: WebSocket, dialed: boolean, region: string | null): Connection {
    const { connection, markClosed } = newConnection(ws, this.nextSerial++, dialed, region);
    this.connections.add(connection);
    connection.handshakeTimer = setTimeout(() => {
      connection.handshakeTimer = null;
      this.end(connection, CloseCode.handshakeTimeout, 'handshake timed out', 'warn');
    }, this.options.handshakeTimeoutMs);
    connection.handshakeTimer.unref();
    ws.on('message', (data, isBinary) => this.onMessage(connection, data, isBinary));
    ws.on('error', (error) => {
      // A socket error is always followed by the close event, which lets go of the connection.
      connection.error = error.message;
      if ((error as { code?: unknown }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        // ws refused the message by its header (nothing of it was buffered) and closes with 1009.
        const what = connection.payloadMax === HANDSHAKE_BYTES_MAX ? 'handshake' : 'frame';
        this.end(
          connection,
          CloseCode.tooBig,
          `message over the ${what} limit of ${connection.payloadMax} bytes`,
          'warn',
        );
      }
    });
    ws.on('close', (code, reason) => {
      this.connections.delete(connection);
      const text = reason.toString();
      if (connection.step !== 'closed' && connection.step !== 'up')
        this.failures.closedInHandshake(connection, code, text);
      this.lost(connection, `closed by the peer (${code} ${text})`);
      markClosed();
    });
    return connection;
  }

  private onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    if (connection.step === 'closed') return;
    if (!isBinary) {
      this.end(connection, CloseCode.policy, 'text message', 'warn');
      return;
    }
    const bytes = rawBytes(data);
    if (connection.step !== 'up' && bytes.length > HANDSHAKE_BYTES_MAX) {
      // ws refuses these by their header already; this holds should its limit ever be raised early.
      this.end(connection, CloseCode.tooBig, `handshake message over ${HANDSHAKE_BYTES_MAX} bytes`, 'warn');
      return;
    }
    const decoded = decodeMessage(bytes);
    if (decoded.problem !== null) {
      this.end(connection, CloseCode.policy, `malformed message: ${decoded.problem}`, 'warn');
      return;
    }
    const { message } = decoded;
    if (connection.step === 'up') {
      this.onLinkMessage(connection, message);
      return;
    }
    if (connection.step !== 'handshake') {
      // 'connecting': a dialer hears nothing before its socket opens.
      this.outOfTurn(connection, message);
      return;
    }
    this.onHandshakeMessage(connection, message);
  }

  private outOfTurn(connection: Connection, message: WireMessage): void {
    this.end(connection, CloseCode.policy, `unexpected ${message.type} during ${connection.step}`, 'warn');
  }

  /** One handshake step (handshake.ts): answer, refuse, or bring the link up. */
  private onHandshakeMessage(connection: Connection, message: WireMessage): void {
    clearHelloTimer(connection);
    const step = handshakeStep(this.context, connection.handshake, message);
    if (!step.ok) {
      // Claimed, not proven: it names the peer in log lines (and keeps repeats at debug).
      if (connection.region === null) connection.region = step.claimed;
      this.end(connection, step.code, step.reason, 'warn');
      return;
    }
    const previous = connection.handshake.step;
    connection.handshake = step.state;
    if (step.state.step !== 'up' && step.state.step !== 'await-hello') {
      connection.region = step.state.peer.region;
      connection.incarnation = step.state.peer.incarnation;
    }
    if (connection.dialed && previous === 'await-hello') {
      // The acceptor's signature verified: it may now send frames right behind its `ready`.
      raisePayloadMax(connection, this.options.frameBytesMax);
    }
    if (step.send !== null) this.post(connection, step.send);
    if (step.state.step === 'up') {
      if (!connection.dialed) raisePayloadMax(connection, this.options.frameBytesMax);
      this.established(connection);
    }
  }

  /**
   * The handshake is through. With a link to the same peer already up, one of the two is kept,
   * the same one on both sides (connection.ts `replaces`).
   */
  private established(connection: Connection): void {
    const region = connection.region as string;
    const incarnation = connection.incarnation as string;
    const peer = this.peerStates.get(region) as PeerState;
    clearHandshakeTimer(connection);
    connection.step = 'up';
    releaseSlot(connection);
    // Proven to be the peer's: its next handshakes from there may use the reserved slots.
    if (connection.address !== null) this.acceptor.gate.learn(region, connection.address);
    if (peer.dialing === connection) peer.dialing = null;
    const existing = peer.link;
    if (existing !== null && !replaces(connection, existing, this.options.region)) {
      this.end(connection, CloseCode.duplicate, 'a connection between these regions is already up', 'debug');
      return;
    }
    const origin: OriginId = originId(region, incarnation);
    if (existing !== null) {
      this.end(
        existing,
        CloseCode.duplicate,
        'replaced by another connection between these regions',
        'debug',
      );
    }
    linkUp(peer, connection, performance.now());
    if (this.pingTimer === null) {
      // Links accepted before start() (or without it) are pinged and timed out all the same.
      this.pingTimer = setInterval(() => this.tick(), this.options.pingIntervalMs);
      this.pingTimer.unref();
    }
    this.options.logger.info({ peer: region, origin, dialed: connection.dialed }, 'peer connected');
    this.handlers?.peerUp(region, origin);
  }

  private onLinkMessage(connection: Connection, message: WireMessage): void {
    const region = connection.region as string;
    const peer = this.peerStates.get(region) as PeerState;
    if (peer.link !== connection) return;
    peer.lastHeardAt = performance.now();
    if (!isTransportMessage(message)) {
      this.handlers?.frame(region, message);
      return;
    }
    switch (message.type) {
      case 'ping':
        this.post(connection, { type: 'pong', nonce: message.nonce });
        return;
      case 'pong':
        if (message.nonce === connection.pingNonce) {
          peer.rttMs = Math.round((performance.now() - connection.pingSentAt) * 1000) / 1000;
          connection.pingNonce = null;
        }
        return;
      default:
        this.outOfTurn(connection, message);
    }
  }

  /** Pings every link and closes those silent for longer than the peer timeout. */
  private tick(): void {
    const now = performance.now();
    const { peerTimeoutMs } = this.options;
    for (const peer of this.peerStates.values()) {
      const link = peer.link;
      if (link === null) continue;
      if (peer.lastHeardAt !== null && now - peer.lastHeardAt > peerTimeoutMs) {
        this.end(link, CloseCode.peerTimeout, `nothing heard for ${peerTimeoutMs} ms`, 'warn');
        continue;
      }
      // One ping at a time: a slow answer still measures the round trip instead of being overtaken.
      if (link.pingNonce === null) {
        const nonce = this.nextPingNonce++;
        if (this.post(link, { type: 'ping', nonce })) {
          link.pingNonce = nonce;
          link.pingSentAt = now;
        }
      }
    }
  }

  /** Sends a transport message, skipped while the send buffer is full (framing.ts). */
  private post(connection: Connection, message: WireMessage): boolean {
    return postMessage(connection.ws, message, this.options.sendBufferBytesMax);
  }

  /** Closes `connection` with `code` and lets go of it now (its close event may come much later). */
  private end(
    connection: Connection,
    code: number,
    reason: string,
    level: 'debug' | 'info' | 'warn',
    options: { readonly deferDown?: boolean } = {},
  ): void {
    if (connection.step === 'closed') return;
    const wasConnecting = connection.step === 'connecting';
    const fields = { peer: connection.region, dialed: connection.dialed, code, reason };
    if (connection.step === 'up' || level === 'debug') {
      this.options.logger[level](
        fields,
        connection.step === 'up' ? 'replication link closed' : 'replication connection closed',
      );
    } else {
      this.failures.log(connection, level, fields, 'replication connection refused');
    }
    this.lost(connection, reason, options.deferDown === true);
    if (wasConnecting) {
      connection.ws.terminate();
      return;
    }
    connection.ws.close(code, closeReason(reason));
    // A peer that never answers the closing handshake must not hold the socket (or close()) open.
    setTimeout(() => connection.ws.terminate(), CLOSE_WAIT_MS).unref();
  }

  /** Forgets `connection`: tells the replica if it was the link, and redials when needed. */
  private lost(connection: Connection, reason: string, deferDown = false): void {
    if (connection.step === 'closed') return;
    const wasUp = connection.step === 'up';
    connection.step = 'closed';
    clearHandshakeTimer(connection);
    clearHelloTimer(connection);
    releaseSlot(connection);
    const peer = connection.region === null ? undefined : this.peerStates.get(connection.region);
    if (peer === undefined) return;
    if (peer.dialing === connection) {
      peer.dialing = null;
      peer.attempt++;
    }
    if (wasUp && peer.link === connection) {
      peer.link = null;
      peer.rttMs = null;
      const region = peer.config.region;
      this.options.logger.info({ peer: region, reason }, 'peer disconnected');
      if (deferDown) queueMicrotask(() => this.handlers?.peerDown(region));
      else this.handlers?.peerDown(region);
    }
    this.scheduleDial(peer);
  }

  /** Dials `peer` after a backoff when it has no link, no dial in flight and no dial scheduled. */
  private scheduleDial(peer: PeerState): void {
    if (!this.started || this.stopped || peer.link !== null || peer.dialing !== null) return;
    if (peer.retryTimer !== null) return;
    peer.retryTimer = setTimeout(
      () => {
        peer.retryTimer = null;
        this.dial(peer);
      },
      redialDelayMs(peer, this.options, Math.random()),
    );
    peer.retryTimer.unref();
  }
}
