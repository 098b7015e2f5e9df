/**
 * What an origin may spend (DESIGN.md §1, S2): its own live rights in burn order plus what is left
 * of its region's overdraft allowance. The arithmetic every decision that burns or moves shares.
 */
import { fitsSum } from './amount.js';
import { grantCellAt, rightsAt } from './cells.js';
import type { Part } from './events.js';
import { type OriginId, regionOf, type TenantId } from './ids.js';
import { burnOrder, isLive, overdraftInUseAt } from './standing.js';
import type { GrantState, LedgerState, TenantState } from './state.js';

/** The local index of `origin`, or -1 when the state has never heard of it (it holds nothing). */
export function indexOf(state: LedgerState, origin: OriginId): number {
  return state.originIndex.get(origin) ?? -1;
}

/** Σ rights of `index` over the grants it may burn at `now` (`order`: the tenant's burn order). */
export function liveRights(
  tenant: TenantState,
  index: number,
  now: number,
  order: readonly GrantState[] = burnOrder(tenant),
): number {
  if (index < 0) return 0;
  let total = 0;
  for (const grant of order) {
    if (!isLive(grant, now)) continue;
    const rights = rightsAt(grant, index);
    if (rights > 0) total += rights;
  }
  return total;
}

/** Takes up to `amount` from the live rights of `index`, in burn order (`order`, the tenant's). */
export function takeRights(
  tenant: TenantState,
  index: number,
  now: number,
  amount: number,
  order: readonly GrantState[] = burnOrder(tenant),
): Part[] {
  // Most debits burn one grant: the first part makes an array of one, not one with room for 16.
  let parts: Part[] | null = null;
  let left = amount;
  for (const grant of order) {
    if (left === 0) break;
    if (!isLive(grant, now)) continue;
    const rights = rightsAt(grant, index);
    if (rights <= 0) continue;
    const take = Math.min(rights, left);
    const part = { grantId: grant.grantId, amount: take };
    if (parts === null) parts = [part];
    else parts.push(part);
    left -= take;
  }
  return parts ?? [];
}

/** True when every part fits on top of the grant cell it adds to. */
export function partsFit(
  tenant: TenantState,
  index: number,
  parts: readonly Part[],
  kind: 'debited' | 'refunded',
): boolean {
  for (const part of parts) {
    const grant = tenant.grants.get(part.grantId);
    const before = grant === undefined || index < 0 ? 0 : grantCellAt(grant, index, kind);
    if (!fitsSum(before, part.amount)) return false;
  }
  return true;
}

/**
 * Overdraft of `origin`'s region for `tenant` counted as in use (DESIGN.md §1: the allowance is the
 * region's, not one incarnation's). The origin's own overdraft in use counts as it is. Every other
 * incarnation of the region known here is lost (one region runs one incarnation at a time) and
 * counts as having used its whole allowance `overdraftLimit`, or more if more is seen in use: a
 * lost disk may hold overdrafts nobody else ever saw, so catching up with peers cannot show them
 * (issue 16, swarm seed 102735). It stays used until an operator retires that incarnation; from
 * then on it counts as what it had in use when retired.
 * `tenant` may be undefined (nothing of it known here): a lost incarnation still counts.
 */
export function regionOverdraftInUse(
  state: LedgerState,
  tenant: TenantState | undefined,
  origin: OriginId,
  overdraftLimit: number,
): number {
  const region = regionOf(origin);
  let inUse = 0;
  const { origins } = state;
  for (let index = 0; index < origins.length; index++) {
    const other = origins[index] as OriginId;
    if (other !== origin && regionOf(other) !== region) continue;
    const seen = tenant === undefined ? 0 : Math.max(0, overdraftInUseAt(tenant, index));
    // A retired incarnation wrote nothing past its retired seq: what it has in use is all it used.
    inUse += other === origin || state.retired.has(other) ? seen : Math.max(seen, overdraftLimit);
  }
  return inUse;
}

/** What is left of the region's overdraft allowance for `origin` (see regionOverdraftInUse). */
export function overdraftHeadroom(
  state: LedgerState,
  tenant: TenantState | undefined,
  origin: OriginId,
  overdraftLimit: number,
): number {
  // No allowance leaves no headroom, whatever is in use (most tenants: no pass over the origins).
  if (overdraftLimit <= 0) return 0;
  return Math.max(0, overdraftLimit - regionOverdraftInUse(state, tenant, origin, overdraftLimit));
}

/**
 * Rights arriving at `origin` for `tenant` that repay overdraft before any of them can be spent:
 * a repay takes the origin's own overdraft in use from what arrives, and each unit repaid gives a
 * unit of headroom back only while the region's overdraft in use (`regionOverdraftInUse`) is
 * within `overdraftLimit`. So the first min(own in use, region in use − limit) units arriving pay
 * for nothing a debit here could use (0 when the region is within its allowance). Borrowing asks
 * for these too (issue 12, swarm seed 16071: a region 30 past a lowered allowance asked for the
 * 16 its debit of 8 needed, and the repay took all of it).
 */
export function rightsOwedToOverdraft(
  state: LedgerState,
  tenantId: TenantId,
  origin: OriginId,
  overdraftLimit = 0,
): number {
  const tenant = state.tenants.get(tenantId);
  const index = indexOf(state, origin);
  if (tenant === undefined || index < 0) return 0;
  const own = Math.max(0, overdraftInUseAt(tenant, index));
  if (own === 0) return 0;
  const past = regionOverdraftInUse(state, tenant, origin, overdraftLimit) - overdraftLimit;
  return Math.max(0, Math.min(own, past));
}

/**
 * What `origin` can spend for `tenant` at `now`: its live rights plus what is left of its overdraft
 * allowance. 0 for a tenant unknown here.
 */
export function availableAt(
  state: LedgerState,
  tenantId: TenantId,
  origin: OriginId,
  now: number,
  overdraftLimit = 0,
): number {
  const tenant = state.tenants.get(tenantId);
  const index = indexOf(state, origin);
  const headroom = overdraftHeadroom(state, tenant, origin, overdraftLimit);
  return tenant === undefined ? headroom : liveRights(tenant, index, now) + headroom;
}
