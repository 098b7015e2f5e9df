/**
 * Closed key-index buckets on disk (issue 18): when a time bucket of the key index closes, its
 * tables are written beside the segments as one *part* (a header, a Bloom filter, and chunks of
 * KEY_CHUNK_ENTRIES entries each: one store value per chunk, never one per key) and leave the heap.
 * An entry is 16 B: the fingerprint check (u32), 8 more fingerprint bits and the origin's place in
 * the part's origin table (u32), the seq (u64). Entries are grouped by chunk = ⌊check · chunks /
 * 2^32⌋ and sorted in it, so a lookup knows which one value to read without any index in memory.
 * The header says, per origin, up to which seq the part covers its events (the durable head when
 * it was written): a start folds those again without indexing them twice. Every value names its
 * part and carries a checksum: a damaged or misplaced value is a KeySpillError naming it, never a
 * silent "new key".
 */
import { KeyFilter } from './key-filter.js';
import type { FingerprintTable, KeyFingerprint } from './key-table.js';
import { KEY_CHUNK_ENTRIES, KEY_CHUNKS_MAX, ORIGINS_MAX } from './limits.js';
import { ByteReader, ByteWriter } from './segment-bytes.js';

/** Which key index a part belongs to: debits or refunds. */
export type KeyKind = 'd' | 'r';

/** A value of a closed key-index part that is damaged, misplaced or not one. */
export class KeySpillError extends Error {
  constructor(
    /** The keys-area key of the value. */
    readonly key: string,
    problem: string,
  ) {
    super(`key index value ${key} is damaged: ${problem}`);
    this.name = 'KeySpillError';
  }
}

const MAGIC = { header: 0x4b48, filter: 0x4b46, chunk: 0x4b43 } as const;
const VERSION = 1;
const ENTRY_BYTES = 16;
const TWO_POW_32 = 2 ** 32;
const ORIGIN_ID_CHARS_MAX = 128;

function pad(value: number, digits: number): string {
  return String(value).padStart(digits, '0');
}

/** The keys-area prefix of every value of one part. */
export function keyPartPrefix(kind: KeyKind, bucket: number, part: number): string {
  return `${kind}/${pad(bucket, 16)}/${pad(part, 4)}/`;
}

/** The parts of a keys-area key: its kind, bucket, part and what it is; null when it is none. */
export function parseKeyAreaKey(
  key: string,
): { kind: KeyKind; bucket: number; part: number; what: 'h' | 'f' | 'c'; chunk: number } | null {
  const match = /^([dr])\/([0-9]{16})\/([0-9]{4})\/(h|f|c\/([0-9]{8}))$/.exec(key);
  if (match === null) return null;
  const what = (match[4] as string)[0] as 'h' | 'f' | 'c';
  return {
    kind: match[1] as KeyKind,
    bucket: Number(match[2]),
    part: Number(match[3]),
    what,
    chunk: what === 'c' ? Number(match[5]) : 0,
  };
}

/** FNV-1a of `bytes`: the checksum every value ends with (the store seals values on disk too). */
function checksum(bytes: Uint8Array, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < end; i++) hash = Math.imul(hash ^ (bytes[i] as number), 0x01000193) >>> 0;
  return hash;
}

function sealed(out: ByteWriter): Uint8Array {
  const body = out.view();
  const bytes = new Uint8Array(body.length + 4);
  bytes.set(body);
  new DataView(bytes.buffer).setUint32(body.length, checksum(body, body.length), true);
  return bytes;
}

/** Checks a value's checksum and identity; returns a reader after its identity. */
function opened(key: string, bytes: Uint8Array, magic: number, kind: KeyKind, bucket: number, part: number) {
  if (bytes.length < 4) throw new KeySpillError(key, 'shorter than its checksum');
  const end = bytes.length - 4;
  if (new DataView(bytes.buffer, bytes.byteOffset).getUint32(end, true) !== checksum(bytes, end))
    throw new KeySpillError(key, 'its checksum does not match');
  const input = new ByteReader(bytes, 0, end);
  try {
    if (input.varint() !== magic || input.byte() !== VERSION)
      throw new KeySpillError(key, 'not such a value');
    if (input.byte() !== kind.charCodeAt(0) || input.varint() !== bucket || input.varint() !== part)
      throw new KeySpillError(key, 'it names another part');
  } catch (error) {
    throw error instanceof KeySpillError ? error : new KeySpillError(key, String((error as Error).message));
  }
  return input;
}

