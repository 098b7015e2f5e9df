/**
 * Forgetting old debit and refund records after the idempotency retention. Cells are never
 * forgotten (balances stay exact); only the records that answer replays and bound refunds go, so a
 * key older than the retention is treated as new and a debit older than it can no longer be refunded.
 */
import type { TenantState } from './state.js';

function dropId(index: Map<string, string[]> | null, key: string, id: string): void {
  const ids = index?.get(key);
  if (ids === undefined || index === null) return;
  const left = ids.filter((known) => known !== id);
  if (left.length === 0) index.delete(key);
  else index.set(key, left);
}

/** Forgets the tenant's debit and refund records made before `cutoffMs`; returns how many. */
export function forgetRecordsBefore(tenant: TenantState, cutoffMs: number): number {
  let forgotten = 0;
  for (const [refundId, refund] of tenant.refunds ?? []) {
    if (refund.at >= cutoffMs) continue;
    tenant.refunds?.delete(refundId);
    dropId(tenant.refundsByKey, refund.idempotencyKey, refundId);
    forgotten += 1;
  }
  for (const [debitId, debit] of tenant.debits ?? []) {
    if (debit.at >= cutoffMs) continue;
    tenant.debits?.delete(debitId);
    tenant.refundedByDebit?.delete(debitId);
    dropId(tenant.debitsByKey, debit.idempotencyKey, debitId);
    forgotten += 1;
  }
  // A hold is kept while active (it must end exactly once), and past its end for the retention.
  for (const [holdId, hold] of tenant.holds ?? []) {
    if (hold.end === null || hold.end.at >= cutoffMs) continue;
    tenant.holds?.delete(holdId);
    dropId(tenant.holdsByKey, hold.idempotencyKey, holdId);
    forgotten += 1;
  }
  if (tenant.holds?.size === 0) tenant.holds = null;
  if (tenant.holdsByKey?.size === 0) tenant.holdsByKey = null;
  // Empty indexes go entirely: a million idle tenants should not each keep five empty Maps.
  if (tenant.debits?.size === 0) tenant.debits = null;
  if (tenant.debitsByKey?.size === 0) tenant.debitsByKey = null;
  if (tenant.refunds?.size === 0) tenant.refunds = null;
  if (tenant.refundsByKey?.size === 0) tenant.refundsByKey = null;
  if (tenant.refundedByDebit?.size === 0) tenant.refundedByDebit = null;
  return forgotten;
}
