/**
 * Refunds of debits taken at this region: decided on the fold as it is now (the debit read back
 * from the log first when it is off the heap), appended to the own log and answered once durable.
 * The commands (commands.ts) reach it through `RefundCommandsHost`.
 */
import {
  decideRefund,
  type LedgerEvent,
  type LedgerState,
  type OriginId,
  type RefundRecord,
} from '@allot/core';
import type { BalanceView, NotReady, RefundCommand, RefundOutcome, StoreFailure } from './api.js';
import type { RecalledSet } from './cold-records.js';
import type { GroupCommit } from './group-commit.js';
import { STORE_FAILED } from './refusals.js';
import { refundRecordOf } from './views.js';

/** What refunds need of their replica, and of the commands' recall (command-recall.ts). */
export interface RefundCommandsHost {
  readonly origin: OriginId;
  readonly ownLog: GroupCommit;
  /** The fold (replaced when it is rebuilt). */
  state(): LedgerState;
  /** Admits a command that appends to the own log (or why not). */
  admitWrite(events: number): Promise<StoreFailure | NotReady | null>;
  /** Appends the expiry of what has expired of the tenant's grants and holds. */
  expireTenant(tenant: string): void;
  /** Credits came back here by an own event: repay overdraft, wake the tenant's waiting debits. */
  creditsReturned(tenant: string): void;
  /** The tenant's balance now (it must exist). */
  balanceOrFail(tenant: string): BalanceView;
  /** Reads records off the heap back from the log, then decides again (command-recall.ts). */
  recallThen<T>(
    ids: readonly string[],
    recalled: RecalledSet | undefined,
    again: (more: RecalledSet) => T | Promise<T>,
  ): Promise<T | StoreFailure>;
  /** What a decision here is made at: this origin, now. */
  context(): { origin: OriginId; now: number };
  /** How many grants the tenant has (a command's events may expire each). */
  grantCount(tenant: string): number;
}

/** Decides and answers the replica's refund commands. */
export class RefundCommands {
  constructor(private readonly host: RefundCommandsHost) {}

  /** Refunds a debit taken at this region. */
  async refund(command: RefundCommand): Promise<RefundOutcome> {
    const refused = await this.host.admitWrite(2 + this.host.grantCount(command.tenant));
    if (refused !== null) return refused;
    return this.decideRefund(command);
  }

  private async decideRefund(command: RefundCommand, recalled?: RecalledSet): Promise<RefundOutcome> {
    const decision = decideRefund(this.host.state(), this.host.context(), command, recalled);
    switch (decision.status) {
      case 'recall':
        return this.host.recallThen(decision.ids, recalled, (more) => this.decideRefund(command, more));
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

  private refundRecord(tenant: string, event: LedgerEvent): RefundRecord {
    return refundRecordOf(tenant, event);
  }
}
