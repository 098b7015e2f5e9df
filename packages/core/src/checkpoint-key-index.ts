/**
 * The key indexes of a record window in a checkpoint (checkpoint.ts has the layout): per bucket
 * and origin, a table's seq high parts, smallest seq and entries, the entries as 64-bit words
 * (check · 2^32 + low) in ascending order, so that any arrival order writes the same bytes.
 */
import { invariant } from './amount.js';
import { CheckpointError } from './checkpoint-fields.js';
import type { KeyIndex, KeyTableImage } from './key-index.js';
import { type KeyKind, keyPartPrefix } from './key-spill.js';
import type { ByteReader, ByteWriter } from './segment-bytes.js';

const ENTRY_BYTES = 8;
/** Key-index entries are written as the platform's u64 words: this codec runs little-endian only. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A key index's tables, copied out of it (by the origin's place in the checkpoint's table). */
export type KeyIndexImage = readonly {
  readonly bucket: number;
  readonly ref: number;
  readonly image: KeyTableImage;
}[];

/**
 * Copies a key index's tables out of it: the index may change after, the copy does not. With
 * `memoryOnly`, only the tables in memory (a checkpoint that refers to the parts on disk).
 */
export function keyIndexImage(index: KeyIndex, refOf: readonly number[], memoryOnly = false): KeyIndexImage {
  const tables: { bucket: number; ref: number; image: KeyTableImage }[] = [];
  index.forEachTable((bucket, origin, image) => {
    if (image.checks.length > 0) tables.push({ bucket, ref: refOf[origin] as number, image });
  }, memoryOnly);
  return tables;
}

/** Bytes of a key-index part's digest (the SHA-256 of its header value). */
export const PART_DIGEST_BYTES = 32;

/** A checkpoint's reference to a key-index part on disk (format 3): its name and its digest. */
export interface PartRef {
  readonly kind: KeyKind;
  readonly bucket: number;
  readonly part: number;
  readonly digest: Uint8Array;
  /** Of each origin in it (by id), the smallest seq of its entries; absent: none. */
  readonly minSeqs: ReadonlyMap<string, number>;
}

/** The keys-area prefix of a referenced part. */
export function refPrefix(ref: PartRef): string {
  return keyPartPrefix(ref.kind, ref.bucket, ref.part);
}

/** The references to `index`'s parts on disk from `firstBucket` on, ascending by (bucket, part). */
export function partRefs(index: KeyIndex, firstBucket: number): PartRef[] {
  const refs: PartRef[] = [];
  for (const part of index.spilledParts()) {
    if (part.bucket < firstBucket) continue;
    invariant(part.digest?.length === PART_DIGEST_BYTES, `key index part ${part.prefix} has no digest`);
    const minSeqs = new Map<string, number>();
    for (const each of part.origins) if (each.entries > 0) minSeqs.set(each.origin, each.minSeq);
    refs.push({ kind: part.kind, bucket: part.bucket, part: part.part, digest: part.digest, minSeqs });
  }
  return refs.sort((a, b) => a.bucket - b.bucket || a.part - b.part);
}

/** Writes references to parts (format 3): varint count, each varint bucket, varint part, digest. */
export function writePartRefs(out: ByteWriter, refs: readonly PartRef[]): void {
  out.varint(refs.length);
  for (const ref of refs) {
    out.varint(ref.bucket);
    out.varint(ref.part);
    out.bytes(ref.digest);
  }
}

/** Reads references to parts of `kind`, ascending; a bucket before `firstBucket` (past retention) is refused. */
export function readPartRefs(input: ByteReader, kind: KeyKind, firstBucket: number): PartRef[] {
  const count = input.count('key index parts', 2 + PART_DIGEST_BYTES);
  const refs: PartRef[] = [];
  for (let i = 0; i < count; i++) {
    const bucket = input.varint();
    const part = input.varint();
    const last = refs[refs.length - 1];
    if (last !== undefined && (bucket < last.bucket || (bucket === last.bucket && part <= last.part)))
      throw new CheckpointError(input.offset, 'key index parts out of order');
    if (bucket < firstBucket)
      throw new CheckpointError(input.offset, `key index part of bucket ${bucket} is past the retention`);
    if (part > 9999) throw new CheckpointError(input.offset, `key index part number ${part} out of range`);
    refs.push({ kind, bucket, part, digest: input.take(PART_DIGEST_BYTES).slice(), minSeqs: new Map() });
  }
  return refs;
}

