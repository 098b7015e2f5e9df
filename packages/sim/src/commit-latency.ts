/**
 * How long a region's simulated disk takes to make one commit durable: a seeded draw per commit,
 * log-normal around COMMIT_LATENCY_MS_MEDIAN with a rare stall on top, in whole simulated ms. Each
 * region draws from its own stream (`disk:<region>`), so the latencies depend on the seed only and
 * leave every other stream (network, workload, the replica's own randomness) as it was.
 */
import {
  COMMIT_LATENCY_MS_MAX,
  COMMIT_LATENCY_MS_MEDIAN,
  COMMIT_LATENCY_SIGMA,
  COMMIT_STALL_CHANCE,
  COMMIT_STALL_MS_MAX,
  COMMIT_STALL_MS_MIN,
} from './limits.js';
import type { RandomStream } from './rng.js';

/** The commit latencies of one region's disk. */
export class CommitLatency {
  constructor(private readonly rng: RandomStream) {}

  /** The latency of the next commit, ms: an integer ≥ 1. */
  nextMs(): number {
    // Box–Muller: one standard normal from two uniforms (1 − u keeps the logarithm finite).
    const radius = Math.sqrt(-2 * Math.log(1 - this.rng.next()));
    const normal = radius * Math.cos(2 * Math.PI * this.rng.next());
    const ordinary = Math.min(
      COMMIT_LATENCY_MS_MAX,
      Math.max(1, Math.round(COMMIT_LATENCY_MS_MEDIAN * Math.exp(COMMIT_LATENCY_SIGMA * normal))),
    );
    const stall = this.rng.chance(COMMIT_STALL_CHANCE)
      ? this.rng.int(COMMIT_STALL_MS_MIN, COMMIT_STALL_MS_MAX)
      : 0;
    return ordinary + stall;
  }
}
