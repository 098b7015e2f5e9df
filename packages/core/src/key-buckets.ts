/**
 * The buckets of the key index (key-index.ts fingerprints, indexes and looks keys up on top of
 * them): where its tables are (in memory by time bucket and origin, taken out for writing to disk,
 * or parts of closed buckets on disk: key-spill.ts) and how they move: to disk and back, into a
 * checkpoint's image and back, and out past retention.
 */
import { invariant } from './amount.js';
import type { KeyChunk, KeyKind, SpilledPart } from './key-spill.js';
import { FingerprintTable, type KeyTableImage, SEQ_LOW } from './key-table.js';
import { KEY_INDEX_SLOTS_MIN } from './limits.js';

/** Tables by origin index. */
export type Tables = Map<number, FingerprintTable>;

/**
 * The buckets of one key index (KeyIndex extends it with fingerprints, indexing and lookups): its
 * tables in memory, its parts on disk, and the moves between them.
 */
export abstract class KeyBuckets {
  /** Tables in memory: the open bucket, closed ones not written yet, late entries of written ones. */
  protected readonly buckets = new Map<number, Tables>();
  /** Tables taken out to be written to disk, still searched until they are. */
  protected readonly writing = new Map<number, Tables>();
  /** The parts on disk, by bucket. */
  protected readonly spilled = new Map<number, SpilledPart[]>();
  /** Chunks read back for a checkpoint's image, by part prefix (pin, unpinAll). */
  private readonly pinned = new Map<string, KeyChunk[]>();
  protected newest = Number.NEGATIVE_INFINITY;
  /** Buckets below this one are forgotten (retention). */
  private keptFrom = Number.NEGATIVE_INFINITY;

  constructor(
    protected readonly bucketMs: number,
    /** Which records: parts on disk are named by it. */
    readonly kind: KeyKind,
    /** The ledger's origins by local index (grows in place): parts on disk name origins by id. */
    protected readonly origins: readonly string[],
  ) {
    invariant(Number.isSafeInteger(bucketMs) && bucketMs >= 1, 'key index bucket must be ≥ 1 ms');
  }

  /** The table in memory of `bucket` and the origin at `origin` (its index), made if there is none. */
  protected tableOf(bucket: number, origin: number): FingerprintTable {
    let tables = this.buckets.get(bucket);
    if (tables === undefined) {
      tables = new Map();
      this.buckets.set(bucket, tables);
    }
    let table = tables.get(origin);
    if (table === undefined) {
      table = new FingerprintTable(KEY_INDEX_SLOTS_MIN);
      tables.set(origin, table);
    }
    return table;
  }

  /** Up to which seq the parts on disk of `bucket` hold `origin`'s keys (0: none). */
  protected covered(bucket: number, origin: string | undefined): number {
    let covered = 0;
    for (const part of this.spilled.get(bucket) ?? [])
      for (const each of part.origins)
        if (each.origin === origin && each.covered > covered) covered = each.covered;
    return covered;
  }

  /** The tables in memory: the buckets', then those being written (no generator: lookups run per debit). */
  protected memoryTables(): Tables[] {
    const all: Tables[] = [];
    for (const tables of this.buckets.values()) all.push(tables);
    for (const tables of this.writing.values()) all.push(tables);
    return all;
  }

  /** Drops every bucket that ends at or before `cutoffMs`; returns how many entries went. */
  forgetBefore(cutoffMs: number): number {
    const keptFrom = Math.floor(cutoffMs / this.bucketMs);
    if (keptFrom > this.keptFrom) this.keptFrom = keptFrom;
    let forgotten = 0;
    for (const map of [this.buckets, this.writing])
      for (const [bucket, tables] of map) {
        if (bucket >= this.keptFrom) continue;
        for (const table of tables.values()) forgotten += table.size;
        map.delete(bucket);
      }
    for (const [bucket, parts] of this.spilled) {
      if (bucket >= this.keptFrom) continue;
      for (const part of parts) forgotten += part.entries;
      this.spilled.delete(bucket);
    }
    return forgotten;
  }

  /** Buckets below this one are forgotten: their parts on disk may go. */
  get forgottenBelow(): number {
    return this.keptFrom;
  }

  /** The newest bucket seen (the open one); −∞ before any. */
  get newestBucket(): number {
    return this.newest;
  }

  /** Closed buckets with tables in memory not being written: what the next write to disk takes. */
  closedInMemory(): number[] {
    return [...this.buckets.keys()].filter((bucket) => bucket < this.newest && !this.writing.has(bucket));
  }

