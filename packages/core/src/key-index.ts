/**
 * The compact key index (issue 18): for every debit (or refund) within the idempotency retention,
 * a fingerprint of (tenant, idempotency key) → where its event is, (origin, seq), in typed arrays
 * off the JS object heap. One open-addressing table per (time bucket, origin): retention drops a
 * whole bucket at once, and a closed bucket is shrunk to a tight load. A slot is 8 bytes: 32 bits
 * of the fingerprint (the other 32 choose the home slot) and the low 32 bits of the seq (the table
 * keeps the few high parts it has seen). A hit is only a candidate: the caller reads the event and
 * compares tenant and key, so a collision can never answer the wrong record. A closed bucket can be
 * written to disk (key-spill.ts) and leave the heap but for its filter: a lookup then names the
 * chunks it must read (`candidates`), and the caller hands them back. Here: fingerprints, indexing
 * and lookups; where the tables are and how they move (to disk and back, into a checkpoint's image
 * and back, out past retention) is key-buckets.ts's.
 */
import { KeyBuckets, type Tables } from './key-buckets.js';
import type { KeyChunk, KeyKind, SpilledPart } from './key-spill.js';
import type { KeyFingerprint } from './key-table.js';

export type { KeyFingerprint, KeyTableImage } from './key-table.js';

/** Computes the fingerprint of (tenant, key); a test seam can force collisions. */
export type Fingerprinter = (tenant: string, key: string) => KeyFingerprint;

/** murmur3's fmix32: a final avalanche, as FNV's low bits are weak for short, similar keys. */
function fmix32(value: number): number {
  let hash = value;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * The default fingerprint: two independent hashes of `tenant NUL key`, FNV-1a with two seeds, in
 * one pass over the strings (no joined string is made: this runs twice per debit).
 */
export function keyFingerprint(tenant: string, key: string): KeyFingerprint {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < tenant.length; i++) {
    const code = tenant.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193) >>> 0;
    b = Math.imul(b ^ code, 0x01000193) >>> 0;
  }
  // The NUL between them (hash ^ 0 = hash).
  a = Math.imul(a, 0x01000193) >>> 0;
  b = Math.imul(b, 0x01000193) >>> 0;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193) >>> 0;
    b = Math.imul(b ^ code, 0x01000193) >>> 0;
  }
  return { check: fmix32(a) || 1, extra: fmix32(b) & 0xff };
}

/**
 * The key index of one kind of record (debits, or refunds): tables by time bucket and origin
 * (local origin index of the ledger), and the parts of closed buckets written to disk. Buckets are
 * `bucketMs` long, by the event's time; the newest bucket seen is open, older ones are closed.
 */
export class KeyIndex extends KeyBuckets {
  /**
   * The last (tenant, key) fingerprinted and its print: a debit's decision looks its key up and its
   * fold then indexes it, one after the other, so the second pays no hashing.
   */
  private lastTenant: string | null = null;
  private lastKey: string | null = null;
  private lastPrint: KeyFingerprint | null = null;
  /** The last `of` that `mayHold` was given, and its answer per origin index (1 yes, 2 no). */
  private acceptedBy: ((origin: string) => boolean) | undefined;
  private accepted: number[] = [];

  constructor(
    bucketMs: number,
    private readonly fingerprint: Fingerprinter,
    kind: KeyKind = 'd',
    origins: readonly string[] = [],
  ) {
    super(bucketMs, kind, origins);
  }

  /** Indexes the record of (tenant, key) at (origin index, seq), made at `at`. */
  add(tenant: string, key: string, origin: number, seq: number, at: number): void {
    const bucket = Math.floor(at / this.bucketMs);
    // A start folds again events whose keys a part on disk holds already.
    if (this.spilled.has(bucket) && seq <= this.covered(bucket, this.origins[origin])) return;
    this.tableOf(bucket, origin).add(this.print(tenant, key), seq);
    if (bucket > this.newest) {
      // A new bucket began: the one before takes (almost) nothing more; shrink its tables.
      for (const [older, olderTables] of this.buckets)
        if (older < bucket && older >= this.newest) for (const each of olderTables.values()) each.tighten();
      this.newest = bucket;
    }
  }

  private print(tenant: string, key: string): KeyFingerprint {
    if (tenant === this.lastTenant && key === this.lastKey && this.lastPrint !== null) return this.lastPrint;
    const print = this.fingerprint(tenant, key);
    this.lastTenant = tenant;
    this.lastKey = key;
    this.lastPrint = print;
    return print;
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
        for (const [origin, table] of tables) if (this.accepts(of, origin) && table.holds(print)) return true;
    }
    return false;
  }

  /** `of`'s answer for the origin at `index`, asked once per origin while `of` stays the same. */
  private accepts(of: (origin: string) => boolean, index: number): boolean {
    if (of !== this.acceptedBy) {
      this.acceptedBy = of;
      this.accepted = [];
    }
    let known = this.accepted[index];
    if (known === undefined) {
      known = of(this.origins[index] as string) ? 1 : 2;
      this.accepted[index] = known;
    }
    return known === 1;
  }

  /**
   * True when some indexed record's fingerprint may match (tenant, key): a table in memory holds it,
   * or a part on disk may (its filter says so, or it has none in memory). With `of` (a function of
   * the origin alone: its answers are kept per origin), only the records of the origins it accepts
   * count: a part on disk counts when it indexes such an origin (its filter cannot tell origins
   * apart).
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
}
