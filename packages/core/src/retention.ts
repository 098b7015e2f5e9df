/**
 * Forgetting old debit and refund records after the idempotency retention. Cells are never
 * forgotten (balances stay exact); only the records that answer replays and bound refunds go, so a
 * key older than the retention is treated as new and a debit older than it can no longer be refunded.
 *
 * Which records a checkpoint holds must be a function of the events at its version vector (two
 * honest nodes at one vector write the same bytes), not of when each node's sweep ran: a checkpoint
 * writes exactly the records from `vectorRetentionCutoff` on (checkpoint-retention.ts), the
 * retention counted back from the newest event time folded. A node's sweep forgets by its own
 * clock (issue 18: past the retention a key is new and its debit no longer refundable), so it has
 * forgotten nothing the checkpoint must hold as long as that sweep's cutoff is not later than the
 * vector's — true whenever the sweep ran no later than the newest event's time, at key-index bucket
 * granularity (a sweep runs every minute, buckets are retention/24 long); a node idle across a
 * bucket's end, or a clock ahead of the event times, may write other bytes until its next events.
 */
import { dropKeyId } from './key-ids.js';
import type { TenantState } from './state.js';

/**
 * The retention cutoff the events at a vector imply: records made before it are past the retention
 * as of `newestAt`, the newest event time folded (at a key-index bucket's start when the ledger has
 * a record window). Never negative.
 */
export function vectorRetentionCutoff(
  newestAt: number,
  retentionMs: number,
  bucketMs: number | undefined,
): number {
  const cutoff = Math.max(0, newestAt - retentionMs);
  return bucketMs === undefined ? cutoff : Math.floor(cutoff / bucketMs) * bucketMs;
}

/** Forgets the tenant's debit and refund records made before `cutoffMs`; returns how many. */
export function forgetRecordsBefore(tenant: TenantState, cutoffMs: number): number {
  let forgotten = 0;
  for (const [refundId, refund] of tenant.refunds ?? []) {
    if (refund.at >= cutoffMs) continue;
    tenant.refunds?.delete(refundId);
    dropKeyId(tenant.refundsByKey, refund.idempotencyKey, refundId);
    forgotten += 1;
  }
  for (const [debitId, debit] of tenant.debits ?? []) {
    if (debit.at >= cutoffMs) continue;
    tenant.debits?.delete(debitId);
    tenant.refundedByDebit?.delete(debitId);
    dropKeyId(tenant.debitsByKey, debit.idempotencyKey, debitId);
    forgotten += 1;
  }
  // A hold is kept while active (it must end exactly once), and past its end for the retention.
  for (const [holdId, hold] of tenant.holds ?? []) {
    if (hold.end === null || hold.end.at >= cutoffMs) continue;
    tenant.holds?.delete(holdId);
    dropKeyId(tenant.holdsByKey, hold.idempotencyKey, holdId);
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
