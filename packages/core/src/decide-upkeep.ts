/**
 * Decisions of an origin's upkeep of its own rights: moving them to another origin (rebalancing),
 * expiring what is left of expired grants, and repaying overdraft from rights received.
 */
import { fitsSum, isAmount } from './amount.js';
import { grantCellAt, movedAt, rightsAt, tenantCellAt } from './cells.js';
import {
  AMOUNT_LIMIT,
  type AmountLimitOutcome,
  type DecisionContext,
  type ForTenant,
  type InvalidRequestOutcome,
  invalid,
} from './decide-outcomes.js';
import { indexOf, liveRights, partsFit, takeRights } from './decide-rights.js';
import type { ExpireBody, MoveBody, RepayBody } from './events.js';
import { type GrantId, isOriginId, isTenantId, type OriginId, type TenantId } from './ids.js';
import { burnOrder, isLive, overdraftInUseAt } from './standing.js';
import type { GrantState, LedgerState } from './state.js';

/** A request to hand `amount` of the origin's rights for `tenant` to origin `to`. */
export interface MoveRequest {
  readonly tenant: TenantId;
  readonly to: OriginId;
  readonly amount: number;
}

/** The outcome of a move request. */
export type MoveDecision =
  | { readonly status: 'invalid'; readonly reason: 'move_to_self' }
  | InvalidRequestOutcome
  | { readonly status: 'declined'; readonly reason: 'insufficient_rights'; readonly available: number }
  | AmountLimitOutcome
  | { readonly status: 'accepted'; readonly body: ForTenant<MoveBody> };

/** Decides a move of rights: only from the origin's own live rights (never its overdraft). */
export function decideMove(state: LedgerState, ctx: DecisionContext, request: MoveRequest): MoveDecision {
  if (!isTenantId(request.tenant)) return invalid('tenant');
  if (!isOriginId(request.to)) return invalid('to');
  if (!isAmount(request.amount)) return invalid('amount');
  if (request.to === ctx.origin) return { status: 'invalid', reason: 'move_to_self' };
  // A retired incarnation never spends again: rights moved to it would be stranded.
  if (state.retired.has(request.to)) return invalid('to');
  const tenant = state.tenants.get(request.tenant);
  const index = indexOf(state, ctx.origin);
  const available = tenant === undefined ? 0 : liveRights(tenant, index, ctx.now);
  if (tenant === undefined || request.amount > available) {
    return { status: 'declined', reason: 'insufficient_rights', available };
  }
  const parts = takeRights(tenant, index, ctx.now, request.amount);
  const to = indexOf(state, request.to);
  for (const part of parts) {
    const grant = tenant.grants.get(part.grantId) as GrantState;
    if (to >= 0 && !fitsSum(movedAt(grant, index, to), part.amount)) return AMOUNT_LIMIT;
  }
  return { status: 'accepted', body: { kind: 'move', tenant: request.tenant, to: request.to, parts } };
}

/** Expiries the origin must append for `tenant` at `now`, and grants whose expired cell is full. */
export interface ExpireDecision {
  readonly bodies: ForTenant<ExpireBody>[];
  readonly limited: GrantId[];
}

/** What is left at the origin of each grant of `tenant` that has expired by `now`. */
export function decideExpire(state: LedgerState, ctx: DecisionContext, tenantId: TenantId): ExpireDecision {
  const bodies: ForTenant<ExpireBody>[] = [];
  const limited: GrantId[] = [];
  const tenant = state.tenants.get(tenantId);
  const index = indexOf(state, ctx.origin);
  if (tenant === undefined || index < 0) return { bodies, limited };
  for (const grant of burnOrder(tenant)) {
    if (isLive(grant, ctx.now)) continue;
    const rights = rightsAt(grant, index);
    if (rights <= 0) continue;
    if (!fitsSum(grantCellAt(grant, index, 'expired'), rights)) {
      limited.push(grant.grantId);
      continue;
    }
    bodies.push({ kind: 'expire', tenant: tenantId, grantId: grant.grantId, amount: rights });
  }
  return { bodies, limited };
}

/** The outcome of a repay check. */
export type RepayDecision =
  | { readonly status: 'none' }
  | AmountLimitOutcome
  | { readonly status: 'accepted'; readonly body: ForTenant<RepayBody> };

/** Pays back the origin's overdraft in use for `tenant` from the live rights it holds now. */
export function decideRepay(state: LedgerState, ctx: DecisionContext, tenantId: TenantId): RepayDecision {
  const tenant = state.tenants.get(tenantId);
  const index = indexOf(state, ctx.origin);
  if (tenant === undefined || index < 0) return { status: 'none' };
  const inUse = overdraftInUseAt(tenant, index);
  if (inUse <= 0) return { status: 'none' };
  const rights = liveRights(tenant, index, ctx.now);
  const amount = Math.min(inUse, rights);
  if (amount === 0) return { status: 'none' };
  const parts = takeRights(tenant, index, ctx.now, amount);
  if (!partsFit(tenant, index, parts, 'debited')) return AMOUNT_LIMIT;
  if (!fitsSum(tenantCellAt(tenant, index, 'repaid'), amount)) return AMOUNT_LIMIT;
  return { status: 'accepted', body: { kind: 'repay', tenant: tenantId, amount, parts } };
}
