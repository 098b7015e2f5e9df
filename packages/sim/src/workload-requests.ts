/**
 * The workload's requests, one at a time (workload.ts decides which and when): each is sent to a
 * region's replica and its answer recorded with its latency; a decline is marked false when the true
 * ledger (the oracle) could have paid it. What follows from an answer is scheduled here too: an
 * admin's retry of a grant or policy its region did not take, a debit's refund, a hold's settle, and
 * a debit's planned retry at another region and conflicting send.
 */
import { PRIORITY_DEFAULT, parseEventRecordId, regionOf } from '@allot/core';
import type { DebitOutcome, GrantOutcome, HoldOutcome, RefundOutcome, SettleOutcome } from '@allot/replica';
import type { Scenario, TenantSpec } from './api.js';
import { GRANT_RETRY_MS, SIM_EPOCH_MS } from './limits.js';
import type { RegionNode } from './region.js';
import type { HistoryRecord } from './results.js';
import { type Scheduler, SimulationFailure } from './scheduler.js';
import { msOf } from './timeline.js';
import type { TrueLedger } from './truth.js';

/** What a workload acts on. */
export interface WorkloadTargets {
  readonly scheduler: Scheduler;
  readonly nodes: ReadonlyMap<string, RegionNode>;
  readonly truth: TrueLedger;
  /** Simulated time of the scenario's time 0. */
  readonly startMs: number;
  readonly seed: number;
  record(record: HistoryRecord): void;
  /** Null unless the whole cluster is up and connected; equal tokens: it stayed so in between. */
  health(): number | null;
}

/** A debit request's random choices, drawn when it is issued. */
export interface DebitPlan {
  readonly amount: number;
  readonly retry: { readonly region: string; readonly delayMs: number } | null;
  readonly refund: { readonly delayMs: number; readonly amount: number | undefined } | null;
  /** The same key sent again at the same region `delayMs` later with `amount` (TenantSpec.conflicting). */
  readonly conflict: { readonly delayMs: number; readonly amount: number } | null;
}

/** How a debit request came to be sent. */
type DebitSent = 'first' | 'retry' | 'conflicting';

/** The requests of one run's workload. */
export class WorkloadRequests {
  /** The scenario's duration, ms: nothing is scheduled past it. */
  readonly durationMs: number;
  /** Keys whose refund (if planned) was issued already. */
  private readonly refunded = new Set<string>();

  constructor(
    private readonly scenario: Scenario,
    private readonly targets: WorkloadTargets,
  ) {
    this.durationMs = msOf(scenario.durationS);
  }

  /** The current incarnation of every region whose process runs. */
  private origins(): string[] {
    const out: string[] = [];
    for (const node of this.targets.nodes.values()) if (node.replica !== null) out.push(node.replica.origin);
    return out;
  }

  private get scenarioNow(): number {
    return this.targets.scheduler.now - this.targets.startMs;
  }

  /** Runs `run` at scenario time `ms`. */
  at(ms: number, run: () => void): void {
    this.targets.scheduler.at(this.targets.startMs + ms, run);
  }

  private node(region: string): RegionNode {
    const node = this.targets.nodes.get(region);
    if (node === undefined) throw new Error(`workload names unknown region ${region}`);
    return node;
  }

  private fail(message: string): void {
    this.targets.scheduler.fail(new SimulationFailure(message, this.targets.scheduler.now));
  }

  /** Sets the tenant's policy at `region`, and again later while that region fails it. */
  setPolicy(tenant: string, region: string, overdraft: Readonly<Record<string, number>>): void {
    this.node(region).request(
      (replica) =>
        replica.setPolicy(tenant, {
          overdraft: { ...overdraft },
          weights: {},
          blocked: false,
          alerts: this.scenario.tenants.find((spec) => spec.tenant === tenant)?.alerts ?? [],
        }),
      (outcome) => {
        const failed = outcome === 'unavailable' || 'status' in outcome;
        if (failed && this.scenarioNow + GRANT_RETRY_MS < this.durationMs)
          this.at(this.scenarioNow + GRANT_RETRY_MS, () => this.setPolicy(tenant, region, overdraft));
      },
    );
  }

