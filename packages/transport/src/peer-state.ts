/**
 * What the transport knows of one configured peer across its connections: the link frames travel
 * on, the dial in flight, the redial backoff (exponential with full jitter), what was last heard and
 * the round trip, and the last failure logged in each direction.
 */
import type { PeerLink } from '@allot/replica';
import type { Connection } from './connection.js';
import type { PeerConfig } from './options.js';

/** What this node knows of one configured peer across its connections. */
export interface PeerState {
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

/** A configured peer no connection was made with yet. */
export function newPeerState(config: PeerConfig): PeerState {
  return {
    config,
    link: null,
    dialing: null,
    retryTimer: null,
    attempt: 0,
    lastHeardAt: null,
    rttMs: null,
    lastFailure: { dialed: null, accepted: null },
  };
}

/** Stops the peer's scheduled redial, if any. */
export function clearRetryTimer(peer: PeerState): void {
  if (peer.retryTimer !== null) clearTimeout(peer.retryTimer);
  peer.retryTimer = null;
}

/** `connection` is the peer's link now: the backoff and the failures logged start over. */
export function linkUp(peer: PeerState, connection: Connection, now: number): void {
  peer.link = connection;
  peer.attempt = 0;
  peer.lastFailure.dialed = null;
  peer.lastFailure.accepted = null;
  peer.lastHeardAt = now;
  clearRetryTimer(peer);
}

/**
 * How long to wait before the next dial of `peer`: full jitter (uniform up to a cap that doubles
 * with each failure) spreads the redials of many nodes, and of both ends of a link that just
 * closed, so their dials seldom cross. `random` is uniform in [0, 1).
 */
export function redialDelayMs(
  peer: PeerState,
  backoff: { readonly backoffMsMin: number; readonly backoffMsMax: number },
  random: number,
): number {
  const cap = Math.min(backoff.backoffMsMax, backoff.backoffMsMin * 2 ** Math.min(peer.attempt + 1, 30));
  return backoff.backoffMsMin + random * (cap - backoff.backoffMsMin);
}

/** The peer's link state as the replica reads it (`now`: performance.now()). */
export function peerLinkOf(peer: PeerState, now: number): PeerLink {
  return {
    region: peer.config.region,
    url: peer.config.url,
    connected: peer.link !== null,
    lastHeardMs: peer.lastHeardAt === null ? null : Math.floor(now - peer.lastHeardAt),
    rttMs: peer.rttMs,
  };
}