function identity(out: ByteWriter, magic: number, kind: KeyKind, bucket: number, part: number): void {
  out.varint(magic);
  out.byte(VERSION);
  out.byte(kind.charCodeAt(0));
  out.varint(bucket);
  out.varint(part);
}

/** What an origin's events in one part are: up to which seq covered, the smallest seq, how many. */
export interface PartOrigin {
  readonly origin: string;
  readonly covered: number;
  readonly minSeq: number;
  readonly entries: number;
}

/** A closed part as known in memory: its header, and its filter while the budget allows. */
export class SpilledPart {
  /** The part's Bloom filter; null when not in memory (then every lookup reads its chunk). */
  filter: KeyFilter | null = null;
  /**
   * The SHA-256 of the part's header value, set by whoever wrote or read it (core hashes nothing):
   * a checkpoint refers to the part by its name and this digest (checkpoint.ts, format 3).
   */
  digest: Uint8Array | null = null;

  constructor(
    readonly kind: KeyKind,
    readonly bucket: number,
    readonly part: number,
    readonly bucketMs: number,
    readonly chunks: number,
    readonly filterWords: number,
    readonly origins: readonly PartOrigin[],
  ) {}

  /** Entries in the part. */
  get entries(): number {
    let entries = 0;
    for (const origin of this.origins) entries += origin.entries;
    return entries;
  }

  /** The keys-area prefix of the part's values. */
  get prefix(): string {
    return keyPartPrefix(this.kind, this.bucket, this.part);
  }

  /** The keys-area key of the part's chunk that holds fingerprint checks like `check`. */
  chunkKey(check: number): string {
    return `${this.prefix}c/${pad(Math.floor((check * this.chunks) / TWO_POW_32), 8)}`;
  }

  /** Every chunk's keys-area key. */
  chunkKeys(): string[] {
    const keys: string[] = [];
    for (let chunk = 0; chunk < this.chunks; chunk++) keys.push(`${this.prefix}c/${pad(chunk, 8)}`);
    return keys;
  }
}

/** One chunk read back: its entries, sorted by check. */
export class KeyChunk {
  constructor(
    readonly origins: readonly string[],
    private readonly checks: Uint32Array,
    private readonly words: Uint32Array,
    private readonly seqs: Float64Array,
  ) {}

  /** Calls `found(origin, seq)` for every entry whose fingerprint is `print`. */
  find(print: KeyFingerprint, found: (origin: string, seq: number) => void): void {
    let low = 0;
    let high = this.checks.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((this.checks[mid] as number) < print.check) low = mid + 1;
      else high = mid;
    }
    for (let at = low; at < this.checks.length && this.checks[at] === print.check; at++) {
      const word = this.words[at] as number;
      if (word >>> 24 === print.extra)
        found(this.origins[word & 0xffffff] as string, this.seqs[at] as number);
    }
  }

  /** Calls `visit(check, extra, origin, seq)` for every entry (a checkpoint's image). */
  forEach(visit: (check: number, extra: number, origin: string, seq: number) => void): void {
    for (let at = 0; at < this.checks.length; at++) {
      const word = this.words[at] as number;
      visit(
        this.checks[at] as number,
        word >>> 24,
        this.origins[word & 0xffffff] as string,
        this.seqs[at] as number,
      );
    }
  }
}

/** A part made from tables taken out of the index, ready to write: its values and what it is. */
export interface EncodedPart {
  readonly part: SpilledPart;
  /** The header's keys-area key and bytes: written last, it makes the part exist. */
  readonly header: readonly [string, Uint8Array];
  readonly filter: readonly [string, Uint8Array];
  /** The chunks' keys and bytes, made one at a time as they are taken. */
  readonly chunks: Iterable<readonly [string, Uint8Array]>;
}

/**
 * Encodes the tables of one closed bucket (by origin id) as part `part`, covering each origin up
 * to `covered(origin)`. The part keeps its filter in memory.
 */
