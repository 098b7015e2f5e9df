/**
 * The compact key index (issue 18): for every debit (or refund) within the idempotency retention,
 * a fingerprint of (tenant, idempotency key) → where its event is, (origin, seq), in typed arrays
 * off the JS object heap. One open-addressing table per (time bucket, origin): retention drops a
 * whole bucket at once, and a closed bucket is shrunk to a tight load. A slot is 8 bytes: 32 bits
 * of the fingerprint (the other 32 choose the home slot) and the low 32 bits of the seq (the table
 * keeps the few high parts it has seen). A hit is only a candidate: the caller reads the event and
 * compares tenant and key, so a collision can never answer the wrong record.
 */
import { invariant } from './amount.js';
import { KEY_INDEX_GROW_LOAD, KEY_INDEX_SLOTS_MIN, KEY_INDEX_TIGHT_LOAD } from './limits.js';

/**
 * A fingerprint of (tenant, key): `check` (32 bits, never 0: 0 marks an empty slot) picks the home
 * slot and is stored; `extra` (8 more bits) is stored beside the seq. 40 bits in all: a fresh key
 * meets a false candidate about once in 2^40 / (entries of a table) lookups per table.
 */
export interface KeyFingerprint {
  readonly check: number;
  readonly extra: number;
}

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

/**
 * What a checkpoint keeps of one table (checkpoint.ts): the high parts of its seqs, its smallest
 * seq, and its entries as parallel arrays of fingerprint checks (never 0) and `extra << 24 | low`.
 */
export interface KeyTableImage {
  readonly seqHighs: readonly number[];
  readonly minSeq: number;
  readonly checks: Uint32Array;
  readonly lows: Uint32Array;
}

/** Seqs are stored as their low 24 bits beside the 8 extra fingerprint bits. */
const SEQ_LOW = 2 ** 24;

/** One open-addressing table (linear probing): the events of one origin in one time bucket. */
class FingerprintTable {
  private checks: Uint32Array;
  /** extra << 24 | seq mod 2^24. */
  private lows: Uint32Array;
  /** High parts (seq / 2^24) of the seqs held: one or two for a bucket of millions. */
  private readonly seqHighs: number[] = [];
  /** How many entries the table holds. */
  size = 0;
  /** The smallest seq held. */
  minSeq = Number.POSITIVE_INFINITY;

  constructor(slots: number) {
    this.checks = new Uint32Array(slots);
    this.lows = new Uint32Array(slots);
  }

  /** Bytes of the typed arrays. */
  get bytes(): number {
    return this.checks.byteLength + this.lows.byteLength;
  }

  add(print: KeyFingerprint, seq: number): void {
    if ((this.size + 1) / this.checks.length > KEY_INDEX_GROW_LOAD) this.resize(this.checks.length * 2);
    const high = Math.floor(seq / SEQ_LOW);
    if (!this.seqHighs.includes(high)) this.seqHighs.push(high);
    this.place(print.check, ((print.extra << 24) | (seq % SEQ_LOW)) >>> 0);
    this.size += 1;
    if (seq < this.minSeq) this.minSeq = seq;
  }

  /** Calls `found(origin, seq)` for every entry whose fingerprint matches (one candidate per high part). */
  find(print: KeyFingerprint, origin: number, found: (origin: number, seq: number) => void): void {
    const slots = this.checks.length;
    let at = print.check % slots;
    for (;;) {
      const check = this.checks[at] as number;
      if (check === 0) return;
      const low = this.lows[at] as number;
      if (check === print.check && low >>> 24 === print.extra) {
        for (const high of this.seqHighs) {
          const seq = high * SEQ_LOW + (low & 0xffffff);
          if (seq >= this.minSeq) found(origin, seq);
        }
      }
      at = at + 1 === slots ? 0 : at + 1;
    }
  }

  /** True when an entry's fingerprint matches `print`. */
  holds(print: KeyFingerprint): boolean {
    const slots = this.checks.length;
    let at = print.check % slots;
    for (;;) {
      const check = this.checks[at] as number;
      if (check === 0) return false;
      if (check === print.check && (this.lows[at] as number) >>> 24 === print.extra) return true;
      at = at + 1 === slots ? 0 : at + 1;
    }
  }

  /** Shrinks the table to a tight load: for a bucket that takes (almost) no more entries. */
  tighten(): void {
    const slots = Math.max(KEY_INDEX_SLOTS_MIN, Math.ceil(this.size / KEY_INDEX_TIGHT_LOAD) + 1);
    if (slots < this.checks.length) this.resize(slots);
  }

