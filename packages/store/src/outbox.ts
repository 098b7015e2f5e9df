/**
 * The durable outbox: small records that the node's own side jobs (webhook deliveries, alert
 * states) keep beside the ledger, under their own key prefix (`v2/outbox/<key>`), each value sealed
 * with its checksum like every record of the layout (records.ts). A write is one atomic batch of
 * puts and deletes, synced before it resolves: what the outbox said it holds survives a crash. The
 * outbox is never part of a group commit: it records what to tell the outside world, not the ledger.
 */
import type { OutboxRecord } from '@allot/replica';
import { StoreCorruptError } from './errors.js';
import { OUTBOX_KEY_PREFIX, OUTBOX_RANGE } from './keys.js';
import { OUTBOX_KEY_LENGTH_MAX, OUTBOX_RECORD_BYTES_MAX } from './limits.js';
import { openRecord, sealRecord } from './records.js';

const KEY_PATTERN = /^[\x21-\x7e]+$/;

/** Throws a RangeError unless `key` can name an outbox record. */
export function checkOutboxKey(key: string): void {
  if (typeof key !== 'string' || !KEY_PATTERN.test(key) || key.length > OUTBOX_KEY_LENGTH_MAX) {
    throw new RangeError(
      `outbox key ${JSON.stringify(String(key).slice(0, 60))} is not 1..${OUTBOX_KEY_LENGTH_MAX} printable ASCII characters`,
    );
  }
}

function checkRecord(record: OutboxRecord): void {
  checkOutboxKey(record.key);
  if (!(record.value instanceof Uint8Array)) throw new TypeError(`outbox record ${record.key} is not bytes`);
  if (record.value.length > OUTBOX_RECORD_BYTES_MAX) {
    throw new RangeError(
      `outbox record ${record.key} has ${record.value.length} bytes, more than ${OUTBOX_RECORD_BYTES_MAX}`,
    );
  }
}

/** The store key of outbox record `key`. */
export function outboxStoreKey(key: string): string {
  return `${OUTBOX_KEY_PREFIX}${key}`;
}

/** The LevelDB writes of an outbox write: sealed puts, then deletes (checked first: all or nothing). */
export function outboxWrites(
  puts: readonly OutboxRecord[],
  deletes: readonly string[],
): ({ type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string })[] {
  for (const record of puts) checkRecord(record);
  for (const key of deletes) checkOutboxKey(key);
  return [
    ...puts.map((record) => {
      const key = outboxStoreKey(record.key);
      return { type: 'put' as const, key, value: sealRecord(key, record.value) };
    }),
    ...deletes.map((key) => ({ type: 'del' as const, key: outboxStoreKey(key) })),
  ];
}

/** The outbox records of stored `entries` (store key, sealed value), each checked; in key order. */
export function outboxRecordsOf(entries: Iterable<readonly [string, Uint8Array]>): OutboxRecord[] {
  const records: OutboxRecord[] = [];
  for (const [storeKey, sealed] of entries) {
    if (!storeKey.startsWith(OUTBOX_KEY_PREFIX)) throw new StoreCorruptError(storeKey, 'not an outbox key');
    records.push({
      key: storeKey.slice(OUTBOX_KEY_PREFIX.length),
      value: openRecord(storeKey, sealed).slice(),
    });
  }
  return records.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Every outbox key, as a range of store keys. */
export { OUTBOX_RANGE };

/**
 * The outboxes of in-memory stores, by their durable image: a crash hands the image to the store
 * that restarts, and with it the outbox (outbox writes are synced, so a crash loses none of them);
 * a lost disk is a new image, so an empty outbox.
 */
const memoryOutboxes = new WeakMap<object, Map<string, Uint8Array>>();

/** Applies an outbox write to the in-memory outbox of `image`, all or nothing. */
export function writeMemoryOutbox(
  image: object,
  puts: readonly OutboxRecord[],
  deletes: readonly string[],
): void {
  const writes = outboxWrites(puts, deletes);
  let outbox = memoryOutboxes.get(image);
  if (outbox === undefined) {
    outbox = new Map();
    memoryOutboxes.set(image, outbox);
  }
  for (const write of writes) {
    if (write.type === 'put') outbox.set(write.key, write.value);
    else outbox.delete(write.key);
  }
}

/** The in-memory outbox of `image`, as records in key order. */
export function readMemoryOutbox(image: object): OutboxRecord[] {
  return outboxRecordsOf(memoryOutboxes.get(image) ?? new Map());
}
