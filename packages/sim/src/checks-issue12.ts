/**
 * The checks of issue 12 over a recorded run, beside S1–S6 (checkers.ts): F1, no false declines
 * while the cluster is whole, and S7, holds end once within the bound. Pure functions of the
 * history, like the other checkers, so real-process tests can run them too.
 */
import type { HistoryRecord, Scenario, Verdict } from './api.js';

/** What these checks read: the scenario and the history (the nodes' final state is not needed). */
export interface Issue12Input {
  readonly scenario: Scenario;
  readonly history: readonly HistoryRecord[];
}

/** Collects violations: how many, the first, and the worst by size. */
class Tally {
  count = 0;
  first: { t: number; detail: string } | undefined;
  worst: { t: number; detail: string } | undefined;
  private worstSize = Number.NEGATIVE_INFINITY;

  add(t: number, detail: string, size: number): void {
    this.count += 1;
    this.first ??= { t, detail };
    if (size > this.worstSize) {
      this.worstSize = size;
      this.worst = { t, detail };
    }
  }

  verdict(invariant: Verdict['invariant'], name: string, note: string): Verdict {
    return {
      invariant,
      name,
      holds: this.count === 0,
      violations: this.count,
      ...(this.first === undefined ? {} : { first: this.first }),
      ...(this.worst === undefined ? {} : { worst: this.worst }),
      note,
    };
  }
}

/**
 * F1 (issue 12): a debit declined for want of credits while every node and link was up from its
 * request to its answer, although both the answering region's merged balance and the true ledger
 * covered it. Borrowing must make these zero: the region could have asked its peers for the rights.
 * Declines during faults, and those the region's own view did not cover (the credits were still on
 * their way to it), are not counted here; the run's false-decline metric counts every one.
 */
export function checkF1(input: Issue12Input): Verdict {
  const tally = new Tally();
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

/** The checks of issue 12, in order. */
export function issue12Checks(input: Issue12Input): Verdict[] {
  return [checkF1(input)];
}
