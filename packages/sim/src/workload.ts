/**
 * The workload of a scenario, issued against the replicas at simulated times: grants at their
 * times (an admin retries one whose region is down), overdraft policies set everywhere at the start
 * and changed later, and per-region debit streams (steady, bursty or diurnal Poisson arrivals) with
 * client retries at another region under the same idempotency key and later refunds. All random
 * choices of a request are drawn when it is issued, from a stream of its own rate entry, so faults
 * that change outcomes never shift the workload's draws. Each request is sent and its answer
 * recorded by workload-requests.ts.
 */
import type { Scenario, TenantSpec } from './api.js';
import { overdraftBound } from './bounds.js';
import {
  BURST_DUTY,
  BURST_PERIOD_MS,
  CONFLICT_DELAY_MS_MAX,
  HOLD_SETTLE_MS_MAX,
  HOLD_SETTLE_MS_MIN,
  REFUND_DELAY_MS_MAX,
  REFUND_DELAY_MS_MIN,
  RETRY_DELAY_MS_MAX,
  RETRY_DELAY_MS_MIN,
} from './limits.js';
import { type RandomStream, streamOf } from './rng.js';
import { msOf } from './timeline.js';
import { type DebitPlan, WorkloadRequests, type WorkloadTargets } from './workload-requests.js';

/** Debits per ms of a rate entry at scenario time `t` (ms), and the most it ever is. */
function rateShape(
  entry: TenantSpec['rates'][number],
  fromMs: number,
  toMs: number,
  phaseMs: number,
): { rate: (t: number) => number; peak: number } {
  const mean = entry.perSecond / 1000;
  switch (entry.shape) {
    case 'steady':
      return { rate: () => mean, peak: mean };
    case 'bursty':
      return {
        rate: (t) =>
          (t - fromMs + phaseMs) % BURST_PERIOD_MS < BURST_DUTY * BURST_PERIOD_MS ? mean / BURST_DUTY : 0,
        peak: mean / BURST_DUTY,
      };
    case 'diurnal': {
      // One "day" over the window: quiet at its ends, twice the mean at its middle.
      const span = Math.max(1, toMs - fromMs);
      return { rate: (t) => mean * (1 - Math.cos((2 * Math.PI * (t - fromMs)) / span)), peak: 2 * mean };
    }
  }
}

/** The workload of one run. */
export class Workload {
  /** Sends each request and records its answer. */
  private readonly requests: WorkloadRequests;

  constructor(
    private readonly scenario: Scenario,
    private readonly targets: WorkloadTargets,
  ) {
    this.requests = new WorkloadRequests(scenario, targets);
  }

  /** Schedules everything the scenario asks for. */
  start(): void {
    for (const spec of this.scenario.tenants) {
      const bound = overdraftBound(spec);
      if (
        (spec.overdraft !== undefined && Object.keys(spec.overdraft).length > 0) ||
        (spec.alerts?.length ?? 0) > 0
      ) {
        const overdraft = spec.overdraft ?? {};
        // Every region's admin sets the policy at the start, so no region starts without it.
        for (const region of this.scenario.regions)
          this.requests.at(0, () => this.requests.setPolicy(spec.tenant, region, overdraft));
      }
      for (const change of spec.policyChanges ?? [])
        this.requests.at(msOf(change.atS), () =>
          this.requests.setPolicy(spec.tenant, change.region, change.overdraft),
        );
      for (const grant of spec.grants) {
        this.requests.at(msOf(grant.atS), () => this.requests.grant(spec, grant));
        const retry = grant.retry;
        if (retry !== undefined)
          this.requests.at(msOf(grant.atS + retry.afterS), () =>
            this.requests.grant(spec, grant, retry.region),
          );
      }
      if (spec.holds !== undefined) this.holdStream(spec, spec.holds);
      spec.rates.forEach((entry, i) => {
        const rng = streamOf(this.targets.seed, `workload:${spec.tenant}:rate:${i}`);
        this.stream(spec, entry, i, rng, bound);
      });
    }
  }

