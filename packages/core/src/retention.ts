/**
 * Forgetting old debit and refund records after the idempotency retention. Cells are never
 * forgotten (balances stay exact); only the records that answer replays and bound refunds go, so a
 * key older than the retention is treated as new and a debit older than it can no longer be refunded.
 *
 * Which records a checkpoint holds must be a function of the events at its version vector (two
 * honest nodes at one vector write the same bytes), not of when each node's sweep ran. So the sweep
 * never forgets past `vectorRetentionCutoff` (a function of the newest event time folded, which is
 * a function of the vector), and a checkpoint writes exactly the records from that cutoff on
 * (checkpoint-retention.ts): whatever either node swept earlier was older still.
 */
import { RETENTION_CLOCK_MARGIN_MS } from './limits.js';
import type { LedgerState, TenantState } from './state.js';

function dropId(index: Map<string, string[]> | null, key: string, id: string): void {
  const ids = index?.get(key);
  if (ids === undefined || index === null) return;
  const left = ids.filter((known) => known !== id);
  if (left.length === 0) index.delete(key);
  else index.set(key, left);
}

/**
 * The retention cutoff the events at `state`'s vector imply: records made before it are past the
 * retention as of the newest event folded (less RETENTION_CLOCK_MARGIN_MS), at a key-index bucket's
 * start when the ledger has a record window. Never negative.
 */
export function vectorRetentionCutoff(
  newestAt: number,
  retentionMs: number,
  bucketMs: number | undefined,
): number {
  const cutoff = Math.max(0, newestAt - retentionMs - RETENTION_CLOCK_MARGIN_MS);
  return bucketMs === undefined ? cutoff : Math.floor(cutoff / bucketMs) * bucketMs;
}

/**
 * The cutoff a retention sweep at clock time `nowMs` may use: the clock's (`now − retention`), but
 * never past what the folded events imply (vectorRetentionCutoff), so that every record a
 * checkpoint at a later vector must hold is still held.
 */
export function retentionSweepCutoff(state: LedgerState, nowMs: number, retentionMs: number): number {
  return Math.min(
    nowMs - retentionMs,
    vectorRetentionCutoff(state.newestAt, retentionMs, state.recordWindow?.options.bucketMs),
  );
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
