/**
 * F1 (issue 12) seeds of the 10,000-seed soak of 2026-12-02 on cfa8119 (1644, 1725) and the one F1
 * seed of 4,501–10,000 that every earlier change left failing (9603), kept as regression cases
 * (findings-f1-release.json): each drawn scenario with 5 s of quiet instead of 20, run with its
 * seed. Each failed F1 (only) on main at cfa8119. Replay one in full:
 * `npx allot simulate --swarm 1 --seed N`.
 */
import { describe, it } from 'vitest';
import { drawnHolds, RUN_TIMEOUT_MS } from './findings-issue12-support.js';

const holds = drawnHolds('findings-f1-release.json');

describe('F1: rights a lender kept for its own debit are lent once that debit ends unpaid', () => {
  /**
   * On cfa8119: eu held 5 of tenant-0's last 16 credits and kept them for its own debit of 13 (its
   * claim the oldest); us held 11 and waited with a payable 16, and had asked eu for 5: eu kept the
   * ask. eu's 13 timed out at 12.64 s holding the 5, but a kept ask was served only when rights
   * next arrived at eu: none did, and us's 16 timed out 51 ms later. Fixed: a debit that stops
   * waiting unpaid hands what its region kept back for it to the asks kept there
   * (`BorrowHost.released` → `Rebalancing.rightsArrived`).
   */
  it(
    'seed 1725: a lender whose own debit timed out serves the ask it kept',
    () => holds(1725),
    RUN_TIMEOUT_MS,
  );

  /**
   * On cfa8119 (and on every main since 4b546ad): the last 9 credits of tenant-0 went round the
   * three regions, each with debits waiting that the credits it could see did not pay, and a
   * payable 7 at us timed out. Holds once kept-back rights are released as above.
   */
  it('seed 9603: the last credits settle where a debit can be paid', () => holds(9603), RUN_TIMEOUT_MS);

  /**
   * On cfa8119: us, with an 11 waiting that the 7 it held could not pay, lent the 7 to ap (a payable
   * 4); the 3 ap did not need came back to us too late for its 11. Holds once kept-back rights are
   * released as above (the run takes another course from there).
   */
  it('seed 1644: a payable debit is not left short by its own lender', () => holds(1644), RUN_TIMEOUT_MS);
});
