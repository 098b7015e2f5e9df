/**
 * Holds (DESIGN.md §3): reserve credits now, settle later. A hold is decided exactly like a debit
 * (burn order, the origin's own rights, then its overdraft) and counted as held; it ends exactly
 * once, decided by an origin of the holding region: `capture` (a debit of at most the held amount,
 * the rest back to that origin's rights), or `release` when voided or past its expiry on the
 * holding region's clock. Pure functions of (state, origin, request, now), like decide.ts.
 */
import { fitsSum, isAmount } from './amount.js';
import { canonicalJson } from './canonical.js';
import { grantCellAt, tenantCellAt, tenantCellTotal } from './cells.js';
import { compareRecords, decideBurn } from './decide.js';
import type { DebitContext, DecisionContext } from './decide-outcomes.js';
import type { CaptureBody, HoldBody, Json, Part, ReleaseBody } from './events.js';
import { type DebitId, isKey, isTenantId, type OriginId, regionOf, type TenantId } from './ids.js';
import { keyIds } from './key-ids.js';
import { AMOUNT_MAX, HOLD_TTL_MS_MAX } from './limits.js';
import type { HoldRecord } from './records.js';
import { burnOrder, overdraftInUseAt } from './standing.js';
import type { LedgerState, TenantState } from './state.js';

/** A request to hold credits of a tenant for `ttlMs`. */
export interface HoldRequest {
  readonly tenant: TenantId;
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly ttlMs: number;
  readonly metadata: Json;
}

/** The outcome of a hold request, in order of precedence (as a debit's). */
export type HoldDecision =
  | { readonly status: 'replayed'; readonly hold: HoldRecord }
  | { readonly status: 'conflict'; readonly hold: HoldRecord }
  | {
      readonly status: 'declined';
      readonly reason: 'insufficient_credits';
      readonly requested: number;
      readonly available: number;
    }
  | { readonly status: 'rejected'; readonly reason: 'amount_limit'; readonly limit: number }
  | { readonly status: 'invalid'; readonly reason: 'invalid_request'; readonly detail: string }
  | { readonly status: 'accepted'; readonly body: HoldBody & { readonly tenant: TenantId } };

/** The holds recorded with `key` for the tenant, first one first. */
export function holdsWithKey(tenant: TenantState, key: string): HoldRecord[] {
  return keyIds(tenant.holdsByKey, key)
    .map((id) => tenant.holds?.get(id) as HoldRecord)
    .sort(compareRecords);
}

/** True when `hold` was recorded for exactly this request (amount, time to live, metadata). */
export function sameHoldRequest(hold: HoldRecord, request: HoldRequest): boolean {
  return (
    hold.amount === request.amount &&
    hold.expiresAt - hold.at === request.ttlMs &&
    canonicalJson(hold.metadata) === canonicalJson(request.metadata)
  );
}

/**
 * Decides a hold at `ctx.origin`: a known key replays or conflicts; otherwise the amount is burnt
 * exactly as decideDebit would burn it (the same parts and overdraft), or declined.
 */
export function decideHold(state: LedgerState, ctx: DebitContext, request: HoldRequest): HoldDecision {
  if (!isTenantId(request.tenant)) return { status: 'invalid', reason: 'invalid_request', detail: 'tenant' };
  if (!Number.isSafeInteger(request.ttlMs) || request.ttlMs < 1 || request.ttlMs > HOLD_TTL_MS_MAX)
    return { status: 'invalid', reason: 'invalid_request', detail: 'ttl' };
  const tenant = state.tenants.get(request.tenant);
  if (tenant !== undefined) {
    const [first] = holdsWithKey(tenant, request.idempotencyKey);
    if (first !== undefined)
      return sameHoldRequest(first, request)
        ? { status: 'replayed', hold: first }
        : { status: 'conflict', hold: first };
  }
  if (!isAmount(request.amount)) return { status: 'invalid', reason: 'invalid_request', detail: 'amount' };
  if (!isKey(request.idempotencyKey))
    return { status: 'invalid', reason: 'invalid_request', detail: 'idempotencyKey' };
  if (request.metadata === undefined)
    return { status: 'invalid', reason: 'invalid_request', detail: 'metadata' };
  // The debit rule: the same parts and overdraft a debit of this amount would take.
  const burn = decideBurn(state, ctx, request.tenant, request.amount);
  if (burn.status !== 'burn') return burn;
  if (tenant !== undefined) {
    const index = state.originIndex.get(ctx.origin);
    if (index !== undefined && !fitsSum(tenantCellAt(tenant, index, 'held'), request.amount))
      return { status: 'rejected', reason: 'amount_limit', limit: AMOUNT_MAX };
    if (!fitsSum(tenantCellTotal(tenant, 'held'), request.amount))
      return { status: 'rejected', reason: 'amount_limit', limit: AMOUNT_MAX };
  }
  return {
    status: 'accepted',
    body: {
      kind: 'hold',
      tenant: request.tenant,
      amount: request.amount,
      idempotencyKey: request.idempotencyKey,
      parts: burn.parts,
      overdraft: burn.overdraft,
      expiresAt: ctx.now + request.ttlMs,
      metadata: request.metadata,
    },
  };
}

