/**
 * The compact key index (issue 18): for every debit (or refund) within the idempotency retention,
 * a fingerprint of (tenant, idempotency key) → where its event is, (origin, seq), in typed arrays
 * off the JS object heap. One open-addressing table per (time bucket, origin): retention drops a
 * whole bucket at once, and a closed bucket is shrunk to a tight load. A slot is 8 bytes: 32 bits
 * of the fingerprint (the other 32 choose the home slot) and the low 32 bits of the seq (the table
 * keeps the few high parts it has seen). A hit is only a candidate: the caller reads the event and
 * compares tenant and key, so a collision can never answer the wrong record. A closed bucket can be
 * written to disk (key-spill.ts) and leave the heap but for its filter: a lookup then names the
 * chunks it must read (`candidates`), and the caller hands them back.
 */
import { invariant } from './amount.js';
import type { KeyChunk, KeyKind, SpilledPart } from './key-spill.js';
import { FingerprintTable, type KeyFingerprint, type KeyTableImage, SEQ_LOW } from './key-table.js';
import { KEY_INDEX_SLOTS_MIN } from './limits.js';

export type { KeyFingerprint, KeyTableImage } from './key-table.js';

/** Computes the fingerprint of (tenant, key); a test seam can force collisions. */
export type Fingerprinter = (tenant: string, key: string) => KeyFingerprint;

