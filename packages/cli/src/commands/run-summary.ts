/** The summary of one simulation run as `allot simulate` prints it: verdicts, measurements, replay. */
import type { SimulationResult, Verdict } from '@allot/sim';
import { convergenceLines, healText } from '../report/convergence.js';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)} s`;
}

function verdictLine(verdict: Verdict): string {
  if (verdict.holds) return `  ✓ ${verdict.invariant} ${verdict.name}`;
  const parts = [
    `  ✗ ${verdict.invariant} ${verdict.name}: ${verdict.violations} violation${verdict.violations === 1 ? '' : 's'}`,
  ];
  if (verdict.first !== undefined)
    parts.push(`first at ${seconds(verdict.first.t)}: ${verdict.first.detail}`);
  if (verdict.worst !== undefined)
    parts.push(`worst at ${seconds(verdict.worst.t)}: ${verdict.worst.detail}`);
  return parts.join('; ');
}

/** The summary of one run, as printed. */
export function summarise(result: SimulationResult): string {
  const { metrics } = result;
  const held = result.verdicts.filter((verdict) => verdict.holds).length;
  const lines = [
    `${result.scenario.name}, seed ${result.seed}: ${
      result.ok
        ? `all ${held} invariants hold`
        : `${result.verdicts.length - held} of ${result.verdicts.length} invariants violated`
    }`,
    ...result.verdicts.map(verdictLine),
  ];
  const header = ['region', 'accepted', 'declined', 'false-declined', 'p50 ms', 'p99 ms'];
  const rows = Object.entries(metrics.perRegion).map(([region, line]) => [
    region,
    line.accepted.toLocaleString('en-US'),
    line.declined.toLocaleString('en-US'),
    line.falseDeclined.toLocaleString('en-US'),
    line.latencyMsP50.toFixed(1),
    line.latencyMsP99.toFixed(1),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const row = (cells: readonly string[]): string =>
    `  ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ')}`;
  lines.push(row(header), ...rows.map(row));
  // The same points and words as report.html (convergence.ts).
  const convergence = convergenceLines(result.history, result.scenario);
  lines.push(
    `  convergence after each heal: ${
      convergence.heals.length === 0 ? 'no heal' : convergence.heals.map(healText).join(', ')
    }`,
    `  final: ${convergence.final ?? 'the nodes were not all identical at the end of the run (S4)'}`,
    `  ${metrics.messagesPerDebit.toFixed(2)} messages and ${Math.round(metrics.bytesPerDebit).toLocaleString('en-US')} bytes per debit`,
    ...(metrics.borrowing === undefined
      ? []
      : [
          `  borrowing: ${metrics.borrowing.waited.toLocaleString('en-US')} of ${metrics.borrowing.debits.toLocaleString('en-US')} debits waited for rights (${(
            100 * metrics.borrowing.waitedShare
          ).toFixed(
            1,
          )} %), p99 ${metrics.borrowing.waitedLatencyMsP99.toFixed(1)} ms; the rest p99 ${metrics.borrowing.otherLatencyMsP99.toFixed(1)} ms`,
        ]),
    `  ${metrics.simulatedSeconds.toFixed(1)} simulated s in ${metrics.wallSeconds.toFixed(2)} wall s: ${
      metrics.wallSeconds > 0 ? (metrics.simulatedSeconds / metrics.wallSeconds).toFixed(1) : '∞'
    } simulated s per wall s`,
  );
  return `${lines.join('\n')}\n`;
}
