/**
 * Holds (API.md Holds, DESIGN.md §3 "Holds"): a hold is decided like a debit, borrowing included,
 * appended to the own log and answered once durable; its capture or void is decided by the holding
 * region, and forwarded there from any other (hold-forwarding.ts). The commands (commands.ts) reach
 * it through `HoldCommandsHost`.
 */
import {
  availableAt,
  decideHold,
  decideSettle,
  eventRecordId,
  type HoldRecord,
  type LedgerState,
  type OriginId,
  parseEventRecordId,
  regionOf,
  tenantBalance,
} from '@allot/core';
import type {
  HoldCommand,
  HoldOutcome,
  NotReady,
  SettleCommand,
  SettleOutcome,
  StoreFailure,
  TenantPolicy,
} from './api.js';
import type { Borrowing } from './borrow.js';
import type { ExpirySchedule } from './expiry-schedule.js';
import type { GroupCommit } from './group-commit.js';
import type { HoldForwarding } from './hold-forwarding.js';
import type { Clock } from './ports.js';
import type { Rebalancing } from './rebalancing.js';
import { STORE_FAILED } from './refusals.js';
import { holdView } from './views.js';

/** What holds need of their replica, and of the debit path they share borrowing with (commands.ts). */
export interface HoldCommandsHost {
  readonly origin: OriginId;
  readonly region: string;
  readonly clock: Clock;
  readonly ownLog: GroupCommit;
  readonly rebalancing: Rebalancing;
  readonly borrowing: Borrowing;
  readonly forwarding: HoldForwarding;
  readonly expiries: ExpirySchedule;
  /** The fold (replaced when it is rebuilt). */
  state(): LedgerState;
  /** The tenant's policy, pending changes included. */
  policy(tenant: string): TenantPolicy;
  /** Admits a command that appends to the own log (or why not). */
  admitWrite(events: number): Promise<StoreFailure | NotReady | null>;
  /** Appends the expiry of what has expired of the tenant's grants and holds. */
  expireTenant(tenant: string): void;
  /** Credits came back here by an own event: repay overdraft, wake the tenant's waiting debits. */
  creditsReturned(tenant: string): void;
  /** Sets the expiry timer for the earliest deadline. */
  armExpiry(): void;
  /** The tenant's overdraft allowance at this region from its policy, as debits are decided now. */
  limitOf(policy: TenantPolicy): number;
  /** Decides with `decideNow`, a decline for want of credits waiting for rights as a debit's does. */
  withBorrowing<O extends { readonly status: string }>(
    command: { readonly tenant: string; readonly amount: number },
    decideNow: () => Promise<O> | O,
  ): Promise<O> | O;
  /** What a decision here is made at: this origin, now. */
  context(): { origin: OriginId; now: number };
  /** How many grants the tenant has (a command's events may expire each). */
  grantCount(tenant: string): number;
}

/** Decides and answers the replica's hold and settle commands. */
export class HoldCommands {
  constructor(private readonly host: HoldCommandsHost) {}

  /** Holds credits of a tenant at this region (API.md Holds): decided like a debit, borrowing included. */
  async hold(command: HoldCommand): Promise<HoldOutcome> {
    const refused = await this.host.admitWrite(1);
    if (refused !== null) return refused;
    return this.host.withBorrowing<HoldOutcome>(command, () => this.decideHoldNow(command));
  }

