/**
 * The keys area (issue 18): the closed buckets of the replica's key index, written beside the
 * segments under their own prefix (`v3/keys/<key>`): one value per part header, filter and chunk
 * (core's key-spill.ts), never one per event. Each value is sealed with its checksum like every
 * record of the layout (records.ts), so a damaged value is a StoreCorruptError naming it. A write
 * is one atomic batch of puts and deletes; the area is never part of a group commit (what it holds
 * is rebuilt from the logs when lost).
 */
import type { KeyAreaRecord } from '@allot/replica';
import { StoreCorruptError } from './errors.js';
import { KEYS_KEY_PREFIX } from './keys.js';
import { KEY_AREA_KEY_LENGTH_MAX, KEY_AREA_VALUE_BYTES_MAX } from './limits.js';
import { openRecord, sealRecord } from './records.js';

const KEY_PATTERN = /^[\x21-\x7e]+$/;

/** Throws a RangeError unless `key` can name a keys-area value (or prefix one, when `prefix`). */
export function checkKeyAreaKey(key: string, prefix = false): void {
  if (
    typeof key !== 'string' ||
    key.length > KEY_AREA_KEY_LENGTH_MAX ||
    !(KEY_PATTERN.test(key) || (prefix && key === ''))
  ) {
    throw new RangeError(
      `keys-area key ${JSON.stringify(String(key).slice(0, 60))} is not 1..${KEY_AREA_KEY_LENGTH_MAX} printable ASCII characters`,
    );
  }
}

/** The store key of keys-area value `key`. */
export function keyAreaStoreKey(key: string): string {
  return `${KEYS_KEY_PREFIX}${key}`;
}

/** The store-key range of every keys-area key starting with `prefix`. */
export function keyAreaRange(prefix: string): { readonly gte: string; readonly lt: string } {
  checkKeyAreaKey(prefix, true);
  return { gte: keyAreaStoreKey(prefix), lt: `${keyAreaStoreKey(prefix)}\u007f` };
}

/** The LevelDB writes of a keys-area write: sealed puts, then deletes (checked first: all or nothing). */
export function keyAreaWrites(
  puts: readonly KeyAreaRecord[],
  deletes: readonly string[],
): ({ type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string })[] {
  for (const record of puts) {
    checkKeyAreaKey(record.key);
    if (!(record.value instanceof Uint8Array))
      throw new TypeError(`keys-area value ${record.key} is not bytes`);
    if (record.value.length > KEY_AREA_VALUE_BYTES_MAX)
      throw new RangeError(
        `keys-area value ${record.key} has ${record.value.length} bytes, more than ${KEY_AREA_VALUE_BYTES_MAX}`,
      );
  }
  for (const key of deletes) checkKeyAreaKey(key);
  return [
    ...puts.map((record) => {
      const key = keyAreaStoreKey(record.key);
      return { type: 'put' as const, key, value: sealRecord(key, record.value) };
    }),
    ...deletes.map((key) => ({ type: 'del' as const, key: keyAreaStoreKey(key) })),
  ];
}

/** The payload of stored keys-area value `storeKey`, checked; null when there is none. */
export function openKeyAreaValue(storeKey: string, sealed: Uint8Array | undefined): Uint8Array | null {
  if (sealed === undefined) return null;
  if (!storeKey.startsWith(KEYS_KEY_PREFIX)) throw new StoreCorruptError(storeKey, 'not a keys-area key');
  return openRecord(storeKey, sealed).slice();
}

/** The keys-area keys (without the prefix) of stored keys, in key order. */
export function keyAreaKeysOf(storeKeys: Iterable<string>): string[] {
  return [...storeKeys].map((key) => key.slice(KEYS_KEY_PREFIX.length)).sort();
}

/**
 * The keys areas of in-memory stores, by their durable image: a crash hands the image to the
 * store that restarts, and with it the area (its writes are durable when they resolve); a lost
 * disk is a new image, so an empty area.
 */
const memoryAreas = new WeakMap<object, Map<string, Uint8Array>>();

/** The in-memory keys area of `image` (sealed values by store key), made when first used. */
export function memoryKeyArea(image: object): Map<string, Uint8Array> {
  let area = memoryAreas.get(image);
  if (area === undefined) {
    area = new Map();
    memoryAreas.set(image, area);
  }
  return area;
}

/** Applies a keys-area write to the in-memory area of `image`, all or nothing. */
export function writeMemoryKeyArea(
  image: object,
  puts: readonly KeyAreaRecord[],
  deletes: readonly string[],
): void {
  const area = memoryKeyArea(image);
  for (const write of keyAreaWrites(puts, deletes)) {
    if (write.type === 'put') area.set(write.key, write.value);
    else area.delete(write.key);
  }
}

/** The keys of the in-memory area of `image` that start with `prefix`, in key order. */
export function listMemoryKeyArea(image: object, prefix: string): string[] {
  const range = keyAreaRange(prefix);
  return keyAreaKeysOf([...memoryKeyArea(image).keys()].filter((key) => key >= range.gte && key < range.lt));
}
