/**
 * Refund decisions: only the debit's region refunds it, each refund takes the next range of the
 * debit's credits, so refunds of one debit never give the same credit back twice.
 */
import { fitsSum } from './amount.js';
import { tenantCellAt, tenantCellTotal } from './cells.js';
import {
  AMOUNT_LIMIT,
  type AmountLimitOutcome,
  type DecisionContext,
  type ForTenant,
  type InvalidRequestOutcome,
  type RecallOutcome,
} from './decide-outcomes.js';
import { indexOf, partsFit } from './decide-rights.js';
import type { Part, RefundBody } from './events.js';
import { type DebitId, type GrantId, regionOf, type TenantId } from './ids.js';
import { debitById, refundsOfKey } from './keyed-records.js';
import { NOTHING_RECALLED, type Recalled } from './record-window.js';
import type { DebitRecord, RefundRecord } from './records.js';
import { burnOrder, overdraftInUseAt } from './standing.js';
import type { LedgerState, TenantState } from './state.js';

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
