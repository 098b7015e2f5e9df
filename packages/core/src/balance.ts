/** Balance figures of a tenant, exactly as API.md's balance response needs them. */
import { invariant } from './amount.js';
import {
  type GrantTotals,
  grantCellAt,
  grantCellTotal,
  markTenantCells,
  scanGrant,
  tenantSums,
} from './cells.js';
import { definedExpiresAt, definedPriority, isDefined } from './grant-terms.js';
import type { GrantId, OriginId, RegionId, TenantId } from './ids.js';
import { regionOf } from './ids.js';
import { revokeKey } from './records.js';
import { isLive, overdraftInUseAt } from './standing.js';
import type { GrantState, LedgerState, TenantState } from './state.js';

/** Where a grant stands at a replica's clock. */
export type GrantStatus = 'active' | 'exhausted' | 'expired' | 'pending';

/** One grant of a balance. `pending`: other origins' events name it, its grant event is not here yet. */
export interface GrantFigures {
  readonly grantId: GrantId;
  /** Credits granted (Σ granted cells). */
  readonly amount: number;
  readonly remaining: number;
  readonly priority: number | null;
  readonly expiresAt: number | null;
  readonly status: GrantStatus;
}

/** One region's share of a tenant: rights it holds, overdraft allowed, overdraft in use. */
export interface RegionFigures {
  readonly rights: number;
  readonly overdraft: number;
  readonly overdraftInUse: number;
}

/** A tenant's merged balance as known at one replica. */
export interface BalanceFigures {
  readonly tenant: TenantId;
  readonly balance: number;
  readonly granted: number;
  readonly debited: number;
  readonly refunded: number;
  readonly expired: number;
  /** Credits reserved by active holds (not in `balance`, not yet debited). */
  readonly held: number;
  readonly regions: Record<RegionId, RegionFigures>;
  readonly grants: GrantFigures[];
}

/** Options of a balance read: the replica's clock and the overdraft allowed per region. */
export interface BalanceOptions {
  readonly now: number;
  readonly overdraft?: Readonly<Record<RegionId, number>>;
  /** Regions to show even when they hold nothing for the tenant (e.g. the local one). */
  readonly regions?: readonly RegionId[];
}

function grantStatus(grant: GrantState, remaining: number, now: number): GrantStatus {
  if (!isDefined(grant)) return 'pending';
  if (!isLive(grant, now)) return 'expired';
  return remaining <= 0 ? 'exhausted' : 'active';
}

/** Figures of one tenant's balance; undefined when nothing of the tenant is known here. */
export function tenantFigures(
  state: LedgerState,
  tenantId: TenantId,
  options: BalanceOptions,
): BalanceFigures | undefined {
  const tenant = state.tenants.get(tenantId);
  if (tenant === undefined) return undefined;
  const totals = tenantTotals(tenant);
  const overdraft = options.overdraft ?? {};
  const regions: Record<RegionId, { rights: number; overdraft: number; overdraftInUse: number }> = {};
  const regionEntry = (region: RegionId) => {
    regions[region] ??= { rights: 0, overdraft: overdraft[region] ?? 0, overdraftInUse: 0 };
    return regions[region];
  };
  for (const region of options.regions ?? []) regionEntry(region);
  for (const region of Object.keys(overdraft)) regionEntry(region);
  // One pass over each grant's slot and over the tenant's own cells: the rights each origin holds
  // and whether it shows up (it wrote a cell of this tenant or holds rights of it; cell arrays are
  // zero-padded, so their length says nothing: figures must not depend on arrival order).
  const originCount = state.origins.length;
  const rights: number[] = new Array(originCount).fill(0);
  const touched = new Uint8Array(originCount);
  markTenantCells(tenant, touched);
  const grantTotals = new Map<GrantId, GrantTotals>();
  for (const grant of tenant.grants.values())
    grantTotals.set(grant.grantId, scanGrant(grant, rights, touched));
  let inUseTotal = 0;
  for (let index = 0; index < originCount; index++) {
    if (touched[index] === 0) continue;
    const entry = regionEntry(regionOf(state.origins[index] as OriginId));
    const inUse = overdraftInUseAt(tenant, index);
    entry.rights += rights[index] as number;
    entry.overdraftInUse += inUse;
    inUseTotal += inUse;
  }
  const grants: GrantFigures[] = [];
  let remainingTotal = 0;
  for (const grant of [...tenant.grants.values()].sort((a, b) => (a.grantId < b.grantId ? -1 : 1))) {
    const cells = grantTotals.get(grant.grantId) as GrantTotals;
    // grantRemaining's formula, from the same sums.
    const remaining = cells.granted - cells.debited + cells.refunded - cells.expired;
    remainingTotal += remaining;
    grants.push({
      grantId: grant.grantId,
      amount: grantAmountFrom(state, tenant, grant, cells.granted),
      remaining,
      priority: isDefined(grant) ? definedPriority(grant) : null,
      expiresAt: isDefined(grant) ? definedExpiresAt(grant) : null,
      status: grantStatus(grant, remaining, options.now),
    });
  }
  const balance = balanceOf(totals);
  // Two bookkeepings of one ledger: per grant (cells) and per tenant (client-facing totals).
  invariant(
    balance === remainingTotal - inUseTotal,
    `tenant ${tenantId}: balance ${balance} ≠ Σ remaining ${remainingTotal} − overdraft in use ${inUseTotal}`,
  );
  return { tenant: tenantId, balance, ...totals, regions, grants };
}

