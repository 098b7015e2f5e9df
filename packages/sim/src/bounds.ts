/** Overdraft bounds of a tenant, from its scenario spec: what S1 and S2 allow beyond rights. */
import type { TenantSpec } from './api.js';

/** The largest overdraft `region` is ever allowed for the tenant (its initial policy or a later change). */
export function regionOverdraftMax(spec: TenantSpec | undefined, region: string): number {
  let largest = spec?.overdraft?.[region] ?? 0;
  for (const change of spec?.policyChanges ?? []) largest = Math.max(largest, change.overdraft[region] ?? 0);
  return largest;
}

/** Σ over regions of the largest overdraft each is ever allowed for the tenant: S1's bound. */
export function overdraftBound(spec: TenantSpec): number {
  const regions = new Set([
    ...Object.keys(spec.overdraft ?? {}),
    ...(spec.policyChanges ?? []).flatMap((change) => Object.keys(change.overdraft)),
  ]);
  let total = 0;
  for (const region of regions) total += regionOverdraftMax(spec, region);
  return total;
}
