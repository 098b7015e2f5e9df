/**
 * The balance figures as they were computed before `tenantFigures` scanned each grant once: per
 * origin, per grant, per cell, through the public lookups. A test oracle: the properties check that
 * the one-pass read gives the very same figures (values and key order) on every state they reach.
 */
import {
  type BalanceFigures,
  type BalanceOptions,
  balanceOf,
  GRANT_CELLS,
  type GrantFigures,
  grantAmount,
  grantCellAt,
  grantRemaining,
  isLive,
  type LedgerState,
  type OriginId,
  overdraftInUseAt,
  regionOf,
  rightsAt,
  TENANT_CELLS,
  tenantCellAt,
  tenantTotals,
} from '@allot/core';

export function referenceFigures(
  state: LedgerState,
  tenantId: string,
  options: BalanceOptions,
): BalanceFigures | undefined {
  const tenant = state.tenants.get(tenantId);
  if (tenant === undefined) return undefined;
  const totals = tenantTotals(tenant);
  const overdraft = options.overdraft ?? {};
  const regions: Record<string, { rights: number; overdraft: number; overdraftInUse: number }> = {};
  const regionEntry = (region: string) => {
    regions[region] ??= { rights: 0, overdraft: overdraft[region] ?? 0, overdraftInUse: 0 };
    return regions[region];
  };
  for (const region of options.regions ?? []) regionEntry(region);
  for (const region of Object.keys(overdraft)) regionEntry(region);
  state.origins.forEach((origin: OriginId, index: number) => {
    let touched = TENANT_CELLS.some((kind) => tenantCellAt(tenant, index, kind) !== 0);
    let rights = 0;
    for (const grant of tenant.grants.values()) {
      if (GRANT_CELLS.some((kind) => grantCellAt(grant, index, kind) !== 0)) touched = true;
      const share = rightsAt(grant, index);
      if (share !== 0) touched = true;
      rights += share;
    }
    if (!touched) return;
    const entry = regionEntry(regionOf(origin));
    entry.rights += rights;
    entry.overdraftInUse += overdraftInUseAt(tenant, index);
  });
  const grants: GrantFigures[] = [];
  for (const grant of [...tenant.grants.values()].sort((a, b) => (a.grantId < b.grantId ? -1 : 1))) {
    const remaining = grantRemaining(grant);
    grants.push({
      grantId: grant.grantId,
      amount: grantAmount(state, tenant, grant),
      remaining,
      priority: grant.definition?.priority ?? null,
      expiresAt: grant.definition?.expiresAt ?? null,
      status:
        grant.definition === null
          ? 'pending'
          : !isLive(grant, options.now)
            ? 'expired'
            : remaining <= 0
              ? 'exhausted'
              : 'active',
    });
  }
  return { tenant: tenantId, balance: balanceOf(totals), ...totals, regions, grants };
}

/** Null when `tenantFigures` equals the reference (as JSON text: values and key order), else both texts. */
export function figuresMismatch(
  actual: BalanceFigures | undefined,
  expected: BalanceFigures | undefined,
): string | null {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  return a === e ? null : `tenantFigures ${a}\nreference    ${e}`;
}
