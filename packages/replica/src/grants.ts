/**
 * Grants and retires decided at this region and answered once durable: a grant schedules its
 * expiry, repays overdraft, revokes duplicates and splits its rights; a retire appends its events
 * RETIRE_EVENTS_PER_COMMIT at a time. The replica reaches it through `GrantsHost`.
 */
import { decideGrant, grantDefinition, type LedgerState, type OriginId } from '@allot/core';
import type { BalanceView, GrantCommand, GrantOutcome, NotReady, StoreFailure } from './api.js';
import type { Deadlines } from './deadlines.js';
import type { GroupCommit } from './group-commit.js';
import type { HeardIncarnations } from './incarnations.js';
import { RETIRE_EVENTS_PER_COMMIT } from './limits.js';
import type { PeerState } from './peers.js';
import type { Clock, Logger } from './ports.js';
import type { Rebalancing } from './rebalancing.js';
import { STORE_FAILED } from './refusals.js';
import type { RemoteEvents } from './remote-events.js';
import { planRetire, type RetirePlan, type RetireView } from './retire.js';
import { grantView } from './views.js';

/** Outcome of a retire command: what it did, why it did nothing, or a store failure. */
export type RetireOutcome =
  | { readonly status: 'accepted'; readonly retire: RetireView }
  | Exclude<RetirePlan, { readonly status: 'plan' }>
  | StoreFailure
  | NotReady;

/** What grants and retires need of their replica. */
export interface GrantsHost {
  readonly origin: OriginId;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly ownLog: GroupCommit;
  readonly heard: HeardIncarnations;
  readonly peers: ReadonlyMap<string, PeerState>;
  deadlines(): Deadlines;
  remote(): RemoteEvents;
  rebalancing(): Rebalancing;
  /** The fold (replaced when it is rebuilt). */
  state(): LedgerState;
  /** Admits a write to the own log, or says why not (writability.ts). */
  admitWrite(events: number): Promise<StoreFailure | NotReady | null>;
  /** The tenant's balance in the fold now. */
  balanceOrFail(tenant: string): BalanceView;
}

/** Grants and retires at this region. */
export class Grants {
  constructor(private readonly host: GrantsHost) {}

  /** Creates a grant at this region. */
  async grant(command: GrantCommand): Promise<GrantOutcome> {
    const host = this.host;
    const refused = await host.admitWrite(2);
    if (refused !== null) return refused;
    const decision = decideGrant(host.state(), { origin: host.origin, now: host.clock.now() }, command);
    switch (decision.status) {
      case 'accepted': {
        const event = host.ownLog.append(decision.body);
        host
          .deadlines()
          .scheduleExpiry(command.tenant, grantDefinition(host.state(), command.tenant, command.grantId));
        host.deadlines().repay(command.tenant);
        host.remote().revokeDuplicates(command.tenant);
        host.rebalancing().splitGrant(command.tenant, command.amount);
        // Its debits waiting here take what is left, then the asks peers left here for want of rights
        // (before, a grant served a kept ask only when the next rights arrived: swarm seed 22226).
        host.deadlines().creditsReturned(command.tenant);
        // Taken now: later batches may fail, and an answer must not show what they would undo.
        const balance = host.balanceOrFail(command.tenant);
        if (!(await host.ownLog.durable(event.seq))) return STORE_FAILED;
        return {
          status: 'accepted',
          grant: grantView(host.state(), command.tenant, command.grantId),
          balance,
        };
      }
      case 'replayed': {
        const definition = decision.definition;
        if (definition.origin === host.origin && !(await host.ownLog.durable(definition.seq)))
          return STORE_FAILED;
        return {
          status: 'replayed',
          grant: grantView(host.state(), command.tenant, command.grantId),
          balance: host.balanceOrFail(command.tenant),
        };
      }
      case 'conflict': {
        // Against a grant of this region not durable yet: answered once it is (a failed commit
        // undoes it, and then the grant id was never taken).
        const definition = decision.definition;
        if (
          definition !== null &&
          definition.origin === host.origin &&
          !(await host.ownLog.durable(definition.seq))
        )
          return STORE_FAILED;
        return {
          status: 'conflict',
          grant: definition === null ? null : grantView(host.state(), command.tenant, command.grantId),
        };
      }
      default:
        return decision;
    }
  }

  /**
   * Retires `lost`, a lost incarnation of this region (planRetire says when it may not): appends the
   * retire events, RETIRE_EVENTS_PER_COMMIT at a time, and answers once all are durable.
   */
  async retire(lost: OriginId): Promise<RetireOutcome> {
    const host = this.host;
    const refused = await host.admitWrite(1);
    if (refused !== null) return refused;
    const plan = planRetire(host.state(), host.origin, lost, host.heard.knows(lost), host.peers);
    if (plan.status !== 'plan') return plan;
    let last = 0;
    for (let from = 0; from < plan.bodies.length; from += RETIRE_EVENTS_PER_COMMIT) {
      if (from > 0) {
        if (!(await host.ownLog.durable(last))) return STORE_FAILED;
        const again = await host.admitWrite(RETIRE_EVENTS_PER_COMMIT);
        if (again !== null) return again;
      }
      for (const body of plan.bodies.slice(from, from + RETIRE_EVENTS_PER_COMMIT))
        last = host.ownLog.append(body).seq;
    }
    if (!(await host.ownLog.durable(last))) return STORE_FAILED;
    host.logger.warn(
      { origin: lost, by: host.origin, through: plan.through, rights: plan.view.rights },
      'lost incarnation retired: its rights belong to this incarnation now',
    );
    // Rights that came in repay this origin's overdraft first (DESIGN.md §1).
    for (const tenant of new Set(plan.bodies.map((body) => body.tenant))) host.deadlines().repay(tenant);
    // Its holds, stranded until now, are this incarnation's to release at their expiry.
    host.deadlines().scheduleHoldsOf(lost);
    return { status: 'accepted', retire: { ...plan.view, events: plan.bodies.length } };
  }
}
