/**
 * The frames of joining by checkpoint (issue 11; DESIGN.md §4 `checkpoint`): a joiner asks its
 * peers for their newest checkpoint (`join-offer-ask` → `join-offer`: vector, hash, the signer's
 * signature over (cluster, vector, hash), size), asks the regions it consults for their hash of the
 * fold at the vector it picked (`join-hash-ask` → `join-hash`), then fetches the bytes in bounded
 * chunks (`join-chunk-ask` → `join-chunk`). Their shape check, like every frame's, runs before the
 * replica sees them; a frame that fails it closes the link and changes nothing.
 */
import { isOriginId, ORIGINS_MAX, type OriginId } from '@allot/core';
import { describeValue as describe } from './event-shape.js';
import { JOIN_CHECKPOINT_BYTES_MAX, JOIN_CHUNK_BYTES } from './limits.js';
import { isOwnedBytes, isPlainRecord } from './values.js';

/** Asks a peer for its newest checkpoint's offer. */
export interface JoinOfferAskFrame {
  readonly type: 'join-offer-ask';
}

/** A peer's newest checkpoint, or none (vector, hash and signature null, size 0). */
export interface JoinOfferFrame {
  readonly type: 'join-offer';
  readonly vector: Readonly<Record<OriginId, number>> | null;
  readonly hash: Uint8Array | null;
  /** The sender's signature of checkpointSigningBytes(cluster, vector, hash). */
  readonly signature: Uint8Array | null;
  /** Bytes of the checkpoint. */
  readonly size: number;
}

/** Asks a peer for its hash of the checkpoint of the fold at `vector`. */
export interface JoinHashAskFrame {
  readonly type: 'join-hash-ask';
  readonly vector: Readonly<Record<OriginId, number>>;
}

/** A peer's hash of the checkpoint at `vector`; null when it cannot compute one (not held, …). */
export interface JoinHashFrame {
  readonly type: 'join-hash';
  readonly vector: Readonly<Record<OriginId, number>>;
  readonly hash: Uint8Array | null;
}

/** Asks the offering peer for the bytes of checkpoint `hash` from `offset` (one chunk). */
export interface JoinChunkAskFrame {
  readonly type: 'join-chunk-ask';
  readonly hash: Uint8Array;
  readonly offset: number;
}

/** Bytes `offset`… of checkpoint `hash` (of `size` bytes); empty bytes: the peer no longer has it. */
export interface JoinChunkFrame {
  readonly type: 'join-chunk';
  readonly hash: Uint8Array;
  readonly offset: number;
  readonly size: number;
  readonly bytes: Uint8Array;
}

/** Any frame of joining by checkpoint. */
export type JoinFrame =
  | JoinOfferAskFrame
  | JoinOfferFrame
  | JoinHashAskFrame
  | JoinHashFrame
  | JoinChunkAskFrame
  | JoinChunkFrame;

/** The join frame types and their exact fields. */
export const JOIN_FRAME_FIELDS = {
  'join-offer-ask': ['type'],
  'join-offer': ['type', 'vector', 'hash', 'signature', 'size'],
  'join-hash-ask': ['type', 'vector'],
  'join-hash': ['type', 'vector', 'hash'],
  'join-chunk-ask': ['type', 'hash', 'offset'],
  'join-chunk': ['type', 'hash', 'offset', 'size', 'bytes'],
} as const;

/** Bytes of a checkpoint hash (SHA-256) and of a signature (Ed25519). */
const HASH_BYTES = 32;
const SIGNATURE_BYTES = 64;

function exactBytes(what: string, value: unknown, length: number): string | null {
  if (!isOwnedBytes(value)) return `${what} is ${describe(value)}, not a Uint8Array`;
  return value.length === length ? null : `${what} has ${value.length} bytes, not ${length}`;
}

/** Why `value` is not a version vector of a checkpoint (≥ 1 origin, each seq ≥ 1), or null. */
export function joinVectorProblem(value: unknown): string | null {
  if (!isPlainRecord(value)) return `vector is ${describe(value)}, not a map`;
  const origins = Object.keys(value);
  if (origins.length === 0) return 'vector is empty';
  if (origins.length > ORIGINS_MAX) return `vector has ${origins.length} origins, more than ${ORIGINS_MAX}`;
  for (const origin of origins) {
    if (!isOriginId(origin)) return `vector has an invalid origin ${JSON.stringify(origin)}`;
    const seq = value[origin];
    if (!Number.isSafeInteger(seq) || (seq as number) < 1) return `vector has an invalid seq for ${origin}`;
  }
  return null;
}

function isSize(value: unknown): boolean {
  return (
    Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= JOIN_CHECKPOINT_BYTES_MAX
  );
}

/** Why a frame of join type `type` (its fields already exact) is malformed, or null. */
export function joinFrameProblem(
  type: keyof typeof JOIN_FRAME_FIELDS,
  frame: Record<string, unknown>,
): string | null {
  switch (type) {
    case 'join-offer-ask':
      return null;
    case 'join-offer': {
      if (!isSize(frame.size)) return 'invalid size';
      if (frame.vector === null) {
        if (frame.hash !== null || frame.signature !== null || frame.size !== 0)
          return 'an offer of no checkpoint has no hash, signature or size';
        return null;
      }
      if (frame.size === 0) return 'a checkpoint has bytes';
      return (
        joinVectorProblem(frame.vector) ??
        exactBytes('hash', frame.hash, HASH_BYTES) ??
        exactBytes('signature', frame.signature, SIGNATURE_BYTES)
      );
    }
    case 'join-hash-ask':
      return joinVectorProblem(frame.vector);
    case 'join-hash':
      return (
        joinVectorProblem(frame.vector) ??
        (frame.hash === null ? null : exactBytes('hash', frame.hash, HASH_BYTES))
      );
    case 'join-chunk-ask': {
      const problem = exactBytes('hash', frame.hash, HASH_BYTES);
      if (problem !== null) return problem;
      const { offset } = frame;
      return Number.isSafeInteger(offset) &&
        (offset as number) >= 0 &&
        (offset as number) < JOIN_CHECKPOINT_BYTES_MAX
        ? null
        : 'invalid offset';
    }
    case 'join-chunk': {
      const problem = exactBytes('hash', frame.hash, HASH_BYTES);
      if (problem !== null) return problem;
      const { offset, size, bytes } = frame;
      if (!isSize(size)) return 'invalid size';
      if (!Number.isSafeInteger(offset) || (offset as number) < 0) return 'invalid offset';
      if (!isOwnedBytes(bytes)) return `bytes is ${describe(bytes)}, not a Uint8Array`;
      if (bytes.length > JOIN_CHUNK_BYTES)
        return `bytes has ${bytes.length} bytes, more than ${JOIN_CHUNK_BYTES}`;
      if ((offset as number) + bytes.length > (size as number)) return 'bytes run past the size';
      return null;
    }
  }
}
