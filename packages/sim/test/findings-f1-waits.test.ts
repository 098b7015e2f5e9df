/**
 * The one F1 (issue 12) seed of the 12,001–14,000 swarm on 2e8a98a (13058), kept as a regression
 * case (findings-f1-waits.json): the drawn scenario with 5 s of quiet instead of 20, run with its
 * seed. It failed F1 (only) on eb636ba. Replay it in full: `npx allot simulate --swarm 1 --seed 13058`.
 */
import { describe, it } from 'vitest';
import { drawnHolds, RUN_TIMEOUT_MS } from './findings-issue12-support.js';

const holds = drawnHolds('findings-f1-waits.json');

describe('F1: a kept borrow ask lasts only while rights could still reach its debits', () => {
  /**
   * On eb636ba: tenant-2's last 74 credits. A hold capture at us released 70, and us served the
   * claimless asks it had kept, each asker's smallest waiting debit first: ap's 33 and eu's 17. But
   * ap's 33 had timed out before the rights could reach it, and eu's 17 a millisecond before they
   * came; eu's 26 and 27, which the 70 would have paid, timed out with 74 credits in the cluster. A
   * lender kept an ask for its own borrow wait, not knowing when the asker's debits stop waiting.
   * Fixed: a debit a round trip from the end of its wait drops out of its region's asks (their
   * amount and `least`), which are sent again without it; and an ask says how long its debits will
   * still wait (`waitsMs`, protocol 8), which a lender keeps it for, less a round trip.
   */
  it(
    'seed 13058: released credits go to debits still waiting, not to asks whose debits have ended',
    () => holds(13058),
    RUN_TIMEOUT_MS,
  );
});
