/**
 * The replica's money commands (DESIGN.md §3): debits (one or many), holds and their settling,
 * refunds. Each is decided on the fold as it is now, appended to the own log and answered once
 * durable; a decline for want of credits the reachable peers could cover waits for rights
 * (borrowing); records off the heap are read back from the log first (cold-records.ts). The
 * replica reaches it through `CommandsHost`.
 */
import {
  availableAt,
  type DebitRecord,
  debitRecordWithKey,
  decideDebit,
  decideHold,
  decideRefund,
  decideSettle,
  eventRecordId,
  grantCount,
  type HoldRecord,
  type LedgerEvent,
  type LedgerState,
  type OriginId,
  parseEventRecordId,
  type RefundRecord,
  regionOf,
  tenantBalance,
} from '@allot/core';
import type {
  BalanceView,
  DebitCommand,
  DebitDeclined,
  DebitOutcome,
  HoldCommand,
  HoldOutcome,
  NotReady,
  RefundCommand,
  RefundOutcome,
  ReplicaObserver,
  SettleCommand,
  SettleOutcome,
  StoreFailure,
  TenantPolicy,
} from './api.js';
import { type Borrowing, creditsKnown, declineReason } from './borrow.js';
import { IndexedEventMissing, RecalledSegments, RecalledSet, recallRecords } from './cold-records.js';
import { DurableAnswer, durableAnswers } from './durable-answers.js';
import type { ExpirySchedule } from './expiry-schedule.js';
import type { GroupCommit } from './group-commit.js';
import type { HoldForwarding } from './hold-forwarding.js';
import type { KeySpill } from './key-spill.js';
import { RECALL_SEGMENT_BYTES_MAX } from './limits.js';
import type { Clock, Logger, Store } from './ports.js';
import type { Rebalancing } from './rebalancing.js';
import { CLOSING, INTERNAL, STORE_FAILED } from './refusals.js';
import { debitRecordOf, holdView, refundRecordOf } from './views.js';

/** What the commands need of their replica. */
export interface CommandsHost {
  readonly origin: OriginId;
  readonly region: string;
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer: ReplicaObserver | undefined;
  readonly ownLog: GroupCommit;
  readonly rebalancing: Rebalancing;
  readonly borrowing: Borrowing;
  readonly forwarding: HoldForwarding;
  readonly expiries: ExpirySchedule;
  /** The key indexes' closed buckets on disk: lookups read their chunks through it. */
  readonly keySpill: KeySpill;
  /** The fold (replaced when it is rebuilt). */
  state(): LedgerState;
  /** The tenant's policy, pending changes included. */
  policy(tenant: string): TenantPolicy;
  /** Whether this incarnation may use its region's overdraft now. */
  overdraftAllowed(): boolean;
  closing(): boolean;
  /** Admits a command that appends to the own log (or why not). */
  admitWrite(events: number): Promise<StoreFailure | NotReady | null>;
  /** Appends the expiry of what has expired of the tenant's grants and holds. */
  expireTenant(tenant: string): void;
  /** Credits came back here by an own event: repay overdraft, wake the tenant's waiting debits. */
  creditsReturned(tenant: string): void;
  /** Sets the expiry timer for the earliest deadline. */
  armExpiry(): void;
  /** The tenant's balance now (it must exist). */
  balanceOrFail(tenant: string): BalanceView;
}

/**
 * A debit of a batch as decided: now (an outcome, or a DurableAnswer once appended), or later,
 * after a read or a wait for rights (a promise of either, settled once it is decided).
 */
type BatchDecision =
  | DebitOutcome
  | DurableAnswer<DebitOutcome>
  | Promise<DebitOutcome | DurableAnswer<DebitOutcome>>;

/** Decides and answers the replica's debit, hold, settle and refund commands. */
export class Commands {
  /** Stored segments read back by recalls, for the recalls that follow. */
  private readonly recalledSegments = new RecalledSegments(RECALL_SEGMENT_BYTES_MAX);

  constructor(private readonly host: CommandsHost) {}

  /** Debits a tenant from this region's rights (plus its overdraft). */
  async debit(command: DebitCommand): Promise<DebitOutcome> {
    const refused = await this.host.admitWrite(1);
    if (refused !== null) return refused;
    return this.decideDebit(command);
  }