  /**
   * Buckets with tables in memory not being written, open ones too (the tables outgrew their share
   * of the budget: they go to disk as a part, and the bucket takes new entries in new tables).
   */
  allInMemory(): number[] {
    return [...this.buckets.keys()].filter((bucket) => !this.writing.has(bucket));
  }

  /** Entries and bytes of the tables in memory not being written (cheap: per table, not per entry). */
  get tableUse(): { readonly entries: number; readonly bytes: number } {
    let entries = 0;
    let bytes = 0;
    for (const tables of this.buckets.values())
      for (const table of tables.values()) {
        entries += table.size;
        bytes += table.bytes;
      }
    return { entries, bytes };
  }

  /**
   * Takes `bucket`'s tables out for writing to disk (by origin id): they are still searched until
   * `written` or `notWritten`; entries of the bucket meanwhile go to new tables.
   */
  takeForWriting(bucket: number): { readonly part: number; readonly tables: Map<string, FingerprintTable> } {
    const tables = this.buckets.get(bucket);
    invariant(
      tables !== undefined && !this.writing.has(bucket),
      `key index bucket ${bucket} is not in memory`,
    );
    this.buckets.delete(bucket);
    this.writing.set(bucket, tables);
    const byId = new Map<string, FingerprintTable>();
    for (const [origin, table] of tables) byId.set(this.origins[origin] as string, table);
    let part = 0;
    for (const known of this.spilled.get(bucket) ?? []) if (known.part >= part) part = known.part + 1;
    return { part, tables: byId };
  }

  /** The tables taken for `part` are on disk now: they leave the heap (the part keeps its filter). */
  written(part: SpilledPart): void {
    this.writing.delete(part.bucket);
    if (part.bucket >= this.keptFrom) this.attach(part);
  }

  /** Writing `bucket` failed: its tables go back to memory. */
  notWritten(bucket: number): void {
    const taken = this.writing.get(bucket);
    if (taken === undefined) return;
    this.writing.delete(bucket);
    for (const [origin, table] of taken) this.absorb(bucket, origin, table.image());
  }

  private absorb(bucket: number, origin: number, image: KeyTableImage): void {
    let tables = this.buckets.get(bucket);
    if (tables === undefined) {
      tables = new Map();
      this.buckets.set(bucket, tables);
    }
    const table = tables.get(origin);
    if (table === undefined) tables.set(origin, FingerprintTable.restore(image));
    else table.absorb(image);
    if (bucket > this.newest) this.newest = bucket;
  }

  /** Adds a part found on disk (at start, before a checkpoint's tables are restored). */
  attach(part: SpilledPart): void {
    invariant(
      part.kind === this.kind && part.bucketMs === this.bucketMs,
      `key index part ${part.prefix} does not fit`,
    );
    const parts = this.spilled.get(part.bucket) ?? [];
    invariant(
      !parts.some((known) => known.part === part.part),
      `key index part ${part.prefix} attached twice`,
    );
    parts.push(part);
    this.spilled.set(part.bucket, parts);
  }

  /** Every part on disk known, oldest bucket first. */
  spilledParts(): SpilledPart[] {
    const parts: SpilledPart[] = [];
    for (const bucket of [...this.spilled.keys()].sort((a, b) => a - b))
      parts.push(...(this.spilled.get(bucket) ?? []));
    return parts;
  }

  /** The part on disk of `bucket` numbered `part`; undefined when none is attached. */
  partAt(bucket: number, part: number): SpilledPart | undefined {
    return this.spilled.get(bucket)?.find((known) => known.part === part);
  }

  /**
   * Adds the entries of a part's chunks, read back from disk, to `bucket`'s tables in memory (a
   * checkpoint that refers to the part, decoded whole into a ledger with no parts attached).
   */
  mergeChunks(bucket: number, chunks: readonly KeyChunk[]): void {
    invariant(!this.spilled.has(bucket), `key index bucket ${bucket} has parts on disk: not merged`);
    const indexOf = new Map<string, number>();
    for (const chunk of chunks)
      chunk.forEach((check, extra, origin, seq) => {
        let index = indexOf.get(origin);
        if (index === undefined) {
          index = this.origins.indexOf(origin);
          invariant(index >= 0, `key index part names origin ${origin} the ledger does not know`);
          indexOf.set(origin, index);
        }
        this.tableOf(bucket, index).add({ check, extra }, seq);
        if (bucket > this.newest) this.newest = bucket;
      });
  }

  /** Holds a part's chunks, read back from disk, for `forEachTable` (a checkpoint) until `unpinAll`. */
  pin(part: SpilledPart, chunks: KeyChunk[]): void {
    this.pinned.set(part.prefix, chunks);
  }

