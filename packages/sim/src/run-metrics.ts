/** A run's measurements (RunMetrics) from its history, network counters and true ledger. */
import type { Scenario } from './api.js';
import type { NetworkCounters } from './links.js';
import type { FinalState, HistoryRecord, RunMetrics } from './results.js';
import type { TrueLedger } from './truth.js';

/** What the metrics are read from: the run's wiring at its end. */
export interface MetricsSource {
  readonly scenario: Scenario;
  readonly history: readonly HistoryRecord[];
  readonly network: { readonly counters: NetworkCounters };
  readonly truth: TrueLedger;
  readonly convergenceMs: readonly number[];
  readonly rightsMoved: number;
  readonly replicaLog: Readonly<Record<string, number>>;
}

/** Nearest-rank percentile of sorted values (0 for none). */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

/** The run's metrics; `wallSeconds` is how long it took. */
export function runMetrics(run: MetricsSource, wallSeconds: number, final: FinalState): RunMetrics {
  const perRegion: Record<
    string,
    { accepted: number; declined: number; falseDeclined: number; latencies: number[] }
  > = {};
  for (const region of run.scenario.regions)
    perRegion[region] = { accepted: 0, declined: 0, falseDeclined: 0, latencies: [] };
  let accepted = 0;
  const waitedLatencies: number[] = [];
  const otherLatencies: number[] = [];
  for (const record of run.history) {
    if (record.type !== 'debit') continue;
    if (record.result === 'accepted' || record.result === 'declined')
      (record.waited === true ? waitedLatencies : otherLatencies).push(record.latencyMs);
    const region = perRegion[record.region];
    if (region === undefined) continue;
    if (record.result === 'accepted') {
      region.accepted += 1;
      accepted += 1;
    } else if (record.result === 'declined') {
      region.declined += 1;
      if (record.falseDecline) region.falseDeclined += 1;
    }
    if (record.result !== 'unavailable') region.latencies.push(record.latencyMs);
  }
  const { counters } = run.network;
  const rightsUtilisation: Record<string, number> = {};
  for (const spec of run.scenario.tenants) {
    const figures = run.truth.figures(spec.tenant);
    rightsUtilisation[spec.tenant] =
      figures.granted === 0 ? 0 : (figures.debited - figures.refunded) / figures.granted;
  }
  return {
    perRegion: Object.fromEntries(
      Object.entries(perRegion).map(([region, tally]) => {
        const sorted = tally.latencies.sort((a, b) => a - b);
        return [
          region,
          {
            accepted: tally.accepted,
            declined: tally.declined,
            falseDeclined: tally.falseDeclined,
            latencyMsP50: percentile(sorted, 0.5),
            latencyMsP99: percentile(sorted, 0.99),
          },
        ];
      }),
    ),
    convergenceMs: [...run.convergenceMs],
    messages: counters.messages,
    bytes: counters.bytes,
    messagesPerDebit: counters.messages / Math.max(1, accepted),
    bytesPerDebit: counters.bytes / Math.max(1, accepted),
    rightsUtilisation,
    simulatedSeconds: final.t / 1000,
    wallSeconds,
    network: {
      lost: counters.lost,
      duplicated: counters.duplicated,
      reordered: counters.reordered,
      resets: counters.resets,
      timeouts: counters.timeouts,
      connects: counters.connects,
      drops: { ...counters.drops },
    },
    rightsMoved: run.rightsMoved,
    borrowing: {
      debits: waitedLatencies.length + otherLatencies.length,
      waited: waitedLatencies.length,
      waitedShare: waitedLatencies.length / Math.max(1, waitedLatencies.length + otherLatencies.length),
      waitedLatencyMsP99: percentile(
        waitedLatencies.sort((a, b) => a - b),
        0.99,
      ),
      otherLatencyMsP99: percentile(
        otherLatencies.sort((a, b) => a - b),
        0.99,
      ),
    },
    replicaLog: { ...run.replicaLog },
  };
}
