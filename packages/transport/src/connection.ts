/**
 * One WebSocket of the replication transport, dialed or accepted, from its opening to its close:
 * what it is (direction, serial, claimed peer), where it is (connecting, handshake, up, closed), its
 * timers and its pending-handshake slot, and which of two links to the same peer is kept.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { type HandshakeState, initialHandshake } from './handshake.js';
import { HANDSHAKE_BYTES_MAX, NONCE_BYTES } from './limits.js';
import { setMaxPayload } from './sockets.js';
import type { Admission } from './upgrade-gate.js';

/** Where a connection is: dialing, in its handshake (see `handshake`), authenticated, or gone. */
export type Step = 'connecting' | 'handshake' | 'up' | 'closed';

/** One WebSocket, dialed or accepted, from its opening to its close. */
export interface Connection {
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

/**
 * A new connection on `ws` in step 'connecting', with a fresh nonce and no timers yet, and the
 * function that resolves its `closed` promise (called once its socket's close event came).
 */
export function newConnection(
  ws: WebSocket,
  serial: number,
  dialed: boolean,
  region: string | null,
): { readonly connection: Connection; readonly markClosed: () => void } {
  let markClosed = (): void => {};
  const closed = new Promise<void>((resolve) => {
    markClosed = resolve;
  });
  const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
  const connection: Connection = {
    ws,
    serial,
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
  return { connection, markClosed };
}

/** Stops the handshake timer of `connection`. */
export function clearHandshakeTimer(connection: Connection): void {
  if (connection.handshakeTimer !== null) clearTimeout(connection.handshakeTimer);
  connection.handshakeTimer = null;
}

/** Stops the hello timer of `connection`. */
export function clearHelloTimer(connection: Connection): void {
  if (connection.helloTimer !== null) clearTimeout(connection.helloTimer);
  connection.helloTimer = null;
}

/** Gives back the pending-handshake slot `connection` holds, if any. */
export function releaseSlot(connection: Connection): void {
  connection.slot?.release();
  connection.slot = null;
}

/** The peer of `connection` is proven: its messages may be as large as a frame. */
export function raisePayloadMax(connection: Connection, frameBytesMax: number): void {
  setMaxPayload(connection.ws, frameBytesMax);
  connection.payloadMax = frameBytesMax;
}

/**
 * True when `candidate` is to be kept over `existing`, another link to the same peer, so that both
 * sides keep the same one: a newer connection of the same direction or of a new incarnation
 * replaces a dead one; otherwise the one dialed by the smaller region id wins.
 */
export function replaces(candidate: Connection, existing: Connection, ownRegion: string): boolean {
  const newer = candidate.serial > existing.serial;
  if (candidate.incarnation !== existing.incarnation || candidate.dialed === existing.dialed) return newer;
  const peerRegion = candidate.region as string;
  const smallerDials = ownRegion < peerRegion;
  // Dialed by the smaller region id: by us when we are smaller, by the peer otherwise.
  return candidate.dialed === smallerDials;
}
