/**
 * The options of a WebSocketTransport, checked and with their defaults filled in: a bad option
 * throws a TypeError naming it, at construction, before anything listens or dials. A peer URL off
 * loopback must be `wss://` (links between hosts carry money and customer data).
 */
import { isIncarnationId, isRegionId } from '@allot/core';
import { type Crypto, LINK_POLICY, type Logger } from '@allot/replica';
import { isLoopbackHost, literalAddresses } from './admission.js';
import { HANDSHAKE_BYTES_MAX } from './limits.js';
import { isClusterId } from './protocol.js';

/** A peer region as configured (API.md `peers`). */
export interface PeerConfig {
  readonly region: string;
  /** Where to dial it, e.g. `wss://10.0.0.2:7001/v1/replication` (`ws://` on loopback only). */
  readonly url: string;
  /** Its raw 32-byte Ed25519 public key: the only key its handshake signatures are checked with. */
  readonly publicKey: Uint8Array;
}

/** How to build a WebSocketTransport. */
export interface WebSocketTransportOptions {
  readonly cluster: string;
  readonly region: string;
  /** This node's incarnation: peers report this node up as `region#incarnation`. */
  readonly incarnation: string;
  /** Signs handshake challenges with this region's key, verifies peers' with their configured keys. */
  readonly crypto: Crypto;
  /** Every other region. */
  readonly peers: readonly PeerConfig[];
  readonly logger: Logger;
  /** Largest message accepted or sent after the handshake (default LINK_POLICY.frameBytesMax). */
  readonly frameBytesMax?: number;
  /** Bytes queued per peer before `send` answers false (default LINK_POLICY.sendBufferBytesMax). */
  readonly sendBufferBytesMax?: number;
  /** Default LINK_POLICY.pingIntervalMs. */
  readonly pingIntervalMs?: number;
  /** Silence after which a link closes (default LINK_POLICY.peerTimeoutMs). */
  readonly peerTimeoutMs?: number;
  /** Default LINK_POLICY.handshakeTimeoutMs. */
  readonly handshakeTimeoutMs?: number;
  /** Default LINK_POLICY.backoffMsMin. */
  readonly backoffMsMin?: number;
  /** Default LINK_POLICY.backoffMsMax. */
  readonly backoffMsMax?: number;
  /** Time from accepting a connection to its hello (default LINK_POLICY.helloTimeoutMs). */
  readonly helloTimeoutMs?: number;
  /**
   * PEM of the cluster's CA and this node's certificate and key. Dialing a `wss://` peer verifies
   * its certificate against `ca` and presents `cert`/`key` as the client certificate; accepted
   * upgrades must come over TLS with a client certificate the server verified (its `ca`).
   */
  readonly tls?: TransportTls;
}

/** PEM material for links over TLS (API.md `tls`). */
export interface TransportTls {
  readonly ca: string | Buffer;
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

/** The options with every default filled in and every peer checked. */
export interface ResolvedOptions {
  readonly cluster: string;
  readonly region: string;
  readonly incarnation: string;
  readonly crypto: Crypto;
  readonly logger: Logger;
  readonly frameBytesMax: number;
  readonly sendBufferBytesMax: number;
  readonly pingIntervalMs: number;
  readonly peerTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly backoffMsMin: number;
  readonly backoffMsMax: number;
  readonly helloTimeoutMs: number;
  readonly tls: TransportTls | null;
  /** Copies of the configured peers. */
  readonly peers: readonly PeerConfig[];
  /** The addresses of peer URL hosts that are IP literals or localhost. */
  readonly configuredAddresses: readonly string[];
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || chosen < 1) {
    throw new TypeError(`${name} must be a positive integer, not ${String(value)}`);
  }
  return chosen;
}

