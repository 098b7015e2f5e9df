/**
 * Every value this store writes is sealed: its payload followed by the CRC-32C of key ‖ payload, so
 * every read proves that the bytes are the ones written under that very key. A flipped bit in the
 * value, a value found under another key (a damaged key), or a truncated value fails the check with
 * a StoreCorruptError naming the key, before the payload is decoded. LevelDB's own block checksums
 * are off in classic-level; leveldb-check.ts checks them at open, and this covers the rest: damage
 * after the start, and damage that a compaction copied into a new table with a fresh block checksum.
 */
import { zeroedBytes } from '@allot/core';
import { crc32c } from './crc32c.js';
import { StoreCorruptError } from './errors.js';

/** Bytes of the checksum after each payload: a CRC-32C, little-endian. */
export const RECORD_CHECKSUM_BYTES = 4;

const utf8 = new TextEncoder();
/** Bytes of an ASCII key (every key of the layout is: ids are ASCII), reused: no allocation per record. */
const keyBytes = new Uint8Array(1024);

/** CRC-32C of the UTF-8 bytes of `key`. */
function keyChecksum(key: string): number {
  if (key.length > keyBytes.length) return crc32c(utf8.encode(key));
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code >= 0x80) return crc32c(utf8.encode(key));
    keyBytes[i] = code;
  }
  return crc32c(keyBytes, 0, key.length);
}

function checksum(key: string, payload: Uint8Array, end: number): number {
  return crc32c(payload, 0, end, keyChecksum(key));
}

/** The value stored under `key`: `payload` and its checksum. */
export function sealRecord(key: string, payload: Uint8Array): Uint8Array {
  // Cut from a shared block when small (core's zeroedBytes): a record is written out, or kept by
  // the memory store's image as long as its neighbours, and an array of its own cost ~0.5 µs.
  const sealed = zeroedBytes(payload.length + RECORD_CHECKSUM_BYTES);
  sealed.set(payload);
  const sum = checksum(key, payload, payload.length);
  const at = payload.length;
  sealed[at] = sum & 0xff;
  sealed[at + 1] = (sum >>> 8) & 0xff;
  sealed[at + 2] = (sum >>> 16) & 0xff;
  sealed[at + 3] = sum >>> 24;
  return sealed;
}

/** The payload of the value `bytes` read under `key`; a StoreCorruptError unless its checksum holds. */
export function openRecord(key: string, bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new StoreCorruptError(key, 'the value is not bytes');
  if (bytes.length <= RECORD_CHECKSUM_BYTES) {
    throw new StoreCorruptError(key, `the value has ${bytes.length} bytes, too short for a record`);
  }
  const end = bytes.length - RECORD_CHECKSUM_BYTES;
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(end, true);
  const actual = checksum(key, bytes, end);
  if (stored !== actual) {
    throw new StoreCorruptError(
      key,
      `the value fails its checksum (stored ${stored.toString(16).padStart(8, '0')}, computed ${actual.toString(16).padStart(8, '0')}): damaged on disk`,
    );
  }
  return bytes.subarray(0, end);
}
