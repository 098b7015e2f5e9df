/**
 * Reading a checkpoint's header (checkpoint.ts has the layout): magic, version, flags, retention,
 * origins and heads, retired incarnations and (format 3) the key-index parts it refers to, each
 * checked as a whole decode checks it.
 */
import { CheckpointError, type OriginTable } from './checkpoint-fields.js';
import { type PartRef, readPartRefs } from './checkpoint-key-index.js';
import { compareText } from './checkpoint-tenant.js';
import { isOriginId, type OriginId } from './ids.js';
import { vectorRetentionCutoff } from './retention.js';
import { ByteReader, SegmentError } from './segment-bytes.js';
import { createLedgerState, type LedgerState, noteRetired } from './state.js';

// What checkpoint.ts's decoder uses beside the exported readers (not exported by the package).

/** The newest format version this build writes (it reads this one and every earlier one). */
export const CHECKPOINT_VERSION = 3;
/** The canonical version: what every node writes at one vector, the key index embedded whole. */
export const CHECKPOINT_CANONICAL_VERSION = 2;
/** The oldest format version this build reads. */
const CHECKPOINT_VERSION_OLDEST = 1;

export const MAGIC = [0x41, 0x43, 0x4b, 0x50]; // "ACKP"
export const FLAG_WINDOW = 1;
/** Bytes of a log head's hash (SHA-256). */
export const CHECKPOINT_HASH_BYTES = 32;

/** Where one origin's log stands in a checkpoint: its folded seq and the hash of its head there. */
export interface CheckpointHead {
  readonly seq: number;
  readonly hash: Uint8Array;
}

/** What a checkpoint's header says of how it was written. */
export interface CheckpointFormat {
  readonly version: number;
  /** Its record window's key-index bucket length (ms; 0: made without a window). */
  readonly bucketMs: number;
  /** The idempotency retention it was written with (ms; 0: none, or format 1). */
  readonly retentionMs: number;
  /** The newest event time folded at its vector (0 in format 1). */
  readonly newestAt: number;
}

export function originTable(ids: readonly string[]): OriginTable {
  return { ids, refs: new Map(ids.map((id, at) => [id, at])) };
}

/** Runs `read`, every failure a CheckpointError. */
function guarded<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    if (error instanceof SegmentError) throw new CheckpointError(error.offset, error.message);
    throw new CheckpointError(-1, error instanceof Error ? error.message : String(error));
  }
}

/** The key-index parts a checkpoint refers to (format 3; none before), read from its header only. */
export function checkpointPartRefs(bytes: Uint8Array): PartRef[] {
  try {
    const input = new ByteReader(bytes);
    const header = readHeader(input);
    const { table } = readOrigins(input);
    if (header.version < 3) return [];
    readRetired(input, createLedgerState(), table);
    const firstBucket = Math.floor(cutoffOf(header) / header.bucketMs);
    return [...readPartRefs(input, 'd', firstBucket), ...readPartRefs(input, 'r', firstBucket)];
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    if (error instanceof SegmentError) throw new CheckpointError(error.offset, error.message);
    throw new CheckpointError(-1, String(error));
  }
}

/** The retention cutoff a checkpoint's header implies (0: none). */
export function cutoffOf(header: Header): number {
  return header.retentionMs > 0
    ? vectorRetentionCutoff(header.newestAt, header.retentionMs, header.window ? header.bucketMs : undefined)
    : 0;
}

/** The version vector and heads of a checkpoint, read from its header only (checked as decode does). */
export function checkpointHeads(bytes: Uint8Array): Map<OriginId, CheckpointHead> {
  return guarded(() => {
    const input = new ByteReader(bytes);
    readHeader(input);
    return readOrigins(input).heads;
  });
}

/** How a checkpoint was written, from its header only (checked as decode does). */
export function checkpointFormat(bytes: Uint8Array): CheckpointFormat {
  try {
    const { version, bucketMs, retentionMs, newestAt } = readHeader(new ByteReader(bytes));
    return { version, bucketMs, retentionMs, newestAt };
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    if (error instanceof SegmentError) throw new CheckpointError(error.offset, error.message);
    throw new CheckpointError(-1, String(error));
  }
}

export function fail(input: ByteReader, problem: string): CheckpointError {
  return new CheckpointError(input.offset, problem);
}

export interface Header {
  readonly version: number;
  readonly window: boolean;
  readonly bucketMs: number;
  readonly retentionMs: number;
  readonly newestAt: number;
}

export function readHeader(input: ByteReader): Header {
  for (const byte of MAGIC)
    if (input.byte() !== byte) throw new CheckpointError(input.offset, 'not a checkpoint (magic)');
  const version = input.byte();
  if (version < CHECKPOINT_VERSION_OLDEST || version > CHECKPOINT_VERSION)
    throw new CheckpointError(
      input.offset,
      `version ${version}, this build reads ${CHECKPOINT_VERSION_OLDEST} to ${CHECKPOINT_VERSION}`,
    );
  const flags = input.byte();
  if (flags > FLAG_WINDOW) throw new CheckpointError(input.offset, `unknown flags ${flags}`);
  const bucketMs = input.varint();
  const window = flags === FLAG_WINDOW;
  if (window !== bucketMs > 0)
    throw new CheckpointError(input.offset, 'record window flag and bucket disagree');
  if (version === 1) return { version, window, bucketMs, retentionMs: 0, newestAt: 0 };
  const retentionMs = input.varint();
  const newestAt = input.varint();
  return { version, window, bucketMs, retentionMs, newestAt };
}

export function readOrigins(input: ByteReader): {
  table: OriginTable;
  seqs: number[];
  heads: Map<OriginId, CheckpointHead>;
} {
  const count = input.count('origins', 2);
  const ids: string[] = [];
  const seqs: number[] = [];
  const heads = new Map<OriginId, CheckpointHead>();
  for (let i = 0; i < count; i++) {
    const origin = input.ascii(Number.MAX_SAFE_INTEGER);
    if (!isOriginId(origin)) throw new CheckpointError(input.offset, 'an origin id that is not valid');
    if (i > 0 && compareText(ids[i - 1] as string, origin) >= 0)
      throw new CheckpointError(input.offset, 'origins out of order');
    const seq = input.varint();
    ids.push(origin);
    seqs.push(seq);
    if (seq > 0) heads.set(origin, { seq, hash: input.take(CHECKPOINT_HASH_BYTES).slice() });
  }
  return { table: originTable(ids), seqs, heads };
}

/** The retired incarnations (version 2): ascending by origin, each with who retired it and through which seq. */
export function readRetired(input: ByteReader, state: LedgerState, table: OriginTable): void {
  const count = input.count('retired incarnations', 3);
  let last = -1;
  for (let i = 0; i < count; i++) {
    const ref = input.varint();
    if (ref <= last || ref >= table.ids.length)
      throw new CheckpointError(input.offset, 'retired incarnations out of order or range');
    last = ref;
    const by = input.varint();
    if (by >= table.ids.length || by === ref)
      throw new CheckpointError(input.offset, 'a retired incarnation retired by no known other origin');
    const through = input.varint();
    noteRetired(state, table.ids[ref] as OriginId, { by: table.ids[by] as OriginId, through });
  }
}