  /** Sends `grant` to its region, or (a client's retry) the same grant to `region`. */
  grant(spec: TenantSpec, grant: TenantSpec['grants'][number], region = grant.region): void {
    const { startMs } = this.targets;
    const expiresAtMs = grant.expiresInS === undefined ? null : msOf(grant.atS) + msOf(grant.expiresInS);
    const priority = grant.priority ?? PRIORITY_DEFAULT;
    this.node(region).request(
      (replica) =>
        replica.grant({
          tenant: spec.tenant,
          grantId: grant.grantId,
          amount: grant.amount,
          priority,
          // The admin's client computes the expiry from true time.
          expiresAt: expiresAtMs === null ? null : SIM_EPOCH_MS + startMs + expiresAtMs,
        }),
      (outcome: GrantOutcome | 'unavailable') => {
        // not_ready: the region is recovering its log; like unavailable, try again later.
        const result =
          outcome === 'unavailable' || outcome.status === 'not_ready' ? 'unavailable' : outcome.status;
        if (
          result === 'invalid' &&
          outcome !== 'unavailable' &&
          'reason' in outcome &&
          outcome.reason === 'invalid_request'
        )
          this.fail(
            `grant ${grant.grantId} of ${spec.tenant} refused as invalid: the scenario's validation missed it`,
          );
        this.targets.record({
          type: 'grant',
          t: this.scenarioNow,
          region,
          tenant: spec.tenant,
          grantId: grant.grantId,
          amount: grant.amount,
          result,
          expiresAt: expiresAtMs,
          priority,
          ...(outcome !== 'unavailable' && (outcome.status === 'accepted' || outcome.status === 'replayed')
            ? { origin: outcome.grant.origin }
            : {}),
        });
        if (result === 'unavailable' && this.scenarioNow + GRANT_RETRY_MS < this.durationMs)
          this.at(this.scenarioNow + GRANT_RETRY_MS, () => this.grant(spec, grant, region));
      },
    );
  }

  /**
   * Sends a debit of `plan` to `region` under `key`, records its answer and schedules its refund;
   * sent first, also its planned retry elsewhere and conflicting send.
   */
  debit(
    spec: TenantSpec,
    region: string,
    key: string,
    plan: DebitPlan,
    bound: number,
    sent: DebitSent,
  ): void {
    const { scheduler, truth } = this.targets;
    const issuedAt = scheduler.now;
    const tenant = spec.tenant;
    const healthAtIssue = this.targets.health();
    const coveredAtIssue = (this.node(region).replica?.reachableCredits(tenant) ?? 0) >= plan.amount;
    this.node(region).request(
      (replica) => replica.debit({ tenant, amount: plan.amount, idempotencyKey: key, metadata: null }),
      (outcome: DebitOutcome | 'unavailable') => {
        let result: 'accepted' | 'replayed' | 'declined' | 'conflict' | 'unavailable';
        let debitId: string | undefined;
        let falseDecline = false;
        let waited = false;
        let declineReason: 'insufficient' | 'unreachable' | 'timeout' | undefined;
        let healthyCovered = false;
        if (outcome !== 'unavailable' && 'waited' in outcome) waited = outcome.waited === true;
        if (outcome === 'unavailable') result = 'unavailable';
        else {
          switch (outcome.status) {
            case 'accepted':
            case 'replayed':
              result = outcome.status;
              debitId = outcome.debit.debitId;
              break;
            case 'declined':
              result = 'declined';
              falseDecline =
                outcome.reason === 'insufficient_credits' &&
                truth.covers(tenant, plan.amount, scheduler.now, bound);
              declineReason = outcome.declineReason;
              healthyCovered =
                healthAtIssue !== null &&
                coveredAtIssue &&
                this.targets.health() === healthAtIssue &&
                // Other regions' overdraft allowances cannot be lent: the live credits must cover it.
                truth.covers(tenant, plan.amount, scheduler.now, 0) &&
                (this.node(region).replica?.reachableCredits(tenant) ?? 0) >= plan.amount;
              break;
            case 'conflict':
              result = 'conflict';
              break;
            case 'unavailable':
            case 'not_ready': // recovering its log: unavailable, neither a decline nor a false one
              result = 'unavailable';
              break;
            default:
              this.fail(
                `debit ${key} of ${tenant} at ${region} answered ${outcome.status}: the workload sent a bad request`,
              );
              return;
          }
        }
        this.targets.record({
          type: 'debit',
          t: this.scenarioNow,
          region,
          tenant,
          key,
          amount: plan.amount,
          result,
          falseDecline,
          latencyMs: scheduler.now - issuedAt,
          ...(debitId === undefined ? {} : { debitId }),
          ...(sent === 'retry' ? { retry: true } : {}),
          ...(sent === 'conflicting' ? { conflicting: true } : {}),
          ...(waited ? { waited: true } : {}),
          ...(declineReason === undefined ? {} : { declineReason }),
          ...(healthyCovered
            ? { healthyCovered: true, trueCredits: truth.liveAt(tenant, scheduler.now, this.origins()) }
            : {}),
          ledger: truth.figures(tenant),
        });
        if (
          result === 'accepted' &&
          debitId !== undefined &&
          plan.refund !== null &&
          !this.refunded.has(key)
        ) {
          this.refunded.add(key);
          const due = this.scenarioNow + plan.refund.delayMs;
          const id = debitId;
          const amount = plan.refund.amount;
          if (due < this.durationMs)
            this.at(due, () => this.refund(tenant, id, amount ?? plan.amount, amount));
        }
      },
    );
    if (sent !== 'first') return;
    if (plan.retry !== null) {
      const due = this.scenarioNow + plan.retry.delayMs;
      const target = plan.retry.region;
      if (due < this.durationMs) this.at(due, () => this.debit(spec, target, key, plan, bound, 'retry'));
    }
    if (plan.conflict !== null) {
      const due = this.scenarioNow + plan.conflict.delayMs;
      const other: DebitPlan = { amount: plan.conflict.amount, retry: null, refund: null, conflict: null };
      if (due < this.durationMs)
        this.at(due, () => this.debit(spec, region, key, other, bound, 'conflicting'));
    }
  }

