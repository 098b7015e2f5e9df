/**
 * The transport's own messages (handshake and pings) around the replica's frames, their shape
 * check, the transcript each side signs in the handshake, and the close codes a link ends with.
 *
 * Handshake (DESIGN.md §4, mutual Ed25519 challenge; keys come from static config only):
 *   dialer   → hello { cluster, protocol, region, incarnation, nonce: Nd, signature: null }
 *   acceptor → hello { cluster, protocol, region, incarnation, nonce: Na, signature: sig_A('acceptor') }
 *   dialer   → auth  { signature: sig_D('dialer') }
 *   acceptor → ready {}
 * where sig_X(role) signs `transcriptBytes`: the context, the signer's role, the cluster, both
 * regions, incarnations and nonces (dialer's first), and the TLS channel's exporter value (or that
 * there is none). A proof made in one role, for another pair, or on another channel verifies
 * nowhere else: a stranger cannot reflect one node's proof to another. `ready` exists so that the
 * dialer never reports a peer up that refused its `auth`.
 */
import { canonicalBytes, isIncarnationId, isRegionId } from '@allot/core';
import {
  FRAME_SIGNATURE_BYTES,
  frameProblem,
  isOwnedBytesOfLength,
  isPlainRecord,
  type ReplicationFrame,
  toHex,
} from '@allot/replica';
import { CLUSTER_ID_LENGTH_MAX, NONCE_BYTES } from './limits.js';

/**
 * The protocol version this build speaks; a peer with another is refused at the handshake, with the
 * reason in the log. 4: a `borrow` frame carries the asker's log head (a build of 3 would close the
 * link at its first borrow instead). 5: and the asker's claim, `since` (a build of 4 would close the
 * link at its first borrow). 6: and the smallest of the asker's waiting debits, `least`. 7: a
 * `hold-settled` answer may be `stranded` (a hold of a lost incarnation not retired; a build of 6
 * would close the link at it). 8: a `borrow` frame carries how long the asker's debits will still
 * wait, `waitsMs` (a build of 7 would close the link at its first borrow). 9: a run sent from the
 * store ends at a segment whose signature the sender kept, and the segments before it may carry
 * none (NO_SIGNATURE: the chain binds them; a build of 8 would close the link at such a run).
 */
export const PROTOCOL_VERSION = 9;

/** Domain separation of handshake signatures: they can never be mistaken for a head signature. */
export const HELLO_CONTEXT = 'allot-hello-v2';

/** The TLS exporter label both ends derive the channel binding with (RFC 5705 / RFC 8446 §7.5). */
export const CHANNEL_EXPORTER_LABEL = 'EXPORTER-allot-replication-v2';

/** The path of the replication endpoint (API.md). */
export const REPLICATION_PATH = '/v1/replication';

/** Opens the handshake (dialer, `signature` null) and answers it (acceptor, signed challenge). */
export interface HelloMessage {
  readonly type: 'hello';
  readonly cluster: string;
  readonly protocol: number;
  readonly region: string;
  readonly incarnation: string;
  /** A fresh random challenge for the other side to sign. */
  readonly nonce: Uint8Array;
  /** The acceptor's signature over the transcript; null in the dialer's hello. */
  readonly signature: Uint8Array | null;
}

/** The dialer's signature over the transcript. */
export interface AuthMessage {
  readonly type: 'auth';
  readonly signature: Uint8Array;
}

/** The acceptor verified `auth`: the link is up on both sides. */
export interface ReadyMessage {
  readonly type: 'ready';
}

/** A round-trip probe; answered at once with a pong of the same nonce. */
export interface PingMessage {
  readonly type: 'ping';
  readonly nonce: number;
}

/** The answer to a ping. */
export interface PongMessage {
  readonly type: 'pong';
  readonly nonce: number;
}

/** A message of the transport itself. */
export type TransportMessage = HelloMessage | AuthMessage | ReadyMessage | PingMessage | PongMessage;

/** Anything sent on a replication WebSocket: a transport message or a replica frame. */
export type WireMessage = TransportMessage | ReplicationFrame;

/**
 * Close codes. 1008 and 1009 are RFC 6455's policy violation and message too big; the codes from 4000 up
 * tell a refused peer why, for its operator's log.
 */
export const CloseCode = {
  /** The node shuts down. */
  goingAway: 1001,
  /** A message that does not decode or fails its shape check, or one out of turn. */
  policy: 1008,
  /** A message over the byte limit. */
  tooBig: 1009,
  /** Another cluster id. */
  wrongCluster: 4001,
  /** Another protocol version. */
  wrongProtocol: 4002,
  /** A region that is not a configured peer, or not the one dialed. */
  stranger: 4003,
  /** A handshake signature that does not verify with the configured key. */
  badSignature: 4004,
  /** The handshake did not finish in time. */
  handshakeTimeout: 4005,
  /** A second connection between the same pair of regions, the one not kept. */
  duplicate: 4006,
  /** The replica dropped the peer: a frame did not verify. */
  dropped: 4007,
  /** Nothing heard from the peer within its timeout. */
  peerTimeout: 4008,
} as const;