  private decideHoldNow(command: HoldCommand): Promise<HoldOutcome> | HoldOutcome {
    const policy = this.host.policy(command.tenant);
    const overdraftLimit = this.host.limitOf(policy);
    // The time the hold's event will carry (never before this origin's last event: a clock that
    // stepped back does not date the log back), so that it expires `ttlMs` after it. On the clock
    // alone, a step back longer than the time to live made the event's expiry fall before its own
    // time: a malformed event, and the request failed (swarm seeds 33, 50, 78 with holds drawn).
    const now = this.host.ownLog.ownTimes.next(this.host.clock.now());
    const balanceNow = () => ({
      available: availableAt(this.host.state(), command.tenant, this.host.origin, now, overdraftLimit),
      tenant: tenantBalance(this.host.state(), command.tenant),
    });
    if (policy.blocked) {
      const available = availableAt(this.host.state(), command.tenant, this.host.origin, now, overdraftLimit);
      return { status: 'declined', reason: 'blocked', requested: command.amount, available };
    }
    const decision = decideHold(
      this.host.state(),
      { origin: this.host.origin, now, overdraftLimit },
      command,
    );
    switch (decision.status) {
      case 'accepted': {
        const event = this.host.ownLog.append(decision.body);
        this.host.rebalancing.recordSpend(command.tenant, command.amount, now);
        this.host.rebalancing.maybeRequestRights(command.tenant, 0);
        if (this.host.borrowing.waiting > 0) this.host.borrowing.spent(command.tenant);
        this.host.expiries.add(decision.body.expiresAt, command.tenant);
        this.host.armExpiry();
        const hold = holdView(this.holdRecordOf(command.tenant, eventRecordId(event.origin, event.seq)));
        const balance = balanceNow();
        return this.host.ownLog
          .durable(event.seq)
          .then((durable) => (durable ? { status: 'accepted' as const, hold, balance } : STORE_FAILED));
      }
      case 'replayed': {
        const hold = decision.hold;
        const answer = { status: 'replayed' as const, hold: holdView(hold), balance: balanceNow() };
        if (hold.origin !== this.host.origin) return answer;
        return this.host.ownLog.durable(hold.seq).then((durable) => (durable ? answer : STORE_FAILED));
      }
      case 'conflict': {
        const answer = { status: 'conflict' as const, hold: holdView(decision.hold) };
        if (decision.hold.origin !== this.host.origin) return answer;
        return this.host.ownLog
          .durable(decision.hold.seq)
          .then((durable) => (durable ? answer : STORE_FAILED));
      }
      default:
        return decision;
    }
  }

  /**
   * Captures or voids a hold. The holding region decides; another region forwards the request to
   * it over the replication link, or answers region_unreachable. `forward` false: a request a peer
   * forwarded here, never forwarded again.
   */
  async settleHold(command: SettleCommand, forward = true): Promise<SettleOutcome> {
    const refused = await this.host.admitWrite(2 + this.host.grantCount(command.tenant));
    if (refused !== null) return refused;
    const parsed = parseEventRecordId(command.holdId);
    if (parsed === null) return { status: 'not_found' };
    const decision = decideSettle(this.host.state(), this.host.context(), command);
    const holder = regionOf(parsed.origin);
    if (
      decision.status === 'wrong_region' ||
      (decision.status === 'not_found' && holder !== this.host.region)
    ) {
      if (!forward) return { status: 'not_found' };
      return this.host.forwarding.forward(holder, command);
    }
    switch (decision.status) {
      case 'not_found':
        return decision;
      case 'expired': {
        // Past its expiry on this region's clock: released now, and no longer to be settled.
        this.host.expireTenant(command.tenant);
        const record = this.holdRecordOf(command.tenant, decision.hold.holdId);
        if (record.end !== null && !(await this.host.ownLog.durable(record.end.seq))) return STORE_FAILED;
        return { status: 'not_active', hold: holdView(record) };
      }
      case 'stranded':
        return { status: 'stranded', hold: holdView(decision.hold) };
      case 'replayed':
      case 'not_active': {
        const end = decision.hold.end;
        if (end !== null && end.origin === this.host.origin && !(await this.host.ownLog.durable(end.seq)))
          return STORE_FAILED;
        return { status: decision.status, hold: holdView(decision.hold) };
      }
      case 'accepted': {
        const event = this.host.ownLog.append(decision.body);
        // Released credits may return to a grant that has expired meanwhile: they expire again.
        this.host.expireTenant(command.tenant);
        this.host.creditsReturned(command.tenant);
        const hold = holdView(this.holdRecordOf(command.tenant, decision.hold.holdId));
        if (!(await this.host.ownLog.durable(event.seq))) return STORE_FAILED;
        return { status: 'accepted', hold };
      }
      default:
        return decision;
    }
  }

  private holdRecordOf(tenant: string, holdId: string): HoldRecord {
    const record = this.host.state().tenants.get(tenant)?.holds?.get(holdId);
    if (record === undefined) throw new Error(`hold ${holdId} of ${tenant} vanished`);
    return record;
  }
}