  /** Sends a hold of the maximum to its region, records its answer and schedules its settle. */
  hold(
    tenant: string,
    holds: NonNullable<TenantSpec['holds']>,
    key: string,
    plan: { action: 'capture' | 'void' | null; used: number; delayMs: number; at: string },
  ): void {
    const issuedAt = this.targets.scheduler.now;
    const region = holds.region;
    this.node(region).request(
      (replica) =>
        replica.hold({
          tenant,
          amount: holds.maxAmount,
          idempotencyKey: key,
          ttlMs: msOf(holds.ttlS),
          metadata: null,
        }),
      (outcome: HoldOutcome | 'unavailable') => {
        const result =
          outcome === 'unavailable' || outcome.status === 'not_ready' || outcome.status === 'unavailable'
            ? 'unavailable'
            : outcome.status === 'accepted' || outcome.status === 'replayed' || outcome.status === 'conflict'
              ? outcome.status
              : outcome.status === 'declined'
                ? 'declined'
                : null;
        if (result === null) {
          this.fail(`hold ${key} of ${tenant} at ${region} answered ${(outcome as HoldOutcome).status}`);
          return;
        }
        const holdId = outcome !== 'unavailable' && 'hold' in outcome ? outcome.hold.holdId : undefined;
        this.targets.record({
          type: 'hold',
          t: this.scenarioNow,
          region,
          tenant,
          key,
          amount: holds.maxAmount,
          result,
          ...(holdId === undefined ? {} : { holdId }),
          latencyMs: this.targets.scheduler.now - issuedAt,
        });
        if (result !== 'accepted' || holdId === undefined || plan.action === null) return;
        const due = this.scenarioNow + plan.delayMs;
        const action = plan.action;
        if (due < this.durationMs)
          this.at(due, () => this.settleHold(tenant, holdId, action, plan.used, plan.at));
      },
    );
  }

  private settleHold(
    tenant: string,
    holdId: string,
    action: 'capture' | 'void',
    used: number,
    region: string,
  ): void {
    const issuedAt = this.targets.scheduler.now;
    this.node(region).request(
      (replica) =>
        replica.settleHold({ tenant, holdId, action, ...(action === 'capture' ? { amount: used } : {}) }),
      (outcome: SettleOutcome | 'unavailable') => {
        const result = outcome === 'unavailable' ? 'unavailable' : outcome.status;
        // `not_found` is recorded, not refused: a hold that a damaged or lost disk took before any
        // peer held it is gone (swarm seed 5702: a void at ap after a corrupt record cut its log
        // short); S3 checks that no acknowledged hold is missing otherwise.
        if (result === 'invalid' || result === 'exceeds_hold')
          this.fail(`${action} of hold ${holdId} at ${region} answered ${result}`);
        this.targets.record({
          type: 'settle',
          t: this.scenarioNow,
          region,
          tenant,
          holdId,
          action,
          ...(action === 'capture' ? { amount: used } : {}),
          result,
          latencyMs: this.targets.scheduler.now - issuedAt,
        });
      },
    );
  }

  /** Refunds `amount` of a debit, or all that is left of it when undefined (`requested` is then its amount). */
  private refund(tenant: string, debitId: string, requested: number, amount: number | undefined): void {
    const parsed = parseEventRecordId(debitId);
    if (parsed === null) throw new Error(`not a debit id: ${debitId}`);
    const region = regionOf(parsed.origin);
    const key = `refund:${debitId}`;
    const issuedAt = this.targets.scheduler.now;
    this.node(region).request(
      (replica) => replica.refund({ tenant, debitId, amount, idempotencyKey: key }),
      (outcome: RefundOutcome | 'unavailable') => {
        const result =
          outcome === 'unavailable' || outcome.status === 'not_ready' ? 'unavailable' : outcome.status;
        if (result === 'invalid') this.fail(`refund ${key} of ${tenant} refused as invalid`);
        const refund = outcome !== 'unavailable' && 'refund' in outcome ? outcome.refund : null;
        this.targets.record({
          type: 'refund',
          t: this.scenarioNow,
          region,
          tenant,
          debitId,
          amount: refund?.amount ?? requested,
          result,
          ...(refund !== null && (result === 'accepted' || result === 'replayed')
            ? { refundId: refund.refundId }
            : {}),
          key,
          latencyMs: this.targets.scheduler.now - issuedAt,
        });
      },
    );
  }
}
