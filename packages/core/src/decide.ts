/**
 * Decisions: pure functions of (state, origin, request, now) that say what an origin may append.
 * They never throw for a business outcome and never mutate the state: the caller appends the
 * returned body to the origin's log and folds it. An origin spends only its own rights plus its
 * overdraft allowance (S2), which is what keeps every tenant's balance ≥ −Σ overdraft (S1).
 */
import { fitsSum, isAmount } from './amount.js';
import { canonicalJson } from './canonical.js';
import { grantCellTotal, tenantCellAt, tenantCellTotal } from './cells.js';
import {
  AMOUNT_LIMIT,
  type AmountLimitOutcome,
  type DebitContext,
  type DecisionContext,
  type ForTenant,
  type InvalidRequestOutcome,
  invalid,
  type RecallOutcome,
} from './decide-outcomes.js';
import { indexOf, liveRights, overdraftHeadroom, partsFit, takeRights } from './decide-rights.js';
import type { DebitBody, GrantBody, Json, Part } from './events.js';
import { compareDefinitions } from './grant-terms.js';
import { type GrantId, isKey, isTenantId, type TenantId } from './ids.js';
import { debitsOfKey } from './keyed-records.js';
import { GRANTS_PER_TENANT_MAX, PRIORITY_MAX, PRIORITY_MIN, TIME_MS_MAX } from './limits.js';
import { NOTHING_RECALLED, type Recalled } from './record-window.js';
import type { DebitRecord } from './records.js';
import { burnOrder } from './standing.js';
import type { GrantDefinition, GrantState, LedgerState, TenantState } from './state.js';

/** The burn order of a tenant unknown here. */
const NO_GRANTS: readonly GrantState[] = Object.freeze([]);

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
  | {
      readonly status: 'accepted';
      readonly body: ForTenant<DebitBody>;
      /**
       * What the origin can still spend for the tenant once this debit is folded, when that is
       * known without another pass over the grants: a debit that takes no overdraft leaves the
       * overdraft in use as it is and takes exactly its amount off the live rights. Null otherwise
       * (ask availableAt after the fold).
       */
      readonly availableAfter: number | null;
    };

/** True when `debit` was recorded for exactly this request (same amount and metadata). */
export function sameDebitRequest(debit: DebitRecord, request: DebitRequest): boolean {
  return debit.amount === request.amount && canonicalJson(debit.metadata) === canonicalJson(request.metadata);
}

/**
 * Orders debits (and refunds) of one idempotency key the same way at every replica: by the origin's
 * time, then origin id, then seq, as grant definitions are ordered. The first is the effective one;
 * later ones are duplicates.
 */
export const compareRecords = compareDefinitions;

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
    availableAfter: burn.overdraft === 0 ? burn.available - request.amount : null,
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
  | {
      readonly status: 'burn';
      readonly parts: Part[];
      readonly overdraft: number;
      /** What the origin could spend before this burn (live rights + overdraft headroom). */
      readonly available: number;
    };

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
  // One burn order for both passes over the grants (the sum of rights, then what to take).
  const order = tenant === undefined ? NO_GRANTS : burnOrder(tenant);
  const rights = tenant === undefined ? 0 : liveRights(tenant, index, ctx.now, order);
  const headroom = overdraftHeadroom(state, tenant, ctx.origin, ctx.overdraftLimit);
  const available = rights + headroom;
  if (amount > available) {
    return { status: 'declined', reason: 'insufficient_credits', requested: amount, available };
  }
  const parts =
    tenant === undefined ? [] : takeRights(tenant, index, ctx.now, Math.min(rights, amount), order);
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
  return { status: 'burn', parts, overdraft, available };
}
