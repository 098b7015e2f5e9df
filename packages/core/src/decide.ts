/**
 * Decisions: pure functions of (state, origin, request, now) that say what an origin may append.
 * They never throw for a business outcome and never mutate the state: the caller appends the
 * returned body to the origin's log and folds it. An origin spends only its own rights plus its
 * overdraft allowance (S2), which is what keeps every tenant's balance ≥ −Σ overdraft (S1).
 */
import { fitsSum, isAmount } from './amount.js';
import { canonicalJson } from './canonical.js';
import type {
  DebitBody,
  ExpireBody,
  GrantBody,
  Json,
  MoveBody,
  Part,
  RefundBody,
  RepayBody,
  RevokeBody,
} from './events.js';
import {
  type DebitId,
  type GrantId,
  isKey,
  isOriginId,
  isTenantId,
  type OriginId,
  regionOf,
  type TenantId,
} from './ids.js';
import { debitById, debitsOfKey, refundsOfKey } from './keyed-records.js';
import { AMOUNT_MAX, GRANTS_PER_TENANT_MAX, PRIORITY_MAX, PRIORITY_MIN, TIME_MS_MAX } from './limits.js';
import { NOTHING_RECALLED, type Recalled } from './record-window.js';
import type { DebitRecord, RefundRecord } from './records.js';
import { burnOrder, isLive, overdraftInUseAt, revokeStanding } from './standing.js';
import {
  type GrantDefinition,
  type GrantState,
  grantCellAt,
  grantCellTotal,
  type LedgerState,
  movedAt,
  rightsAt,
  type TenantState,
  tenantCellAt,
  tenantCellTotal,
} from './state.js';

/** Who decides and when: the deciding origin and its clock (integer ms since the epoch). */
export interface DecisionContext {
  readonly origin: OriginId;
  readonly now: number;
}

/** A cumulative cell would pass 2^53 − 1: the request is refused and nothing changes. */
export interface AmountLimitOutcome {
  readonly status: 'rejected';
  readonly reason: 'amount_limit';
  readonly limit: number;
}

const AMOUNT_LIMIT: AmountLimitOutcome = { status: 'rejected', reason: 'amount_limit', limit: AMOUNT_MAX };

/**
 * A request whose fields are out of the model's domain (the API validates first; a decision still
 * refuses, so that nothing malformed can reach the log, where the fold would reject it).
 */
export interface InvalidRequestOutcome {
  readonly status: 'invalid';
  readonly reason: 'invalid_request';
  readonly detail: string;
}

function invalid(detail: string): InvalidRequestOutcome {
  return { status: 'invalid', reason: 'invalid_request', detail };
}

/** A body for `tenant`'s log entry. */
type ForTenant<T> = T & { readonly tenant: TenantId };

// ---------------------------------------------------------------------------------------------
// Shared arithmetic

/** The local index of `origin`, or -1 when the state has never heard of it (it holds nothing). */
function indexOf(state: LedgerState, origin: OriginId): number {
  return state.originIndex.get(origin) ?? -1;
}

/** Σ rights of `index` over the grants it may burn at `now`. */
function liveRights(tenant: TenantState, index: number, now: number): number {
  if (index < 0) return 0;
  let total = 0;
  for (const grant of burnOrder(tenant)) {
    if (!isLive(grant, now)) continue;
    const rights = rightsAt(grant, index);
    if (rights > 0) total += rights;
  }
  return total;
}

/** Takes up to `amount` from the live rights of `index`, in burn order. */
function takeRights(tenant: TenantState, index: number, now: number, amount: number): Part[] {
  const parts: Part[] = [];
  let left = amount;
  for (const grant of burnOrder(tenant)) {
    if (left === 0) break;
    if (!isLive(grant, now)) continue;
    const rights = rightsAt(grant, index);
    if (rights <= 0) continue;
    const take = Math.min(rights, left);
    parts.push({ grantId: grant.grantId, amount: take });
    left -= take;
  }
  return parts;
}

