/**
 * Turns a run's history into the series report.html plots: every series on one time axis in
 * simulated seconds, downsampled so that a long run still opens quickly in a browser.
 */
import type { Fault, HistoryRecord, SimulationResult } from '@allot/sim';
import { type ConvergencePoint, convergencePoints } from './convergence.js';

export type { ConvergencePoint } from './convergence.js';

/**
 * Most points per plotted series. uPlot draws 2,000 points per series in a few milliseconds, and a
 * report of a few tenants × regions stays a few MB; a wider screen than 2,000 px gains nothing.
 */
export const REPORT_POINTS_MAX = 2_000;
/**
 * Most tenants whose balance and rights are embedded. Each costs up to
 * REPORT_POINTS_MAX × (1 + 2 × regions) numbers; past this, the report would take long to open.
 * The busiest tenants (most samples) are kept.
 */
export const REPORT_TENANTS_MAX = 100;

/** A fault period as the report shades it, in simulated seconds. */
export interface FaultPeriod {
  readonly kind: Fault['kind'];
  readonly startS: number;
  /** Equal to startS for an instant fault (a clock step). */
  readonly endS: number;
  readonly detail: string;
  /** True when the history recorded no end: the period is drawn to the end of the run. */
  readonly open: boolean;
}

/** Per-bucket series by region; `null` where a region had nothing in that bucket. */
export type RegionSeries = Readonly<Record<string, readonly (number | null)[]>>;

/** One tenant's sampled balance views and rights, downsampled. */
export interface TenantSeries {
  readonly tenant: string;
  readonly t: readonly number[];
  readonly truth: readonly number[];
  readonly balance: RegionSeries;
  readonly rights: RegionSeries;
  /**
   * S1's bound on the balance (−Σ overdraft allowed), where the engine recorded one above 0;
   * all null for a tenant without overdraft (its bound, 0, would only squash the chart).
   */
  readonly bound: readonly (number | null)[];
  /** The largest |view − truth| over every sample (before downsampling). */
  readonly divergenceMax: number;
}

/** Everything the report's charts draw; embedded in report.html as JSON. */
export interface ChartData {
  readonly regions: readonly string[];
  readonly endS: number;
  /** Width of one rate / latency bucket, seconds (1 unless the run is longer than REPORT_POINTS_MAX s). */
  readonly bucketS: number;
  readonly faults: readonly FaultPeriod[];
  readonly convergence: readonly ConvergencePoint[];
  /** Debits per second per region, by outcome; `t` is each bucket's start. */
  readonly rates: {
    readonly t: readonly number[];
    readonly accepted: RegionSeries;
    readonly declined: RegionSeries;
    readonly falseDeclined: RegionSeries;
    readonly unavailable: RegionSeries;
  };
  /** Debit latency percentiles per bucket and region, ms. */
  readonly latency: { readonly t: readonly number[]; readonly p50: RegionSeries; readonly p99: RegionSeries };
  readonly tenants: readonly TenantSeries[];
  /** Tenants left out past REPORT_TENANTS_MAX. */
  readonly tenantsOmitted: number;
}

const seconds = (ms: number): number => Math.round(ms) / 1000;

/** The p-quantile (0..1) of sorted values, nearest rank. */
function quantile(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[index] as number;
}

