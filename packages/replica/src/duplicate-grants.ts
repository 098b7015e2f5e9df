/**
 * Duplicate grant ids (issue 17, DESIGN.md §3): a grant id accepted at two regions while they were
 * cut off (a top-up retried elsewhere) counts once after the merge. Core orders the definitions the
 * same way at every node; this part makes the loser's region take its credits back with `revoke`
 * events and keeps the conflicts (the same id with a different body) for `GET /v1/cluster` and
 * `allot_grant_conflicts_total`. Pure bookkeeping over the ledger state: the replica appends.
 */
import {
  decideRevoke,
  type GrantDefinition,
  grantCount,
  grantDefinitions,
  type LedgerState,
  type OriginId,
  regionOf,
  type TenantEventBody,
  unsettledDuplicates,
} from '@allot/core';

/** The same grant id defined with different terms at two origins: an operator should look. */
export interface GrantConflict {
  readonly tenant: string;
  readonly grantId: string;
  /** The origin whose definition stands. */
  readonly winner: OriginId;
  /** The origin whose definition is revoked. */
  readonly loser: OriginId;
}

/** Who revokes: this region's current origin, its clock, its overdraft allowance for the tenant. */
export interface RevokeContext {
  readonly origin: OriginId;
  readonly now: number;
  readonly overdraftLimit: number;
  /**
   * False while a new incarnation has not caught up with its peers: it then revokes only its own
   * definitions, since an earlier incarnation's revoke may still be on its way.
   */
  readonly earlierIncarnations: boolean;
}

function sameTerms(a: GrantDefinition, b: GrantDefinition): boolean {
  return a.amount === b.amount && a.priority === b.priority && a.expiresAt === b.expiresAt;
}

/** Conflicts seen by this node, once each, in the order it saw them. */
export class GrantConflicts {
  private readonly seen = new Map<string, GrantConflict>();

  constructor(private readonly onConflict: (conflict: GrantConflict) => void) {}

  /** Records the conflicts among the definitions of `tenant`'s grants; calls onConflict for new ones. */
  observe(state: LedgerState, tenant: string): void {
    for (const { grantId, winner, others } of grantDefinitions(state, tenant)) {
      for (const loser of others) {
        if (sameTerms(winner, loser)) continue;
        const key = `${tenant}\u0000${grantId}\u0000${loser.origin}`;
        const known = this.seen.get(key);
        // A definition that sorts earlier may arrive later: the winner is whatever sorts first now.
        if (known !== undefined && known.winner === winner.origin) continue;
        const conflict = { tenant, grantId, winner: winner.origin, loser: loser.origin };
        this.seen.set(key, conflict);
        if (known === undefined) this.onConflict(conflict);
      }
    }
  }

  /** Every conflict seen, by tenant and grant id. */
  list(): GrantConflict[] {
    return [...this.seen.values()].sort((a, b) =>
      a.tenant !== b.tenant
        ? a.tenant < b.tenant
          ? -1
          : 1
        : a.grantId < b.grantId
          ? -1
          : a.grantId > b.grantId
            ? 1
            : 0,
    );
  }
}

/**
 * Appends the revokes this region owes for `tenant`: the first revoke of each losing definition it
 * accepted, and further ones while something is still owed and it holds rights to take it from.
 * Returns what is still owed afterwards (the caller asks peers for rights for it).
 */
export function revokeDuplicates(
  state: LedgerState,
  context: RevokeContext,
  tenant: string,
  append: (body: TenantEventBody) => void,
): number {
  const ledger = state.tenants.get(tenant);
  if (ledger === undefined || grantCount(state, tenant) === 0) return 0;
  let owed = 0;
  const region = regionOf(context.origin);
  for (const duplicate of unsettledDuplicates(ledger)) {
    const loser = duplicate.loser.origin;
    if (regionOf(loser) !== region) continue;
    if (loser !== context.origin && !context.earlierIncarnations) continue;
    const decision = decideRevoke(
      state,
      { origin: context.origin, now: context.now, overdraftLimit: context.overdraftLimit },
      { tenant, grantId: duplicate.grantId, loser },
    );
    if (decision.status === 'accepted') {
      append(decision.body);
      owed += (duplicate.owed ?? decision.body.total) - decision.body.amount;
    } else if (decision.status === 'none' && decision.reason === 'no_rights') {
      owed += duplicate.owed ?? 0;
    }
  }
  return owed;
}
