/**
 * Write errors (a region's disk refuses writes for a moment), kept as regression cases.
 *
 * `simulations/write-errors.yaml` (2026-12-04): clients meanwhile send keys again with another
 * amount. Before the fix, a conflict ("this key is taken") was answered at once, also against a
 * debit whose commit then failed: seed 1 broke S6 (a conflict answer that no debit holds). Now a
 * conflict waits for the debit it conflicts with to be durable, and is answered unavailable if that
 * commit fails. Replay: `npx allot simulate simulations/write-errors.yaml --seed 1`.
 *
 * Swarm seed 178 (in findings-write-errors.json, as randomScenario(178) drew it on 2026-12-05):
 * while eu's disk refused writes it could lend no rights (a transfer is an event it must commit),
 * and ap's waits timed out; F1 counted those declines as if the cluster were whole.
 *
 * Swarm seed 4431 (as randomScenario(4431) drew it, 5 s of quiet instead of 20): ap's disk refused
 * writes from 1 s to 2.01 s, and its failed commits undid eu's grant of tenant-1, which ap had
 * received and folded. eu counted it as sent, so ap lacked it until eu's resend at 4.4 s: ap
 * declined every debit of tenant-1 and eu's debits that waited for rights from ap timed out (F1,
 * also seed 3419). A fold rebuilt without received events now pulls them again at once.
 */
import { readFileSync } from 'node:fs';
import { type HistoryRecord, runSimulation, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { debitResults } from './support.js';

/** A 30 s run (20 s of workload, 10 s quiet) takes ~2 s alone on one core; more when the suite shares it. */
const RUN_TIMEOUT_MS = 120_000;

const SCENARIO = validateScenario(
  parse(readFileSync(new URL('../../../simulations/write-errors.yaml', import.meta.url), 'utf8')),
);

const DRAWN = JSON.parse(
  readFileSync(new URL('./findings-write-errors.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

type DebitRecord = Extract<HistoryRecord, { type: 'debit' }>;

describe('write-errors findings', () => {
  it(
    'seed 1: a conflict against a debit whose commit fails is answered unavailable, never conflict',
    async () => {
      const result = await runSimulation(SCENARIO, 1);
      expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
      const s6 = result.verdicts.find((verdict) => verdict.invariant === 'S6');
      expect(s6?.note).toMatch(/\d+ conflict answers, each held by a debit of another amount/);
      // eu's disk refuses writes from 5 s to 6.5 s: its debits are unavailable, not acknowledged.
      const during = debitResults(result.history, 'eu', 5_000, 6_500);
      expect(during.unavailable).toBeGreaterThan(0);
      const conflicting = result.history.filter(
        (record): record is DebitRecord => record.type === 'debit' && record.conflicting === true,
      );
      expect(conflicting.filter((record) => record.result === 'conflict').length).toBeGreaterThan(0);
      // Some came while the debit holding their key was in a commit that then failed.
      expect(
        conflicting.filter(
          (record) => record.result === 'unavailable' && record.t >= 5_000 && record.t < 6_600,
        ).length,
      ).toBeGreaterThan(0);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'seed 178: declines while a region cannot write are not false declines of a whole cluster',
    async () => {
      const result = await runSimulation(validateScenario(DRAWN['178']), 178);
      expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
      // eu's disk refuses writes from 0.7 s to 2.28 s: ap's waits for its rights time out.
      const declined = result.history.filter(
        (record): record is DebitRecord =>
          record.type === 'debit' && record.region === 'ap' && record.result === 'declined',
      );
      expect(declined.some((record) => record.t >= 700 && record.t < 2_280)).toBe(true);
    },
    RUN_TIMEOUT_MS,
  );

  it(
    'seed 4431: received events a failed commit undid are pulled again, not left to the resend',
    async () => {
      const result = await runSimulation(validateScenario(DRAWN['4431']), 4431);
      expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
      // ap takes debits of tenant-1 again as soon as its disk takes writes (it declined them all
      // until 4.4 s without the pull).
      const after = result.history.filter(
        (record): record is DebitRecord =>
          record.type === 'debit' &&
          record.region === 'ap' &&
          record.tenant === 'tenant-1' &&
          record.t >= 2_010 &&
          record.t < 2_510,
      );
      expect(after.length).toBeGreaterThan(0);
      expect(after.every((record) => record.result === 'accepted')).toBe(true);
    },
    RUN_TIMEOUT_MS,
  );
});
