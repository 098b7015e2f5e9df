/**
 * Issue 18: a closed key-index bucket written to disk as a part (header, Bloom filter, chunks) and
 * read back finds every key it held, lets fresh keys pass on its filter, refuses damaged values by
 * name, and gives a checkpoint the same image as the tables it came from.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeKeyChunk,
  decodePartFilter,
  decodePartHeader,
  encodePart,
  type KeyChunk,
  KeyIndex,
  KeySpillError,
  keyFingerprint,
  type SpilledPart,
} from '../src/index.js';

const ORIGINS = ['eu#aaaaaaaa', 'us#bbbbbbbb'];
const BUCKET_MS = 60_000;

/** An index with `count` keys in bucket 0 (both origins) and one in bucket 1 (so 0 is closed). */
function filled(count: number): KeyIndex {
  const index = new KeyIndex(BUCKET_MS, keyFingerprint, 'd', ORIGINS);
  for (let i = 0; i < count; i++) index.add('acme', `k${i}`, i % 2, 1 + Math.floor(i / 2), 1_000 + i);
  index.add('acme', 'later', 0, 1 + count, BUCKET_MS + 5);
  return index;
}

/** Writes closed bucket 0 of `index` "to disk": the values by key, and the part. */
function spill(index: KeyIndex, covered = 1e6): { values: Map<string, Uint8Array>; part: SpilledPart } {
  const [bucket] = index.closedInMemory();
  expect(bucket).toBe(0);
  const { part, tables } = index.takeForWriting(bucket as number);
  const encoded = encodePart('d', 0, part, BUCKET_MS, tables, () => covered);
  const values = new Map<string, Uint8Array>([encoded.header, encoded.filter, ...encoded.chunks]);
  index.written(encoded.part);
  return { values, part: encoded.part };
}

function lookup(index: KeyIndex, key: string, chunks: Map<string, KeyChunk>) {
  const found: string[] = [];
  const toRead = index.candidates('acme', key, chunks, (origin, seq) => found.push(`${origin}/${seq}`));
  return { found, toRead };
}

describe('key index parts on disk', () => {
  it('finds every key of a written bucket through its chunks, and fresh keys mostly stop at the filter', () => {
    const count = 20_000;
    const index = filled(count);
    const { values, part } = spill(index);
    expect(part.chunks).toBe(5);
    expect(index.footprint.entries).toBe(1);
    expect(index.footprint.onDisk).toBe(count);
    const read = decodePartHeader(`${part.prefix}h`, values.get(`${part.prefix}h`) as Uint8Array);
    expect(read.origins).toEqual(part.origins);
    read.filter = decodePartFilter(read, values.get(`${part.prefix}f`) as Uint8Array);
    const chunks = new Map<string, KeyChunk>();
    for (const key of read.chunkKeys())
      chunks.set(key, decodeKeyChunk(read, key, values.get(key) as Uint8Array));
    for (let i = 0; i < count; i += 97) {
      const { found, toRead } = lookup(index, `k${i}`, chunks);
      expect(toRead).toEqual([]);
      expect(found).toContain(`${ORIGINS[i % 2]}/${1 + Math.floor(i / 2)}`);
    }
    // Without the chunks, a known key names exactly its one chunk.
    expect(lookup(index, 'k7', new Map()).toRead).toEqual([
      part.chunkKey(keyFingerprint('acme', 'k7').check),
    ]);
    let passed = 0;
    for (let i = 0; i < 2_000; i++)
      if (lookup(index, `fresh${i}`, new Map()).toRead.length === 0) passed += 1;
    expect(passed).toBeGreaterThan(1_900); // ≈ 1 % false positives
    // Without its filter, every lookup names a chunk.
    part.filter = null;
    expect(lookup(index, 'fresh0', new Map()).toRead).toHaveLength(1);
  });

  it('refuses a damaged or misplaced value, naming it', () => {
    const index = filled(5_000);
    const { values, part } = spill(index);
    const [first, second] = part.chunkKeys() as [string, string];
    const damaged = (values.get(first) as Uint8Array).slice();
    damaged[20] = (damaged[20] as number) ^ 1;
    expect(() => decodeKeyChunk(part, first, damaged)).toThrow(KeySpillError);
    expect(() => decodeKeyChunk(part, first, damaged)).toThrow(first);
    expect(() => decodeKeyChunk(part, second, values.get(first) as Uint8Array)).toThrow(/another chunk/);
    const header = (values.get(`${part.prefix}h`) as Uint8Array).slice(0, -1);
    expect(() => decodePartHeader(`${part.prefix}h`, header)).toThrow(KeySpillError);
  });

  it("a checkpoint's image of a bucket on disk equals the tables it came from, once pinned", () => {
    const images = (index: KeyIndex) => {
      const words: string[] = [];
      index.forEachTable((bucket, origin, image) => {
        for (let i = 0; i < image.checks.length; i++)
          words.push(`${bucket}/${origin}/${image.checks[i]}/${image.lows[i]}/${image.seqHighs}`);
      });
      return words.sort();
    };
    const index = filled(3_000);
    const before = images(index);
    const { values, part } = spill(index);
    expect(() => images(index)).toThrow(/was not read for this image/);
    index.pin(
      part,
      part.chunkKeys().map((key) => decodeKeyChunk(part, key, values.get(key) as Uint8Array)),
    );
    expect(images(index)).toEqual(before);
    index.unpinAll();
  });

  it('a restart indexes again only what the part does not cover', () => {
    const index = filled(1_000);
    const image: { bucket: number; origin: number; image: Parameters<KeyIndex['restoreTable']>[2] }[] = [];
    index.forEachTable((bucket, origin, copy) => image.push({ bucket, origin, image: copy }));
    const { part } = spill(index, 400); // covers seqs ≤ 400 of each origin (each has 500 in bucket 0)
    const restarted = new KeyIndex(BUCKET_MS, keyFingerprint, 'd', ORIGINS);
    restarted.attach(part);
    for (const table of image) restarted.restoreTable(table.bucket, table.origin, table.image);
    // Bucket 0 in memory: seqs 401–500 of both origins; bucket 1: the one later key.
    expect(restarted.footprint.entries).toBe(2 * 100 + 1);
    restarted.add('acme', 'k0', 0, 1, 1_000); // folded again: on disk already
    restarted.add('acme', 'new', 0, 600, 1_000); // past what the part covers
    expect(restarted.footprint.entries).toBe(2 * 100 + 2);
  });
});
