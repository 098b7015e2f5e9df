/**
 * Folding a verified run of received segments (run-check.ts) into the ledger state: each segment
 * whole, in order, until the fold refuses an event. What comes out is what the replica persists
 * (the segments folded, as they are, with each event's tenant), whom it touched (tenants, the
 * idempotency keys of their received debits, grants), and where the run stopped. Sans I/O.
 */
import { applyCheckedEvent, type LedgerState, type OriginId } from '@allot/core';
import { signatureKept } from './log.js';
import type { SegmentWrite } from './ports.js';
import type { VerifiedSegment } from './run-check.js';

/** What folding a received run did. */
export interface FoldedRun {
  /** The segments folded whole, to store as they are. */
  readonly writes: SegmentWrite[];
  /** Events folded (of the segments in `writes`). */
  readonly events: number;
  /**
   * Each tenant with folded events, and the idempotency keys of its folded debits that `keyCounts`
   * kept (every key when none is given).
   */
  readonly touched: Map<string, Set<string>>;
  /** Grants folded (their expiry and conflicts are the replica's to schedule). */
  readonly grants: { readonly tenant: string; readonly grantId: string }[];
  /** Holds folded, with when each expires. */
  readonly holds: { readonly tenant: string; readonly expiresAt: number }[];
  /** The last segment folded: the origin's new tip and head. */
  readonly last: { readonly seq: number; readonly hash: Uint8Array; readonly signature: Uint8Array } | null;
  /**
   * The event the fold refused, if any; `partial` when events of its segment were folded before it
   * (the state then holds events that no stored log holds: the replica rebuilds it from the store).
   */
  readonly refused: { readonly seq: number; readonly error: unknown; readonly partial: boolean } | null;
}

/**
 * Folds `segments` of `origin` into `state`, each whole, until the fold refuses an event. A folded
 * debit's key is kept in `touched` when `keyCounts` (asked once the debit is folded) says so: the
 * replica keeps only keys that some debit of its own region may share, the few it may have to
 * refund (a Set of every received key cost ~10 % of a catch-up's CPU).
 */
export function foldReceived(
  state: LedgerState,
  origin: OriginId,
  segments: readonly VerifiedSegment[],
  keyCounts?: (tenant: string, key: string) => boolean,
): FoldedRun {
  const writes: SegmentWrite[] = [];
  const touched = new Map<string, Set<string>>();
  const grants: { tenant: string; grantId: string }[] = [];
  const holds: { tenant: string; expiresAt: number }[] = [];
  let events = 0;
  // Stored logs end at a kept signature (run-check.ts): a fold refused after segments without one
  // stores only up to the last segment with one, and the state, which holds more, is rebuilt from
  // the store (`partial`).
  const refusedAt = (seq: number, partial: boolean, error: unknown): FoldedRun => {
    let cut = writes.length;
    while (cut > 0 && !signatureKept((writes[cut - 1] as SegmentWrite).signature)) cut -= 1;
    let folded = events;
    for (const write of writes.slice(cut)) folded -= write.lastSeq - write.firstSeq + 1;
    const stored = writes.slice(0, cut);
    const end = stored[stored.length - 1];
    return {
      writes: stored,
      events: folded,
      touched,
      grants,
      holds,
      last: end === undefined ? null : { seq: end.lastSeq, hash: end.hash, signature: end.signature },
      refused: { seq, error, partial: partial || cut < writes.length },
    };
  };
  for (const { wire, hash, signature, decoded } of segments) {
    const tenants: string[] = [];
    for (const event of decoded.events) {
      let error: unknown = null;
      try {
        // run-check passed every event of a verified segment through eventProblem.
        const result = applyCheckedEvent(state, event);
        if (result !== 'applied') error = new Error(`seq ${event.seq} was ${result}`);
      } catch (thrown) {
        error = thrown;
      }
      if (error !== null) return refusedAt(event.seq, event.seq !== decoded.firstSeq, error);
      tenants.push(event.tenant);
      let keys = touched.get(event.tenant);
      if (keys === undefined) {
        keys = new Set<string>();
        touched.set(event.tenant, keys);
      }
      if (
        event.kind === 'debit' &&
        (keyCounts === undefined || keyCounts(event.tenant, event.idempotencyKey))
      )
        keys.add(event.idempotencyKey);
      if (event.kind === 'grant') grants.push({ tenant: event.tenant, grantId: event.grantId });
      else if (event.kind === 'hold') holds.push({ tenant: event.tenant, expiresAt: event.expiresAt });
    }
    writes.push({ origin, ...wire, hash, signature, tenants });
    events += decoded.count;
  }
  const end = writes[writes.length - 1];
  const last = end === undefined ? null : { seq: end.lastSeq, hash: end.hash, signature: end.signature };
  return { writes, events, touched, grants, holds, last, refused: null };
}
