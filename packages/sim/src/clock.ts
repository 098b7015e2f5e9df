/**
 * A region's wall clock over the simulated time: an offset (initial skew plus steps) and a rate
 * (1 + drift). The replica sees time move only through the Clock port built on it. Timers run on
 * the host's monotonic time, as Node's do: a step moves `now()` but not when a timer fires, and
 * drift stretches timers as it stretches the clock.
 */
import { SIM_EPOCH_MS } from './limits.js';
import type { Scheduler } from './scheduler.js';

/** The wall clock of one region (it survives restarts of the region's process). */
export class RegionClock {
  /** The simulated time and the local time at the last change of rate or offset. */
  private anchorMs: number;
  private anchorLocalMs: number;
  private rate = 1;

  constructor(
    private readonly scheduler: Scheduler,
    skewMs: number,
  ) {
    this.anchorMs = scheduler.now;
    this.anchorLocalMs = SIM_EPOCH_MS + scheduler.now + skewMs;
  }

  /** Local time, integer ms since the Unix epoch. */
  now(): number {
    return Math.floor(this.anchorLocalMs + (this.scheduler.now - this.anchorMs) * this.rate);
  }

  /** Local minus true time, ms (true time is the simulated time on the epoch). */
  offsetMs(): number {
    return this.now() - (SIM_EPOCH_MS + this.scheduler.now);
  }

  /** Steps the clock by `ms` (either way), as a bad NTP server or an operator would. */
  step(ms: number): void {
    this.reanchor();
    this.anchorLocalMs += ms;
  }

  /** Makes the clock run `ppm` parts per million fast (negative: slow) from now on. */
  drift(ppm: number): void {
    this.reanchor();
    this.rate = 1 + ppm / 1_000_000;
  }

  /** Simulated ms until a timer of `delayMs` local ms fires. */
  timerDelay(delayMs: number): number {
    return Math.ceil(Math.max(0, delayMs) / this.rate);
  }

  private reanchor(): void {
    this.anchorLocalMs += (this.scheduler.now - this.anchorMs) * this.rate;
    this.anchorMs = this.scheduler.now;
  }
}