  /** Debits many tenants in one go: decided in order, committed together, one outcome per command. */
  async debitMany(commands: readonly DebitCommand[]): Promise<DebitOutcome[]> {
    const refused = await this.host.admitWrite(commands.length);
    if (refused !== null) return commands.map(() => refused);
    // Decide every command before awaiting any, so they share group commits. One command that
    // fails to be decided fails alone: the others of the batch are still answered as they are.
    // A debit decided at once waits for its commit with the others of that commit (durableAnswers):
    // one wait per group commit, not one promise per debit.
    const outcomes = new Array<BatchDecision>(commands.length);
    this.decideInOrder(commands, outcomes);
    return durableAnswers(outcomes, (seq) => this.host.ownLog.durable(seq), STORE_FAILED);
  }

  /**
   * Decides `commands` into `outcomes`, in order: at once, until one must first read records back
   * (recall) or wait for rights. Each debit after it then gets one promise, settled as it is
   * decided: the rest are decided together once that one is, and so on at the next. Decided, not
   * durable: a debit decided later settles with a DurableAnswer once appended, so the rest of the
   * batch still shares commits (bench:batch: one fingerprint collision in 401,310 debits made each
   * of the 4,953 after it wait for the commit of the one before, one commit and fsync each). One
   * promise per debit, however many must wait: a retried batch whose every key is off the heap
   * recalls for each.
   */
  private decideInOrder(commands: readonly DebitCommand[], outcomes: BatchDecision[]): void {
    let waits = this.decideUntilWait(commands, 0, (index, decided) => {
      outcomes[index] = decided;
    });
    if (waits >= commands.length - 1) return;
    type Decided = DebitOutcome | DurableAnswer<DebitOutcome>;
    const settle: ((decided: BatchDecision) => void)[] = new Array(commands.length);
    const fail: ((error: unknown) => void)[] = new Array(commands.length);
    for (let j = waits + 1; j < commands.length; j++)
      outcomes[j] = new Promise<Decided>((resolve, reject) => {
        settle[j] = resolve;
        fail[j] = reject;
      });
    void (async () => {
      let next = waits + 1;
      while (next < commands.length) {
        // Its own failure is its own answer: the rest are decided after it all the same.
        await (outcomes[waits] as Promise<Decided>).catch(() => undefined);
        try {
          waits = this.decideUntilWait(commands, next, (index, decided) => {
            settle[index]?.(decided);
            next = index + 1;
          });
        } catch (error) {
          for (let k = next; k < commands.length; k++) fail[k]?.(error);
          return;
        }
      }
    })();
  }

  /**
   * Decides `commands` from `from` on, in order, handing each decision to `put`, up to the first
   * that must wait (a read, rights) included; its index, or the length when none must.
   */
  private decideUntilWait(
    commands: readonly DebitCommand[],
    from: number,
    put: (index: number, decided: BatchDecision) => void,
  ): number {
    for (let i = from; i < commands.length; i++) {
      const decided = this.debitOfBatch(commands[i] as DebitCommand);
      put(i, decided);
      if (decided instanceof Promise) return i;
    }
    return commands.length;
  }

  /**
   * One debit of a batch (debitMany): one appended is answered as a DurableAnswer, also when it is
   * decided later (borrowing, recall: a promise of one). One that fails to be decided fails alone:
   * the others of the batch are still answered.
   */
  private debitOfBatch(command: DebitCommand): BatchDecision {
    const seqBefore = this.host.ownLog.nextSeq;
    try {
      const now = this.decideDebitNow(command, undefined, true);
      if (now instanceof DurableAnswer) return now;
      return this.withBorrowing(command, () => this.decideDebitNow(command, undefined, true), now, true);
    } catch (error) {
      // After an append the fold and the log would disagree: that is not one item's failure.
      if (this.host.ownLog.nextSeq !== seqBefore) throw error;
      this.host.logger.error(
        { err: error, tenant: command.tenant },
        'a debit of a batch failed to be decided',
      );
      return INTERNAL;
    }
  }

  /**
   * Decides a debit; one this region cannot cover while its reachable peers can waits for rights
   * (borrowing, DESIGN.md §3) and is decided again as they arrive, at most borrowWaitMs.
   */
  private decideDebit(command: DebitCommand, recalled?: RecalledSet): Promise<DebitOutcome> | DebitOutcome;
  private decideDebit(command: DebitCommand, recalled: RecalledSet, deferred: true): BatchDecision;
  private decideDebit(command: DebitCommand, recalled?: RecalledSet, deferred = false): BatchDecision {
    const decideNow = () => this.decideDebitNow(command, recalled, deferred);
    return this.withBorrowing(command, decideNow, decideNow(), deferred);
  }

