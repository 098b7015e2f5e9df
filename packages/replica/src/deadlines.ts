/**
 * The replica's own deadlines: grants and holds expire at their time on this region's clock (the
 * expiry events are own events, appended once the own log is whole), overdraft in use is repaid
 * from rights as they come, and records past the idempotency retention are forgotten. Timers come
 * from the Clock port. The replica reaches it through `DeadlinesHost`.
 */
import {
  activeHolds,
  decideExpire,
  decideHoldExpiries,
  decideRepay,
  forgetAllRecordsBefore,
  type GrantDefinition,
  type LedgerState,
  type OriginId,
} from '@allot/core';
import type { ExpirySchedule } from './expiry-schedule.js';
import type { GroupCommit } from './group-commit.js';
import { RETENTION_SWEEP_MS } from './limits.js';
import type { Clock, Logger, TimerHandle } from './ports.js';

/** Longest single timer the replica sets; later deadlines are re-armed (host timers overflow at 2^31 ms). */
const TIMER_MS_MAX = 60 * 60 * 1000;

/** What the deadlines need of their replica. */
export interface DeadlinesHost {
  readonly origin: OriginId;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The tenants with something to expire, by time. */
  readonly expiries: ExpirySchedule;
  readonly idempotencyRetentionMs: number;
  /** The own log (appends the expiry and repay events). */
  ownLog(): GroupCommit;
  /** The fold (replaced when it is rebuilt). */
  state(): LedgerState;
  closing(): boolean;
  broken(): boolean;
  /** This node's own log is confirmed whole (it appends own events). */
  logConfirmed(): boolean;
  /** Decides the tenant's debits waiting here for rights again (borrowing). */
  wake(tenant: string): void;
}

/** Expiries, repay and the retention sweep, with their timers. */
export class Deadlines {
  private expiryTimer: TimerHandle | null = null;
  private retentionTimer: TimerHandle | null = null;

  constructor(private readonly host: DeadlinesHost) {}

  scheduleExpiry(tenant: string, definition: GrantDefinition | null): void {
    if (definition === null || definition.expiresAt === null) return;
    this.host.expiries.add(definition.expiresAt, tenant);
    this.armExpiry();
  }

  /**
   * Schedules the expiry of every active hold of `origin` (a lost incarnation just retired: its
   * holds were stranded, and are this incarnation's to release now, at once when past due).
   */
  scheduleHoldsOf(origin: OriginId): void {
    const state = this.host.state();
    for (const tenant of state.tenants.keys())
      for (const hold of activeHolds(state, tenant))
        if (hold.origin === origin) this.host.expiries.add(hold.expiresAt, tenant);
    this.armExpiry();
  }

  armExpiry(): void {
    const next = this.host.expiries.peek();
    if (next === null || this.host.closing()) return;
    this.expiryTimer?.cancel();
    const delay = Math.min(Math.max(0, next - this.host.clock.now()), TIMER_MS_MAX);
    this.expiryTimer = this.host.clock.setTimer(delay, () => {
      this.expiryTimer = null;
      this.runExpiries();
    });
  }

  /** Appends the expiry of what is left here of every grant that has expired by now. */
  runExpiries(): void {
    if (!this.host.logConfirmed()) return; // expiries are own events: run once writable (see becomeWritable)
    if (this.host.closing() || this.host.broken() || this.host.ownLog().gate !== null) {
      this.armExpiry();
      return;
    }
    for (const tenant of this.host.expiries.takeDue(this.host.clock.now())) {
      this.expireTenant(tenant);
      this.creditsReturned(tenant); // holds released at their expiry
    }
    this.armExpiry();
  }

  expireTenant(tenant: string): void {
    // Holds of this region past their expiry on its clock are released, one decision at a time.
    for (let body = decideHoldExpiries(this.host.state(), this.context(), tenant)[0]; body !== undefined; ) {
      this.host.ownLog().append(body);
      body = decideHoldExpiries(this.host.state(), this.context(), tenant)[0];
    }
    const decision = decideExpire(this.host.state(), this.context(), tenant);
    for (const body of decision.bodies) this.host.ownLog().append(body);
    for (const grantId of decision.limited) {
      this.host.logger.error({ tenant, grantId }, 'expired cell at the amount limit: grant not expired');
    }
  }

  /**
   * Credits came back to this region's rights by its own event (a refund, a grant, a hold's end):
   * overdraft in use is repaid from them, then the tenant's debits waiting here for rights are
   * decided again. Before, they waited for a peer's events, and the credits could be lent away to
   * a peer that asked meanwhile (swarm seed 812).
   */
  creditsReturned(tenant: string): void {
    if (!this.host.logConfirmed()) return;
    this.repay(tenant);
    this.host.wake(tenant);
  }

  /** Pays back overdraft in use from rights this region holds now. */
  repay(tenant: string): void {
    const decision = decideRepay(this.host.state(), this.context(), tenant);
    if (decision.status === 'accepted') this.host.ownLog().append(decision.body);
  }

  armRetention(): void {
    this.retentionTimer = this.host.clock.setTimer(RETENTION_SWEEP_MS, () => {
      if (this.host.closing()) return;
      const cutoff = this.host.clock.now() - this.host.idempotencyRetentionMs;
      const forgotten = forgetAllRecordsBefore(this.host.state(), cutoff);
      if (forgotten > 0)
        this.host.logger.info({ forgotten }, 'forgot records past the idempotency retention');
      this.armRetention();
    });
  }

  /** Cancels the timers (closing). */
  close(): void {
    this.expiryTimer?.cancel();
    this.retentionTimer?.cancel();
  }

  private context(): { origin: OriginId; now: number } {
    return { origin: this.host.origin, now: this.host.clock.now() };
  }
}