/** A request to settle a hold: capture `amount` of it, or void it. */
export interface SettleRequest {
  readonly tenant: TenantId;
  readonly holdId: DebitId;
  readonly action: 'capture' | 'void';
  /** For a capture: what to debit, 1 ≤ amount ≤ the hold. */
  readonly amount?: number;
}

/** The outcome of a settle request, in order of precedence. */
export type SettleDecision =
  | { readonly status: 'not_found' }
  | { readonly status: 'wrong_region'; readonly region: string }
  | { readonly status: 'stranded'; readonly hold: HoldRecord }
  | { readonly status: 'replayed'; readonly hold: HoldRecord }
  | { readonly status: 'not_active'; readonly hold: HoldRecord }
  | { readonly status: 'expired'; readonly hold: HoldRecord }
  | { readonly status: 'exceeds_hold'; readonly requested: number; readonly held: number }
  | { readonly status: 'invalid'; readonly reason: 'invalid_request'; readonly detail: string }
  | {
      readonly status: 'accepted';
      readonly hold: HoldRecord;
      readonly body: (CaptureBody | ReleaseBody) & { readonly tenant: TenantId };
    };

/** The hold `holdId` of the tenant known here, or undefined. */
export function holdRecord(state: LedgerState, tenant: TenantId, holdId: DebitId): HoldRecord | undefined {
  return state.tenants.get(tenant)?.holds?.get(holdId);
}

/**
 * True when `hold` is stranded for `origin`: taken by another incarnation of `origin`'s region that
 * is not retired (a lost one, DESIGN.md §1). Its end is that incarnation's to decide, and its
 * lost tail may have decided it already: a capture or void it acknowledged and never replicated
 * returned the rest to its own rights, which its lost debits may have spent. Ending the hold again
 * here would put those credits in circulation twice (swarm seed 3912 with holds: the true balance
 * fell 758 below zero). So it stays held, like the lost incarnation's rights, until a `retire`
 * takes it over with the risk it reports; then this incarnation ends it as its own.
 */
export function holdStranded(state: LedgerState, origin: OriginId, hold: HoldRecord): boolean {
  return hold.origin !== origin && !state.retired.has(hold.origin);
}

/** True when a settle request repeats how `hold` ended (same action, same captured amount). */
function sameSettlement(hold: HoldRecord, request: SettleRequest): boolean {
  const end = hold.end;
  if (end === null) return false;
  if (request.action === 'void') return end.cause === 'void';
  return end.cause === 'capture' && end.captured === request.amount;
}

/**
 * Where `amount` released of `hold` goes at `ctx.origin`: its overdraft portion first clears the
 * origin's overdraft in use; what of it was repaid already (or taken by another incarnation)
 * returns to the tenant's last grant in burn order; then its parts, last-burnt first (as a refund).
 */
function releaseParts(
  state: LedgerState,
  tenant: TenantState,
  ctx: DecisionContext,
  hold: HoldRecord,
  amount: number,
): { parts: Part[]; overdraft: number } | null {
  const index = state.originIndex.get(ctx.origin);
  const overdraftPortion = Math.min(amount, hold.overdraft);
  const inUse = index !== undefined ? Math.max(0, overdraftInUseAt(tenant, index)) : 0;
  const cleared = Math.min(overdraftPortion, inUse);
  const credits = new Map<string, number>();
  const excess = overdraftPortion - cleared;
  if (excess > 0) {
    const order = burnOrder(tenant);
    const last = order[order.length - 1];
    if (last === undefined) return null;
    credits.set(last.grantId, excess);
  }
  let left = amount - overdraftPortion;
  for (let i = hold.parts.length - 1; i >= 0 && left > 0; i--) {
    const part = hold.parts[i] as Part;
    const take = Math.min(left, part.amount);
    credits.set(part.grantId, (credits.get(part.grantId) ?? 0) + take);
    left -= take;
  }
  const parts = [...credits].map(([grantId, credit]) => ({ grantId, amount: credit }));
  if (index !== undefined) {
    for (const part of parts) {
      const grant = tenant.grants.get(part.grantId);
      if (grant !== undefined && !fitsSum(grantCellAt(grant, index, 'refunded'), part.amount)) return null;
    }
  }
  return { parts, overdraft: cleared };
}

/**
 * Decides how a hold ends at `ctx.origin`: only an origin of the holding region settles it; a hold
 * ended already answers a replay of how it ended or `not_active`; one past its expiry is `expired`
 * (the caller releases it with decideHoldExpiries); a capture is at most the held amount. A hold of
 * a lost incarnation of the region not retired yet is `stranded` (holdStranded).
 */
