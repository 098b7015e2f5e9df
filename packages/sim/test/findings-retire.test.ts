/**
 * Swarm findings of `simulations/retire-lost-incarnation.yaml` (issue 11), kept as regression cases:
 * each is the scenario the swarm drew for that seed from the file (in findings-retire.json, as
 * `allot simulate FILE --swarm 1 --seed N` drew it on 2026-12-01), run with that seed.
 * Replay one: `npx allot simulate simulations/retire-lost-incarnation.yaml --swarm 1 --seed N`.
 */
import { readFileSync } from 'node:fs';
import { type HistoryRecord, runSimulation, type SimulationResult, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { debitResults } from './support.js';

/** A whole 40 s run of the file's scenario takes ~20 s alone on one core; more when the suite shares it. */
const RUN_TIMEOUT_MS = 180_000;

const DRAWN = JSON.parse(readFileSync(new URL('./findings-retire.json', import.meta.url), 'utf8')) as Record<
  string,
  unknown
>;

type FaultRecord = Extract<HistoryRecord, { type: 'fault' }>;
type RetireRecord = Extract<HistoryRecord, { type: 'retire' }>;

async function run(seed: number): Promise<SimulationResult> {
  const result = await runSimulation(validateScenario(DRAWN[String(seed)]), seed);
  expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
  return result;
}

/** When the restored backup ran: from its start to its end (eu back on its own disk). */
function restoredWindow(result: SimulationResult): { from: number; to: number } {
  const faults = result.history.filter(
    (record): record is FaultRecord => record.type === 'fault' && record.kind === 'restored-backup',
  );
  const from = faults.find((record) => record.phase === 'start')?.t;
  const to = faults.find((record) => record.phase === 'end')?.t;
  if (from === undefined || to === undefined) throw new Error('no restored backup ran');
  return { from, to };
}

describe('retire-lost-incarnation swarm findings', () => {
  /**
   * S8, S5 (the replica): the drawn retire was refused (a peer region unreachable) until after the
   * drawn restored backup started, so the node on the lost incarnation's disk was not retired: it
   * fetched back what peers held, became writable and wrote new events under seqs its lost disk
   * had used. The backup was taken before that incarnation's first event, so its own log was empty
   * at the start. Fixed: a node takes no writes while a newer incarnation of its region exists
   * (successors.ts); an empty own log counts as new only if no peer holds any of it either.
   */
  it(
    'seed 77: a backup from before the lost incarnation’s first event takes no writes',
    async () => {
      const result = await run(77);
      const { from, to } = restoredWindow(result);
      expect(debitResults(result.history, 'eu', from, to).accepted ?? 0).toBe(0);
      expect(debitResults(result.history, 'eu', to).accepted).toBeGreaterThan(0);
    },
    RUN_TIMEOUT_MS,
  );

  /**
   * S8 (the replica, then the true ledger): as seed 77, with a backup holding 160 of the lost
   * incarnation's events. Once the restored node refused the retire as not ready (instead of
   * "cannot retire itself"), the retire was retried and went through at the region's current
   * incarnation: the true ledger then folded again without end (forgetPast met the retire again).
   */
  it(
    'seed 113: the restored node takes no writes, and the retire retried after it goes through',
    async () => {
      const result = await run(113);
      const { from, to } = restoredWindow(result);
      expect(debitResults(result.history, 'eu', from, to).accepted ?? 0).toBe(0);
      const retires = result.history.filter((record): record is RetireRecord => record.type === 'retire');
      expect(retires.map((record) => record.result)).toEqual(['retired']);
      expect(retires[0]?.t).toBeGreaterThan(to);
    },
    RUN_TIMEOUT_MS,
  );
});
