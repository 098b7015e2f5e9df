/**
 * The checks of issue 12 over a recorded run, beside S1–S6 (checkers.ts): F1, no false declines
 * while the cluster is whole, and S7, holds end once within the bound. Pure functions of the
 * history, like the other checkers, so real-process tests can run them too.
 */
import type { FinalState, HistoryRecord, Scenario, Verdict } from './api.js';
import { HOLD_END_BOUND_MS } from './limits.js';
import { Violations } from './violations.js';

/** What these checks read: the scenario, the history, and (for S7) the nodes' final state. */
export interface Issue12Input {
  readonly scenario: Scenario;
  readonly history: readonly HistoryRecord[];
  readonly final?: FinalState | undefined;
}

/**
 * F1 (issue 12): a debit declined for want of credits while every node and link was up from its
 * request to its answer, although both the answering region's merged balance and the true ledger
 * covered it. Borrowing must make these zero: the region could have asked its peers for the rights.
 * Declines during faults, and those the region's own view did not cover (the credits were still on
 * their way to it), are not counted here; the run's false-decline metric counts every one.
 */
export function checkF1(input: Issue12Input): Verdict {
  const tally = new Violations();
  let healthyDeclines = 0;
  let waited = 0;
  for (const record of input.history) {
    if (record.type !== 'debit') continue;
    if (record.waited === true) waited += 1;
    if (record.result !== 'declined' || record.healthyCovered !== true) continue;
    healthyDeclines += 1;
    if (!record.falseDecline) continue;
    tally.add(
      record.t,
      `${record.tenant}: ${record.amount} declined at ${record.region} (${record.declineReason ?? 'no reason'}) while the cluster was whole and its balance covered it`,
      record.amount,
    );
  }
  return tally.verdict(
    'F1',
    'no false declines while the cluster is whole',
    `${healthyDeclines} declines while whole with the region's balance covering; ${waited} debits waited for rights`,
  );
}

/**
 * S7 (issue 12): holds end exactly once, within the bound. Over the holds the nodes hold at the end:
 * none ended by more than one event; every end takes at most the hold and releases exactly what it
 * did not capture (release = hold − captured); none still held past its expiry plus
 * HOLD_END_BOUND_MS when the run ended. Held credits count against the overdraft bound through the
 * true ledger (S1 checks that).
 */
export function checkS7(input: Issue12Input): Verdict {
  const tally = new Violations();
  const final = input.final;
  if (final === undefined)
    return {
      invariant: 'S7',
      name: 'holds end once, within the bound',
      holds: true,
      violations: 0,
      note: 'not checked: no final state',
    };
  let holds = 0;
  let ended = 0;
  for (const [tenant, ledger] of Object.entries(final.ledger)) {
    for (const [holdId, hold] of Object.entries(ledger.holds ?? {})) {
      holds += 1;
      if (hold.ends.length > 1)
        tally.add(final.t, `${tenant}: hold ${holdId} ended ${hold.ends.length} times`, hold.ends.length);
      for (const end of hold.ends) {
        ended += 1;
        if (end.captured > hold.amount)
          tally.add(
            final.t,
            `${tenant}: hold ${holdId} of ${hold.amount} captured ${end.captured}`,
            end.captured - hold.amount,
          );
        if (end.released !== hold.amount - end.captured)
          tally.add(
            final.t,
            `${tenant}: hold ${holdId} of ${hold.amount} captured ${end.captured} but released ${end.released}`,
            Math.abs(end.released - (hold.amount - end.captured)),
          );
      }
      if (
        hold.ends.length === 0 &&
        hold.amount > 0 &&
        final.wallClockMs !== undefined &&
        final.wallClockMs > hold.expiresAt + HOLD_END_BOUND_MS
      )
        tally.add(
          final.t,
          `${tenant}: hold ${holdId} still held ${final.wallClockMs - hold.expiresAt} ms past its expiry`,
          hold.amount,
        );
    }
  }
  return tally.verdict('S7', 'holds end once, within the bound', `${holds} holds, ${ended} ended`);
}

/** The checks of issue 12, in order. */
export function issue12Checks(input: Issue12Input): Verdict[] {
  return [checkS7(input), checkF1(input)];
}
