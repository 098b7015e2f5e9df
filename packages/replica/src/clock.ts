/**
 * A manual clock: time moves only when told. Used by tests and the simulator, where the same
 * inputs must give the same history.
 */
import type { Clock, TimerHandle } from './ports.js';

interface Timer {
  readonly at: number;
  readonly order: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** A Clock whose time advances only through `advance` / `advanceTo`. */
export class ManualClock implements Clock {
  private time: number;
  private timers: Timer[] = [];
  private order = 0;

  constructor(startMs: number) {
    this.time = startMs;
  }

  /** The current time. */
  now(): number {
    return this.time;
  }

  /** Schedules `callback` at now + delayMs. */
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: Timer = {
      at: this.time + Math.max(0, delayMs),
      order: this.order++,
      callback,
      cancelled: false,
    };
    this.timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** The time of the earliest pending timer, or null. */
  nextTimerAt(): number | null {
    let next: number | null = null;
    for (const timer of this.timers)
      if (!timer.cancelled && (next === null || timer.at < next)) next = timer.at;
    return next;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in time order. */
  advance(ms: number): void {
    this.advanceTo(this.time + ms);
  }

  /** Moves time to `target`, firing due timers in (time, creation) order. */
  advanceTo(target: number): void {
    for (;;) {
      const due = this.timers
        .filter((timer) => !timer.cancelled && timer.at <= target)
        .sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (due === undefined) break;
      this.time = Math.max(this.time, due.at);
      due.cancelled = true;
      this.timers = this.timers.filter((timer) => !timer.cancelled);
      due.callback();
    }
    this.time = Math.max(this.time, target);
  }
}

/** A seeded random generator (xoshiro128**): same seed, same numbers. */
export class SeededRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    // splitmix32 spreads the seed over the state so that nearby seeds give unrelated streams.
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }

  /** A uniformly random integer in [0, 2^32) (xoshiro128**). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
