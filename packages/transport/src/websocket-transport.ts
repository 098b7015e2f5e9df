/**
 * The Transport port on WebSockets (DESIGN.md §4): one authenticated connection per pair of
 * regions, either side may dial; every message is bounded and shape-checked before the replica
 * sees it; a full send buffer answers false instead of queueing; links are pinged, timed out and
 * redialled with exponential backoff and full jitter. Before a peer has proven its key, its socket
 * takes only handshake-sized messages and holds one of a bounded set of slots (admission.ts); over
 * TLS the client certificate is checked before the upgrade and the handshake is bound to the
 * channel (handshake.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type OriginId, originId } from '@allot/core';
import {
  type Crypto,
  type Logger,
  type PeerLink,
  type ReplicationFrame,
  SEGMENTS_PER_FRAME_MAX,
  type Transport,
  type TransportHandlers,
} from '@allot/replica';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { normalizeAddress } from './admission.js';
import { decodeMessage, encodeMessage, UnsendableMessageError } from './codec.js';
import {
  type HandshakeContext,
  type HandshakeState,
  handshakeStep,
  helloMessage,
  initialHandshake,
} from './handshake.js';
import { CLOSE_WAIT_MS, HANDSHAKE_BYTES_MAX, NONCE_BYTES } from './limits.js';
import {
  type PeerConfig,
  resolveOptions,
  type TransportTls,
  type WebSocketTransportOptions,
} from './options.js';
import { CloseCode, isTransportMessage, REPLICATION_PATH, type WireMessage } from './protocol.js';
import {
  channelBinding,
  closeReason,
  rawBytes,
  refuseUpgrade,
  setMaxPayload,
  type UpgradeListener,
} from './sockets.js';
import { splitRun } from './split-run.js';
import { type Admission, UpgradeGate } from './upgrade-gate.js';

/** Where a connection is: dialing, in its handshake (see `handshake`), authenticated, or gone. */
type Step = 'connecting' | 'handshake' | 'up' | 'closed';

/** One WebSocket, dialed or accepted, from its opening to its close. */
interface Connection {
  readonly ws: WebSocket;
  /** Local order of creation: among connections of one direction, the newer one is the live one. */
  readonly serial: number;
  /** True when this node dialed it. */
  readonly dialed: boolean;
  /** The region dialed, or the one a hello named (null until then for an accepted connection). */
  region: string | null;
  /** The peer's incarnation, from its hello. */
  incarnation: string | null;
  /** This side's challenge, sent in its hello. */
  readonly nonce: Uint8Array;
  step: Step;
  /** The handshake's own state (meaningful in step 'handshake'). */
  handshake: HandshakeState;
  /** The largest message its socket takes now: the handshake's until the peer is proven. */
  payloadMax: number;
  /** The remote address (normalized), once known. */
  address: string | null;
  /** The pending-handshake slot an accepted connection holds until it is up or closed. */
  slot: Admission | null;
  handshakeTimer: NodeJS.Timeout | null;
  /** Closes an accepted connection that sends no hello in time. */
  helloTimer: NodeJS.Timeout | null;
  /** The nonce of the ping awaiting its pong, and when it went out (performance.now()). */
  pingNonce: number | null;
  pingSentAt: number;
  /** The last socket error, for the line that reports the close. */
  error: string | null;
  /** Resolves once the socket is closed. */
  readonly closed: Promise<void>;
}

/** What this node knows of one configured peer across its connections. */
interface PeerState {
  readonly config: PeerConfig;
  /** The authenticated connection frames travel on, or null. */
  link: Connection | null;
  /** The dial in progress, or null. */
  dialing: Connection | null;
  retryTimer: NodeJS.Timeout | null;
  /** Failed dials since the last handshake that succeeded. */
  attempt: number;
  /** performance.now() when anything was last heard on an authenticated link. */
  lastHeardAt: number | null;
  rttMs: number | null;
  /**
   * What the last failed connection with this peer logged, per direction (both directions may fail
   * in turn): the same failure again is not news.
   */
  readonly lastFailure: { dialed: string | null; accepted: string | null };
}

