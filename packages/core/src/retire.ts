/**
 * Retiring a lost incarnation (DESIGN.md §1 "Origins and incarnations"): what of one tenant a
 * `retire` event takes over, and who may write one. Pure reads of the ledger state.
 */

import { rightsAt } from './cells.js';
import type { Part } from './events.js';
import { type OriginId, regionOf, type TenantId } from './ids.js';
import { PARTS_MAX } from './limits.js';
import { overdraftInUseAt } from './standing.js';
import type { LedgerState } from './state.js';

/** What retiring `lost` takes over of one tenant, as this state folds it. */
export interface RetireFigures {
  readonly tenant: TenantId;
  /** The lost incarnation's positive rights per grant (grant id order), in events of ≤ PARTS_MAX parts. */
  readonly parts: readonly (readonly Part[])[];
  /** Σ of the parts: the rights that move. */
  readonly rights: number;
  /** Its overdraft in use as folded here: what it counts for from then on, instead of its allowance. */
  readonly overdraftInUse: number;
}

/** Why `current` may not retire `lost`, or null when it may (a lost incarnation of its own region). */
export function retireProblem(current: OriginId, lost: OriginId): string | null {
  if (lost === current) return 'an origin cannot retire itself';
  if (regionOf(lost) !== regionOf(current))
    return `${lost} is an incarnation of region ${regionOf(lost)}; only its own region retires it`;
  return null;
}

/**
 * What retiring `lost` takes over of `tenant` here: every grant's positive rights of `lost` (its
 * granted credits, pending moves to it, what it received and did not spend), null when the tenant
 * is unknown here or `lost` holds nothing of it and has no overdraft in use.
 */
export function retireFigures(state: LedgerState, tenant: TenantId, lost: OriginId): RetireFigures | null {
  const ledger = state.tenants.get(tenant);
  const index = state.originIndex.get(lost);
  if (ledger === undefined || index === undefined) return null;
  const all: Part[] = [];
  let rights = 0;
  for (const grant of ledger.grants.values()) {
    const amount = rightsAt(grant, index);
    if (amount > 0) {
      all.push({ grantId: grant.grantId, amount });
      rights += amount;
    }
  }
  all.sort((a, b) => (a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0));
  const overdraftInUse = Math.max(0, overdraftInUseAt(ledger, index));
  if (all.length === 0 && overdraftInUse === 0) return null;
  const parts: Part[][] = [];
  for (let from = 0; from < all.length; from += PARTS_MAX) parts.push(all.slice(from, from + PARTS_MAX));
  return { tenant, parts, rights, overdraftInUse };
}

/** Σ over tenants and grants of the positive rights `lost` holds here: what a retire would move. */
export function strandedTotal(state: LedgerState, lost: OriginId): number {
  const index = state.originIndex.get(lost);
  if (index === undefined) return 0;
  let total = 0;
  for (const ledger of state.tenants.values())
    for (const grant of ledger.grants.values()) total += Math.max(0, rightsAt(grant, index));
  return total;
}