export function encodePart(
  kind: KeyKind,
  bucket: number,
  part: number,
  bucketMs: number,
  tables: ReadonlyMap<string, FingerprintTable>,
  covered: (origin: string) => number,
): EncodedPart {
  const originIds = [...tables.keys()].sort();
  if (originIds.length > ORIGINS_MAX) throw new RangeError(`a key-index part of ${originIds.length} origins`);
  let size = 0;
  for (const table of tables.values()) table.forEachEntry(() => (size += 1));
  const chunks = Math.max(1, Math.min(KEY_CHUNKS_MAX, Math.ceil(size / KEY_CHUNK_ENTRIES)));
  // Counting sort by chunk, then a sort within each chunk.
  const checks = new Uint32Array(size);
  const words = new Uint32Array(size);
  const seqs = new Float64Array(size);
  const chunkOf = (check: number) => Math.floor((check * chunks) / TWO_POW_32);
  const starts = new Uint32Array(chunks + 1);
  for (const table of tables.values())
    table.forEachEntry((check) => {
      const at = chunkOf(check) + 1;
      starts[at] = (starts[at] as number) + 1;
    });
  for (let c = 0; c < chunks; c++) starts[c + 1] = (starts[c + 1] as number) + (starts[c] as number);
  const next = starts.slice(0, chunks);
  const filter = KeyFilter.sized(size);
  const origins: PartOrigin[] = [];
  originIds.forEach((origin, ref) => {
    const table = tables.get(origin) as FingerprintTable;
    let minSeq = Number.POSITIVE_INFINITY;
    let entries = 0;
    table.forEachEntry((check, extra, seq) => {
      const at = next[chunkOf(check)] as number;
      next[chunkOf(check)] = at + 1;
      checks[at] = check;
      words[at] = ((extra << 24) | ref) >>> 0;
      seqs[at] = seq;
      filter.add({ check, extra });
      if (seq < minSeq) minSeq = seq;
      entries += 1;
    });
    origins.push({ origin, covered: covered(origin), minSeq: entries === 0 ? 0 : minSeq, entries });
  });
  const spilled = new SpilledPart(kind, bucket, part, bucketMs, chunks, filter.words.length, origins);
  spilled.filter = filter;
  const head = new ByteWriter(256);
  identity(head, MAGIC.header, kind, bucket, part);
  head.varint(bucketMs);
  head.varint(chunks);
  head.varint(filter.words.length);
  head.varint(origins.length);
  for (const origin of origins) {
    head.ascii(origin.origin);
    head.varint(origin.covered);
    head.varint(origin.minSeq);
    head.varint(origin.entries);
  }
  const bits = new ByteWriter(filter.bytes + 32);
  identity(bits, MAGIC.filter, kind, bucket, part);
  bits.varint(filter.words.length);
  bits.bytes(new Uint8Array(filter.words.buffer, filter.words.byteOffset, filter.words.byteLength));
  function* chunkValues(): Generator<readonly [string, Uint8Array]> {
    const keys = spilled.chunkKeys();
    for (let c = 0; c < chunks; c++) {
      const from = starts[c] as number;
      const to = starts[c + 1] as number;
      const order = Array.from({ length: to - from }, (_, i) => from + i);
      order.sort(
        (a, b) =>
          (checks[a] as number) - (checks[b] as number) ||
          (words[a] as number) - (words[b] as number) ||
          (seqs[a] as number) - (seqs[b] as number),
      );
      const out = new ByteWriter(64 + (to - from) * ENTRY_BYTES);
      identity(out, MAGIC.chunk, kind, bucket, part);
      out.varint(c);
      out.varint(originIds.length);
      for (const origin of originIds) out.ascii(origin);
      out.varint(to - from);
      const body = new Uint8Array((to - from) * ENTRY_BYTES);
      const view = new DataView(body.buffer);
      order.forEach((at, i) => {
        const seq = seqs[at] as number;
        view.setUint32(i * ENTRY_BYTES, checks[at] as number, true);
        view.setUint32(i * ENTRY_BYTES + 4, words[at] as number, true);
        view.setUint32(i * ENTRY_BYTES + 8, seq % TWO_POW_32, true);
        view.setUint32(i * ENTRY_BYTES + 12, Math.floor(seq / TWO_POW_32), true);
      });
      out.bytes(body);
      yield [keys[c] as string, sealed(out)];
    }
  }
  return {
    part: spilled,
    header: [`${spilled.prefix}h`, sealed(head)],
    filter: [`${spilled.prefix}f`, sealed(bits)],
    chunks: chunkValues(),
  };
}

