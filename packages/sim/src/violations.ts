/** How the checkers collect the violations of one invariant (checkers.ts and its companions). */
import type { Verdict } from './results.js';

/** Collects violations: how many, the first, and the worst by size. */
export class Violations {
  count = 0;
  first: { t: number; detail: string } | undefined;
  worst: { t: number; detail: string } | undefined;
  private worstSize = Number.NEGATIVE_INFINITY;

  /** One violation at simulated time `t`; `size` ranks it for `worst`. */
  add(t: number, detail: string, size: number): void {
    this.count += 1;
    this.first ??= { t, detail };
    if (size > this.worstSize) {
      this.worstSize = size;
      this.worst = { t, detail };
    }
  }

  /** The verdict of `invariant` (named `name`) from what was collected, with an optional note. */
  verdict(invariant: Verdict['invariant'], name: string, note?: string): Verdict {
    return {
      invariant,
      name,
      holds: this.count === 0,
      violations: this.count,
      ...(this.first === undefined ? {} : { first: this.first }),
      ...(this.worst === undefined ? {} : { worst: this.worst }),
      ...(note === undefined ? {} : { note }),
    };
  }
}
