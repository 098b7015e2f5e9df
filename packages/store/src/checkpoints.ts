/**
 * Checkpoints in the store (issue 11): each under its own key range, `v3/ckpt/<total>/<part>`, with
 * the total (Σ of its version vector's seqs) zero-padded so that key order is age order. Part 0 is
 * the header (the byte length, the number of parts, the hash and the signature); parts 1… are the
 * checkpoint's bytes in runs of CHECKPOINT_PART_BYTES, so that no value comes near LevelDB's block
 * bound. Every value is sealed like every record of the layout (records.ts), and a checkpoint is
 * written in one synced batch: all of its parts or none. Reading checks every part, its count and
 * the length; anything wrong is a StoreCorruptError naming the key.
 */
import type { StoredCheckpoint } from '@allot/replica';
import { StoreCorruptError } from './errors.js';
import { CHECKPOINT_BYTES_MAX, CHECKPOINT_PART_BYTES, HASH_BYTES, SIGNATURE_BYTES } from './limits.js';
import { openRecord, sealRecord } from './records.js';

const PREFIX = 'v3/ckpt/';
/** Every checkpoint key, as a range. */
export const CHECKPOINT_RANGE = { gte: PREFIX, lt: 'v3/ckpt0' } as const;
const TOTAL_DIGITS = 16;
const PART_DIGITS = 6;
/** Bytes of a header: u32 parts, u32 high and low of the length, hash, signature. */
const HEADER_BYTES = 12 + HASH_BYTES + SIGNATURE_BYTES;

function checkTotal(total: number): void {
  if (!Number.isSafeInteger(total) || total < 1) throw new RangeError(`no checkpoint at total ${total}`);
}

/** The key of part `part` of the checkpoint at `total`. */
export function checkpointKey(total: number, part: number): string {
  checkTotal(total);
  return `${PREFIX}${String(total).padStart(TOTAL_DIGITS, '0')}/${String(part).padStart(PART_DIGITS, '0')}`;
}

/** The keys of every part of the checkpoint at `total`, as a range. */
export function checkpointRange(total: number): { gte: string; lt: string } {
  checkTotal(total);
  return {
    gte: `${PREFIX}${String(total).padStart(TOTAL_DIGITS, '0')}/`,
    lt: `${PREFIX}${String(total).padStart(TOTAL_DIGITS, '0')}0`,
  };
}

/** The total and part of a checkpoint key, or null when it is not one. */
export function parseCheckpointKey(key: string): { total: number; part: number } | null {
  const match = /^v3\/ckpt\/([0-9]{16})\/([0-9]{6})$/.exec(key);
  if (match === null) return null;
  const total = Number(match[1]);
  return Number.isSafeInteger(total) && total >= 1 ? { total, part: Number(match[2]) } : null;
}

