/**
 * F1 (issue 12) at a tenant's last credits with debits waiting at all three regions, kept as
 * regression cases (findings-f1-claims.json): swarm seed 10150's drawn scenario with 5 s of quiet
 * instead of 20, and a scenario the property test drew (fast-check seed 20261202, fourth draw; no
 * fault at all), each run with its seed. Both failed F1 (only) on main at eedbd33. Replay the
 * first in full: `npx allot simulate --swarm 1 --seed 10150`.
 */
import { describe, it } from 'vitest';
import { drawnHolds, RUN_TIMEOUT_MS } from './findings-issue12-support.js';

const holds = drawnHolds('findings-f1-claims.json');

describe('F1 at the last credits: rights go to the oldest debit the cluster can pay', () => {
  /**
   * On main: the last 6 credits of t1, 2 and 4 at two regions; waiting: 17 and 11 at ap (first in
   * region order, more than the cluster held), 6 at eu, 5 at us. ap lent its rights to us; us,
   * after eu in region order, lent all it got to eu at once (its own 5 could have been paid); eu,
   * after ap, lent them on to ap, whose debits could not be paid: the credits went round the order
   * and eu's 6 and us's 5 timed out. Fixed: a lender keeps what its own payable waiting debits
   * need only when its claim (when its oldest payable one began waiting) comes before the asker's,
   * and a region none of whose debits the cluster can pay claims nothing. With it the run takes
   * another course from 1.97 s: a 7 at ap and the 5 at us are paid, no payable debit times out.
   */
  it(
    'property draw 1220799643: the last credits do not go round the lending order',
    () => holds(1_220_799_643),
    RUN_TIMEOUT_MS,
  );

  /**
   * On main: the last 7 credits, 3 at ap and 4 from a refund at us; waiting: 7, 12 and 7 at us
   * (the oldest from 11,362 ms), 9 at eu (more than the cluster held), 7 at ap (from 11,381). ap,
   * its 7 then beyond the 3 it could see, lent its 3 to eu; us, after ap in region order, gave its
   * refunded 4 to ap's kept ask; eu, its 9 beyond the cluster, kept nothing and lent the 3 to us
   * (ap's ask to it had been dropped as stale when ap's move arrived); ap kept its 4 for its own 7
   * and waited for eu's 3, now at us: three debits of 7, each payable, timed out. Fixed as above
   * (the claims decide who keeps, not the region order); the run takes another course from 11.4 s.
   */
  it(
    'seed 10150: three payable debits of 7 do not pull the last credits from each other',
    () => holds(10150),
    RUN_TIMEOUT_MS,
  );
});
