/**
 * F1 (issue 12) seeds of the 10,000-seed soak of 2026-12-02 on fd11e33 (5587, 6335), kept as
 * regression cases (findings-f1-claimless.json): each drawn scenario with 5 s of quiet instead of
 * 20, run with its seed. Both failed F1 (only) on fd11e33. Replay one in full:
 * `npx allot simulate --swarm 1 --seed N`.
 */
import { describe, it } from 'vitest';
import { drawnHolds, RUN_TIMEOUT_MS } from './findings-issue12-support.js';

const holds = drawnHolds('findings-f1-claimless.json');

describe('F1: regions none of which can pay keep what their own debits need', () => {
  /**
   * On fd11e33 each lost a payable debit at a tenant's last credits (8 at us at 16.48 s; 13 at us
   * at 10.61 s); not traced event by event. Both hold once a lender with waiting debits of its own
   * keeps what they need when neither it nor the asker has a claim (before, it gave all it held
   * to an asker that could not pay anything with it either). The family traced on 9603: the last
   * 9 credits going round three regions that each saw 3 and a 7 waiting at one of them.
   */
  it('seed 5587: the last credits do not go round claimless regions', () => holds(5587), RUN_TIMEOUT_MS);
  it('seed 6335: the last credits do not go round claimless regions', () => holds(6335), RUN_TIMEOUT_MS);
});
