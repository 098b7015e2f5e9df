/**
 * F1 (issue 12) at a region whose overdraft in use was past its allowance, kept as a regression case
 * (findings-f1-owed.json): swarm seed 16071's drawn scenario with 5 s of quiet instead of 20, run
 * with its seed. It failed F1 (only) on main at 4db9b49. Replay it in full:
 * `npx allot simulate --swarm 1 --seed 16071`.
 */
import { describe, it } from 'vitest';
import { drawnHolds, RUN_TIMEOUT_MS } from './findings-issue12-support.js';

const holds = drawnHolds('findings-f1-owed.json');

describe('F1: a borrower asks for what the repay of its overdraft takes first', () => {
  /**
   * On main: us had 30 of tenant-0's overdraft in use, past its allowance, and no rights (eu held
   * 8,348). A debit of 8 at us waited and asked eu for 16 (8 short, and 8 for debits to come); eu
   * moved 16, and the repay took all 16 (the overdraft was 14 short still); us asked again, the
   * answer came 170 ms after the debit began waiting: declined (timeout) though eu could lend it.
   * Fixed: an ask adds what arriving rights repay before a debit here can use any
   * (`rightsOwedToOverdraft`, with the revokes still owed), and a debit waits only when the
   * connected peers hold that much too.
   */
  it('seed 16071: the lent rights are not all taken by the repay', () => holds(16071), RUN_TIMEOUT_MS);
});
