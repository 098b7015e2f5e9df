/**
 * The origin log's hash chain (DESIGN.md §2): hash(n) = H(hash(n−1) ‖ canonical bytes of event n),
 * with 32 zero bytes before seq 1. The head (seq, hash) is signed by its origin, so anyone holding
 * the origin's public key can verify a log, a relayed run of it, or a snapshot.
 */
import { canonicalBytes, eventCanonicalBytes, type LedgerEvent, type OriginId } from '@allot/core';
import type { Crypto } from './ports.js';

/** The hash before the first event of every log. */
export const ZERO_HASH: Uint8Array = new Uint8Array(32);

/** The chain hash of `event` after `previous`. */
export function chainHash(crypto: Crypto, previous: Uint8Array, event: LedgerEvent): Uint8Array {
  return chainLink(crypto, previous, event).hash;
}

/** The chain hash of `event` after `previous`, and the length of the event's canonical bytes. */
export function chainLink(
  crypto: Crypto,
  previous: Uint8Array,
  event: LedgerEvent,
): { readonly hash: Uint8Array; readonly bytes: number } {
  const body = eventCanonicalBytes(event);
  const input = new Uint8Array(previous.length + body.length);
  input.set(previous, 0);
  input.set(body, previous.length);
  return { hash: crypto.hash(input), bytes: body.length };
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
