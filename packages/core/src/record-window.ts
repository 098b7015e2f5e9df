/**
 * The record window (issue 18): the full debit and refund records (parts, metadata, key) of only
 * the most recent `records` stay on the heap; older ones are evicted from it (never from the
 * ledger: their events stay in the log). Every record within the idempotency retention stays
 * findable through the compact key indexes (key-index.ts), which give (origin, seq) candidates:
 * the caller reads those events from its store and hands them back to the decision as recalled
 * records (decide.ts), so decisions stay pure and synchronous and answer as with every record in
 * memory. A ledger without a window (the default) keeps every record until the retention sweep.
 */

import { dropKeyId, type KeyIds } from './key-ids.js';
import { type Fingerprinter, KeyIndex, keyFingerprint } from './key-index.js';
import type { KeyChunk, SpilledPart } from './key-spill.js';
import type { DebitRecord, RefundRecord } from './records.js';

/**
 * What the window touches of a tenant: state.ts's TenantState, structurally (state.ts owns the
 * window, so this module does not import it).
 */
interface TenantState {
  readonly tenant: string;
  readonly ledger: { readonly originIndex: ReadonlyMap<string, number> };
  debits: Map<string, DebitRecord> | null;
  debitsByKey: KeyIds | null;
  refunds: Map<string, RefundRecord> | null;
  refundsByKey: KeyIds | null;
}

/** How a ledger keeps its records. */
export interface RecordWindowOptions {
  /** Full records (debits and refunds together) kept on the heap; 0 keeps none past their fold. */
  readonly records: number;
  /** Length of a key-index bucket: retention drops whole buckets, so keys live ≤ this past it. */
  readonly bucketMs: number;
  /** Test seam: the fingerprint of (tenant, key); a constant one forces every key to collide. */
  readonly fingerprint?: Fingerprinter;
  /** Parts of closed buckets found on disk at start (key-spill.ts), attached before any restore. */
  readonly spilled?: readonly SpilledPart[];
  /**
   * Whose debits may stay on the heap (every origin's when absent); the others' are indexed only,
   * as if evicted at once, and read back from the log when a decision needs them. A replica keeps
   * its own region's: replays and refunds asked of a region are of its own debits, while a peer's
   * debits arrive by the hundred thousand in a catch-up and were each held, then evicted.
   */
  readonly onHeap?: (origin: string) => boolean;
}

/** A record fetched back from the log by id, or null when the event there is not such a record. */
export type RecalledRecord = DebitRecord | RefundRecord | null;

/**
 * Records the caller read back from its log for a decision, by debit or refund id; and the chunks
 * of key-index parts on disk it read back, by keys-area key (the lookups that named them).
 */
export interface Recalled extends ReadonlyMap<string, RecalledRecord> {
  readonly keyChunks?: ReadonlyMap<string, KeyChunk>;
}

/** No record recalled. */
export const NOTHING_RECALLED: Recalled = new Map();

/** The window of full records in memory and the key indexes of every record within retention. */
export class RecordWindow {
  /** (tenant, idempotency key) of every debit within retention → (origin, seq) candidates. */
  readonly debitKeys: KeyIndex;
  /** The same for refunds. */
  readonly refundKeys: KeyIndex;
  /** Records in memory, oldest first from `head`. */
  private held: (TenantState | undefined)[] = [];
  /** The id of each held record, position for position with `held` (no object per record). */
  private heldIds: string[] = [];
  /** Whether each held record is a debit (else a refund), position for position with `held`. */
  private heldDebit: boolean[] = [];
  private head = 0;
  /** keepsOnHeap's answers, by origin. */
  private readonly heapOrigins = new Map<string, boolean>();
  /** Records evicted from the heap since the window was made. */
  evicted = 0;

  /** `origins`: the ledger's origins by local index (parts on disk name origins by id). */
  constructor(
    readonly options: RecordWindowOptions,
    origins: readonly string[] = [],
  ) {
    const fingerprint = options.fingerprint ?? keyFingerprint;
    this.debitKeys = new KeyIndex(options.bucketMs, fingerprint, 'd', origins);
    this.refundKeys = new KeyIndex(options.bucketMs, fingerprint, 'r', origins);
    for (const part of options.spilled ?? [])
      (part.kind === 'd' ? this.debitKeys : this.refundKeys).attach(part);
  }