/**
 * The Transport port on WebSockets. Accepts peers on `/v1/replication` of the HTTP server it is
 * attached to, dials every configured peer once started, and hands the replica only frames from
 * peers that completed the mutual Ed25519 handshake.
 */
export class WebSocketTransport implements Transport {
  private readonly cluster: string;
  private readonly region: string;
  private readonly incarnation: string;
  private readonly crypto: Crypto;
  private readonly logger: Logger;
  private readonly frameBytesMax: number;
  private readonly sendBufferBytesMax: number;
  private readonly pingIntervalMs: number;
  private readonly peerTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly backoffMsMin: number;
  private readonly backoffMsMax: number;
  private readonly helloTimeoutMs: number;
  private readonly tls: TransportTls | null;
  private readonly context: HandshakeContext;
  private readonly gate: UpgradeGate;
  private readonly peerStates = new Map<string, PeerState>();
  private readonly connections = new Set<Connection>();
  private readonly servers: { server: HttpServer | HttpsServer; listener: UpgradeListener }[] = [];
  private readonly acceptor: WebSocketServer;
  private handlers: TransportHandlers | null = null;
  private started = false;
  private stopped = false;
  private nextSerial = 1;
  private nextPingNonce = 1;
  private pingTimer: NodeJS.Timeout | null = null;

