/**
 * The origin log's hash chain, per segment (DESIGN.md §2): hash(s) = H(hash(s−1) ‖ bytes of
 * segment s), with 32 zero bytes before the first. Every segment's last seq and hash are signed by
 * its origin when it is written, so anyone holding the origin's public key can verify a log, a
 * relayed run of it, or a snapshot: one hash per segment, and one signature per run, since the
 * chain binds every segment before a signed one to it. A receiver keeps only the signatures it
 * verified (a run's last, and few more: SIGNED_STRETCH_SEGMENTS_MAX); the others are stored and
 * relayed as NO_SIGNATURE.
 */
import { type OriginId, utf8Bytes } from '@allot/core';
import type { Crypto } from './ports.js';

/** The hash before the first segment of every log. */
export const ZERO_HASH: Uint8Array = new Uint8Array(32);

/** Bytes of an Ed25519 signature. */
const SIGNATURE_LENGTH = 64;

/**
 * The signature field of a segment whose signature this node did not keep: 64 zero bytes (a key
 * makes an all-zero Ed25519 signature with negligible probability). Its chain hash is bound to the
 * next segment with a kept signature. Never written into: treat as read-only.
 */
export const NO_SIGNATURE: Uint8Array = new Uint8Array(SIGNATURE_LENGTH);

/** True when `signature` is a kept signature, not NO_SIGNATURE (any byte not zero). */
export function signatureKept(signature: Uint8Array): boolean {
  for (let i = 0; i < signature.length; i++) if (signature[i] !== 0) return true;
  return false;
}

/** The chain hash of the segment `bytes` after `previous`. */
export function segmentHash(
  crypto: Pick<Crypto, 'hash'>,
  previous: Uint8Array,
  bytes: Uint8Array,
): Uint8Array {
  const input = new Uint8Array(previous.length + bytes.length);
  input.set(previous, 0);
  input.set(bytes, previous.length);
  return crypto.hash(input);
}

/** The two hex digits of every byte. */
const HEX: readonly string[] = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (let i = 0; i < bytes.length; i++) hex += HEX[bytes[i] as number];
  return hex;
}

/**
 * The bytes an origin signs for its head: the canonical JSON (core's `canonicalBytes`) of
 * `{ cluster, origin, seq, hash: hex, kind: 'allot-log-head-v1' }`, written out directly in its
 * sorted key order: it is made once per segment on both sides (seal and check), and the generic
 * encoder sorted keys and built a string per field each time. A property holds the two equal.
 */
export function headSigningBytes(
  cluster: string,
  origin: OriginId,
  seq: number,
  hash: Uint8Array,
): Uint8Array {
  if (!Number.isFinite(seq)) throw new TypeError(`cannot encode ${seq} canonically`);
  return utf8Bytes(
    `{"cluster":${JSON.stringify(cluster)},"hash":"${toHex(hash)}","kind":"allot-log-head-v1","origin":${JSON.stringify(origin)},"seq":${JSON.stringify(seq)}}`,
  );
}