  /** The start of the key-index bucket holding `ms`: what a retention cutoff rounds down to. */
  bucketStart(ms: number): number {
    return Math.floor(ms / this.options.bucketMs) * this.options.bucketMs;
  }

  /** Records on the heap now (some may have been forgotten by the retention sweep already). */
  get size(): number {
    return this.held.length - this.head;
  }

  /**
   * Whether `origin`'s debits may stay on the heap (options.onHeap, asked once per origin). A
   * window of 0 keeps none: every debit is indexed only, with no record made to be evicted at once.
   */
  keepsOnHeap(origin: string): boolean {
    if (this.options.records === 0) return false;
    const onHeap = this.options.onHeap;
    if (onHeap === undefined) return true;
    let keeps = this.heapOrigins.get(origin);
    if (keeps === undefined) {
      keeps = onHeap(origin);
      this.heapOrigins.set(origin, keeps);
    }
    return keeps;
  }

  /** Indexes a debit of an origin not kept on the heap (keepsOnHeap): no record is made. */
  indexedDebit(tenant: TenantState, origin: string, key: string, seq: number, at: number): void {
    this.debitKeys.add(tenant.tenant, key, tenant.ledger.originIndex.get(origin) as number, seq, at);
  }

  /** Indexes a debit just recorded in `tenant`'s maps, then evicts what is over the budget. */
  recordedDebit(tenant: TenantState, debit: DebitRecord): void {
    const origin = tenant.ledger.originIndex.get(debit.origin) as number;
    this.debitKeys.add(tenant.tenant, debit.idempotencyKey, origin, debit.seq, debit.at);
    this.hold(tenant, debit.debitId, true);
  }

  /** Indexes a refund just recorded in `tenant`'s maps, then evicts what is over the budget. */
  recordedRefund(tenant: TenantState, refund: RefundRecord): void {
    const origin = tenant.ledger.originIndex.get(refund.origin) as number;
    this.refundKeys.add(tenant.tenant, refund.idempotencyKey, origin, refund.seq, refund.at);
    this.hold(tenant, refund.refundId, false);
  }

  private hold(tenant: TenantState, id: string, debit: boolean): void {
    this.held.push(tenant);
    this.heldIds.push(id);
    this.heldDebit.push(debit);
    while (this.size > this.options.records) {
      const at = this.head;
      const evicted = evict(
        this.held[at] as TenantState,
        this.heldIds[at] as string,
        this.heldDebit[at] === true,
      );
      this.held[at] = undefined;
      this.heldIds[at] = '';
      this.head += 1;
      if (evicted) this.evicted += 1;
    }
    // Compact the queue once its dead front is as long as its live part (amortized O(1)).
    if (this.head > 1024 && this.head * 2 > this.held.length) {
      this.held = this.held.slice(this.head);
      this.heldIds = this.heldIds.slice(this.head);
      this.heldDebit = this.heldDebit.slice(this.head);
      this.head = 0;
    }
  }
}

/** Takes one record off the heap (its key stays in the index); false when it was gone already. */
function evict(tenant: TenantState, id: string, debit: boolean): boolean {
  if (debit) {
    const debit = tenant.debits?.get(id);
    if (debit === undefined) return false;
    tenant.debits?.delete(id);
    dropKeyId(tenant.debitsByKey, debit.idempotencyKey, id);
    if (tenant.debits?.size === 0) tenant.debits = null;
    if (tenant.debitsByKey?.size === 0) tenant.debitsByKey = null;
    return true;
  }
  const refund = tenant.refunds?.get(id);
  if (refund === undefined) return false;
  tenant.refunds?.delete(id);
  dropKeyId(tenant.refundsByKey, refund.idempotencyKey, id);
  if (tenant.refunds?.size === 0) tenant.refunds = null;
  if (tenant.refundsByKey?.size === 0) tenant.refundsByKey = null;
  return true;
}
