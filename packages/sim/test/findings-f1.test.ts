/**
 * F1 seeds of swarm 2,001–5,000 (issue 12), kept as regression cases: the scenario each seed drew
 * (`randomScenario(seed)` as it was on 2026-12-02) with 5 s of quiet instead of 20, frozen in
 * findings-f1.json, run with that seed. Each failed F1 (only): 3487 on main at 57a57bc, 4002 at
 * b42abe7. Replay one in
 * full: `npx allot simulate --swarm 1 --seed N`.
 */
import { readFileSync } from 'node:fs';
import { runSimulation, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { RUN_TIMEOUT_MS } from './findings-issue12-support.js';

const DRAWN = JSON.parse(readFileSync(new URL('./findings-f1.json', import.meta.url), 'utf8')) as Record<
  string,
  unknown
>;

describe('F1 seeds of swarm 2,001–5,000', () => {
  /**
   * The checker: us declined two debits (timeout) 19 and 31 ms after eu accepted a grant of 19,837
   * for the tenant, on links of up to 124 ms; the true ledger counted the grant, us could not have
   * heard of it. Fixed: F1 leaves out credits made at another region within the maximum one-way
   * delay before the answer. Since borrow asks carry claims (findings-f1-claims.test.ts) the
   * tenant's last credits are lent otherwise from 11.4 s on: no decline falls in the 124 ms after
   * the grant any more, and each decline while healthy is one F1 explains (how many moves with each
   * borrowing change). The rule itself is tested in checks-issue12.test.ts.
   */
  it(
    'seed 3487: a grant made elsewhere 19 ms before a decline could not be seen',
    async () => {
      const result = await runSimulation(validateScenario(DRAWN['3487']), 3487);
      expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
      // Every decline while healthy is one F1 explains: lost to debits in flight, or unseen credits.
      const note = result.verdicts.find((verdict) => verdict.invariant === 'F1')?.note ?? '';
      const [, declines, contended, unseen] =
        /^(\d+) declines while healthy .*\((\d+) lost the last credits .*, (\d+) needed credits/.exec(note) ??
        [];
      expect(declines).toBeDefined();
      expect(Number(contended) + Number(unseen)).toBe(Number(declines));
    },
    RUN_TIMEOUT_MS,
  );

  /**
   * us lent ap 30 at 9,736, then a debit of 9 came and us asked ap for 18. The ask overtook the
   * move's run: ap kept it (its own waiting debits needed its rights) and on folding the move
   * dropped it as stale, although us asked after its move; us's debit timed out. Fixed: the ask
   * carries us's log head, and only a move past it makes a kept ask stale.
   */
  it(
    'seed 4002: a kept borrow ask that overtook the move before it is still served',
    async () => {
      const result = await runSimulation(validateScenario(DRAWN['4002']), 4002);
      expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );
});
