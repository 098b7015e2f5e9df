/**
 * Canonical encoding of a ledger state: the same state gives the same bytes at every replica,
 * whatever the arrival order of its events (origin ids, never local indices; sorted keys; zero
 * cells left out).
 */
import { type Canonical, canonicalBytes, canonicalJson } from './canonical.js';
import { GRANT_CELLS, TENANT_CELLS } from './cell-codes.js';
import { forEachMoved, forEachRetired, grantCellAt, tenantCellAt } from './cells.js';
import type { GrantState, LedgerState, TenantState } from './state.js';

function byKey<T>(entries: [string, T][]): [string, T][] {
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function grantCanonical(state: LedgerState, grant: GrantState): Canonical {
  const cells: Record<string, Canonical> = {};
  state.origins.forEach((origin, index) => {
    const row = GRANT_CELLS.map((kind) => grantCellAt(grant, index, kind));
    if (row.some((value) => value !== 0)) cells[origin] = row;
  });
  const moved: Record<string, number> = {};
  forEachMoved(grant, (from, to, value) => {
    moved[`${state.origins[from] as string}>${state.origins[to] as string}`] = value;
  });
  const canonical: Record<string, Canonical> = {
    grantId: grant.grantId,
    definition: grant.definition as Canonical,
    cells,
    moved,
  };
  const retired: Record<string, number> = {};
  forEachRetired(grant, (lost, current, value) => {
    retired[`${state.origins[lost] as string}>${state.origins[current] as string}`] = value;
  });
  // Only when there is one, so that states without retires keep their bytes.
  if (Object.keys(retired).length > 0) canonical.retired = retired;
  if (grant.others !== null) canonical.others = grant.others as unknown as Canonical;
  return canonical;
}

function tenantCanonical(state: LedgerState, tenant: TenantState): Canonical {
  const cells: Record<string, Canonical> = {};
  state.origins.forEach((origin, index) => {
    const row = TENANT_CELLS.map((kind) => tenantCellAt(tenant, index, kind));
    if (row.some((value) => value !== 0)) cells[origin] = row;
  });
  const canonical: Record<string, Canonical> = {
    tenant: tenant.tenant,
    grants: byKey([...tenant.grants]).map(([, grant]) => grantCanonical(state, grant)),
    cells,
    debits: byKey([...(tenant.debits ?? [])]).map(([, debit]) => debit as unknown as Canonical),
    refunds: byKey([...(tenant.refunds ?? [])]).map(([, refund]) => refund as unknown as Canonical),
  };
  if (tenant.holds !== null && tenant.holds.size > 0)
    canonical.holds = byKey([...tenant.holds]).map(([, hold]) => hold as unknown as Canonical);
  if (tenant.revokes !== null && tenant.revokes.size > 0)
    canonical.revokes = byKey([...tenant.revokes]).map(([, revokes]) => revokes as unknown as Canonical);
  return canonical;
}

/** The state as a canonical value. */
export function stateCanonical(state: LedgerState): Canonical {
  const canonical: Record<string, Canonical> = {
    versionVector: Object.fromEntries(byKey(Object.entries(state.versionVector))),
    tenants: byKey([...state.tenants]).map(([, tenant]) => tenantCanonical(state, tenant)),
  };
  if (state.retired.size > 0)
    canonical.retired = Object.fromEntries(
      byKey([...state.retired]).map(([origin, { by, through }]) => [origin, { by, through }]),
    );
  return canonical;
}

/** The canonical bytes of the state (equal states, equal bytes). */
export function encodeState(state: LedgerState): Uint8Array {
  return canonicalBytes(stateCanonical(state));
}

/** The canonical text of the state. */
export function stateText(state: LedgerState): string {
  return canonicalJson(stateCanonical(state));
}

/**
 * Every cell of the state by a stable name (`tenant/grant/origin/kind`, `tenant/origin/kind`,
 * `tenant/grant/from>to`), for checking that no cell ever decreases.
 */
export function cellEntries(state: LedgerState): Map<string, number> {
  const cells = new Map<string, number>();
  for (const [tenantId, tenant] of state.tenants) {
    state.origins.forEach((origin, index) => {
      for (const kind of TENANT_CELLS)
        cells.set(`${tenantId}/${origin}/${kind}`, tenantCellAt(tenant, index, kind));
    });
    for (const [grantId, grant] of tenant.grants) {
      state.origins.forEach((origin, index) => {
        for (const kind of GRANT_CELLS) {
          cells.set(`${tenantId}/${grantId}/${origin}/${kind}`, grantCellAt(grant, index, kind));
        }
      });
      forEachMoved(grant, (from, to, value) => {
        cells.set(
          `${tenantId}/${grantId}/${state.origins[from] as string}>${state.origins[to] as string}`,
          value,
        );
      });
      forEachRetired(grant, (lost, current, value) => {
        cells.set(
          `${tenantId}/${grantId}/${state.origins[lost] as string}=>${state.origins[current] as string}`,
          value,
        );
      });
    }
  }
  return cells;
}
