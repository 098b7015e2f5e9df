/**
 * One open-addressing table of the key index (key-index.ts): the keys of one origin's events in
 * one time bucket, 8 bytes a slot (a 32-bit fingerprint check, then 8 more fingerprint bits beside
 * the low 24 bits of the seq; the table keeps the few high parts it has seen).
 */
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
export const SEQ_LOW = 2 ** 24;

/** One open-addressing table (linear probing): the events of one origin in one time bucket. */
export class FingerprintTable {
  private checks: Uint32Array;
  /** extra << 24 | seq mod 2^24. */
  private lows: Uint32Array;
  /**
   * slots / 2^32: a check's home slot is ⌊check × scale⌋, a multiplication where `check % slots`
   * was a floating-point remainder (a check past 2^31 is no small integer to V8): ~25 % of a lookup.
   * The product is below slots − slots/2^32, further from slots than its rounding error can reach.
   */
  private scale: number;
  /** Entries past which an add doubles the table (KEY_INDEX_GROW_LOAD). */
  private growAt: number;
  /** High parts (seq / 2^24) of the seqs held: one or two for a bucket of millions. */
  private readonly seqHighs: number[] = [];
  /** The high part last added (almost every add's). */
  private lastHigh = -1;
  /** How many entries the table holds. */
  size = 0;
  /** The smallest seq held. */
  minSeq = Number.POSITIVE_INFINITY;

  constructor(slots: number) {
    this.checks = new Uint32Array(slots);
    this.lows = new Uint32Array(slots);
    this.scale = slots / 2 ** 32;
    this.growAt = Math.floor(slots * KEY_INDEX_GROW_LOAD);
  }

  /** Bytes of the typed arrays. */
  get bytes(): number {
    return this.checks.byteLength + this.lows.byteLength;
  }

  add(print: KeyFingerprint, seq: number): void {
    if (this.size + 1 > this.growAt) this.resize(this.checks.length * 2);
    const high = Math.floor(seq / SEQ_LOW);
    if (high !== this.lastHigh) {
      if (!this.seqHighs.includes(high)) this.seqHighs.push(high);
      this.lastHigh = high;
    }
    this.place(print.check, ((print.extra << 24) | (seq % SEQ_LOW)) >>> 0);
    this.size += 1;
    if (seq < this.minSeq) this.minSeq = seq;
  }

  /** Calls `found(origin, seq)` for every entry whose fingerprint matches (one candidate per high part). */
  find(print: KeyFingerprint, origin: number, found: (origin: number, seq: number) => void): void {
    const slots = this.checks.length;
    let at = Math.floor(print.check * this.scale);
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
    let at = Math.floor(print.check * this.scale);
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

  /**
   * Calls `visit(check, extra, seq)` for every entry, once per seq it may stand for (one per high
   * part at or above the smallest seq: almost always exactly one).
   */
  forEachEntry(visit: (check: number, extra: number, seq: number) => void): void {
    for (let i = 0; i < this.checks.length; i++) {
      const check = this.checks[i] as number;
      if (check === 0) continue;
      const low = this.lows[i] as number;
      for (const high of this.seqHighs) {
        const seq = high * SEQ_LOW + (low & 0xffffff);
        if (seq >= this.minSeq) visit(check, low >>> 24, seq);
      }
    }
  }

  /** Adds every entry of `image` (a table taken out for writing to disk and given back). */
  absorb(image: KeyTableImage): void {
    for (const high of image.seqHighs) if (!this.seqHighs.includes(high)) this.seqHighs.push(high);
    for (let i = 0; i < image.checks.length; i++) {
      if (this.size + 1 > this.growAt) this.resize(this.checks.length * 2);
      this.place(image.checks[i] as number, image.lows[i] as number);
      this.size += 1;
    }
    if (image.minSeq < this.minSeq) this.minSeq = image.minSeq;
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
    let at = Math.floor(check * this.scale);
    while (this.checks[at] !== 0) at = at + 1 === slots ? 0 : at + 1;
    this.checks[at] = check;
    this.lows[at] = low;
  }

  private resize(slots: number): void {
    const checks = this.checks;
    const lows = this.lows;
    this.checks = new Uint32Array(slots);
    this.lows = new Uint32Array(slots);
    this.scale = slots / 2 ** 32;
    this.growAt = Math.floor(slots * KEY_INDEX_GROW_LOAD);
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i] as number;
      if (check !== 0) this.place(check, lows[i] as number);
    }
  }
}