/**
 * Writes a key index's tables (an image) in one order: by bucket, origin, and entry; yields after
 * each table, so that a caller may let other work run between tables.
 */
export function* writeKeyIndex(out: ByteWriter, image: KeyIndexImage): Generator<void, void, void> {
  const tables = [...image];
  tables.sort((a, b) => a.bucket - b.bucket || a.ref - b.ref);
  const buckets: number[] = [];
  for (const { bucket } of tables) if (buckets[buckets.length - 1] !== bucket) buckets.push(bucket);
  out.varint(buckets.length);
  let at = 0;
  for (const bucket of buckets) {
    out.varint(bucket);
    let end = at;
    while (end < tables.length && tables[end]?.bucket === bucket) end += 1;
    out.varint(end - at);
    for (; at < end; at++) {
      const { ref, image } = tables[at] as (typeof tables)[number];
      out.varint(ref);
      const highs = [...image.seqHighs].sort((a, b) => a - b);
      out.varint(highs.length);
      for (const high of highs) out.varint(high);
      out.varint(image.minSeq);
      // Entries in one order: each the 64-bit number check · 2^32 + low, ascending, little-endian.
      const size = image.checks.length;
      const words = new Uint32Array(size * 2);
      for (let i = 0; i < size; i++) {
        words[2 * i] = image.lows[i] as number;
        words[2 * i + 1] = image.checks[i] as number;
      }
      new BigUint64Array(words.buffer).sort();
      out.varint(size);
      out.bytes(new Uint8Array(words.buffer));
      yield;
    }
  }
}

/**
 * Restores a key index's tables into `index` (which must be empty), every order checked; a bucket
 * before `firstBucket` (past the checkpoint's retention) is refused.
 */
export function readKeyIndex(
  input: ByteReader,
  index: KeyIndex,
  indexOf: readonly number[],
  firstBucket = 0,
): void {
  const buckets = input.count('key index buckets', 2);
  let lastBucket = -1;
  for (let b = 0; b < buckets; b++) {
    const bucket = input.varint();
    if (bucket <= lastBucket) throw new CheckpointError(input.offset, 'key index buckets out of order');
    if (bucket < firstBucket)
      throw new CheckpointError(input.offset, `key index bucket ${bucket} is past the retention`);
    lastBucket = bucket;
    const tables = input.count('key index tables', 4);
    if (tables === 0) throw new CheckpointError(input.offset, 'an empty key index bucket');
    let lastRef = -1;
    for (let t = 0; t < tables; t++) {
      const ref = input.varint();
      if (ref <= lastRef || ref >= indexOf.length)
        throw new CheckpointError(input.offset, 'key index tables out of order or range');
      lastRef = ref;
      const highCount = input.count('seq high parts', 1);
      const seqHighs: number[] = [];
      for (let h = 0; h < highCount; h++) {
        const high = input.varint();
        if (h > 0 && high <= (seqHighs[h - 1] as number))
          throw new CheckpointError(input.offset, 'seq high parts out of order');
        seqHighs.push(high);
      }
      const minSeq = input.varint();
      const size = input.count('key index entries', ENTRY_BYTES);
      if (size === 0 || highCount === 0) throw new CheckpointError(input.offset, 'an empty key index table');
      const words = new Uint32Array(size * 2);
      new Uint8Array(words.buffer).set(input.take(size * ENTRY_BYTES));
      const checks = new Uint32Array(size);
      const lows = new Uint32Array(size);
      let lastCheck = 0;
      let lastLow = 0;
      for (let i = 0; i < size; i++) {
        const low = words[2 * i] as number;
        const check = words[2 * i + 1] as number;
        if (check === 0 || check < lastCheck || (check === lastCheck && low < lastLow))
          throw new CheckpointError(input.offset, 'key index entries out of order or empty');
        lastCheck = check;
        lastLow = low;
        checks[i] = check;
        lows[i] = low;
      }
      index.restoreTable(bucket, indexOf[ref] as number, { seqHighs, minSeq, checks, lows });
    }
  }
}