  /** The table's image for a checkpoint: its seq high parts, its smallest seq, its entries (check, low). */
  image(): KeyTableImage {
    const checks = new Uint32Array(this.size);
    const lows = new Uint32Array(this.size);
    let at = 0;
    for (let i = 0; i < this.checks.length; i++) {
      const check = this.checks[i] as number;
      if (check === 0) continue;
      checks[at] = check;
      lows[at] = this.lows[i] as number;
      at += 1;
    }
    return { seqHighs: [...this.seqHighs], minSeq: this.minSeq, checks, lows };
  }

  /** A table holding exactly `image`'s entries, at a tight load. */
  static restore(image: KeyTableImage): FingerprintTable {
    const size = image.checks.length;
    const table = new FingerprintTable(
      Math.max(KEY_INDEX_SLOTS_MIN, Math.ceil(size / KEY_INDEX_TIGHT_LOAD) + 1),
    );
    for (let i = 0; i < size; i++) table.place(image.checks[i] as number, image.lows[i] as number);
    table.size = size;
    table.minSeq = image.minSeq;
    table.seqHighs.push(...image.seqHighs);
    return table;
  }

  private place(check: number, low: number): void {
    const slots = this.checks.length;
    let at = check % slots;
    while (this.checks[at] !== 0) at = at + 1 === slots ? 0 : at + 1;
    this.checks[at] = check;
    this.lows[at] = low;
  }

  private resize(slots: number): void {
    const checks = this.checks;
    const lows = this.lows;
    this.checks = new Uint32Array(slots);
    this.lows = new Uint32Array(slots);
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i] as number;
      if (check !== 0) this.place(check, lows[i] as number);
    }
  }
}

/**
 * The key index of one kind of record (debits, or refunds): tables by time bucket and origin
 * (local origin index of the ledger). Buckets are `bucketMs` long, by the event's time.
 */
export class KeyIndex {
  private readonly buckets = new Map<number, Map<number, FingerprintTable>>();
  private newest = Number.NEGATIVE_INFINITY;
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
  ) {
    invariant(Number.isSafeInteger(bucketMs) && bucketMs >= 1, 'key index bucket must be ≥ 1 ms');
  }

  /** Indexes the record of (tenant, key) at (origin index, seq), made at `at`. */
  add(tenant: string, key: string, origin: number, seq: number, at: number): void {
    const bucket = Math.floor(at / this.bucketMs);
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

  private print(tenant: string, key: string): KeyFingerprint {
    if (tenant === this.lastTenant && key === this.lastKey && this.lastPrint !== null) return this.lastPrint;
    const print = this.fingerprint(tenant, key);
    this.lastTenant = tenant;
    this.lastKey = key;
    this.lastPrint = print;
    return print;
  }

  /** True when some indexed record's fingerprint matches (tenant, key): `find` would call back. */
  mayHold(tenant: string, key: string): boolean {
    if (this.buckets.size === 0) return false;
    const print = this.print(tenant, key);
    for (const tables of this.buckets.values())
      for (const table of tables.values()) if (table.holds(print)) return true;
    return false;
  }

  /** Calls `found(origin index, seq)` for every indexed record whose fingerprint matches (tenant, key). */
  find(tenant: string, key: string, found: (origin: number, seq: number) => void): void {
    if (this.buckets.size === 0) return;
    const print = this.print(tenant, key);
    for (const tables of this.buckets.values())
      for (const [origin, table] of tables) table.find(print, origin, found);
  }

  /** The smallest seq of `origin` still indexed; undefined when none is. */
  oldestSeq(origin: number): number | undefined {
    let oldest: number | undefined;
    for (const tables of this.buckets.values()) {
      const table = tables.get(origin);
      if (table !== undefined && (oldest === undefined || table.minSeq < oldest)) oldest = table.minSeq;
    }
    return oldest;
  }

  /** Drops every bucket that ends at or before `cutoffMs`; returns how many entries went. */
  forgetBefore(cutoffMs: number): number {
    let forgotten = 0;
    for (const [bucket, tables] of this.buckets) {
      if ((bucket + 1) * this.bucketMs > cutoffMs) continue;
      for (const table of tables.values()) forgotten += table.size;
      this.buckets.delete(bucket);
    }
    return forgotten;
  }

  /** Calls `visit(bucket, origin index, image)` for every table (checkpoint.ts), in no set order. */
  forEachTable(visit: (bucket: number, origin: number, image: KeyTableImage) => void): void {
    for (const [bucket, tables] of this.buckets)
      for (const [origin, table] of tables) visit(bucket, origin, table.image());
  }

  /** Puts a table back as a checkpoint kept it; the index must not hold that (bucket, origin) yet. */
  restoreTable(bucket: number, origin: number, image: KeyTableImage): void {
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

  /** Entries and bytes of the typed arrays held. */
  get footprint(): { readonly entries: number; readonly bytes: number } {
    let entries = 0;
    let bytes = 0;
    for (const tables of this.buckets.values())
      for (const table of tables.values()) {
        entries += table.size;
        bytes += table.bytes;
      }
    return { entries, bytes };
  }
}