/** The sealed puts that store `checkpoint` (checked first). */
export function checkpointWrites(checkpoint: StoredCheckpoint): { key: string; value: Uint8Array }[] {
  const { total, bytes, hash, signature } = checkpoint;
  checkTotal(total);
  if (!(bytes instanceof Uint8Array) || bytes.length === 0 || bytes.length > CHECKPOINT_BYTES_MAX)
    throw new RangeError(`a checkpoint of ${bytes?.length} bytes (1..${CHECKPOINT_BYTES_MAX})`);
  if (hash?.length !== HASH_BYTES || signature?.length !== SIGNATURE_BYTES)
    throw new RangeError(
      `a checkpoint needs a ${HASH_BYTES}-byte hash and a ${SIGNATURE_BYTES}-byte signature`,
    );
  const parts = Math.ceil(bytes.length / CHECKPOINT_PART_BYTES);
  const header = new Uint8Array(HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint32(0, parts, true);
  view.setUint32(4, Math.floor(bytes.length / 2 ** 32), true);
  view.setUint32(8, bytes.length % 2 ** 32, true);
  header.set(hash, 12);
  header.set(signature, 12 + HASH_BYTES);
  const writes = [{ key: checkpointKey(total, 0), value: sealRecord(checkpointKey(total, 0), header) }];
  for (let part = 1; part <= parts; part++) {
    const key = checkpointKey(total, part);
    const run = bytes.subarray((part - 1) * CHECKPOINT_PART_BYTES, part * CHECKPOINT_PART_BYTES);
    writes.push({ key, value: sealRecord(key, run) });
  }
  return writes;
}

/** The checkpoint at `total` from its stored parts (key, sealed value) in key order; every part checked. */
export function checkpointOf(
  total: number,
  entries: readonly (readonly [string, Uint8Array])[],
): StoredCheckpoint | null {
  if (entries.length === 0) return null;
  const [headerKey, sealedHeader] = entries[0] as readonly [string, Uint8Array];
  if (headerKey !== checkpointKey(total, 0))
    throw new StoreCorruptError(headerKey, 'a checkpoint without its header');
  const header = openRecord(headerKey, sealedHeader);
  if (header.length !== HEADER_BYTES)
    throw new StoreCorruptError(headerKey, 'a checkpoint header of the wrong size');
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const parts = view.getUint32(0, true);
  const length = view.getUint32(4, true) * 2 ** 32 + view.getUint32(8, true);
  if (length < 1 || length > CHECKPOINT_BYTES_MAX || parts !== Math.ceil(length / CHECKPOINT_PART_BYTES))
    throw new StoreCorruptError(headerKey, `a checkpoint of ${length} bytes in ${parts} parts`);
  if (entries.length !== parts + 1)
    throw new StoreCorruptError(headerKey, `${entries.length - 1} parts stored, its header says ${parts}`);
  const bytes = new Uint8Array(length);
  let at = 0;
  for (let part = 1; part <= parts; part++) {
    const [key, sealed] = entries[part] as readonly [string, Uint8Array];
    if (key !== checkpointKey(total, part))
      throw new StoreCorruptError(key, `part ${part} of the checkpoint missing`);
    const run = openRecord(key, sealed);
    const expected = Math.min(CHECKPOINT_PART_BYTES, length - at);
    if (run.length !== expected)
      throw new StoreCorruptError(key, `${run.length} bytes, ${expected} expected`);
    bytes.set(run, at);
    at += run.length;
  }
  return {
    total,
    bytes,
    // Copies into plain Uint8Arrays (a store may hand out Buffers, whose slice is a view).
    hash: Uint8Array.from(header.subarray(12, 12 + HASH_BYTES)),
    signature: Uint8Array.from(header.subarray(12 + HASH_BYTES)),
  };
}

/** The totals of the checkpoints among `keys` (any order), newest first. */
export function checkpointTotals(keys: Iterable<string>): number[] {
  const totals = new Set<number>();
  for (const key of keys) {
    const parsed = parseCheckpointKey(key);
    if (parsed === null) throw new StoreCorruptError(key, 'not a checkpoint key');
    if (parsed.part === 0) totals.add(parsed.total);
  }
  return [...totals].sort((a, b) => b - a);
}

/**
 * The checkpoints of in-memory stores, by their durable image: written synced, so a crash keeps
 * them; a lost disk is a new image, so none.
 */
const memoryCheckpoints = new WeakMap<object, Map<string, Uint8Array>>();

function memoryOf(image: object): Map<string, Uint8Array> {
  let stored = memoryCheckpoints.get(image);
  if (stored === undefined) {
    stored = new Map();
    memoryCheckpoints.set(image, stored);
  }
  return stored;
}

/** The in-memory checkpoint store of `image`: the Store port's four checkpoint methods. */
export function memoryCheckpointStore(image: object): {
  write(checkpoint: StoredCheckpoint): void;
  list(): number[];
  read(total: number): StoredCheckpoint | null;
  remove(total: number): void;
} {
  const stored = memoryOf(image);
  const inRange = (total: number) => {
    const { gte, lt } = checkpointRange(total);
    return [...stored.keys()].filter((key) => key >= gte && key < lt).sort();
  };
  return {
    write(checkpoint) {
      const writes = checkpointWrites(checkpoint);
      for (const key of inRange(checkpoint.total)) stored.delete(key);
      for (const { key, value } of writes) stored.set(key, value);
    },
    list: () => checkpointTotals(stored.keys()),
    read: (total) =>
      checkpointOf(
        total,
        inRange(total).map((key) => [key, stored.get(key) as Uint8Array] as const),
      ),
    remove(total) {
      for (const key of inRange(total)) stored.delete(key);
    },
  };
}
