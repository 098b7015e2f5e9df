/**
 * A1, every crossing alerted: a pure function over a recorded run, like S1–S6. For each alert
 * threshold of the scenario, the true ledger's balance (recorded with every answer and sample) is
 * run through the alert rule's state machine (armed at or above the line, fired below it, re-armed
 * at the line plus the hysteresis). A threshold that the truth crossed and that the converged
 * ledger still ends below must have produced an alert at some region: once links heal, every
 * region folds the same events, so one that was armed must fire. (A crossing the truth undid
 * before any region saw it, with a grant arriving in the same batch as the debits, is not one a
 * region can see; it is counted in the note, not as a violation.)
 */
import { balanceOf } from '@allot/core';
import { type AlertRule, rearmLevel, ruleKey, thresholdOf } from '@allot/replica';
import { type CheckInput, INVARIANT_NAMES } from './checkers.js';
import type { HistoryRecord, LedgerFigures, Verdict } from './results.js';

/** The true ledger's figures of `tenant` over time, from the records that carry them. */
function truthSeries(
  history: readonly HistoryRecord[],
  tenant: string,
): { t: number; ledger: LedgerFigures }[] {
  const series: { t: number; ledger: LedgerFigures }[] = [];
  for (const record of history) {
    if ((record.type === 'debit' || record.type === 'sample') && record.tenant === tenant && record.ledger) {
      series.push({ t: record.t, ledger: record.ledger });
    }
  }
  return series.sort((a, b) => a.t - b.t);
}

/** Downward crossings of `rule` in a series of figures (armed at or above the line first). */
export function crossingsOf(
  series: readonly { t: number; ledger: LedgerFigures }[],
  rule: AlertRule,
): number[] {
  const at: number[] = [];
  let armed: boolean | null = null;
  for (const { t, ledger } of series) {
    const balance = balanceOf(ledger);
    const threshold = thresholdOf(rule, ledger.granted);
    if (armed === null) armed = balance >= threshold;
    else if (armed && balance < threshold) {
      armed = false;
      at.push(t);
    } else if (!armed && balance >= rearmLevel(threshold)) armed = true;
  }
  return at;
}

/** A1: every threshold the truth crossed and ends below was alerted at some region. */
export function checkA1(input: CheckInput): Verdict {
  const name = INVARIANT_NAMES.A1;
  const converged = input.history.some((record) => record.type === 'converged' && record.final === true);
  if (input.final === undefined || !converged) {
    return {
      invariant: 'A1',
      name,
      holds: true,
      violations: 0,
      note: 'not checked: the run did not converge',
    };
  }
  let violations = 0;
  let first: { t: number; detail: string } | undefined;
  let checked = 0;
  let undone = 0;
  for (const spec of input.scenario.tenants) {
    const series = truthSeries(input.history, spec.tenant);
    const last = series[series.length - 1];
    for (const rule of spec.alerts ?? []) {
      const crossings = crossingsOf(series, rule);
      if (crossings.length === 0 || last === undefined) continue;
      const endsBelow = balanceOf(last.ledger) < thresholdOf(rule, last.ledger.granted);
      if (!endsBelow) {
        undone += 1;
        continue;
      }
      checked += 1;
      const alerted = input.history.some(
        (record) => record.type === 'alert' && record.tenant === spec.tenant && record.rule === ruleKey(rule),
      );
      if (!alerted) {
        violations += 1;
        first ??= {
          t: crossings[crossings.length - 1] as number,
          detail: `${spec.tenant} crossed ${ruleKey(rule)} and ended below it, and no region alerted`,
        };
      }
    }
  }
  const alerts = input.history.filter((record) => record.type === 'alert').length;
  return {
    invariant: 'A1',
    name,
    holds: violations === 0,
    violations,
    ...(first === undefined ? {} : { first, worst: first }),
    note: `${checked} crossed thresholds checked, ${undone} crossed and re-armed by the end, ${alerts} alerts raised`,
  };
}
