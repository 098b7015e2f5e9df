/**
 * Swarm findings where every copy of a log was lost, kept as regression cases: each is the scenario
 * its swarm seed drew (`randomScenario(seed)` as it was on 2026-12-02, in
 * findings-lost-origins.json), run with that seed. Replay one: `npx allot simulate --swarm 1 --seed N`.
 */
import { readFileSync } from 'node:fs';
import { type HistoryRecord, runSimulation, type SimulationResult, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';

const DRAWN = JSON.parse(
  readFileSync(new URL('./findings-lost-origins.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

async function run(seed: number): Promise<SimulationResult> {
  const result = await runSimulation(validateScenario(DRAWN[String(seed)]), seed);
  expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
  return result;
}

type StorageRecord = Extract<HistoryRecord, { type: 'storage' }>;
type SampleRecord = Extract<HistoryRecord, { type: 'sample' }>;

describe('lost-origin findings', () => {
  /**
   * S1 (the oracle): us (6.3 s) and ap (7.7 s) lost their disks; eu, the last node holding their
   * logs and its own, was damaged (6.8 s), refused its disk at 10.2 s and took a new one. ap's debit
   * of 25 (seq 79, 7.5 s) reached no peer before ap's disk went, so the truth kept it, as it keeps
   * whatever a lost disk took; but it forgot seqs 1–78 of ap and the grants at eu as "destroyed",
   * though no lost incarnation can write those seqs again. The debit outlived the rights it spent:
   * the truth read −25 for tenant-1, while no region ever spent past what it held (S2 held).
   */
  it('seed 3617: a lost incarnation’s events on a refused disk count as lost with a disk, not destroyed', async () => {
    const result = await run(3617);
    const refused = result.history.filter(
      (record): record is StorageRecord => record.type === 'storage' && record.outcome === 'refused',
    );
    expect(refused).toHaveLength(1);
    // Every origin the refused disk held was an incarnation no node could write as again.
    const [record] = refused as [StorageRecord];
    expect([...(record.lost ?? [])].sort()).toEqual(Object.keys(record.held).sort());
    const tenant1 = result.history.filter(
      (entry): entry is SampleRecord => entry.type === 'sample' && entry.tenant === 'tenant-1',
    );
    expect(Math.min(...tenant1.map((sample) => sample.truth))).toBeGreaterThanOrEqual(0);
  });
});
