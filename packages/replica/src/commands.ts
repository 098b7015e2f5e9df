/**
 * The replica's money commands (DESIGN.md §3): debits (one or many), holds and their settling,
 * refunds. Each is decided on the fold as it is now, appended to the own log and answered once
 * durable; a decline for want of credits the reachable peers could cover waits for rights
 * (borrowing); records off the heap are read back from the log first (cold-records.ts). The
 * replica reaches it through `CommandsHost`. The debit path is here; holds (hold-commands.ts),
 * refunds (refund-commands.ts) and the reading back (command-recall.ts) are its parts, behind it.
 */
import {
  availableAt,
  type DebitRecord,
  debitRecordWithKey,
  decideDebit,
  grantCount,
  type LedgerEvent,
  type LedgerState,
  type OriginId,
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
import type { RecalledSet } from './cold-records.js';
import { CommandRecall } from './command-recall.js';
import { DurableAnswer, durableAnswers } from './durable-answers.js';
import type { ExpirySchedule } from './expiry-schedule.js';
import type { GroupCommit } from './group-commit.js';
import { HoldCommands } from './hold-commands.js';
import type { HoldForwarding } from './hold-forwarding.js';
import type { KeySpill } from './key-spill.js';
import type { Clock, Logger, Store } from './ports.js';
import type { Rebalancing } from './rebalancing.js';
import { RefundCommands } from './refund-commands.js';
import { INTERNAL, STORE_FAILED } from './refusals.js';
import { debitRecordOf } from './views.js';

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
  /** Records read back from the log for debits and refunds (command-recall.ts). */
  private readonly recalls: CommandRecall;
  /** Holds and their settling (hold-commands.ts), deciding through this debit path's borrowing. */
  private readonly holds: HoldCommands;
  /** Refunds (refund-commands.ts). */
  private readonly refunds: RefundCommands;

  constructor(private readonly host: CommandsHost) {
    this.recalls = new CommandRecall(host);
    // The parts see the replica as the commands do (each naming only what it uses), plus what they
    // share with this debit path: its borrowing and limits, and one decision context.
    const shared = {
      context: () => ({ origin: host.origin, now: host.clock.now() }),
      grantCount: (tenant: string) => grantCount(host.state(), tenant),
    };
    this.holds = new HoldCommands({
      ...host,
      ...shared,
      limitOf: (policy) => this.limitOf(policy),
      withBorrowing: (command, decideNow) => this.withBorrowing(command, decideNow),
    });
    this.refunds = new RefundCommands({
      ...host,
      ...shared,
      recallThen: (ids, recalled, again) => this.recalls.recallThen(ids, recalled, again),
    });
  }

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

  /** Holds credits of a tenant at this region (hold-commands.ts). */
  hold(command: HoldCommand): Promise<HoldOutcome> {
    return this.holds.hold(command);
  }

  /** Captures or voids a hold, here or at its holding region (hold-commands.ts). */
  settleHold(command: SettleCommand, forward = true): Promise<SettleOutcome> {
    return this.holds.settleHold(command, forward);
  }

  /** Refunds a debit taken at this region (refund-commands.ts). */
  refund(command: RefundCommand): Promise<RefundOutcome> {
    return this.refunds.refund(command);
  }

  /** Reads records off the heap back from the log, then decides again (command-recall.ts). */
  recallThen<T>(
    ids: readonly string[],
    recalled: RecalledSet | undefined,
    again: (more: RecalledSet) => T | Promise<T>,
  ): Promise<T | StoreFailure> {
    return this.recalls.recallThen(ids, recalled, again);
  }

  private debitRecord(tenant: string, key: string, event: LedgerEvent): DebitRecord {
    // The record the fold just made for it (the newest of the record window): no second copy.
    const recorded = debitRecordWithKey(this.host.state(), tenant, key);
    return recorded !== undefined && recorded.seq === event.seq && recorded.origin === event.origin
      ? recorded
      : debitRecordOf(tenant, event);
  }
}