  /**
   * Decides with `decideNow`; a decline for want of credits that the reachable peers could cover
   * waits for rights (borrowing, DESIGN.md §3) and is decided again as they arrive, at most
   * borrowWaitMs. Debits and holds both take this path. `first` is the first decision when the
   * caller made it already; `deferred`: a decline that must wait for a commit is answered as a
   * DurableAnswer (debitMany), not a promise of its own (see `declined`).
   */
  private withBorrowing<O extends { readonly status: string }>(
    command: { readonly tenant: string; readonly amount: number },
    decideNow: () => Promise<O> | O,
    first: Promise<O> | O = decideNow(),
    deferred = false,
  ): Promise<O> | O {
    if (first instanceof Promise || first.status !== 'declined') return first;
    const declined = first as unknown as DebitDeclined;
    if (declined.reason === 'blocked') {
      this.host.observer?.debitDeclined?.('blocked');
      return first;
    }
    const shortfall = declined.requested - declined.available;
    this.host.rebalancing.maybeRequestRights(command.tenant, shortfall);
    if (!this.host.borrowing.worthWaiting(command.tenant, shortfall))
      return this.declined(command, declined, deferred) as unknown as O;
    type Decided = Promise<O> | O;
    const short = (outcome: Decided) =>
      !(outcome instanceof Promise) &&
      outcome.status === 'declined' &&
      (outcome as unknown as DebitDeclined).reason === 'insufficient_credits';
    return this.host.borrowing
      .wait<Decided>(
        command.tenant,
        command.amount,
        shortfall,
        () => {
          const again = decideNow();
          return short(again) ? null : again;
        },
        () => {
          const last = decideNow();
          return short(last)
            ? (this.declined(command, last as unknown as DebitDeclined, deferred) as unknown as O)
            : last;
        },
      )
      .then((settled): O => {
        // A promise resolved with a promise takes its value: what arrives here is never a promise.
        const outcome = settled as O;
        if (outcome instanceof DurableAnswer)
          return new DurableAnswer(outcome.seq, { ...outcome.outcome, waited: true }) as unknown as O;
        return outcome.status === 'accepted' || outcome.status === 'replayed' || outcome.status === 'declined'
          ? { ...outcome, waited: true }
          : outcome;
      });
  }

  /**
   * What this region could pay for the tenant now with the live rights it and its connected peers
   * hold as known here, plus its overdraft headroom: a debit up to this is never declined while the
   * cluster is whole (issue 12). For the simulator's false-decline check.
   */
  reachableCredits(tenant: string): number {
    return creditsKnown(
      this.host.state(),
      tenant,
      this.host.origin,
      this.host.clock.now(),
      this.overdraftLimit(tenant),
      this.host.borrowing.reachableOrigins(),
    ).near;
  }

  /** The tenant's overdraft allowance at this region as debits are decided now (0 while withheld). */
  overdraftLimit(tenant: string): number {
    return this.limitOf(this.host.policy(tenant));
  }

  /** `overdraftLimit` from a policy the caller has read already (a debit reads it once). */
  private limitOf(policy: TenantPolicy): number {
    return this.host.overdraftAllowed() ? (policy.overdraft[this.host.region] ?? 0) : 0;
  }

  /**
   * A decline for want of credits, with its reason (insufficient, unreachable, timeout). When own
   * events of the tenant are not durable yet, the decline counted them: a failed commit undoes
   * them and the credits they took may be there after all. It is then answered once they are
   * durable (`deferred`: as a DurableAnswer), and unavailable if their commit failed (the client
   * sends it again), as a conflict is.
   */
  private declined(
    command: { readonly tenant: string; readonly amount: number },
    decision: DebitDeclined,
    deferred: boolean,
  ): DebitDeclined | DurableAnswer<DebitDeclined> | Promise<DebitDeclined | StoreFailure> {
    const reason = declineReason(
      this.host.state(),
      command.tenant,
      this.host.origin,
      this.host.clock.now(),
      command.amount,
      this.overdraftLimit(command.tenant),
      this.host.borrowing.reachableOrigins(),
    );
    this.host.observer?.debitDeclined?.(reason);
    const answer: DebitDeclined = { ...decision, declineReason: reason };
    const { ownLog } = this.host;
    const last = ownLog.nextSeq - 1;
    if (last <= ownLog.durableSeq || !ownLog.tenantPending(command.tenant)) return answer;
    if (deferred) return new DurableAnswer(last, answer);
    return ownLog.durable(last).then((durable) => (durable ? answer : STORE_FAILED));
  }

