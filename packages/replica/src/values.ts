/**
 * The one home of the small value checks every package that reads outside input needs (issue 10:
 * they were copied into store, transport and sim). Three byte checks with three meanings, each
 * under its own name, and the plain-object check. Pure: no clock, no randomness, no I/O.
 */

/** True when two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * True for any Uint8Array, a Buffer or other subclass included: for bytes this process made
 * itself (the store's own records on the way in), where a view into a pool is no danger.
 */
export function isByteArray(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array;
}

/**
 * True for a Uint8Array exactly, not a subclass: a Buffer out of a decoder may be a view into a
 * pool that a later read reuses, so codecs copy every byte field into a fresh Uint8Array and the
 * checks of decoded input accept only that.
 */
export function isOwnedBytes(value: unknown): value is Uint8Array {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Uint8Array.prototype;
}

/** True for owned bytes (`isOwnedBytes`) of exactly `length` bytes: a key, a hash, a nonce. */
export function isOwnedBytesOfLength(value: unknown, length: number): value is Uint8Array {
  return isOwnedBytes(value) && value.length === length;
}

/** True for a plain object: not an array, and its prototype is Object's or null. */
export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
