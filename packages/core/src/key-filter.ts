/**
 * A compact filter of one closed key-index part (key-spill.ts): a Bloom filter over the keys'
 * 40-bit fingerprints, KEY_FILTER_BITS_PER_KEY bits a key and KEY_FILTER_HASHES probes (double
 * hashing), so ≈ 1.2 B a key in memory. It answers "surely not here" for almost every fresh key
 * (≈ 1 % false positives), so that a lookup reads the part's chunk from disk only when it may hold
 * the key. Its bits are written beside the part and read back at start.
 */
import type { KeyFingerprint } from './key-table.js';
import { KEY_FILTER_BITS_PER_KEY, KEY_FILTER_HASHES } from './limits.js';

/** The second hash of a fingerprint (odd, so that every probe step visits distinct bits). */
function step(print: KeyFingerprint): number {
  let hash = Math.imul(print.check ^ (print.extra * 0x9e3779b1), 0x85ebca6b) >>> 0;
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash ^= hash >>> 13;
  return (hash | 1) >>> 0;
}

/** A Bloom filter of fingerprints: a bit array whose length is a multiple of 32. */
export class KeyFilter {
  private constructor(readonly words: Uint32Array) {}

  /** An empty filter sized for `entries` keys. */
  static sized(entries: number): KeyFilter {
    const bits = Math.max(32, Math.ceil((entries * KEY_FILTER_BITS_PER_KEY) / 32) * 32);
    return new KeyFilter(new Uint32Array(bits / 32));
  }

  /** The filter whose bits are `words` (read back from disk; the caller checked them). */
  static of(words: Uint32Array): KeyFilter {
    return new KeyFilter(words.length === 0 ? new Uint32Array(1) : words);
  }

  /** Bytes held. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /** Adds a fingerprint. */
  add(print: KeyFingerprint): void {
    const bits = this.words.length * 32;
    const by = step(print);
    let at = print.check % bits;
    for (let i = 0; i < KEY_FILTER_HASHES; i++) {
      this.words[at >>> 5] = ((this.words[at >>> 5] as number) | (1 << (at & 31))) >>> 0;
      at = (at + by) % bits;
    }
  }

  /** False when no key with this fingerprint was added; true when one may have been. */
  mayHold(print: KeyFingerprint): boolean {
    const bits = this.words.length * 32;
    const by = step(print);
    let at = print.check % bits;
    for (let i = 0; i < KEY_FILTER_HASHES; i++) {
      if (((this.words[at >>> 5] as number) & (1 << (at & 31))) === 0) return false;
      at = (at + by) % bits;
    }
    return true;
  }
}