function guarded<T>(key: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof KeySpillError) throw error;
    throw new KeySpillError(key, (error as Error).message);
  }
}

/** Reads a part's header (keys-area key `key`), every field checked. */
export function decodePartHeader(key: string, bytes: Uint8Array): SpilledPart {
  const at = parseKeyAreaKey(key);
  if (at === null || at.what !== 'h') throw new KeySpillError(key, 'not a part header key');
  const input = opened(key, bytes, MAGIC.header, at.kind, at.bucket, at.part);
  return guarded(key, () => {
    const bucketMs = input.varint();
    const chunks = input.varint();
    const filterWords = input.varint();
    const count = input.count('origins', 4);
    if (chunks < 1 || chunks > KEY_CHUNKS_MAX || bucketMs < 1 || count > ORIGINS_MAX)
      throw new KeySpillError(key, 'a count out of range');
    const origins: PartOrigin[] = [];
    for (let i = 0; i < count; i++) {
      const origin = input.ascii(ORIGIN_ID_CHARS_MAX);
      origins.push({ origin, covered: input.varint(), minSeq: input.varint(), entries: input.varint() });
    }
    if (input.left !== 0) throw new KeySpillError(key, 'bytes past its end');
    return new SpilledPart(at.kind, at.bucket, at.part, bucketMs, chunks, filterWords, origins);
  });
}

/** Reads a part's filter back (it must be the one its header announces). */
export function decodePartFilter(part: SpilledPart, bytes: Uint8Array): KeyFilter {
  const key = `${part.prefix}f`;
  const input = opened(key, bytes, MAGIC.filter, part.kind, part.bucket, part.part);
  return guarded(key, () => {
    const words = input.varint();
    if (words !== part.filterWords || input.left !== words * 4)
      throw new KeySpillError(key, 'not the size its header says');
    const copy = new Uint32Array(words);
    new Uint8Array(copy.buffer).set(input.take(words * 4));
    return KeyFilter.of(copy);
  });
}

/** Reads chunk `key` of `part` back, every entry checked (sorted, in its chunk, origin known). */
export function decodeKeyChunk(part: SpilledPart, key: string, bytes: Uint8Array): KeyChunk {
  const at = parseKeyAreaKey(key);
  if (at === null || at.what !== 'c' || !key.startsWith(part.prefix) || at.chunk >= part.chunks)
    throw new KeySpillError(key, `not a chunk of part ${part.prefix}`);
  const input = opened(key, bytes, MAGIC.chunk, part.kind, part.bucket, part.part);
  return guarded(key, () => {
    if (input.varint() !== at.chunk) throw new KeySpillError(key, 'it names another chunk');
    const count = input.count('origins', 1);
    const origins: string[] = [];
    for (let i = 0; i < count; i++) origins.push(input.ascii(ORIGIN_ID_CHARS_MAX));
    const size = input.count('entries', ENTRY_BYTES);
    const body = input.take(size * ENTRY_BYTES);
    if (input.left !== 0) throw new KeySpillError(key, 'bytes past its end');
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    const checks = new Uint32Array(size);
    const words = new Uint32Array(size);
    const seqs = new Float64Array(size);
    let last = -1;
    for (let i = 0; i < size; i++) {
      const check = view.getUint32(i * ENTRY_BYTES, true);
      const word = view.getUint32(i * ENTRY_BYTES + 4, true);
      const seq =
        view.getUint32(i * ENTRY_BYTES + 8, true) + view.getUint32(i * ENTRY_BYTES + 12, true) * TWO_POW_32;
      if (check === 0 || check < last || Math.floor((check * part.chunks) / TWO_POW_32) !== at.chunk)
        throw new KeySpillError(key, `entry ${i} out of order or outside its chunk`);
      if ((word & 0xffffff) >= count || !Number.isSafeInteger(seq) || seq < 1)
        throw new KeySpillError(key, `entry ${i} names no origin or seq`);
      last = check;
      checks[i] = check;
      words[i] = word;
      seqs[i] = seq;
    }
    return new KeyChunk(origins, checks, words, seqs);
  });
}