/** The region or link a fault record is about: the first word of its detail ("us crashes: …"). */
function subjectOf(detail: string): string {
  return detail.replace(/^healed: /, '').split(/[\s':]/, 1)[0] ?? '';
}

/**
 * Pairs fault start and end records into shaded periods. An end closes the open start of its kind
 * whose detail it repeats (`healed: <detail>`), else the one about the same region ("us crashes" …
 * "us restarts"), else the oldest: overlapping faults of one kind close in the right order.
 */
export function faultPeriods(history: readonly HistoryRecord[], endS: number): FaultPeriod[] {
  const periods: FaultPeriod[] = [];
  const open: { kind: Fault['kind']; startS: number; detail: string }[] = [];
  for (const record of history) {
    if (record.type !== 'fault') continue;
    if (record.phase === 'start') {
      open.push({ kind: record.kind, startS: seconds(record.t), detail: record.detail });
      continue;
    }
    const sameKind = open.filter((start) => start.kind === record.kind);
    const start =
      sameKind.find(
        (candidate) => record.detail === candidate.detail || record.detail === `healed: ${candidate.detail}`,
      ) ??
      sameKind.find((candidate) => subjectOf(candidate.detail) === subjectOf(record.detail)) ??
      sameKind[0];
    if (start === undefined) {
      // An end without a start (the fault began before the history did): shade from 0.
      periods.push({
        kind: record.kind,
        startS: 0,
        endS: seconds(record.t),
        detail: record.detail,
        open: false,
      });
      continue;
    }
    open.splice(open.indexOf(start), 1);
    periods.push({ ...start, endS: seconds(record.t), open: false });
  }
  for (const start of open) {
    // A clock step is an instant; anything else that never ended lasts to the end of the run.
    const instant = start.kind === 'clock-step';
    periods.push({ ...start, endS: instant ? start.startS : endS, open: !instant });
  }
  return periods.sort((a, b) => a.startS - b.startS || a.kind.localeCompare(b.kind));
}

/** Regions in the scenario's order, then any the history names that the scenario does not. */
function regionsOf(result: SimulationResult): string[] {
  const regions = [...result.scenario.regions];
  const known = new Set(regions);
  for (const record of result.history) {
    if (
      (record.type === 'debit' || record.type === 'grant' || record.type === 'refund') &&
      !known.has(record.region)
    ) {
      known.add(record.region);
      regions.push(record.region);
    }
  }
  return regions;
}

function emptySeries(regions: readonly string[], length: number): Record<string, (number | null)[]> {
  return Object.fromEntries(regions.map((region) => [region, new Array<number | null>(length).fill(null)]));
}

/**
 * Keeps at most REPORT_POINTS_MAX of a tenant's samples: per time bucket, the first sample and the
 * one where some region's view is furthest from the truth, so a divergence is never smoothed away.
 */
function downsampleIndexes(
  samples: readonly Extract<HistoryRecord, { type: 'sample' }>[],
  regions: readonly string[],
  endMs: number,
): number[] {
  if (samples.length <= REPORT_POINTS_MAX) return samples.map((_, index) => index);
  const buckets = REPORT_POINTS_MAX / 2;
  const widthMs = Math.max(1, endMs / buckets);
  const kept: number[] = [];
  let bucket = -1;
  let worstIndex = -1;
  let worst = -1;
  const flush = (): void => {
    if (worstIndex >= 0 && worstIndex !== kept[kept.length - 1]) kept.push(worstIndex);
  };
  samples.forEach((sample, index) => {
    const at = Math.min(buckets - 1, Math.floor(sample.t / widthMs));
    if (at !== bucket) {
      flush();
      bucket = at;
      kept.push(index);
      worstIndex = -1;
      worst = -1;
    }
    for (const region of regions) {
      const view = sample.views[region];
      if (view === undefined) continue;
      const divergence = Math.abs(view.balance - sample.truth);
      if (divergence > worst) {
        worst = divergence;
        worstIndex = index;
      }
    }
  });
  flush();
  return kept;
}

function tenantSeries(
  tenant: string,
  samples: readonly Extract<HistoryRecord, { type: 'sample' }>[],
  regions: readonly string[],
  endMs: number,
): TenantSeries {
  let divergenceMax = 0;
  for (const sample of samples) {
    for (const region of regions) {
      const view = sample.views[region];
      if (view !== undefined) divergenceMax = Math.max(divergenceMax, Math.abs(view.balance - sample.truth));
    }
  }
  const indexes = downsampleIndexes(samples, regions, endMs);
  const balance = emptySeries(regions, indexes.length);
  const rights = emptySeries(regions, indexes.length);
  const t: number[] = [];
  const truth: number[] = [];
  const hasOverdraft = samples.some((sample) => (sample.overdraftBound ?? 0) > 0);
  const bound: (number | null)[] = [];
  indexes.forEach((sampleIndex, point) => {
    const sample = samples[sampleIndex] as Extract<HistoryRecord, { type: 'sample' }>;
    t.push(seconds(sample.t));
    truth.push(sample.truth);
    bound.push(hasOverdraft && sample.overdraftBound !== undefined ? -sample.overdraftBound : null);
    for (const region of regions) {
      const view = sample.views[region];
      if (view === undefined) continue;
      (balance[region] as (number | null)[])[point] = view.balance;
      (rights[region] as (number | null)[])[point] = view.rights;
    }
  });
  return { tenant, t, truth, balance, rights, bound, divergenceMax };
}

/** Builds every series of the report from a run's history. */
export function chartData(result: SimulationResult): ChartData {
  const { history, scenario } = result;
  const regions = regionsOf(result);
  let lastMs = (scenario.durationS + scenario.quietS) * 1000;
  for (const record of history) lastMs = Math.max(lastMs, record.t);
  const endS = seconds(lastMs);

  const bucketS = Math.max(1, Math.ceil(endS / REPORT_POINTS_MAX));
  const bucketCount = Math.max(1, Math.ceil(endS / bucketS));
  const bucketOf = (ms: number): number => Math.min(bucketCount - 1, Math.floor(ms / 1000 / bucketS));
  const counts = {
    accepted: emptySeries(regions, bucketCount),
    declined: emptySeries(regions, bucketCount),
    falseDeclined: emptySeries(regions, bucketCount),
    unavailable: emptySeries(regions, bucketCount),
  };
  const latencies = new Map<string, number[][]>(regions.map((region) => [region, []]));
  const samplesByTenant = new Map<string, Extract<HistoryRecord, { type: 'sample' }>[]>(
    scenario.tenants.map((tenant) => [tenant.tenant, []]),
  );
  const convergence: ConvergencePoint[] = convergencePoints(history);

  for (const record of history) {
    if (record.type === 'debit') {
      const bucket = bucketOf(record.t);
      const add = (series: Record<string, (number | null)[]>): void => {
        const line = series[record.region] as (number | null)[];
        line[bucket] = (line[bucket] ?? 0) + 1;
      };
      if (record.result === 'accepted') add(counts.accepted);
      else if (record.result === 'declined') add(counts.declined);
      else if (record.result === 'unavailable') add(counts.unavailable);
      if (record.falseDecline) add(counts.falseDeclined);
      if (record.result !== 'unavailable') {
        const perBucket = latencies.get(record.region) as number[][];
        const bucketLatencies = perBucket[bucket] ?? [];
        bucketLatencies.push(record.latencyMs);
        perBucket[bucket] = bucketLatencies;
      }
    } else if (record.type === 'sample') {
      const samples = samplesByTenant.get(record.tenant) ?? [];
      samples.push(record);
      samplesByTenant.set(record.tenant, samples);
    }
  }

  const t = Array.from({ length: bucketCount }, (_, bucket) => bucket * bucketS);
  // Every region that debited anything gets a 0 where it had none: a gap would read as "no data".
  const perSecond = (series: Record<string, (number | null)[]>): RegionSeries =>
    Object.fromEntries(
      Object.entries(series).map(([region, line]) => {
        const active = line.some((count) => count !== null);
        return [region, line.map((count) => (count === null ? (active ? 0 : null) : count / bucketS))];
      }),
    );
  const p50 = emptySeries(regions, bucketCount);
  const p99 = emptySeries(regions, bucketCount);
  for (const [region, perBucket] of latencies) {
    perBucket.forEach((values, bucket) => {
      if (values === undefined || values.length === 0) return;
      const sorted = values.sort((a, b) => a - b);
      (p50[region] as (number | null)[])[bucket] = quantile(sorted, 0.5);
      (p99[region] as (number | null)[])[bucket] = quantile(sorted, 0.99);
    });
  }

  const tenantsByActivity = [...samplesByTenant.entries()]
    .filter(([, samples]) => samples.length > 0)
    .sort((a, b) => b[1].length - a[1].length);
  const kept = new Set(tenantsByActivity.slice(0, REPORT_TENANTS_MAX).map(([tenant]) => tenant));
  // Keep the scenario's order among the tenants shown.
  const tenants = [...samplesByTenant.entries()]
    .filter(([tenant]) => kept.has(tenant))
    .map(([tenant, samples]) => tenantSeries(tenant, samples, regions, lastMs));

  return {
    regions,
    endS,
    bucketS,
    faults: faultPeriods(history, endS),
    convergence,
    rates: {
      t,
      accepted: perSecond(counts.accepted),
      declined: perSecond(counts.declined),
      falseDeclined: perSecond(counts.falseDeclined),
      unavailable: perSecond(counts.unavailable),
    },
    latency: { t, p50, p99 },
    tenants,
    tenantsOmitted: tenantsByActivity.length - tenants.length,
  };
}
