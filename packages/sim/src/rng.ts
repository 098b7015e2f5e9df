/**
 * Random streams of a run. One seed drives every random choice, but each purpose (the network of
 * one link direction, the workload of one tenant, the clocks, the faults…) draws from its own
 * stream derived from the seed and the purpose's name, so adding a tenant or a fault does not
 * change what the network draws, and a run stays comparable when its scenario grows.
 */
import { type Rng, SeededRng } from '@allot/replica';

/** FNV-1a over the UTF-16 code units of `text`: a stable 32-bit name for a purpose. */
function nameHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

/** A random stream with the draws the simulator needs. */
export class RandomStream implements Rng {
  private readonly source: SeededRng;

  constructor(seed: number, purpose: string) {
    // Both halves of a seed up to 2^53 count; the purpose's hash separates the streams.
    const low = seed >>> 0;
    const high = Math.floor(seed / 2 ** 32) >>> 0;
    const mixed = new SeededRng(low ^ Math.imul(high, 0x9e3779b1) ^ nameHash(purpose));
    // One extra step decorrelates streams whose mixed seeds differ in few bits.
    this.source = new SeededRng(mixed.nextUint32() ^ nameHash(`${purpose}#${low}`));
  }

  /** A uniformly random integer in [0, 2^32). */
  nextUint32(): number {
    return this.source.nextUint32();
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.source.nextUint32() / 2 ** 32;
  }

  /** A uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** A uniform number in [min, max). */
  uniform(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** True with probability `p`. Draws nothing when p is 0, so a disabled fault leaves the stream alone. */
  chance(p: number): boolean {
    if (p <= 0) return false;
    return this.next() < p;
  }

  /** An exponentially distributed wait with mean `mean`. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)] as T;
  }
}

/** The stream of `purpose` under `seed`. */
export function streamOf(seed: number, purpose: string): RandomStream {
  return new RandomStream(seed, purpose);
}
