/**
 * Revokes of duplicate grant ids: a grant id accepted at two origins across a partition stands for
 * one grant; the losing definition's credits are taken back by the region that accepted it.
 */
import { fitsSum } from './amount.js';
import { grantCellAt, grantCellTotal, rightsAt, tenantCellAt, tenantCellTotal } from './cells.js';
import {
  AMOUNT_LIMIT,
  type AmountLimitOutcome,
  type DebitContext,
  type ForTenant,
} from './decide-outcomes.js';
import { indexOf, overdraftHeadroom, partsFit } from './decide-rights.js';
import type { Part, RevokeBody } from './events.js';
import { type GrantId, type OriginId, regionOf, type TenantId } from './ids.js';
import { burnOrder, isLive, revokeStanding } from './standing.js';
import type { GrantDefinition, LedgerState, TenantState } from './state.js';

/** A request to revoke (or go on revoking) `loser`'s losing definition of a grant id. */
export interface RevokeRequest {
  readonly tenant: TenantId;
  readonly grantId: GrantId;
  readonly loser: OriginId;
}

/** One losing definition of a grant id, and what of it is still to take back (null: no revoke yet). */
export interface DuplicateGrant {
  readonly grantId: GrantId;
  readonly winner: GrantDefinition;
  readonly loser: GrantDefinition;
  readonly owed: number | null;
}

/** The outcome of a revoke check. */
export type RevokeDecision =
  | { readonly status: 'none'; readonly reason: 'not_a_duplicate' | 'settled' | 'wrong_region' | 'no_rights' }
  | AmountLimitOutcome
  | { readonly status: 'accepted'; readonly body: ForTenant<RevokeBody> };

/** The tenant's losing grant definitions that are not wholly taken back yet. */
export function unsettledDuplicates(tenant: TenantState): DuplicateGrant[] {
  const out: DuplicateGrant[] = [];
  for (const grant of tenant.grants.values()) {
    if (grant.others === null || grant.definition === null) continue;
    for (const loser of grant.others) {
      const standing = revokeStanding(tenant, grant.grantId, loser.origin);
      if (standing !== undefined && standing.charged >= standing.total) continue;
      const owed = standing === undefined ? null : standing.total - standing.charged;
      out.push({ grantId: grant.grantId, winner: grant.definition, loser, owed });
    }
  }
  return out;
}

/**
 * Decides a revoke of a duplicate definition of a grant id, at an origin of the loser's region
 * (the region that accepted it). The first revoke fixes what is to be taken back: the loser's
 * credits less what of the grant had expired by then (expired credits were never spendable, so
 * they are not taken twice). Each revoke charges what it can now by the debit rule, so the tenant
 * never goes below −Σ overdraft: the origin's own rights (the grant itself first, then the others
 * in burn order), then its overdraft headroom. The rest stays owed; later revokes take it from
 * rights the region receives (it asks peers for them), as overdraft is repaid.
 */
export function decideRevoke(state: LedgerState, ctx: DebitContext, request: RevokeRequest): RevokeDecision {
  const tenant = state.tenants.get(request.tenant);
  const grant = tenant?.grants.get(request.grantId);
  const loser = grant?.others?.find((definition) => definition.origin === request.loser);
  if (tenant === undefined || grant === undefined || loser === undefined) {
    return { status: 'none', reason: 'not_a_duplicate' };
  }
  if (regionOf(request.loser) !== regionOf(ctx.origin)) return { status: 'none', reason: 'wrong_region' };
  const standing = revokeStanding(tenant, request.grantId, request.loser);
  let total: number;
  if (standing === undefined) {
    const loserIndex = indexOf(state, request.loser);
    const granted = loserIndex < 0 ? 0 : grantCellAt(grant, loserIndex, 'granted');
    total = Math.max(0, granted - grantCellTotal(grant, 'expired'));
  } else {
    total = standing.total;
    if (standing.charged >= total) return { status: 'none', reason: 'settled' };
  }
  const owed = total - (standing?.charged ?? 0);
  const index = indexOf(state, ctx.origin);
  const parts: Part[] = [];
  let left = owed;
  if (index >= 0) {
    const own = Math.min(left, Math.max(0, rightsAt(grant, index)));
    if (own > 0) {
      parts.push({ grantId: grant.grantId, amount: own });
      left -= own;
    }
    for (const other of burnOrder(tenant)) {
      if (left === 0) break;
      if (other.slot === grant.slot || !isLive(other, ctx.now)) continue; // its own rights went first
      const rights = rightsAt(other, index);
      if (rights <= 0) continue;
      const take = Math.min(rights, left);
      parts.push({ grantId: other.grantId, amount: take });
      left -= take;
    }
  }
  const overdraft = Math.min(left, overdraftHeadroom(state, tenant, ctx.origin, ctx.overdraftLimit));
  const amount = owed - left + overdraft;
  // The first revoke is written even when it can charge nothing yet: it fixes the total.
  if (standing !== undefined && amount === 0) return { status: 'none', reason: 'no_rights' };
  if (!fitsSum(tenantCellTotal(tenant, 'revoked'), amount)) return AMOUNT_LIMIT;
  if (index >= 0) {
    if (!partsFit(tenant, index, parts, 'debited')) return AMOUNT_LIMIT;
    if (!fitsSum(tenantCellAt(tenant, index, 'overdrawn'), overdraft)) return AMOUNT_LIMIT;
  }
  return {
    status: 'accepted',
    body: {
      kind: 'revoke',
      tenant: request.tenant,
      grantId: request.grantId,
      loser: request.loser,
      total,
      amount,
      parts,
      overdraft,
    },
  };
}