type Fields = Record<string, unknown>;

const TRANSPORT_FIELDS: { readonly [K in TransportMessage['type']]: readonly string[] } = {
  hello: ['type', 'cluster', 'protocol', 'region', 'incarnation', 'nonce', 'signature'],
  auth: ['type', 'signature'],
  ready: ['type'],
  ping: ['type', 'nonce'],
  pong: ['type', 'nonce'],
};

function isTransportType(value: unknown): value is TransportMessage['type'] {
  return typeof value === 'string' && Object.hasOwn(TRANSPORT_FIELDS, value);
}

/** True unless `text` holds a lone UTF-16 surrogate, which UTF-8 (and so MessagePack) cannot carry. */
function isWellFormed(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

/** True for a cluster id a hello may carry. */
export function isClusterId(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length >= 1 &&
    value.length <= CLUSTER_ID_LENGTH_MAX &&
    isWellFormed(value)
  );
}

function transportProblem(type: TransportMessage['type'], message: Fields): string | null {
  const fields = TRANSPORT_FIELDS[type];
  for (const field of fields) {
    if (!Object.hasOwn(message, field) || message[field] === undefined) return `${type} has no ${field}`;
  }
  const keys = Object.keys(message);
  if (keys.length !== fields.length) {
    const extra = keys.find((key) => !fields.includes(key));
    return `${type} has an unexpected field ${JSON.stringify(extra)}`;
  }
  switch (type) {
    case 'hello':
      if (!isClusterId(message.cluster)) return 'hello has an invalid cluster';
      if (!Number.isSafeInteger(message.protocol)) return 'hello has an invalid protocol';
      if (!isRegionId(message.region)) return 'hello has an invalid region';
      if (!isIncarnationId(message.incarnation)) return 'hello has an invalid incarnation';
      if (!isOwnedBytesOfLength(message.nonce, NONCE_BYTES)) return `hello nonce is not ${NONCE_BYTES} bytes`;
      return message.signature === null || isOwnedBytesOfLength(message.signature, FRAME_SIGNATURE_BYTES)
        ? null
        : `hello signature is not null or ${FRAME_SIGNATURE_BYTES} bytes`;
    case 'auth':
      return isOwnedBytesOfLength(message.signature, FRAME_SIGNATURE_BYTES)
        ? null
        : `auth signature is not ${FRAME_SIGNATURE_BYTES} bytes`;
    case 'ready':
      return null;
    case 'ping':
    case 'pong':
      return Number.isSafeInteger(message.nonce) && (message.nonce as number) >= 0
        ? null
        : `${type} has an invalid nonce`;
  }
}

/** Why `message` is not a well-formed wire message, or null when it is (frames: `frameProblem`). */
export function messageProblem(message: unknown): string | null {
  if (!isPlainRecord(message)) return 'message is not a map';
  return isTransportType(message.type) ? transportProblem(message.type, message) : frameProblem(message);
}

/** True for a message of the transport itself (not a replica frame). */
export function isTransportMessage(message: WireMessage): message is TransportMessage {
  return isTransportType(message.type);
}

/** Which end of a connection: the one that dialed it, or the one that accepted it. */
export type Role = 'dialer' | 'acceptor';

/** One end of a handshake as its hello told it. */
export interface HandshakeParty {
  readonly region: string;
  readonly incarnation: string;
  readonly nonce: Uint8Array;
}

/** Everything a handshake signature covers. */
export interface Transcript {
  /** The role of the one who signs. */
  readonly signer: Role;
  readonly cluster: string;
  readonly dialer: HandshakeParty;
  readonly acceptor: HandshakeParty;
  /** The TLS exporter value of the connection (CHANNEL_EXPORTER_LABEL), or null on plain ws. */
  readonly channel: Uint8Array | null;
}

/**
 * The bytes a handshake signature covers: canonical JSON of the context, the signer's role, the
 * cluster, the dialer's and the acceptor's region, incarnation and nonce, and the channel binding
 * (`tls-exporter:<hex>`, or `no-tls` on plain ws, so the transcript says which it is). Every
 * field is fixed by both sides before either signs, so the two signatures of one handshake differ
 * only in the role and no other handshake produces the same bytes.
 */
export function transcriptBytes(transcript: Transcript): Uint8Array {
  const party = (one: HandshakeParty) => [one.region, one.incarnation, toHex(one.nonce)];
  const channel = transcript.channel === null ? 'no-tls' : `tls-exporter:${toHex(transcript.channel)}`;
  return canonicalBytes([
    HELLO_CONTEXT,
    transcript.signer,
    transcript.cluster,
    ...party(transcript.dialer),
    ...party(transcript.acceptor),
    channel,
  ]);
}
