/**
 * Finding the debit and refund records a decision needs, in memory or recalled (issue 18): the
 * records of an idempotency key, and a debit by id. With a record window (record-window.ts), a
 * record may be off the heap; its key index names the (origin, seq) candidates, and a candidate the
 * caller has not read back yet is returned in `recall`, so the decision asks for it rather than
 * answer without it. A recalled record counts only when its tenant, key and id all match: a
 * fingerprint collision never answers the wrong record. A key-index part on disk (key-spill.ts)
 * that may hold the key names its chunk in `recall` (a keys-area key, never a record id): the
 * caller reads it back into `recalled.keyChunks` and asks again.
 */

import { compareDefinitions as compareRecords } from './grant-terms.js';
import { eventRecordId, parseEventRecordId } from './ids.js';
import { keyIds } from './key-ids.js';
import type { Recalled } from './record-window.js';
import type { DebitRecord, RefundRecord } from './records.js';
import type { TenantState } from './state.js';

/** Records found, and the ids still to be read back from the log before they can be complete. */
export interface Found<T> {
  readonly records: T[];
  readonly recall: string[];
}

function isDebit(record: unknown): record is DebitRecord {
  return typeof record === 'object' && record !== null && 'debitId' in record && 'metadata' in record;
}

function isRefund(record: unknown): record is RefundRecord {
  return typeof record === 'object' && record !== null && 'refundId' in record;
}

/**
 * Nothing found, nothing to recall: the answer for a fresh key (most debits), shared and frozen so
 * that the hot path allocates nothing.
 */
const NONE: Found<never> = Object.freeze({
  records: Object.freeze([]) as unknown as never[],
  recall: Object.freeze([]) as unknown as string[],
});

/** The debits recorded with `key` for the tenant, first (effective) one first, and ids to recall. */
export function debitsOfKey(tenant: TenantState, key: string, recalled: Recalled): Found<DebitRecord> {
  const ids = tenant.debitsByKey?.get(key);
  const window = tenant.ledger.recordWindow;
  const indexed = window?.debitKeys.mayHold(tenant.tenant, key) === true;
  if (ids === undefined && !indexed) return NONE;
  const records = keyIds(tenant.debitsByKey, key).map((id) => tenant.debits?.get(id) as DebitRecord);
  const recall: string[] = [];
  if (window !== undefined && indexed) {
    const chunks = window.debitKeys.candidates(tenant.tenant, key, recalled.keyChunks, (origin, seq) => {
      const id = eventRecordId(origin, seq);
      if (tenant.debits?.has(id) === true) return; // in memory: listed above if its key is this one
      if (!recalled.has(id)) {
        if (!recall.includes(id)) recall.push(id);
        return;
      }
      const record = recalled.get(id);
      if (
        isDebit(record) &&
        record.debitId === id &&
        record.tenant === tenant.tenant &&
        record.idempotencyKey === key &&
        !records.some((known) => known.debitId === id)
      )
        records.push(record);
    });
    recall.push(...chunks);
  }
  return { records: records.sort(compareRecords), recall };
}

/**
 * False when surely no debit of `tenant` with `key` by an origin that `of` accepts is known here,
 * in memory or in the key index (true may be a fingerprint's or a filter's false positive): a
 * duplicate check for those origins' debits, most often of a fresh key, ends without listing the
 * key's debits or reading any back.
 */
export function mayHoldDebitOf(tenant: TenantState, key: string, of: (origin: string) => boolean): boolean {
  // Most keys have no record in memory here: no list is made for them.
  if (tenant.debitsByKey?.has(key) === true)
    for (const id of keyIds(tenant.debitsByKey, key)) {
      const debit = tenant.debits?.get(id);
      if (debit !== undefined && of(debit.origin)) return true;
    }
  return tenant.ledger.recordWindow?.debitKeys.mayHold(tenant.tenant, key, of) === true;
}

/** The refunds recorded with `key` for the tenant, first one first, and ids to recall. */
export function refundsOfKey(tenant: TenantState, key: string, recalled: Recalled): Found<RefundRecord> {
  const ids = tenant.refundsByKey?.get(key);
  const window = tenant.ledger.recordWindow;
  const indexed = window?.refundKeys.mayHold(tenant.tenant, key) === true;
  if (ids === undefined && !indexed) return NONE;
  const records = keyIds(tenant.refundsByKey, key).map((id) => tenant.refunds?.get(id) as RefundRecord);
  const recall: string[] = [];
  if (window !== undefined && indexed) {
    const chunks = window.refundKeys.candidates(tenant.tenant, key, recalled.keyChunks, (origin, seq) => {
      const id = eventRecordId(origin, seq);
      if (tenant.refunds?.has(id) === true) return;
      if (!recalled.has(id)) {
        if (!recall.includes(id)) recall.push(id);
        return;
      }
      const record = recalled.get(id);
      if (
        isRefund(record) &&
        record.refundId === id &&
        record.tenant === tenant.tenant &&
        record.idempotencyKey === key &&
        !records.some((known) => known.refundId === id)
      )
        records.push(record);
    });
    recall.push(...chunks);
  }
  return { records: records.sort(compareRecords), recall };
}

/**
 * The tenant's debit `debitId` (undefined when unknown or past retention), or the id to recall
 * when it may be off the heap: its origin's debits are indexed from a seq at or below it.
 */
export function debitById(
  tenant: TenantState,
  debitId: string,
  recalled: Recalled,
): { readonly debit: DebitRecord | undefined; readonly recall: string[] } {
  const inMemory = tenant.debits?.get(debitId);
  const window = tenant.ledger.recordWindow;
  if (inMemory !== undefined || window === undefined) return { debit: inMemory, recall: [] };
  const at = parseEventRecordId(debitId);
  if (at === null) return { debit: undefined, recall: [] };
  const origin = tenant.ledger.originIndex.get(at.origin);
  const oldest = origin === undefined ? undefined : window.debitKeys.oldestSeq(origin);
  const folded = tenant.ledger.versionVector[at.origin] ?? 0;
  if (oldest === undefined || at.seq < oldest || at.seq > folded) return { debit: undefined, recall: [] };
  if (!recalled.has(debitId)) return { debit: undefined, recall: [debitId] };
  const record = recalled.get(debitId);
  const matches = isDebit(record) && record.debitId === debitId && record.tenant === tenant.tenant;
  return { debit: matches ? record : undefined, recall: [] };
}
