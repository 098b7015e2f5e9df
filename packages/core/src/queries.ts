/**
 * Reads of the ledger by id for the parts outside core (replica, simulator, server): they ask
 * these instead of walking the state's layout, so the layout (state.ts) can change alone.
 */
import { addChecked } from './amount.js';
import { rightsAt } from './cells.js';
import {
  type DebitId,
  type GrantId,
  type OriginId,
  parseEventRecordId,
  type RefundId,
  type TenantId,
} from './ids.js';
import type { DebitRecord, RefundRecord } from './records.js';
import { forgetRecordsBefore } from './retention.js';
import { grantRemaining, isLive, overdraftInUseAt } from './standing.js';
import type { GrantDefinition, LedgerState, TenantState } from './state.js';

/** The tenant ids known here, in arrival order. */
export function tenantIds(state: LedgerState): IterableIterator<TenantId> {
  return state.tenants.keys();
}

/** How many grant ids of `tenant` are known here (defined or pending); 0 for an unknown tenant. */
export function grantCount(state: LedgerState, tenant: TenantId): number {
  return state.tenants.get(tenant)?.grants.size ?? 0;
}

/** The winning definition of `tenant`'s grant `grantId`; null while its grant event is not here. */
export function grantDefinition(
  state: LedgerState,
  tenant: TenantId,
  grantId: GrantId,
): GrantDefinition | null {
  return state.tenants.get(tenant)?.grants.get(grantId)?.definition ?? null;
}

/** A grant id with its winning definition and the losing ones (duplicates defined elsewhere). */
export interface GrantDefinitions {
  readonly grantId: GrantId;
  readonly winner: GrantDefinition;
  readonly others: readonly GrantDefinition[];
}

/** The defined grants of `tenant`, in the order they became known here. */
export function grantDefinitions(state: LedgerState, tenant: TenantId): GrantDefinitions[] {
  const out: GrantDefinitions[] = [];
  for (const grant of state.tenants.get(tenant)?.grants.values() ?? []) {
    if (grant.definition !== null)
      out.push({ grantId: grant.grantId, winner: grant.definition, others: grant.others ?? [] });
  }
  return out;
}

/** The record of debit `debitId` of `tenant`; undefined when unknown or forgotten. */
export function debitRecord(state: LedgerState, tenant: TenantId, debitId: DebitId): DebitRecord | undefined {
  return state.tenants.get(tenant)?.debits?.get(debitId);
}

/**
 * The one debit of `tenant` in memory with idempotency key `key`; undefined when there is none or
 * more than one (a cross-region race). Found through the key's ids, with no record id to build:
 * the replica answers each debit it accepts with the record its fold just made.
 */
export function debitRecordWithKey(
  state: LedgerState,
  tenant: TenantId,
  key: string,
): DebitRecord | undefined {
  const found = state.tenants.get(tenant);
  const id = found?.debitsByKey?.get(key);
  return typeof id === 'string' ? found?.debits?.get(id) : undefined;
}

/** The record of refund `refundId` of `tenant`; undefined when unknown or forgotten. */
export function refundRecord(
  state: LedgerState,
  tenant: TenantId,
  refundId: RefundId,
): RefundRecord | undefined {
  return state.tenants.get(tenant)?.refunds?.get(refundId);
}

/** Overdraft of `origin` not yet repaid or refunded, for one tenant (0 when either is unknown). */
export function tenantOverdraftInUse(state: LedgerState, tenant: TenantId, origin: OriginId): number {
  const ledger = state.tenants.get(tenant);
  const index = state.originIndex.get(origin);
  return ledger === undefined || index === undefined ? 0 : overdraftInUseAt(ledger, index);
}

/** Σ over tenants of `origin`'s overdraft in use. */
export function overdraftInUseTotal(state: LedgerState, origin: OriginId): number {
  const index = state.originIndex.get(origin);
  if (index === undefined) return 0;
  let total = 0;
  for (const ledger of state.tenants.values())
    total = addChecked(total, overdraftInUseAt(ledger, index), `overdraft in use of ${origin}`);
  return total;
}