/** `options` checked, with defaults; a TypeError naming the first bad one. */
export function resolveOptions(options: WebSocketTransportOptions): ResolvedOptions {
  if (!isClusterId(options.cluster))
    throw new TypeError(`invalid cluster id ${JSON.stringify(options.cluster)}`);
  if (!isRegionId(options.region)) throw new TypeError(`invalid region id ${JSON.stringify(options.region)}`);
  if (!isIncarnationId(options.incarnation)) {
    throw new TypeError(`invalid incarnation id ${JSON.stringify(options.incarnation)}`);
  }
  const frameBytesMax = positiveInteger('frameBytesMax', options.frameBytesMax, LINK_POLICY.frameBytesMax);
  const sendBufferBytesMax = positiveInteger(
    'sendBufferBytesMax',
    options.sendBufferBytesMax,
    LINK_POLICY.sendBufferBytesMax,
  );
  const pingIntervalMs = positiveInteger(
    'pingIntervalMs',
    options.pingIntervalMs,
    LINK_POLICY.pingIntervalMs,
  );
  const peerTimeoutMs = positiveInteger('peerTimeoutMs', options.peerTimeoutMs, LINK_POLICY.peerTimeoutMs);
  const handshakeTimeoutMs = positiveInteger(
    'handshakeTimeoutMs',
    options.handshakeTimeoutMs,
    LINK_POLICY.handshakeTimeoutMs,
  );
  const backoffMsMin = positiveInteger('backoffMsMin', options.backoffMsMin, LINK_POLICY.backoffMsMin);
  const backoffMsMax = positiveInteger('backoffMsMax', options.backoffMsMax, LINK_POLICY.backoffMsMax);
  // The default follows a shorter handshake timeout; one given explicitly must fit inside it.
  const helloTimeoutMs = positiveInteger(
    'helloTimeoutMs',
    options.helloTimeoutMs,
    Math.min(LINK_POLICY.helloTimeoutMs, handshakeTimeoutMs),
  );
  const tls = options.tls ?? null;
  if (sendBufferBytesMax < frameBytesMax) {
    throw new TypeError(
      'sendBufferBytesMax must be at least frameBytesMax, or a full frame could never be sent',
    );
  }
  if (frameBytesMax < HANDSHAKE_BYTES_MAX) {
    throw new TypeError(`frameBytesMax must be at least ${HANDSHAKE_BYTES_MAX} bytes, a handshake message`);
  }
  if (backoffMsMax < backoffMsMin) throw new TypeError('backoffMsMax must be at least backoffMsMin');
  if (helloTimeoutMs > handshakeTimeoutMs) {
    throw new TypeError(
      'helloTimeoutMs must be at most handshakeTimeoutMs: the hello is the first step of it',
    );
  }
  if (peerTimeoutMs <= pingIntervalMs) {
    throw new TypeError('peerTimeoutMs must be longer than pingIntervalMs, or a quiet link would time out');
  }
  const peers: PeerConfig[] = [];
  const configuredAddresses = new Set<string>();
  for (const peer of options.peers) {
    if (!isRegionId(peer.region)) throw new TypeError(`invalid peer region ${JSON.stringify(peer.region)}`);
    if (peer.region === options.region) throw new TypeError(`region ${peer.region} cannot be its own peer`);
    if (peers.some((known) => known.region === peer.region))
      throw new TypeError(`peer ${peer.region} is configured twice`);
    let url: URL;
    try {
      url = new URL(peer.url);
    } catch {
      throw new TypeError(`peer ${peer.region} has an invalid url ${JSON.stringify(peer.url)}`);
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      throw new TypeError(`peer ${peer.region} url must be ws: or wss:, not ${url.protocol}`);
    }
    if (url.protocol === 'ws:' && !isLoopbackHost(url.hostname)) {
      throw new TypeError(
        `peer ${peer.region} url ${peer.url} is not wss://: links to other hosts carry money and customer data, so only loopback may be plain ws://`,
      );
    }
    if (url.protocol === 'wss:' && tls === null) {
      throw new TypeError(`peer ${peer.region} url ${peer.url} is wss:// but no tls is configured`);
    }
    for (const address of literalAddresses(url.hostname)) configuredAddresses.add(address);
    if (!(peer.publicKey instanceof Uint8Array) || peer.publicKey.length !== 32) {
      throw new TypeError(`peer ${peer.region} public key must be 32 raw Ed25519 bytes`);
    }
    peers.push({ region: peer.region, url: peer.url, publicKey: new Uint8Array(peer.publicKey) });
  }
  return {
    cluster: options.cluster,
    region: options.region,
    incarnation: options.incarnation,
    crypto: options.crypto,
    logger: options.logger,
    frameBytesMax,
    sendBufferBytesMax,
    pingIntervalMs,
    peerTimeoutMs,
    handshakeTimeoutMs,
    backoffMsMin,
    backoffMsMax,
    helloTimeoutMs,
    tls,
    peers,
    configuredAddresses: [...configuredAddresses],
  };
}
