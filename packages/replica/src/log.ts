/**
 * The origin log's hash chain, per segment (DESIGN.md §2): hash(s) = H(hash(s−1) ‖ bytes of
 * segment s), with 32 zero bytes before the first. Every segment's last seq and hash are signed by
 * its origin, so anyone holding the origin's public key can verify a log, a relayed run of it, or
 * a snapshot, with one hash and one signature per segment.
 */
import { canonicalBytes, type OriginId } from '@allot/core';
import type { Crypto } from './ports.js';

/** The hash before the first segment of every log. */
export const ZERO_HASH: Uint8Array = new Uint8Array(32);

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

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** The bytes an origin signs for its head: cluster, origin, seq and hash, canonically. */
export function headSigningBytes(
  cluster: string,
  origin: OriginId,
  seq: number,
  hash: Uint8Array,
): Uint8Array {
  return canonicalBytes({ cluster, origin, seq, hash: toHex(hash), kind: 'allot-log-head-v1' });
}
