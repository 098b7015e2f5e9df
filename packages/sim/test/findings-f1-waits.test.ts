/**
 * F1 (issue 12) seeds of the 12,001–14,000 swarms of 2026-12-04 (13058 on eb636ba; 13297 on
 * 2a065b5, a first version of the fix), kept as regression cases (findings-f1-waits.json): each
 * drawn scenario with 5 s of quiet instead of 20, run with its seed. Each failed F1 (only) on the
 * commit named. Replay one in full: `npx allot simulate --swarm 1 --seed N`.
 */
import { describe, it } from 'vitest';
import { drawnHolds, RUN_TIMEOUT_MS } from './findings-issue12-support.js';

const holds = drawnHolds('findings-f1-waits.json');

describe('F1: kept borrow asks whose debits rights would likely reach in time come first', () => {
  /**
   * On eb636ba: tenant-2's last 74 credits. A hold capture at us released 70, and us served the
   * claimless asks it had kept, each asker's smallest waiting debit first: ap's 33 and eu's 17. But
   * ap's 33 had timed out before the rights could reach it, and eu's 17 a millisecond before they
   * came; eu's 27 timed out with 74 credits in the cluster. A lender kept an ask for its own
   * borrow wait, not knowing when the asker's debits stop waiting. Fixed: an ask says how long its
   * debits will still wait (`waitsMs`, protocol 8); a lender keeps it that long, and serves first
   * the asks that rights would likely reach in time (more than a round trip to the asker left).
   */
  it(
    'seed 13058: released credits go first to debits still waiting when they arrive',
    () => holds(13058),
    RUN_TIMEOUT_MS,
  );

  /**
   * On 2a065b5, which dropped a kept ask a round trip before its debits' wait ended: us's 12 waited
   * for tenant-1's last credits and its ask was kept at ap. The round trip to us was measured at
   * 95 ms (messages took 1–55 ms), so ap dropped the ask, and the 75 a capture released there 71 ms
   * before the 12 timed out stayed at ap. Holds once such asks are served after the others instead.
   */
  it(
    'seed 13297: an ask a round trip from its end is still served when nothing fresher waits',
    () => holds(13297),
    RUN_TIMEOUT_MS,
  );
});
