/** Exact integer arithmetic for credits: every sum is checked, nothing silently loses precision. */
import { AMOUNT_MAX, AMOUNT_MIN } from './limits.js';

/**
 * A cumulative cell or a sum of amounts would pass 2^53 − 1. Raised by the fold (an invariant a
 * peer's log broke) and by figure sums; decisions return it as an outcome before it can happen.
 */
export class AmountLimitError extends Error {
  override readonly name = 'AmountLimitError';
  constructor(
    readonly what: string,
    readonly left: number,
    readonly right: number,
  ) {
    super(`${what}: ${left} + ${right} exceeds the amount limit ${AMOUNT_MAX}`);
  }
}

/** A broken ledger invariant: the state would be wrong, so the process must stop rather than serve it. */
export class LedgerInvariantError extends Error {
  override readonly name = 'LedgerInvariantError';
}

/** Throws a LedgerInvariantError with `message` unless `condition` holds. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new LedgerInvariantError(message);
}

/** True for an integer amount in 1..2^53 − 1. */
export function isAmount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= AMOUNT_MIN;
}

/** True for a safe integer ≥ 0 (a cell or a figure). */
export function isCell(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/** a + b, or an AmountLimitError naming `what` when the sum is not a safe integer. */
export function addChecked(a: number, b: number, what: string): number {
  const sum = a + b;
  if (!Number.isSafeInteger(sum) || sum > AMOUNT_MAX) throw new AmountLimitError(what, a, b);
  return sum;
}

/** True when a + b stays within the amount limit (for decisions, which return outcomes instead). */
export function fitsSum(a: number, b: number): boolean {
  return a + b <= AMOUNT_MAX;
}