  /** One decision on the fold as it is now: accepted (appended), replayed, or why not. */
  private decideDebitNow(command: DebitCommand, recalled?: RecalledSet): Promise<DebitOutcome> | DebitOutcome;
  private decideDebitNow(
    command: DebitCommand,
    recalled: RecalledSet | undefined,
    deferred: boolean,
  ): BatchDecision;
  /**
   * `deferred`: an accepted or own replayed debit is answered as a `DurableAnswer` (its outcome and
   * the seq it waits for) instead of a promise of its own (debitMany waits once per commit).
   */
  private decideDebitNow(command: DebitCommand, recalled?: RecalledSet, deferred = false): BatchDecision {
    const policy = this.host.policy(command.tenant);
    const overdraftLimit = this.limitOf(policy);
    const now = this.host.clock.now();
    if (policy.blocked) {
      const available = availableAt(this.host.state(), command.tenant, this.host.origin, now, overdraftLimit);
      return { status: 'declined', reason: 'blocked', requested: command.amount, available };
    }
    const decision = decideDebit(
      this.host.state(),
      { origin: this.host.origin, now, overdraftLimit },
      command,
      recalled,
    );
    if (decision.status === 'recall')
      // Cold records first; the decision then goes through borrowing like any other.
      return this.recallThen(decision.ids, recalled, (more) =>
        deferred ? this.decideDebit(command, more, true) : this.decideDebit(command, more),
      );
    switch (decision.status) {
      case 'accepted': {
        const event = this.host.ownLog.append(decision.body);
        this.host.rebalancing.recordSpend(command.tenant, command.amount, now);
        this.host.rebalancing.maybeRequestRights(command.tenant, 0);
        if (this.host.borrowing.waiting > 0) this.host.borrowing.spent(command.tenant);
        const debit = this.debitRecord(command.tenant, command.idempotencyKey, event);
        const balance = {
          available:
            decision.availableAfter ??
            availableAt(this.host.state(), command.tenant, this.host.origin, now, overdraftLimit),
          tenant: tenantBalance(this.host.state(), command.tenant),
        };
        if (deferred) return new DurableAnswer(event.seq, { status: 'accepted', debit, balance });
        return this.host.ownLog
          .durable(event.seq)
          .then((durable) => (durable ? { status: 'accepted' as const, debit, balance } : STORE_FAILED));
      }
      case 'replayed': {
        const debit = decision.debit;
        const balance = {
          available: availableAt(this.host.state(), command.tenant, this.host.origin, now, overdraftLimit),
          tenant: tenantBalance(this.host.state(), command.tenant),
        };
        if (debit.origin !== this.host.origin) return { status: 'replayed', debit, balance };
        if (deferred) return new DurableAnswer(debit.seq, { status: 'replayed', debit, balance });
        return this.host.ownLog
          .durable(debit.seq)
          .then((durable) => (durable ? { status: 'replayed' as const, debit, balance } : STORE_FAILED));
      }
      case 'conflict': {
        // Against a debit of this region not durable yet: answered once it is. A failed commit
        // undoes it, and then the key was never taken (the request may be sent again).
        const { debit } = decision;
        if (debit.origin !== this.host.origin) return decision;
        if (deferred) return new DurableAnswer(debit.seq, decision);
        return this.host.ownLog.durable(debit.seq).then((durable) => (durable ? decision : STORE_FAILED));
      }
      default:
        return decision;
    }
  }

  /** Holds credits of a tenant at this region (API.md Holds): decided like a debit, borrowing included. */
  async hold(command: HoldCommand): Promise<HoldOutcome> {
    const refused = await this.host.admitWrite(1);
    if (refused !== null) return refused;
    return this.withBorrowing<HoldOutcome>(command, () => this.decideHoldNow(command));
  }

