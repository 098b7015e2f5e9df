/**
 * F1 (issue 12) seeds of the 10,000-seed soak of 2026-12-02 on 99a3f0a that failed only F1 (7286,
 * 8036, 8589), kept as regression cases (findings-f1-least.json): each drawn scenario with 5 s of
 * quiet instead of 20, run with its seed. Each failed F1 (only) on 38cbab2. Replay one in full:
 * `npx allot simulate --swarm 1 --seed N`.
 */
import { describe, it } from 'vitest';
import { drawnHolds, RUN_TIMEOUT_MS } from './findings-issue12-support.js';

const holds = drawnHolds('findings-f1-least.json');

describe('F1: a lender without a claim sees what the asker’s smallest debit needs', () => {
  /**
   * A refund of 10 at us while eu's payable 9 waited. eu's ask, sent before the refund, carried no
   * claim (eu saw too little to pay anything); us could pay none of its own debit of 20 and kept the
   * 10 for it under the rule that keeps claimless regions from passing the last credits round; eu's
   * next ask came 175 ms later and the rights arrived after its wait. Fixed: a borrow ask carries
   * the asker's smallest waiting debit (`least`, protocol 6), and a lender that can pay none of its
   * own lends when what it holds, with what the asker holds as it knows, pays that debit.
   */
  it(
    'seed 7286: a refund at a lender that can pay none of its own goes to a debit it pays',
    () => holds(7286),
    RUN_TIMEOUT_MS,
  );
  /** 8036 (a flapping link) and 8589 (clock drift, a bridge, halves) hold with it too; not traced. */
  it('seed 8036: a lender sees the asker’s smallest debit', () => holds(8036), RUN_TIMEOUT_MS);
  it('seed 8589: a lender sees the asker’s smallest debit', () => holds(8589), RUN_TIMEOUT_MS);
});
