/**
 * What a tenant's packed cells add up to: rights, what is left of a grant, overdraft in use, the
 * burn order, and where a revoke stands. Read-only over state.ts.
 */

import { grantCellTotal, rightsAt, tenantCellAt } from './cells.js';
import { definedExpiresAt, definedPriority, isDefined } from './grant-terms.js';
import type { GrantId, OriginId } from './ids.js';
import { GRANT_SCAN_MAX } from './limits.js';
import { type RevokeRecord, type RevokeStanding, revokeKey } from './records.js';
import { GrantState, type LedgerState, type TenantState } from './state.js';

/** rights(origin) on `grant`, by origin id. */
export function rightsOf(state: LedgerState, grant: GrantState, origin: OriginId): number {
  const index = state.originIndex.get(origin);
  return index === undefined ? 0 : rightsAt(grant, index);
}

/** What is left of a grant over all origins: granted − debited + refunded − expired. */
export function grantRemaining(grant: GrantState): number {
  return (
    grantCellTotal(grant, 'granted') -
    grantCellTotal(grant, 'debited') +
    grantCellTotal(grant, 'refunded') -
    grantCellTotal(grant, 'expired')
  );
}

/** Overdraft of the origin with local index `index` not yet repaid or refunded. */
export function overdraftInUseAt(tenant: TenantState, index: number): number {
  return (
    tenantCellAt(tenant, index, 'overdrawn') -
    tenantCellAt(tenant, index, 'repaid') -
    tenantCellAt(tenant, index, 'overdraftRefunded')
  );
}

/**
 * Compares grants in burn order: priority, then earliest expiry (never-expiring last), then grant id.
 * Both grants must be defined.
 */
export function compareBurnOrder(a: GrantState, b: GrantState): number {
  // Terms read from the packed values: a sort compares each grant several times, and a definition
  // object per comparison was ~3 % of what a swarm worker allocates.
  const priorityA = definedPriority(a);
  const priorityB = definedPriority(b);
  if (priorityA !== priorityB) return priorityA - priorityB;
  const expiresA = definedExpiresAt(a);
  const expiresB = definedExpiresAt(b);
  if (expiresA !== expiresB) {
    if (expiresA === null) return 1;
    if (expiresB === null) return -1;
    return expiresA - expiresB;
  }
  const idA = a.grantId;
  const idB = b.grantId;
  return idA < idB ? -1 : idA > idB ? 1 : 0;
}

/**
 * The tenant's defined grants in burn order: sorted on each call while the tenant has at most
 * GRANT_SCAN_MAX grants (no cache to keep per tenant), cached until a definition changes beyond.
 */
export function burnOrder(tenant: TenantState): readonly GrantState[] {
  const cached = tenant.burnOrder;
  if (cached !== null) return cached;
  // Slot by slot, with no grant table view or iterator: this runs per decision.
  const ids = tenant.grantIds;
  const size = ids === null ? 0 : typeof ids === 'string' ? 1 : ids.length;
  // Arrays of their size (most tenants hold one grant): no spare room for 16 on every decision.
  let defined: GrantState[] | null = null;
  for (let slot = 0; slot < size; slot++) {
    const grant = new GrantState(tenant, slot);
    if (!isDefined(grant)) continue;
    if (defined === null) defined = [grant];
    else defined.push(grant);
  }
  if (defined === null) defined = [];
  else if (defined.length > 1) defined.sort(compareBurnOrder);
  if (size > GRANT_SCAN_MAX) tenant.burnOrder = defined;
  return defined;
}

/** True when `grant` is defined and not expired at `now` (it may be burnt). */
export function isLive(grant: GrantState, now: number): boolean {
  if (!isDefined(grant)) return false;
  const expiresAt = definedExpiresAt(grant);
  return expiresAt === null || now < expiresAt;
}

/** Where the revoke of `loser`'s definition of `grantId` stands; undefined before its first revoke. */
export function revokeStanding(
  tenant: TenantState,
  grantId: GrantId,
  loser: OriginId,
): RevokeStanding | undefined {
  const revokes = tenant.revokes?.get(revokeKey(grantId, loser));
  if (revokes === undefined || revokes.length === 0) return undefined;
  let charged = 0;
  for (const revoke of revokes) charged += revoke.amount;
  return { total: (revokes[0] as RevokeRecord).total, charged };
}
