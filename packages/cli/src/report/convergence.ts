/**
 * Convergence after heals, computed and worded once for both the terminal summary and report.html
 * (issue 14: they disagreed). Faults that heal at one instant converge at one instant and are one
 * line, not one per fault; S4's final convergence is not a time "after a heal" (it is watched only
 * once the workload, faults and expiries ended), so it is its own line, measured from then.
 */
import { type HistoryRecord, quietStartMs, type Scenario } from '@allot/sim';

/** Convergence after a heal: when the heal happened and when every node agreed, seconds. */
export interface ConvergencePoint {
  readonly healS: number;
  readonly convergedS: number;
  /** S4's convergence: after the last heal and the end of the workload, every node identical. */
  readonly final: boolean;
}

const seconds = (ms: number): number => Math.round(ms) / 1000;

/** The convergence points of a history, in order, one per distinct (heal, convergence, final). */
export function convergencePoints(history: readonly HistoryRecord[]): ConvergencePoint[] {
  const points: ConvergencePoint[] = [];
  for (const record of history) {
    if (record.type !== 'converged') continue;
    const point = {
      healS: seconds(record.healAt ?? record.t - record.afterHealMs),
      convergedS: seconds(record.t),
      final: record.final === true,
    };
    const known = points.some(
      (other) =>
        other.healS === point.healS && other.convergedS === point.convergedS && other.final === point.final,
    );
    if (!known) points.push(point);
  }
  return points;
}

/** A time in seconds as both outputs print it: three decimals, no grouping. */
export function secondsText(s: number): string {
  return `${s.toFixed(3)} s`;
}

/** One heal's convergence in words: how long it took, and when the heal was. */
export function healText(point: ConvergencePoint): string {
  return `${secondsText(point.convergedS - point.healS)} (healed at ${secondsText(point.healS)})`;
}

/** S4's final convergence in words, measured from when the quiet period began. */
export function finalText(point: ConvergencePoint, scenario: Scenario): string {
  const quietS = seconds(quietStartMs(scenario));
  return `every node identical from ${secondsText(point.convergedS)}, ${secondsText(
    Math.max(0, point.convergedS - quietS),
  )} after the workload, the faults and the expiries ended at ${secondsText(quietS)} (S4)`;
}

/** The lines both outputs show: each heal's convergence, then S4's final one if it was reached. */
export function convergenceLines(
  history: readonly HistoryRecord[],
  scenario: Scenario,
): { readonly heals: readonly ConvergencePoint[]; readonly final: string | null } {
  const points = convergencePoints(history);
  const final = points.find((point) => point.final);
  return {
    heals: points.filter((point) => !point.final),
    final: final === undefined ? null : finalText(final, scenario),
  };
}