  constructor(options: WebSocketTransportOptions) {
    const resolved = resolveOptions(options);
    this.cluster = resolved.cluster;
    this.region = resolved.region;
    this.incarnation = resolved.incarnation;
    this.crypto = resolved.crypto;
    this.logger = resolved.logger;
    this.frameBytesMax = resolved.frameBytesMax;
    this.sendBufferBytesMax = resolved.sendBufferBytesMax;
    this.pingIntervalMs = resolved.pingIntervalMs;
    this.peerTimeoutMs = resolved.peerTimeoutMs;
    this.handshakeTimeoutMs = resolved.handshakeTimeoutMs;
    this.backoffMsMin = resolved.backoffMsMin;
    this.backoffMsMax = resolved.backoffMsMax;
    this.helloTimeoutMs = resolved.helloTimeoutMs;
    this.tls = resolved.tls;
    this.gate = new UpgradeGate(this.logger, this.tls !== null, resolved.configuredAddresses);
    for (const config of resolved.peers) {
      this.peerStates.set(config.region, {
        config,
        link: null,
        dialing: null,
        retryTimer: null,
        attempt: 0,
        lastHeardAt: null,
        rttMs: null,
        lastFailure: { dialed: null, accepted: null },
      });
    }
    this.context = {
      cluster: this.cluster,
      region: this.region,
      incarnation: this.incarnation,
      crypto: this.crypto,
      peerKey: (region) => this.peerStates.get(region)?.config.publicKey,
    };
    this.acceptor = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      // Strangers get the handshake's limit: a larger message is refused by its header, unread.
      // An authenticated peer's socket is raised to frameBytesMax (setMaxPayload).
      maxPayload: HANDSHAKE_BYTES_MAX,
      // Compression would trade CPU on every frame for little, and opens the door to inflation bombs.
      perMessageDeflate: false,
    });
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
    const listener: UpgradeListener = (request, socket, head) =>
      this.onUpgrade(server, request, socket, head);
    server.on('upgrade', listener);
    this.servers.push({ server, listener });
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
      for (const { server, listener } of this.servers) server.off('upgrade', listener);
      for (const peer of this.peerStates.values()) {
        if (peer.retryTimer !== null) clearTimeout(peer.retryTimer);
        peer.retryTimer = null;
      }
      for (const connection of [...this.connections]) {
        this.end(connection, CloseCode.goingAway, 'shutting down', 'debug');
      }
      this.acceptor.close();
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
    if (link === undefined || link === null || link.ws.readyState !== WebSocket.OPEN) return false;
    if (link.ws.bufferedAmount >= this.sendBufferBytesMax) return false;
    let pieces: readonly Uint8Array[];
    if (frame.type === 'segments' && frame.segments.length > SEGMENTS_PER_FRAME_MAX) {
      pieces = this.split(frame);
    } else {
      const bytes = encodeMessage(frame);
      if (bytes.length <= this.frameBytesMax) pieces = [bytes];
      else if (frame.type === 'segments') pieces = this.split(frame);
      else {
        throw new UnsendableMessageError(
          `a ${frame.type} frame of ${bytes.length} bytes is over the frame limit of ${this.frameBytesMax}`,
        );
      }
    }
    const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
    if (link.ws.bufferedAmount + total > this.sendBufferBytesMax) return false;
    for (const piece of pieces) link.ws.send(piece);
    return true;
  }

  private split(frame: Extract<ReplicationFrame, { type: 'segments' }>): readonly Uint8Array[] {
    const split = splitRun(frame, this.frameBytesMax, encodeMessage);
    if (split.problem !== null) throw new UnsendableMessageError(split.problem);
    return split.pieces;
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
    return [...this.peerStates.values()].map((peer) => ({
      region: peer.config.region,
      url: peer.config.url,
      connected: peer.link !== null,
      lastHeardMs: peer.lastHeardAt === null ? null : Math.floor(now - peer.lastHeardAt),
      rttMs: peer.rttMs,
    }));
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  private onUpgrade(
    server: HttpServer | HttpsServer,
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
  ): void {
    let path: string;
    try {
      path = new URL(request.url ?? '/', 'http://localhost').pathname;
    } catch {
      path = '';
    }
    if (path !== REPLICATION_PATH) {
      // Another listener may serve this path; with none, nobody would ever answer the socket.
      if (server.listenerCount('upgrade') <= 1) refuseUpgrade(socket, 404, 'Not Found');
      return;
    }
    if (this.stopped || this.handlers === null) {
      refuseUpgrade(socket, 503, 'Service Unavailable');
      return;
    }
    const admission = this.gate.admit(request, socket);
    if (admission === null) return;
    this.acceptor.handleUpgrade(request, socket, head, (ws) => {
      if (this.stopped) {
        admission.release();
        ws.terminate();
        return;
      }
      const connection = this.track(ws, false, null);
      connection.address = admission.address;
      connection.slot = admission;
      connection.step = 'handshake';
      connection.handshake = initialHandshake('acceptor', connection.nonce, null, admission.channel);
      connection.helloTimer = setTimeout(() => {
        connection.helloTimer = null;
        this.end(connection, CloseCode.handshakeTimeout, 'no hello in time', 'debug');
      }, this.helloTimeoutMs);
      connection.helloTimer.unref();
      this.logger.debug({ remote: admission.address }, 'replication connection accepted');
    });
  }

  private dial(peer: PeerState): void {
    if (!this.started || this.stopped || peer.link !== null || peer.dialing !== null) return;
    const ws = new WebSocket(peer.config.url, {
      // The acceptor is not proven yet either: the frame limit comes with its signature.
      maxPayload: HANDSHAKE_BYTES_MAX,
      perMessageDeflate: false,
      handshakeTimeout: this.handshakeTimeoutMs,
      followRedirects: false,
      // TLS 1.3 only: its exporter is bound to the whole handshake (RFC 8446 §7.5), which the
      // channel binding of the transcript relies on.
      ...(this.tls === null
        ? {}
        : { ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key, minVersion: 'TLSv1.3' as const }),
    });
    const connection = this.track(ws, true, peer.config.region);
    peer.dialing = connection;
    let channel: Uint8Array | null = null;
    ws.on('upgrade', (response) => {
      const socket: Socket = response.socket;
      connection.address = normalizeAddress(socket.remoteAddress ?? 'unknown');
      channel = channelBinding(socket);
    });
    ws.on('open', () => {
      if (connection.step !== 'connecting') return;
      connection.step = 'handshake';
      connection.handshake = initialHandshake('dialer', connection.nonce, peer.config.region, channel);
      this.post(connection, helloMessage(this.context, connection.nonce, null));
    });
  }

  /** Registers `ws` and its events; the handshake timer runs from here. */
  private track(ws: WebSocket, dialed: boolean, region: string | null): Connection {
    let markClosed = (): void => {};
    const closed = new Promise<void>((resolve) => {
      markClosed = resolve;
    });
    const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
    const connection: Connection = {
      ws,
      serial: this.nextSerial++,
      dialed,
      region,
      incarnation: null,
      nonce,
      step: 'connecting',
      handshake: initialHandshake(dialed ? 'dialer' : 'acceptor', nonce, region, null),
      payloadMax: HANDSHAKE_BYTES_MAX,
      address: null,
      slot: null,
      handshakeTimer: null,
      helloTimer: null,
      pingNonce: null,
      pingSentAt: 0,
      error: null,
      closed,
    };
    this.connections.add(connection);
    connection.handshakeTimer = setTimeout(() => {
      connection.handshakeTimer = null;
      this.end(connection, CloseCode.handshakeTimeout, 'handshake timed out', 'warn');
    }, this.handshakeTimeoutMs);
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
        this.closedInHandshake(connection, code, text);
      this.lost(connection, `closed by the peer (${code} ${text})`);
      markClosed();
    });
    return connection;
  }

  /** Logs why a connection that the peer (or the network) closed never came up. */
  private closedInHandshake(connection: Connection, code: number, reason: string): void {
    // A close frame from the peer is its refusal; none (1005, 1006) means the network or the peer is gone.
    const refused = code !== 1005 && code !== 1006;
    const message = refused
      ? 'replication handshake refused by the peer'
      : connection.dialed
        ? 'peer unreachable, will retry'
        : 'replication connection lost during the handshake';
    const fields = {
      peer: connection.region,
      dialed: connection.dialed,
      code,
      reason,
      error: connection.error,
    };
    if (!refused && !connection.dialed) {
      // Someone connected and left before the handshake was through: not news.
      this.logger.debug(fields, message);
      return;
    }
    this.logFailure(connection, refused ? 'warn' : 'info', fields, message);
  }

  /**
   * Logs a failed connection at `level`, or at debug when it is the same failure as the last one
   * with this peer: a peer refusing or unreachable for hours is logged once, not at every redial.
   */
  private logFailure(
    connection: Connection,
    level: 'info' | 'warn',
    fields: Record<string, unknown>,
    message: string,
  ): void {
    const peer = connection.region === null ? undefined : this.peerStates.get(connection.region);
    if (peer === undefined) {
      // A stranger: the first failure of each kind is news, a flood of them is not. Keyed by the
      // code only, as the reason may carry the stranger's text (the set stays a handful of keys).
      this.logger[this.gate.strangerLevel(`${message} ${String(fields.code)}`, level)](fields, message);
      return;
    }
    const failure = `${message} ${String(fields.code)} ${String(fields.reason)}`;
    const direction = connection.dialed ? 'dialed' : 'accepted';
    this.logger[failure === peer.lastFailure[direction] ? 'debug' : level](fields, message);
    peer.lastFailure[direction] = failure;
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
    if (connection.helloTimer !== null) clearTimeout(connection.helloTimer);
    connection.helloTimer = null;
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
      this.raisePayloadMax(connection);
    }
    if (step.send !== null) this.post(connection, step.send);
    if (step.state.step === 'up') {
      if (!connection.dialed) this.raisePayloadMax(connection);
      this.established(connection);
    }
  }

  /**
   * The handshake is through. With a link to the same peer already up, one of the two is kept,
   * the same one on both sides: a newer connection of the same direction or of a new incarnation
   * replaces a dead one; otherwise the one dialed by the smaller region id wins.
   */
  private established(connection: Connection): void {
    const region = connection.region as string;
    const incarnation = connection.incarnation as string;
    const peer = this.peerStates.get(region) as PeerState;
    if (connection.handshakeTimer !== null) clearTimeout(connection.handshakeTimer);
    connection.handshakeTimer = null;
    connection.step = 'up';
    this.releaseSlot(connection);
    // Proven to be the peer's: its next handshakes from there may use the reserved slots.
    if (connection.address !== null) this.gate.learn(region, connection.address);
    if (peer.dialing === connection) peer.dialing = null;
    const existing = peer.link;
    if (existing !== null && !this.replaces(connection, existing)) {
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
    peer.link = connection;
    peer.attempt = 0;
    peer.lastFailure.dialed = null;
    peer.lastFailure.accepted = null;
    peer.lastHeardAt = performance.now();
    if (peer.retryTimer !== null) clearTimeout(peer.retryTimer);
    peer.retryTimer = null;
    if (this.pingTimer === null) {
      // Links accepted before start() (or without it) are pinged and timed out all the same.
      this.pingTimer = setInterval(() => this.tick(), this.pingIntervalMs);
      this.pingTimer.unref();
    }
    this.logger.info({ peer: region, origin, dialed: connection.dialed }, 'peer connected');
    this.handlers?.peerUp(region, origin);
  }

  /** True when `candidate` is to be kept over `existing`, another link to the same peer. */
  private replaces(candidate: Connection, existing: Connection): boolean {
    const newer = candidate.serial > existing.serial;
    if (candidate.incarnation !== existing.incarnation || candidate.dialed === existing.dialed) return newer;
    const peerRegion = candidate.region as string;
    const smallerDials = this.region < peerRegion;
    // Dialed by the smaller region id: by us when we are smaller, by the peer otherwise.
    return candidate.dialed === smallerDials;
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
    for (const peer of this.peerStates.values()) {
      const link = peer.link;
      if (link === null) continue;
      if (peer.lastHeardAt !== null && now - peer.lastHeardAt > this.peerTimeoutMs) {
        this.end(link, CloseCode.peerTimeout, `nothing heard for ${this.peerTimeoutMs} ms`, 'warn');
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

  /**
   * Sends a transport message. They are tiny, but a peer flooding pings must not grow our buffer
   * past its bound: with the buffer full, pings and pongs are skipped (the round trip just waits).
   */
  private post(connection: Connection, message: WireMessage): boolean {
    if (connection.ws.readyState !== WebSocket.OPEN) return false;
    if (connection.ws.bufferedAmount >= this.sendBufferBytesMax) return false;
    connection.ws.send(encodeMessage(message));
    return true;
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
      this.logger[level](
        fields,
        connection.step === 'up' ? 'replication link closed' : 'replication connection closed',
      );
    } else {
      this.logFailure(connection, level, fields, 'replication connection refused');
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
    if (connection.handshakeTimer !== null) clearTimeout(connection.handshakeTimer);
    connection.handshakeTimer = null;
    if (connection.helloTimer !== null) clearTimeout(connection.helloTimer);
    connection.helloTimer = null;
    this.releaseSlot(connection);
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
      this.logger.info({ peer: region, reason }, 'peer disconnected');
      if (deferDown) queueMicrotask(() => this.handlers?.peerDown(region));
      else this.handlers?.peerDown(region);
    }
    this.scheduleDial(peer);
  }

  /** The peer of `connection` is proven: its messages may be as large as a frame. */
  private raisePayloadMax(connection: Connection): void {
    setMaxPayload(connection.ws, this.frameBytesMax);
    connection.payloadMax = this.frameBytesMax;
  }

  /** Gives back the pending-handshake slot `connection` holds, if any. */
  private releaseSlot(connection: Connection): void {
    connection.slot?.release();
    connection.slot = null;
  }

  /** Dials `peer` after a backoff when it has no link, no dial in flight and no dial scheduled. */
  private scheduleDial(peer: PeerState): void {
    if (!this.started || this.stopped || peer.link !== null || peer.dialing !== null) return;
    if (peer.retryTimer !== null) return;
    // Full jitter (uniform up to a cap that doubles with each failure) spreads the redials of many
    // nodes, and of both ends of a link that just closed, so their dials seldom cross.
    const cap = Math.min(this.backoffMsMax, this.backoffMsMin * 2 ** Math.min(peer.attempt + 1, 30));
    const delayMs = this.backoffMsMin + Math.random() * (cap - this.backoffMsMin);
    peer.retryTimer = setTimeout(() => {
      peer.retryTimer = null;
      this.dial(peer);
    }, delayMs);
    peer.retryTimer.unref();
  }
}