/**
 * Credits of `grant`: Σ of its granted cells less those of definitions revoked as duplicates
 * (a grant id counts once once its duplicates are revoked).
 */
export function grantAmount(state: LedgerState, tenant: TenantState, grant: GrantState): number {
  return grantAmountFrom(state, tenant, grant, grantCellTotal(grant, 'granted'));
}

/** grantAmount from the grant's granted cells summed over origins (`granted`). */
function grantAmountFrom(
  state: LedgerState,
  tenant: TenantState,
  grant: GrantState,
  granted: number,
): number {
  let amount = granted;
  for (const other of grant.others ?? []) {
    if (tenant.revokes?.has(revokeKey(grant.grantId, other.origin)) !== true) continue;
    const index = state.originIndex.get(other.origin);
    if (index !== undefined) amount -= grantCellAt(grant, index, 'granted');
  }
  return amount;
}

/**
 * The tenant's totals over every origin known here. `granted` counts each grant event less what
 * revokes of duplicate grant ids charged (what a revoke could not charge stays granted: it is
 * written off, never taken below −Σ overdraft), so balance = granted − debited + refunded − expired
 * − held. `debited` counts captured holds; `held` is what active holds reserve.
 */
export function tenantTotals(tenant: TenantState): {
  granted: number;
  debited: number;
  refunded: number;
  expired: number;
  held: number;
} {
  const sums = tenantSums(tenant);
  return {
    granted: sums.granted - sums.revoked,
    debited: sums.debited,
    refunded: sums.refunded,
    expired: sums.expired,
    held: sums.held - sums.heldSettled,
  };
}

/** The merged balance of a tenant (granted − debited + refunded − expired); 0 when unknown. */
export function tenantBalance(state: LedgerState, tenantId: TenantId): number {
  const tenant = state.tenants.get(tenantId);
  if (tenant === undefined) return 0;
  return balanceOf(tenantTotals(tenant));
}

/** The balance formula, the one place it is written: granted − debited + refunded − expired − held. */
export function balanceOf(totals: {
  readonly granted: number;
  readonly debited: number;
  readonly refunded: number;
  readonly expired: number;
  readonly held?: number;
}): number {
  return totals.granted - totals.debited + totals.refunded - totals.expired - (totals.held ?? 0);
}

/** The tenant's totals and balance; undefined when nothing of the tenant is known here. */
export function tenantTotalsOf(
  state: LedgerState,
  tenantId: TenantId,
):
  | { granted: number; debited: number; refunded: number; expired: number; held: number; balance: number }
  | undefined {
  const tenant = state.tenants.get(tenantId);
  if (tenant === undefined) return undefined;
  const totals = tenantTotals(tenant);
  return { ...totals, balance: balanceOf(totals) };
}
