/**
 * What a checkpoint holds of the records within the idempotency retention (retention.ts): exactly
 * those from the cutoff its version vector implies, whatever the node's own sweeps forgot already
 * (they never forget past that cutoff) or still hold (a sweep runs once a minute, and events with
 * old times may arrive after one). The encoder applies it to its private copies of the tenants and
 * to the key-index images; the decoder applies it to what it read and refuses anything it would
 * change, so a decoded checkpoint re-encodes to its very bytes.
 */
import type { KeyIndexImage, PartRef } from './checkpoint-key-index.js';
import { parseEventRecordId } from './ids.js';
import { forgetRecordsBefore } from './retention.js';
import type { TenantState } from './state.js';

/** The retention of one checkpoint: its cutoff, and what decides whether a refund bound stays. */
export interface CheckpointRetention {
  /** Records made before it are past the retention (retention.ts vectorRetentionCutoff). */
  readonly cutoffMs: number;
  /** The folded seq of each origin (the checkpoint's vector). */
  readonly vector: Readonly<Record<string, number>>;
  /**
   * With a record window: the smallest seq of each origin's debits in the key index from the
   * cutoff on (absent: none); without one, null (a bound stays while its debit's record does).
   */
  readonly oldestDebitSeq: ReadonlyMap<string, number> | null;
}

/** The key-index tables of `image` whose bucket ends after `cutoffMs` (what retention keeps). */
export function imageWithin(image: KeyIndexImage, bucketMs: number, cutoffMs: number): KeyIndexImage {
  return image.filter(({ bucket }) => (bucket + 1) * bucketMs > cutoffMs);
}

/**
 * The smallest seq of each origin (by its id in `ids`) in a debit key index's image and the parts
 * on disk a checkpoint refers to.
 */
export function oldestSeqs(
  image: KeyIndexImage,
  ids: readonly string[],
  parts: readonly PartRef[] = [],
): Map<string, number> {
  const oldest = new Map<string, number>();
  for (const part of parts)
    for (const [origin, seq] of part.minSeqs) {
      const known = oldest.get(origin);
      if (known === undefined || seq < known) oldest.set(origin, seq);
    }
  for (const { ref, image: table } of image) {
    const origin = ids[ref] as string;
    const known = oldest.get(origin);
    if (known === undefined || table.minSeq < known) oldest.set(origin, table.minSeq);
  }
  return oldest;
}

/**
 * Forgets from `tenant` (a checkpoint's copy, or a decoded tenant) what is past `retention`: debit
 * and refund records and ended holds made before the cutoff (retention.ts), and the refund bounds
 * of folded debits that are past it (without a window: whose record went; with one: older than the
 * oldest debit of their origin in the key index). Returns how many things went.
 */
export function sweepTenant(tenant: TenantState, retention: CheckpointRetention): number {
  let forgotten = forgetRecordsBefore(tenant, retention.cutoffMs);
  const bounds = tenant.refundedByDebit;
  if (bounds === null) return forgotten;
  for (const debitId of bounds.keys()) {
    const at = parseEventRecordId(debitId);
    if (at === null) continue;
    // A debit not folded yet (its refund came first) keeps its bound.
    if (at.seq > (retention.vector[at.origin] ?? 0)) continue;
    const oldest = retention.oldestDebitSeq;
    const within =
      oldest === null
        ? tenant.debits?.has(debitId) === true
        : at.seq >= (oldest.get(at.origin) ?? Number.POSITIVE_INFINITY);
    if (within) continue;
    bounds.delete(debitId);
    forgotten += 1;
  }
  if (bounds.size === 0) tenant.refundedByDebit = null;
  return forgotten;
}