  private decideHoldNow(command: HoldCommand): Promise<HoldOutcome> | HoldOutcome {
    const policy = this.host.policy(command.tenant);
    const overdraftLimit = this.limitOf(policy);
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
    const refused = await this.host.admitWrite(2 + this.grantCount(command.tenant));
    if (refused !== null) return refused;
    const parsed = parseEventRecordId(command.holdId);
    if (parsed === null) return { status: 'not_found' };
    const decision = decideSettle(this.host.state(), this.context(), command);
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

  /** Refunds a debit taken at this region. */
  async refund(command: RefundCommand): Promise<RefundOutcome> {
    const refused = await this.host.admitWrite(2 + this.grantCount(command.tenant));
    if (refused !== null) return refused;
    return this.decideRefund(command);
  }

  private async decideRefund(command: RefundCommand, recalled?: RecalledSet): Promise<RefundOutcome> {
    const decision = decideRefund(this.host.state(), this.context(), command, recalled);
    switch (decision.status) {
      case 'recall':
        return this.recallThen(decision.ids, recalled, (more) => this.decideRefund(command, more));
      case 'accepted': {
        const event = this.host.ownLog.append(decision.body);
        const refund = this.refundRecord(command.tenant, event);
        // A refund may return credits to a grant that has expired meanwhile: they expire again.
        this.host.expireTenant(command.tenant);
        this.host.creditsReturned(command.tenant);
        const balance = this.host.balanceOrFail(command.tenant); // now, as for a grant
        if (!(await this.host.ownLog.durable(event.seq))) return STORE_FAILED;
        return { status: 'accepted', refund, balance };
      }
      case 'replayed': {
        const refund = decision.refund;
        if (refund.origin === this.host.origin && !(await this.host.ownLog.durable(refund.seq)))
          return STORE_FAILED;
        return { status: 'replayed', refund, balance: this.host.balanceOrFail(command.tenant) };
      }
      case 'conflict': {
        const refund = decision.refund;
        if (refund.origin === this.host.origin && !(await this.host.ownLog.durable(refund.seq)))
          return STORE_FAILED;
        return decision;
      }
      case 'exceeds_debit':
        // The refunds it counts may not be durable yet: answered once every own event before it
        // is (one whose commit fails never happened, and the refund might then fit).
        if (!(await this.host.ownLog.durable(this.host.ownLog.nextSeq - 1))) return STORE_FAILED;
        return { status: 'exceeds_debit', requested: decision.requested, refundable: decision.refundable };
      default:
        return decision;
    }
  }

  /**
   * Reads records off the heap back from the log (cold-records.ts), waits for the replica to take
   * commands again, then decides again. A failed commit (or a refold) that rebuilt the fold
   * meanwhile makes what was read stale: its seqs are taken again by other events, and an event
   * read as pending may be undone. Then the records are read again for the fold as it is now.
   */
  async recallThen<T>(
    ids: readonly string[],
    recalled: RecalledSet | undefined,
    again: (more: RecalledSet) => T | Promise<T>,
  ): Promise<T | StoreFailure> {
    const folded = this.host.state();
    let more: RecalledSet | null;
    let missing: IndexedEventMissing | null = null;
    try {
      more = await this.recall(ids, recalled);
    } catch (error) {
      if (this.host.closing()) return CLOSING;
      if (!(error instanceof IndexedEventMissing)) {
        this.host.logger.error({ err: error, ids }, 'reading records back from the log failed');
        return STORE_FAILED;
      }
      // Legitimate only while the fold is being rebuilt: the gate is closed until it is.
      missing = error;
      more = new RecalledSet();
      more.rounds = (recalled?.rounds ?? 0) + 1;
    }
    if (more === null) {
      this.host.logger.error({ ids }, 'records read back from the log kept changing: decision given up');
      return INTERNAL;
    }
    const refused = await this.host.ownLog.admit(0);
    if (refused !== null) return refused;
    if (this.host.state() !== folded) {
      // Decided again from nothing recalled: the decision asks for what the new fold indexes.
      const fresh = new RecalledSet();
      fresh.rounds = more.rounds;
      return again(fresh);
    }
    if (missing !== null) {
      this.host.logger.error(
        { err: missing, ids },
        'an indexed event is neither pending nor stored, and the fold was not rebuilt: a broken invariant; the command is refused',
      );
      return INTERNAL;
    }
    return again(more);
  }

  private recall(ids: readonly string[], recalled: RecalledSet | undefined): Promise<RecalledSet | null> {
    const window = this.host.state().recordWindow;
    return recallRecords(
      {
        store: this.host.store,
        segments: this.recalledSegments,
        pending: () => [this.host.ownLog.inFlight, ...this.host.ownLog.queue, this.host.ownLog.open],
        keyParts: {
          partOf: (key) => window?.debitKeys.partOfChunk(key) ?? window?.refundKeys.partOfChunk(key),
          readChunk: (part, key) => this.host.keySpill.readChunk(part, key),
        },
      },
      ids,
      recalled,
    );
  }

  private debitRecord(tenant: string, key: string, event: LedgerEvent): DebitRecord {
    // The record the fold just made for it (the newest of the record window): no second copy.
    const recorded = debitRecordWithKey(this.host.state(), tenant, key);
    return recorded !== undefined && recorded.seq === event.seq && recorded.origin === event.origin
      ? recorded
      : debitRecordOf(tenant, event);
  }

  private refundRecord(tenant: string, event: LedgerEvent): RefundRecord {
    return refundRecordOf(tenant, event);
  }

  private context(): { origin: OriginId; now: number } {
    return { origin: this.host.origin, now: this.host.clock.now() };
  }

  private grantCount(tenant: string): number {
    return grantCount(this.host.state(), tenant);
  }
}