/** FNV-1a of `tenant NUL key` (no joined string is made: this runs twice per debit). */
function fnv1a(tenant: string, key: string, seed: number): number {
  let hash = seed >>> 0;
  for (let i = 0; i < tenant.length; i++) {
    hash ^= tenant.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  hash = Math.imul(hash, 0x01000193) >>> 0; // the NUL between them (hash ^ 0 = hash)
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  // A final avalanche (murmur3's fmix32): FNV's low bits are weak for short, similar keys.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** The default fingerprint: two independent hashes of `tenant NUL key`. */
export function keyFingerprint(tenant: string, key: string): KeyFingerprint {
  return { check: fnv1a(tenant, key, 0x811c9dc5) || 1, extra: fnv1a(tenant, key, 0x9747b28c) & 0xff };
}

/** Tables by origin index. */
type Tables = Map<number, FingerprintTable>;

/**
 * The key index of one kind of record (debits, or refunds): tables by time bucket and origin
 * (local origin index of the ledger), and the parts of closed buckets written to disk. Buckets are
 * `bucketMs` long, by the event's time; the newest bucket seen is open, older ones are closed.
 */
export class KeyIndex {
  /** Tables in memory: the open bucket, closed ones not written yet, late entries of written ones. */
  private readonly buckets = new Map<number, Tables>();
  /** Tables taken out to be written to disk, still searched until they are. */
  private readonly writing = new Map<number, Tables>();
  /** The parts on disk, by bucket. */
  private readonly spilled = new Map<number, SpilledPart[]>();
  /** Chunks read back for a checkpoint's image, by part prefix (pin, unpinAll). */
  private readonly pinned = new Map<string, KeyChunk[]>();
  private newest = Number.NEGATIVE_INFINITY;
  /** Buckets below this one are forgotten (retention). */
  private keptFrom = Number.NEGATIVE_INFINITY;
  /**
   * The last (tenant, key) fingerprinted and its print: a debit's decision looks its key up and its
   * fold then indexes it, one after the other, so the second pays no hashing.
   */
  private lastTenant: string | null = null;
  private lastKey: string | null = null;
  private lastPrint: KeyFingerprint | null = null;

  constructor(
    private readonly bucketMs: number,
    private readonly fingerprint: Fingerprinter,
    /** Which records: parts on disk are named by it. */
    readonly kind: KeyKind = 'd',
    /** The ledger's origins by local index (grows in place): parts on disk name origins by id. */
    private readonly origins: readonly string[] = [],
  ) {
    invariant(Number.isSafeInteger(bucketMs) && bucketMs >= 1, 'key index bucket must be ≥ 1 ms');
  }

  /** Indexes the record of (tenant, key) at (origin index, seq), made at `at`. */
  add(tenant: string, key: string, origin: number, seq: number, at: number): void {
    const bucket = Math.floor(at / this.bucketMs);
    // A start folds again events whose keys a part on disk holds already.
    if (this.spilled.has(bucket) && seq <= this.covered(bucket, this.origins[origin])) return;
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
    table.add(this.print(tenant, key), seq);
    if (bucket > this.newest) {
      // A new bucket began: the one before takes (almost) nothing more; shrink its tables.
      for (const [older, olderTables] of this.buckets)
        if (older < bucket && older >= this.newest) for (const each of olderTables.values()) each.tighten();
      this.newest = bucket;
    }
  }

  /** Up to which seq the parts on disk of `bucket` hold `origin`'s keys (0: none). */
  private covered(bucket: number, origin: string | undefined): number {
    let covered = 0;
    for (const part of this.spilled.get(bucket) ?? [])
      for (const each of part.origins)
        if (each.origin === origin && each.covered > covered) covered = each.covered;
    return covered;
  }

  private print(tenant: string, key: string): KeyFingerprint {
    if (tenant === this.lastTenant && key === this.lastKey && this.lastPrint !== null) return this.lastPrint;
    const print = this.fingerprint(tenant, key);
    this.lastTenant = tenant;
    this.lastKey = key;
    this.lastPrint = print;
    return print;
  }

  /** The tables in memory: the buckets', then those being written (no generator: lookups run per debit). */
  private memoryTables(): Tables[] {
    const all: Tables[] = [];
    for (const tables of this.buckets.values()) all.push(tables);
    for (const tables of this.writing.values()) all.push(tables);
    return all;
  }

  /** True when a table in memory of `map`'s buckets holds `print` (with `of`: of an origin it accepts). */
  private memoryHolds(
    map: ReadonlyMap<number, Tables>,
    print: KeyFingerprint,
    of: ((origin: string) => boolean) | undefined,
  ): boolean {
    for (const tables of map.values()) {
      if (of === undefined) {
        for (const table of tables.values()) if (table.holds(print)) return true;
      } else
        for (const [origin, table] of tables)
          if (of(this.origins[origin] as string) && table.holds(print)) return true;
    }
    return false;
  }

  /**
   * True when some indexed record's fingerprint may match (tenant, key): a table in memory holds it,
   * or a part on disk may (its filter says so, or it has none in memory). With `of`, only the
   * records of the origins it accepts count: a part on disk counts when it indexes such an origin
   * (its filter cannot tell origins apart).
   */
  mayHold(tenant: string, key: string, of?: (origin: string) => boolean): boolean {
    if (this.buckets.size === 0 && this.writing.size === 0 && this.spilled.size === 0) return false;
    const print = this.print(tenant, key);
    if (this.memoryHolds(this.buckets, print, of) || this.memoryHolds(this.writing, print, of)) return true;
    for (const parts of this.spilled.values())
      for (const part of parts)
        if (
          (of === undefined || part.origins.some((each) => each.entries > 0 && of(each.origin))) &&
          (part.filter === null || part.filter.mayHold(print))
        )
          return true;
    return false;
  }

  /** Calls `found(origin index, seq)` for every record in memory whose fingerprint matches (tenant, key). */
  find(tenant: string, key: string, found: (origin: number, seq: number) => void): void {
    if (this.buckets.size === 0 && this.writing.size === 0) return;
    const print = this.print(tenant, key);
    for (const tables of this.buckets.values())
      for (const [origin, table] of tables) table.find(print, origin, found);
    for (const tables of this.writing.values())
      for (const [origin, table] of tables) table.find(print, origin, found);
  }

  /**
   * Calls `found(origin id, seq)` for every record whose fingerprint matches (tenant, key), in
   * memory or in the `chunks` read back from disk; returns the keys of the chunks still to read
   * (parts whose filter may hold the key, or that have none in memory).
   */
  candidates(
    tenant: string,
    key: string,
    chunks: ReadonlyMap<string, KeyChunk> | undefined,
    found: (origin: string, seq: number) => void,
  ): string[] {
    const toRead: string[] = [];
    if (this.buckets.size === 0 && this.writing.size === 0 && this.spilled.size === 0) return toRead;
    this.find(tenant, key, (origin, seq) => found(this.origins[origin] as string, seq));
    if (this.spilled.size === 0) return toRead;
    const print = this.print(tenant, key);
    for (const parts of this.spilled.values())
      for (const part of parts) {
        if (part.filter !== null && !part.filter.mayHold(print)) continue;
        const chunkKey = part.chunkKey(print.check);
        const chunk = chunks?.get(chunkKey);
        if (chunk === undefined) toRead.push(chunkKey);
        else chunk.find(print, found);
      }
    return toRead;
  }

  /** The part on disk whose chunk `chunkKey` is; undefined when none is (any more). */
  partOfChunk(chunkKey: string): SpilledPart | undefined {
    for (const parts of this.spilled.values())
      for (const part of parts) if (chunkKey.startsWith(part.prefix)) return part;
    return undefined;
  }

  /** The smallest seq of `origin` still indexed; undefined when none is. */
  oldestSeq(origin: number): number | undefined {
    let oldest: number | undefined;
    for (const tables of this.memoryTables()) {
      const table = tables.get(origin);
      if (table !== undefined && (oldest === undefined || table.minSeq < oldest)) oldest = table.minSeq;
    }
    const id = this.origins[origin];
    for (const parts of this.spilled.values())
      for (const part of parts)
        for (const each of part.origins)
          if (each.origin === id && each.entries > 0 && (oldest === undefined || each.minSeq < oldest))
            oldest = each.minSeq;
    return oldest;
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
        let tables = this.buckets.get(bucket);
        if (tables === undefined) {
          tables = new Map();
          this.buckets.set(bucket, tables);
        }
        let table = tables.get(index);
        if (table === undefined) {
          table = new FingerprintTable(KEY_INDEX_SLOTS_MIN);
          tables.set(index, table);
        }
        table.add({ check, extra }, seq);
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