/** Rights an origin holds over all tenants (positive shares only), and how many tenants hold them. */
export interface HeldRights {
  readonly rights: number;
  readonly tenants: number;
}

/**
 * What `origin` holds: Σ over tenants and grants of its positive rights. For an origin that will
 * never write again (a lost incarnation), these are stranded rights.
 */
export function rightsHeldBy(state: LedgerState, origin: OriginId): HeldRights {
  const index = state.originIndex.get(origin);
  if (index === undefined) return { rights: 0, tenants: 0 };
  let rights = 0;
  let tenants = 0;
  for (const ledger of state.tenants.values()) {
    let held = 0;
    for (const grant of ledger.grants.values()) held += Math.max(0, rightsAt(grant, index));
    if (held > 0) {
      rights += held;
      tenants += 1;
    }
  }
  return { rights, tenants };
}

/** The least rights `origin` holds on any grant of `tenant` (0 when it holds none negative). */
export function leastRightsOf(state: LedgerState, tenant: TenantId, origin: OriginId): number {
  const ledger = state.tenants.get(tenant);
  const index = state.originIndex.get(origin);
  if (ledger === undefined || index === undefined) return 0;
  let least = 0;
  for (const grant of ledger.grants.values()) least = Math.min(least, rightsAt(grant, index));
  return least;
}

/**
 * Credits left in `tenant`'s grants still live at `now` (positive remainders only) and the overdraft
 * in use over every origin: what the whole ledger could still pay.
 */
export function liveCredits(
  state: LedgerState,
  tenant: TenantId,
  now: number,
): { readonly live: number; readonly overdraftInUse: number } {
  const ledger = state.tenants.get(tenant);
  if (ledger === undefined) return { live: 0, overdraftInUse: 0 };
  let live = 0;
  for (const grant of ledger.grants.values())
    if (isLive(grant, now)) live += Math.max(0, grantRemaining(grant));
  let overdraftInUse = 0;
  for (let index = 0; index < state.origins.length; index++)
    overdraftInUse += overdraftInUseAt(ledger, index);
  return { live, overdraftInUse };
}

/**
 * Forgets every tenant's debit and refund records made before `cutoffMs`; returns how many. With a
 * record window the key indexes drop whole buckets, so the cutoff is that of the buckets dropped
 * (a key lives up to one bucket past the retention, never less); the refund bounds of debits off
 * the heap go once their origin's indexed debits all start after them.
 */
export function forgetAllRecordsBefore(state: LedgerState, cutoffMs: number): number {
  const window = state.recordWindow;
  let forgotten = 0;
  let cutoff = cutoffMs;
  if (window !== undefined) {
    cutoff = window.bucketStart(cutoffMs);
    forgotten += window.debitKeys.forgetBefore(cutoff) + window.refundKeys.forgetBefore(cutoff);
  }
  for (const ledger of state.tenants.values()) {
    forgotten += forgetRecordsBefore(ledger, cutoff);
    if (window !== undefined) forgetColdRefundBounds(ledger);
  }
  if (cutoff > state.sweptBefore) state.sweptBefore = cutoff;
  return forgotten;
}

/** Drops the refund bounds of debits that are neither on the heap nor in the key index any more. */
function forgetColdRefundBounds(ledger: TenantState): void {
  const bounds = ledger.refundedByDebit;
  const window = ledger.ledger.recordWindow;
  if (bounds === null || window === undefined) return;
  for (const debitId of bounds.keys()) {
    if (ledger.debits?.has(debitId) === true) continue;
    const at = parseEventRecordId(debitId);
    if (at === null) continue;
    const origin = ledger.ledger.originIndex.get(at.origin);
    const oldest = origin === undefined ? undefined : window.debitKeys.oldestSeq(origin);
    const folded = ledger.ledger.versionVector[at.origin] ?? 0;
    // A debit not folded yet (its refund came first) keeps its bound.
    if (at.seq <= folded && (oldest === undefined || at.seq < oldest)) bounds.delete(debitId);
  }
  if (bounds.size === 0) ledger.refundedByDebit = null;
}
