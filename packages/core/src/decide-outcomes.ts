/**
 * What every decision shares: who decides and when, and the outcomes any of them may return. A
 * business outcome is a value (STYLE.md "Errors"): a decision never throws for one.
 */
import type { OriginId, TenantId } from './ids.js';
import { AMOUNT_MAX } from './limits.js';

/** Who decides and when: the deciding origin and its clock (integer ms since the epoch). */
export interface DecisionContext {
  readonly origin: OriginId;
  readonly now: number;
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

/** A cumulative cell would pass 2^53 − 1: the request is refused and nothing changes. */
export interface AmountLimitOutcome {
  readonly status: 'rejected';
  readonly reason: 'amount_limit';
  readonly limit: number;
}

/** The one amount-limit outcome every decision returns. */
export const AMOUNT_LIMIT: AmountLimitOutcome = {
  status: 'rejected',
  reason: 'amount_limit',
  limit: AMOUNT_MAX,
};

/**
 * A request whose fields are out of the model's domain (the API validates first; a decision still
 * refuses, so that nothing malformed can reach the log, where the fold would reject it).
 */
export interface InvalidRequestOutcome {
  readonly status: 'invalid';
  readonly reason: 'invalid_request';
  readonly detail: string;
}

/** An invalid-request outcome naming the field out of the domain. */
export function invalid(detail: string): InvalidRequestOutcome {
  return { status: 'invalid', reason: 'invalid_request', detail };
}

/** A body for `tenant`'s log entry. */
export type ForTenant<T> = T & { readonly tenant: TenantId };
