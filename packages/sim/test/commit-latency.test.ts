/** The simulated disk's commit latency: a seeded distribution, so latency charts are not flat (issue 14). */
import {
  COMMIT_LATENCY_MS_MAX,
  COMMIT_LATENCY_MS_MEDIAN,
  COMMIT_STALL_MS_MAX,
  CommitLatency,
  runSimulation,
  streamOf,
} from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { smallScenario } from './support.js';

const draws = (seed: number, purpose: string, count: number): number[] => {
  const latency = new CommitLatency(streamOf(seed, purpose));
  return Array.from({ length: count }, () => latency.nextMs());
};

const quantile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;

describe('commit latency', () => {
  it('is determined by the seed and the region', () => {
    expect(draws(7, 'disk:eu', 500)).toEqual(draws(7, 'disk:eu', 500));
    expect(draws(7, 'disk:eu', 500)).not.toEqual(draws(7, 'disk:us', 500));
    expect(draws(7, 'disk:eu', 500)).not.toEqual(draws(8, 'disk:eu', 500));
  });

  it('is whole ms around the median, with a tail and rare stalls, never zero', () => {
    const sorted = draws(1, 'disk:eu', 50_000).sort((a, b) => a - b);
    expect(sorted.every(Number.isInteger)).toBe(true);
    expect(sorted[0]).toBeGreaterThanOrEqual(1);
    expect(sorted.at(-1)).toBeLessThanOrEqual(COMMIT_LATENCY_MS_MAX + COMMIT_STALL_MS_MAX);
    expect(quantile(sorted, 0.5)).toBe(COMMIT_LATENCY_MS_MEDIAN);
    expect(quantile(sorted, 0.99)).toBeGreaterThanOrEqual(3 * COMMIT_LATENCY_MS_MEDIAN);
    // Stalls: some commits take past the ordinary cap.
    expect(sorted.filter((ms) => ms > COMMIT_LATENCY_MS_MAX).length).toBeGreaterThan(0);
    expect(new Set(sorted).size).toBeGreaterThan(5);
  });

  it('makes debit latencies of a run vary', async () => {
    const first = await runSimulation(smallScenario([]), 3);
    const latencies = first.history.flatMap((record) =>
      record.type === 'debit' && record.result !== 'unavailable' ? [record.latencyMs] : [],
    );
    expect(new Set(latencies).size).toBeGreaterThan(2);
    for (const line of Object.values(first.metrics.perRegion)) {
      expect(line.latencyMsP99).toBeGreaterThan(line.latencyMsP50);
    }
  });
});