export function decideSettle(
  state: LedgerState,
  ctx: DecisionContext,
  request: SettleRequest,
): SettleDecision {
  const tenant = state.tenants.get(request.tenant);
  const hold = tenant?.holds?.get(request.holdId);
  if (tenant === undefined || hold === undefined) return { status: 'not_found' };
  const region = regionOf(hold.origin);
  if (region !== regionOf(ctx.origin)) return { status: 'wrong_region', region };
  if (hold.end !== null)
    return sameSettlement(hold, request) ? { status: 'replayed', hold } : { status: 'not_active', hold };
  if (holdStranded(state, ctx.origin, hold)) return { status: 'stranded', hold };
  if (ctx.now >= hold.expiresAt) return { status: 'expired', hold };
  let captured = 0;
  if (request.action === 'capture') {
    if (!isAmount(request.amount)) return { status: 'invalid', reason: 'invalid_request', detail: 'amount' };
    if (request.amount > hold.amount)
      return { status: 'exceeds_hold', requested: request.amount, held: hold.amount };
    captured = request.amount;
  }
  const index = state.originIndex.get(ctx.origin);
  if (index !== undefined && !fitsSum(tenantCellAt(tenant, index, 'debited'), captured))
    return { status: 'invalid', reason: 'invalid_request', detail: 'amount limit' };
  const released = hold.amount - captured;
  const back = releaseParts(state, tenant, ctx, hold, released);
  if (back === null) return { status: 'invalid', reason: 'invalid_request', detail: 'nothing to credit' };
  const body: (CaptureBody | ReleaseBody) & { readonly tenant: TenantId } =
    request.action === 'capture'
      ? { kind: 'capture', tenant: request.tenant, holdId: hold.holdId, amount: captured, released, ...back }
      : {
          kind: 'release',
          tenant: request.tenant,
          holdId: hold.holdId,
          amount: released,
          cause: 'void',
          ...back,
        };
  return { status: 'accepted', hold, body };
}

/**
 * Releases of the tenant's active holds of `ctx.origin`'s region whose expiry has passed at
 * `ctx.now` (the holding region's clock), oldest first; not those stranded with a lost incarnation
 * (holdStranded), which wait for its retire.
 */
export function decideHoldExpiries(
  state: LedgerState,
  ctx: DecisionContext,
  tenantId: TenantId,
): (ReleaseBody & { readonly tenant: TenantId })[] {
  const tenant = state.tenants.get(tenantId);
  if (tenant?.holds === null || tenant?.holds === undefined) return [];
  const region = regionOf(ctx.origin);
  const out: (ReleaseBody & { readonly tenant: TenantId })[] = [];
  for (const hold of [...tenant.holds.values()].sort(compareRecords)) {
    if (hold.end !== null || hold.expiresAt > ctx.now || regionOf(hold.origin) !== region) continue;
    if (holdStranded(state, ctx.origin, hold)) continue;
    const back = releaseParts(state, tenant, ctx, hold, hold.amount);
    if (back === null) continue;
    out.push({
      kind: 'release',
      tenant: tenantId,
      holdId: hold.holdId,
      amount: hold.amount,
      cause: 'expiry',
      ...back,
    });
    break; // one at a time: the next is decided on the state this one leaves
  }
  return out;
}

/**
 * Credits the active holds of `origin` keep held across every tenant known here: what retiring it
 * (a lost incarnation) hands its successor to end, at expiry unless settled (holdStranded).
 */
export function heldByOrigin(state: LedgerState, origin: OriginId): number {
  let held = 0;
  for (const tenant of state.tenants.values())
    for (const hold of tenant.holds?.values() ?? [])
      if (hold.end === null && hold.origin === origin) held += hold.amount;
  return held;
}

/** Active holds of the tenant known here, oldest first. */
export function activeHolds(state: LedgerState, tenantId: TenantId): HoldRecord[] {
  const holds = state.tenants.get(tenantId)?.holds;
  if (holds === null || holds === undefined) return [];
  return [...holds.values()].filter((hold) => hold.end === null).sort(compareRecords);
}

/**
 * Credits of every hold of `tenantId` that has ended (captured or released), over every origin known
 * here; grows with each settlement (0 for a tenant not known here).
 */
export function holdsEndedOf(state: LedgerState, tenantId: TenantId): number {
  const tenant = state.tenants.get(tenantId);
  return tenant === undefined ? 0 : tenantCellTotal(tenant, 'heldSettled');
}

/** Credits held now by the tenant's active holds, over every origin known here. */
export function heldOf(tenant: TenantState): number {
  return tenantCellTotal(tenant, 'held') - tenantCellTotal(tenant, 'heldSettled');
}
