/**
 * Seeds the 10,000-seed soak on 34ac34b found broken (504, 508), kept as regression cases
 * (findings-soak-5db.json): each drawn scenario with 5 s of quiet instead of 20, run with its seed.
 * Both fail on 761096a and hold on 5db2d28. Replay one in full: `npx allot simulate --swarm 1 --seed N`.
 */
import { describe, it } from 'vitest';
import { drawnHolds, RUN_TIMEOUT_MS } from './findings-issue12-support.js';

const holds = drawnHolds('findings-soak-5db.json');

describe('replication: held runs across a restart, live pushes behind a push from the store', () => {
  /**
   * S4, S5, S6, S9: ap's seq 135 overtook its 134 and was held at us when ap's disk tore 135 off;
   * ap restarted, no peer's summary counted 135 (held runs are not durable), ap wrote a new 135, us
   * folded the old one once 134 came and refused every later run of ap. Fixed: runs held from a
   * region are let go when its link closes or opens (test/replica/held-runs.test.ts).
   */
  it('seed 508: a held run does not outlive its link', () => holds(508), RUN_TIMEOUT_MS);
  /**
   * F1: a batch of ap's became durable while a push from the store to us was under way; the live
   * push skipped it and every batch after it until us's next summary, and the rights ap lent for
   * us's waiting debit of 33 arrived after its wait. Fixed: a live push to a peer that is behind
   * starts a push from the store (packages/replica/test/push-live.test.ts).
   */
  it('seed 504: a live push behind a push from the store is not lost', () => holds(504), RUN_TIMEOUT_MS);
});