  /** Lets go of every pinned chunk. */
  unpinAll(): void {
    this.pinned.clear();
  }

  /**
   * Calls `visit(bucket, origin index, image)` for every table (checkpoint.ts), in no set order; a
   * bucket with parts on disk is visited from their pinned chunks and its tables in memory merged.
   */
  forEachTable(
    visit: (bucket: number, origin: number, image: KeyTableImage) => void,
    memoryOnly = false,
  ): void {
    const buckets = new Set([
      ...this.buckets.keys(),
      ...this.writing.keys(),
      ...(memoryOnly ? [] : this.spilled.keys()),
    ]);
    for (const bucket of buckets) {
      const inMemory = [this.buckets.get(bucket), this.writing.get(bucket)].filter((t) => t !== undefined);
      const parts = memoryOnly ? [] : (this.spilled.get(bucket) ?? []);
      if (parts.length === 0 && inMemory.length === 1) {
        for (const [origin, table] of inMemory[0] as Tables) visit(bucket, origin, table.image());
        continue;
      }
      const merged = new Map<number, FingerprintTable>();
      const tableOf = (origin: number) => {
        let table = merged.get(origin);
        if (table === undefined) {
          table = new FingerprintTable(KEY_INDEX_SLOTS_MIN);
          merged.set(origin, table);
        }
        return table;
      };
      for (const tables of inMemory)
        for (const [origin, table] of tables as Tables)
          table.forEachEntry((check, extra, seq) => tableOf(origin).add({ check, extra }, seq));
      for (const part of parts) {
        const chunks = this.pinned.get(part.prefix);
        invariant(
          chunks !== undefined,
          `key index part ${part.prefix} is on disk and was not read for this image`,
        );
        for (const chunk of chunks)
          chunk.forEach((check, extra, origin, seq) => {
            const index = this.origins.indexOf(origin);
            invariant(index >= 0, `key index part ${part.prefix} names an origin the ledger does not know`);
            tableOf(index).add({ check, extra }, seq);
          });
      }
      for (const [origin, table] of merged) visit(bucket, origin, table.image());
    }
  }

  /**
   * Puts a table back as a checkpoint kept it. A bucket with parts on disk takes only the entries
   * they do not cover; otherwise the index must not hold that (bucket, origin) yet.
   */
  restoreTable(bucket: number, origin: number, image: KeyTableImage): void {
    if (this.spilled.has(bucket)) {
      const covered = this.covered(bucket, this.origins[origin]);
      const checks: number[] = [];
      const lows: number[] = [];
      for (let i = 0; i < image.checks.length; i++) {
        const low = image.lows[i] as number;
        // Kept when any seq the entry may stand for is past what the parts cover.
        const past = image.seqHighs.some((high) => {
          const seq = high * SEQ_LOW + (low & 0xffffff);
          return seq >= image.minSeq && seq > covered;
        });
        if (past) {
          checks.push(image.checks[i] as number);
          lows.push(low);
        }
      }
      if (checks.length > 0)
        this.absorb(bucket, origin, {
          ...image,
          checks: Uint32Array.from(checks),
          lows: Uint32Array.from(lows),
        });
      return;
    }
    let tables = this.buckets.get(bucket);
    if (tables === undefined) {
      tables = new Map();
      this.buckets.set(bucket, tables);
    }
    invariant(!tables.has(origin), `key index table ${bucket}/${origin} restored twice`);
    tables.set(origin, FingerprintTable.restore(image));
    if (bucket > this.newest) this.newest = bucket;
  }

  /** The length of a bucket in ms. */
  get bucketLengthMs(): number {
    return this.bucketMs;
  }

  /**
   * Entries and bytes held in memory (tables and filters), and entries on disk only. The budget
   * (the replica's keyIndexMemoryBytes) counts `bytes`.
   */
  get footprint(): {
    readonly entries: number;
    readonly bytes: number;
    readonly onDisk: number;
    readonly filterBytes: number;
  } {
    let entries = 0;
    let bytes = 0;
    let onDisk = 0;
    let filterBytes = 0;
    for (const tables of this.memoryTables())
      for (const table of tables.values()) {
        entries += table.size;
        bytes += table.bytes;
      }
    for (const parts of this.spilled.values())
      for (const part of parts) {
        onDisk += part.entries;
        filterBytes += part.filter?.bytes ?? 0;
      }
    return { entries, bytes: bytes + filterBytes, onDisk, filterBytes };
  }
}