  /** Schedules the arrivals of one rate entry, one after the other (thinning of a Poisson process). */
  private stream(
    spec: TenantSpec,
    entry: TenantSpec['rates'][number],
    index: number,
    rng: RandomStream,
    bound: number,
  ): void {
    if (entry.perSecond <= 0) return;
    const fromMs = msOf(entry.fromS ?? 0);
    const toMs = Math.min(msOf(entry.toS ?? this.scenario.durationS), this.requests.durationMs);
    const { rate, peak } = rateShape(entry, fromMs, toMs, rng.uniform(0, BURST_PERIOD_MS));
    const others = this.scenario.regions.filter((region) => region !== entry.region);
    // Their own stream: a scenario without conflicting keys draws what it drew before they existed.
    const conflicts =
      (spec.conflicting ?? 0) > 0
        ? streamOf(this.targets.seed, `workload:${spec.tenant}:conflicting:${index}`)
        : null;
    let count = 0;
    const next = (after: number) => {
      let t = after;
      for (;;) {
        t += rng.exponential(1 / peak);
        if (t >= toMs) return;
        if (rng.next() * peak < rate(t)) break;
      }
      const plan = this.plan(spec, rng, others, conflicts);
      const arrival = t;
      this.requests.at(arrival, () => {
        count += 1;
        this.requests.debit(spec, entry.region, `${spec.tenant}/${index}/${count}`, plan, bound, 'first');
        next(arrival);
      });
    };
    next(fromMs);
  }

  private plan(
    spec: TenantSpec,
    rng: RandomStream,
    others: readonly string[],
    conflicts: RandomStream | null,
  ): DebitPlan {
    const amount = rng.int(spec.debitAmount.min, spec.debitAmount.max);
    const retry =
      others.length > 0 && rng.chance(spec.retryElsewhere ?? 0)
        ? { region: rng.pick(others), delayMs: rng.int(RETRY_DELAY_MS_MIN, RETRY_DELAY_MS_MAX) }
        : null;
    const refund = rng.chance(spec.refund ?? 0)
      ? {
          delayMs: rng.int(REFUND_DELAY_MS_MIN, REFUND_DELAY_MS_MAX),
          amount: rng.chance(0.5) ? undefined : rng.int(1, amount),
        }
      : null;
    const conflict = conflicts?.chance(spec.conflicting ?? 0)
      ? { delayMs: conflicts.int(0, CONFLICT_DELAY_MS_MAX), amount: amount + 1 }
      : null;
    return { amount, retry, refund, conflict };
  }

  /**
   * LLM-style holds: reserve the maximum, then capture what was used, void, or leave it to expire;
   * some settles go to another region. Draws come from the tenant's own hold stream.
   */
  private holdStream(spec: TenantSpec, holds: NonNullable<TenantSpec['holds']>): void {
    if (holds.perSecond <= 0) return;
    const rng = streamOf(this.targets.seed, `workload:${spec.tenant}:holds`);
    const others = this.scenario.regions.filter((region) => region !== holds.region);
    let count = 0;
    const next = (after: number) => {
      const t = after + rng.exponential(1000 / holds.perSecond);
      if (t >= this.requests.durationMs) return;
      const roll = rng.next();
      const plan = {
        action:
          roll < (holds.never ?? 0)
            ? null
            : roll < (holds.never ?? 0) + (holds.void ?? 0)
              ? 'void'
              : 'capture',
        used: rng.int(1, holds.maxAmount),
        delayMs: rng.int(HOLD_SETTLE_MS_MIN, HOLD_SETTLE_MS_MAX),
        at: others.length > 0 && rng.chance(holds.elsewhere ?? 0) ? rng.pick(others) : holds.region,
      } as const;
      this.requests.at(t, () => {
        count += 1;
        this.requests.hold(spec.tenant, holds, `${spec.tenant}/hold/${count}`, plan);
        next(t);
      });
    };
    next(0);
  }
}