/** True when every part fits on top of the grant cell it adds to. */
function partsFit(
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
  state.origins.forEach((other, index) => {
    if (other !== origin && regionOf(other) !== region) return;
    const seen = tenant === undefined ? 0 : Math.max(0, overdraftInUseAt(tenant, index));
    // A retired incarnation wrote nothing past its retired seq: what it has in use is all it used.
    inUse += other === origin || state.retired.has(other) ? seen : Math.max(seen, overdraftLimit);
  });
  return inUse;
}

/** What is left of the region's overdraft allowance for `origin` (see regionOverdraftInUse). */
function overdraftHeadroom(
  state: LedgerState,
  tenant: TenantState | undefined,
  origin: OriginId,
  overdraftLimit: number,
): number {
  return Math.max(0, overdraftLimit - regionOverdraftInUse(state, tenant, origin, overdraftLimit));
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

// ---------------------------------------------------------------------------------------------
// Grant

/** A request to create a grant. */
export interface GrantRequest {
  readonly tenant: TenantId;
  readonly grantId: GrantId;
  readonly amount: number;
  readonly priority: number;
  readonly expiresAt: number | null;
}

/** The outcome of a grant request, in order of precedence. */
export type GrantDecision =
  | { readonly status: 'replayed'; readonly definition: GrantDefinition }
  | { readonly status: 'conflict'; readonly definition: GrantDefinition | null }
  | InvalidRequestOutcome
  | { readonly status: 'invalid'; readonly reason: 'expires_in_past' }
  | { readonly status: 'rejected'; readonly reason: 'grant_limit'; readonly limit: number }
  | AmountLimitOutcome
  | { readonly status: 'accepted'; readonly body: ForTenant<GrantBody> };

/** Decides a new grant at `ctx.origin`: credits created there, as that origin's rights. */
export function decideGrant(state: LedgerState, ctx: DecisionContext, request: GrantRequest): GrantDecision {
  if (!isTenantId(request.tenant)) return invalid('tenant');
  if (!isKey(request.grantId)) return invalid('grantId');
  if (!isAmount(request.amount)) return invalid('amount');
  if (
    !Number.isSafeInteger(request.priority) ||
    request.priority < PRIORITY_MIN ||
    request.priority > PRIORITY_MAX
  ) {
    return invalid('priority');
  }
  if (
    request.expiresAt !== null &&
    (!Number.isSafeInteger(request.expiresAt) || request.expiresAt < 0 || request.expiresAt > TIME_MS_MAX)
  ) {
    return invalid('expiresAt');
  }
  const tenant = state.tenants.get(request.tenant);
  const existing = tenant?.grants.get(request.grantId);
  if (existing !== undefined) {
    const known = existing.definition;
    // A grant seen only through other origins' events is defined elsewhere: reusing its id here
    // would count its credits twice.
    if (known === null) return { status: 'conflict', definition: null };
    // A replay of the winning definition, or of a duplicate accepted across a partition (revoked
    // after the merge), answers the winner: the grant id stands for one grant.
    const same = (definition: GrantDefinition) =>
      definition.amount === request.amount &&
      definition.priority === request.priority &&
      definition.expiresAt === request.expiresAt;
    return same(known) || (existing.others ?? []).some(same)
      ? { status: 'replayed', definition: known }
      : { status: 'conflict', definition: known };
  }
  if (request.expiresAt !== null && request.expiresAt <= ctx.now) {
    return { status: 'invalid', reason: 'expires_in_past' };
  }
  if (tenant !== undefined) {
    if (tenant.grants.size >= GRANTS_PER_TENANT_MAX) {
      return { status: 'rejected', reason: 'grant_limit', limit: GRANTS_PER_TENANT_MAX };
    }
    let granted = 0;
    for (const grant of tenant.grants.values()) granted += grantCellTotal(grant, 'granted');
    if (!fitsSum(granted, request.amount)) return AMOUNT_LIMIT;
  }
  return {
    status: 'accepted',
    body: {
      kind: 'grant',
      tenant: request.tenant,
      grantId: request.grantId,
      amount: request.amount,
      priority: request.priority,
      expiresAt: request.expiresAt,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Debit

/** A request to debit a tenant. */
export interface DebitRequest {
  readonly tenant: TenantId;
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly metadata: Json;
}

/** The deciding origin, its clock, and the overdraft the tenant's policy allows it. */
export interface DebitContext extends DecisionContext {
  readonly overdraftLimit: number;
}

/**
 * Records off the heap (a record window, issue 18) that the decision needs before it can answer:
 * the caller reads these debit or refund ids back from its log and decides again with them.
 */
export interface RecallOutcome {
  readonly status: 'recall';
  readonly ids: readonly string[];
}

/** The outcome of a debit request, in order of precedence. */
export type DebitDecision =
  | RecallOutcome
  | { readonly status: 'replayed'; readonly debit: DebitRecord }
  | { readonly status: 'conflict'; readonly debit: DebitRecord }
  | {
      readonly status: 'declined';
      readonly reason: 'insufficient_credits';
      readonly requested: number;
      readonly available: number;
    }
  | AmountLimitOutcome
  | InvalidRequestOutcome
  | { readonly status: 'accepted'; readonly body: ForTenant<DebitBody> };

/** True when `debit` was recorded for exactly this request (same amount and metadata). */
export function sameDebitRequest(debit: DebitRecord, request: DebitRequest): boolean {
  return debit.amount === request.amount && canonicalJson(debit.metadata) === canonicalJson(request.metadata);
}

/**
 * Orders debits (and refunds) of one idempotency key the same way at every replica: by the origin's
 * time, then origin id, then seq. The first is the effective one; later ones are duplicates.
 */
export function compareRecords(
  a: { readonly at: number; readonly origin: OriginId; readonly seq: number },
  b: { readonly at: number; readonly origin: OriginId; readonly seq: number },
): number {
  if (a.at !== b.at) return a.at - b.at;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  return a.seq - b.seq;
}

/**
 * The debits recorded with `key` for the tenant, first (effective) one first: those in memory and
 * those `recalled` (with a record window, see debitsOfKey for the ids still to recall).
 */
export function debitsWithKey(
  tenant: TenantState,
  key: string,
  recalled: Recalled = NOTHING_RECALLED,
): DebitRecord[] {
  return debitsOfKey(tenant, key, recalled).records;
}

/**
 * Decides a debit at `ctx.origin`: a known idempotency key replays or conflicts; otherwise the
 * amount burns the origin's own live rights in burn order, then its overdraft, or is declined.
 */
export function decideDebit(
  state: LedgerState,
  ctx: DebitContext,
  request: DebitRequest,
  recalled: Recalled = NOTHING_RECALLED,
): DebitDecision {
  if (!isTenantId(request.tenant)) return invalid('tenant');
  if (!isAmount(request.amount)) return invalid('amount');
  if (!isKey(request.idempotencyKey)) return invalid('idempotencyKey');
  if (request.metadata === undefined) return invalid('metadata');
  const tenant = state.tenants.get(request.tenant);
  if (tenant !== undefined) {
    const found = debitsOfKey(tenant, request.idempotencyKey, recalled);
    if (found.recall.length > 0) return { status: 'recall', ids: found.recall };
    const [first] = found.records;
    if (first !== undefined) {
      return sameDebitRequest(first, request)
        ? { status: 'replayed', debit: first }
        : { status: 'conflict', debit: first };
    }
  }
  const burn = decideBurn(state, ctx, request.tenant, request.amount);
  if (burn.status !== 'burn') return burn;
  return {
    status: 'accepted',
    body: {
      kind: 'debit',
      tenant: request.tenant,
      amount: request.amount,
      idempotencyKey: request.idempotencyKey,
      parts: burn.parts,
      overdraft: burn.overdraft,
      metadata: request.metadata,
    },
  };
}

/** What a debit (or hold) of some amount burns at an origin, or why it cannot. */
export type BurnDecision =
  | {
      readonly status: 'declined';
      readonly reason: 'insufficient_credits';
      readonly requested: number;
      readonly available: number;
    }
  | AmountLimitOutcome
  | { readonly status: 'burn'; readonly parts: Part[]; readonly overdraft: number };

/**
 * The debit rule (DESIGN.md §1): `amount` burns the origin's own live rights in burn order, then
 * its overdraft headroom, or is declined. Shared by debits and holds.
 */
export function decideBurn(
  state: LedgerState,
  ctx: DebitContext,
  tenantId: TenantId,
  amount: number,
): BurnDecision {
  const tenant = state.tenants.get(tenantId);
  const index = indexOf(state, ctx.origin);
  const rights = tenant === undefined ? 0 : liveRights(tenant, index, ctx.now);
  const headroom = overdraftHeadroom(state, tenant, ctx.origin, ctx.overdraftLimit);
  const available = rights + headroom;
  if (amount > available) {
    return { status: 'declined', reason: 'insufficient_credits', requested: amount, available };
  }
  const parts = tenant === undefined ? [] : takeRights(tenant, index, ctx.now, Math.min(rights, amount));
  const overdraft = amount - Math.min(rights, amount);
  if (tenant !== undefined) {
    // Tenant-wide totals are checked even for an origin that never wrote here (its cells are 0).
    if (!fitsSum(tenantCellTotal(tenant, 'debited'), amount)) return AMOUNT_LIMIT;
    if (index >= 0) {
      if (!partsFit(tenant, index, parts, 'debited')) return AMOUNT_LIMIT;
      if (!fitsSum(tenantCellAt(tenant, index, 'debited'), amount)) return AMOUNT_LIMIT;
      if (!fitsSum(tenantCellAt(tenant, index, 'overdrawn'), overdraft)) return AMOUNT_LIMIT;
    }
  }
  return { status: 'burn', parts, overdraft };
}

// ---------------------------------------------------------------------------------------------
// Refund

/** A request to refund a debit, all that is left of it when `amount` is absent. */
export interface RefundRequest {
  readonly tenant: TenantId;
  readonly debitId: DebitId;
  readonly amount?: number | undefined;
  readonly idempotencyKey: string;
}

/** The outcome of a refund request, in order of precedence. */
export type RefundDecision =
  | RecallOutcome
  | { readonly status: 'replayed'; readonly refund: RefundRecord }
  | { readonly status: 'conflict'; readonly refund: RefundRecord }
  | { readonly status: 'not_found' }
  | { readonly status: 'wrong_region'; readonly region: string }
  | {
      readonly status: 'exceeds_debit';
      readonly requested: number;
      readonly refundable: number;
      readonly debit: DebitRecord;
    }
  | { readonly status: 'rejected'; readonly reason: 'nothing_to_credit' }
  | AmountLimitOutcome
  | InvalidRequestOutcome
  | { readonly status: 'accepted'; readonly body: ForTenant<RefundBody>; readonly debit: DebitRecord };

/** What is still refundable of `debit`, given the refunds known in `tenant`. */
export function refundableOf(tenant: TenantState, debit: DebitRecord): number {
  return debit.amount - (tenant.refundedByDebit?.get(debit.debitId) ?? 0);
}

/** The refunds recorded with `key` for the tenant, first one first (in memory and `recalled`). */
export function refundsWithKey(
  tenant: TenantState,
  key: string,
  recalled: Recalled = NOTHING_RECALLED,
): RefundRecord[] {
  return refundsOfKey(tenant, key, recalled).records;
}

/**
 * Where the refunded range [from, from + amount) of a debit goes. A debit's credits are given
 * back in a fixed order: its grant parts last-burnt first, then its overdraft portion. Each
 * refund takes the next range, so two refunds of one debit never return the same credit twice.
 */
function refundRanges(
  debit: DebitRecord,
  from: number,
  amount: number,
): { parts: Part[]; overdraft: number } {
  const to = from + amount;
  const parts: Part[] = [];
  let cursor = 0;
  for (let i = debit.parts.length - 1; i >= 0; i--) {
    const part = debit.parts[i] as Part;
    const overlap = Math.min(to, cursor + part.amount) - Math.max(from, cursor);
    if (overlap > 0) parts.push({ grantId: part.grantId, amount: overlap });
    cursor += part.amount;
  }
  const overdraft = Math.max(0, Math.min(to, cursor + debit.overdraft) - Math.max(from, cursor));
  return { parts, overdraft };
}

/**
 * Decides a refund at `ctx.origin`. Only the debit's region refunds it (one serializer, so refunds
 * never add up past the debit). Credits return to the grants the debit burnt; its overdraft
 * portion clears the origin's overdraft in use, and what of it was repaid already returns to the
 * tenant's last grant in burn order (the repay burnt grant rights for it).
 */
export function decideRefund(
  state: LedgerState,
  ctx: DecisionContext,
  request: RefundRequest,
  recalled: Recalled = NOTHING_RECALLED,
): RefundDecision {
  const tenant = state.tenants.get(request.tenant);
  if (tenant === undefined) return { status: 'not_found' };
  const refunds = refundsOfKey(tenant, request.idempotencyKey, recalled);
  const found = debitById(tenant, request.debitId, recalled);
  const recall = [...refunds.recall, ...found.recall];
  if (recall.length > 0) return { status: 'recall', ids: recall };
  const [previous] = refunds.records;
  if (previous !== undefined) {
    const same =
      previous.debitId === request.debitId &&
      (request.amount === undefined || request.amount === previous.amount);
    return same ? { status: 'replayed', refund: previous } : { status: 'conflict', refund: previous };
  }
  const debit = found.debit;
  if (debit === undefined) return { status: 'not_found' };
  const region = regionOf(debit.origin);
  if (region !== regionOf(ctx.origin)) return { status: 'wrong_region', region };
  const refundable = refundableOf(tenant, debit);
  const amount = request.amount ?? refundable;
  if (amount > refundable || amount === 0) {
    return { status: 'exceeds_debit', requested: amount, refundable, debit };
  }
  const index = indexOf(state, ctx.origin);
  const ranges = refundRanges(debit, debit.amount - refundable, amount);
  const inUse = index >= 0 && ctx.origin === debit.origin ? overdraftInUseAt(tenant, index) : 0;
  const cleared = Math.min(ranges.overdraft, inUse);
  const credits = new Map<GrantId, number>();
  for (const part of ranges.parts) credits.set(part.grantId, (credits.get(part.grantId) ?? 0) + part.amount);
  const excess = ranges.overdraft - cleared;
  if (excess > 0) {
    const order = burnOrder(tenant);
    const last = order[order.length - 1];
    if (last === undefined) return { status: 'rejected', reason: 'nothing_to_credit' };
    credits.set(last.grantId, (credits.get(last.grantId) ?? 0) + excess);
  }
  const parts = [...credits].map(([grantId, credit]) => ({ grantId, amount: credit }));
  if (!fitsSum(tenantCellTotal(tenant, 'refunded'), amount)) return AMOUNT_LIMIT;
  if (index >= 0) {
    if (!partsFit(tenant, index, parts, 'refunded')) return AMOUNT_LIMIT;
    if (!fitsSum(tenantCellAt(tenant, index, 'refunded'), amount)) return AMOUNT_LIMIT;
    if (!fitsSum(tenantCellAt(tenant, index, 'overdraftRefunded'), cleared)) return AMOUNT_LIMIT;
  }
  return {
    status: 'accepted',
    debit,
    body: {
      kind: 'refund',
      tenant: request.tenant,
      debitId: debit.debitId,
      amount,
      idempotencyKey: request.idempotencyKey,
      parts,
      overdraft: cleared,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Move (rebalancing), expiry, repay

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

// ---------------------------------------------------------------------------------------------
// Revoke (duplicate grant ids)

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
