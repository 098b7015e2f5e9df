/**
 * Log recovery at open (DESIGN.md §2): every stored log is read back segment by segment, each
 * segment's hash chain checked (one hash per segment), its events decoded, checked for their place
 * and shape, and folded, each log's end checked against its stored head, and this node's own head
 * signature verified with its key; the control document is rebuilt
 * from its kept updates. Anything wrong rejects with a ReplicaOpenError that names it rather than
 * serve a wrong balance. Reads only: the replica installs what this returns.
 */
import {
  applyCheckedEvent,
  createLedgerState,
  decodeSegment,
  eventProblem,
  type LedgerState,
  type OriginId,
  type RecordWindowOptions,
  SegmentError,
} from '@allot/core';
import { ControlDocument } from './control.js';
import { RECOVERY_PAGE_SEGMENTS } from './limits.js';
import { headSigningBytes, segmentHash, ZERO_HASH } from './log.js';
import { ReplicaOpenError } from './open-error.js';
import type { Crypto, Logger, LogHead, Rng, Store } from './ports.js';
import { sameBytes } from './values.js';

/** What a store holds, verified: the fold of every log, each log's head, the control document. */
export interface RecoveredStore {
  readonly state: LedgerState;
  readonly heads: Map<OriginId, LogHead>;
  readonly control: ControlDocument;
}

/**
 * Reads and verifies everything in the store of the node whose current incarnation is `origin`;
 * the fold keeps `recordWindow`'s records on the heap (issue 18), all when absent.
 */
export async function recoverStore(
  ports: { readonly store: Store; readonly crypto: Crypto; readonly rng: Rng; readonly logger: Logger },
  cluster: string,
  origin: OriginId,
  recordWindow?: RecordWindowOptions,
): Promise<RecoveredStore> {
  const { store, crypto } = ports;
  const state = createLedgerState(recordWindow === undefined ? {} : { recordWindow });
  const heads = new Map<OriginId, LogHead>();
  for (const head of await store.heads()) {
    let previous = ZERO_HASH;
    let seq = 0;
    while (seq < head.seq) {
      const page = await store.readSegments(head.origin, seq + 1, RECOVERY_PAGE_SEGMENTS);
      if (page.length === 0) break;
      for (const segment of page) {
        const where = `log ${head.origin} seq ${seq + 1}`;
        if (segment.origin !== head.origin || segment.firstSeq !== seq + 1) {
          throw new ReplicaOpenError(
            `${where}: found segment ${segment.origin} seq ${segment.firstSeq} instead`,
          );
        }
        const hash = segmentHash(crypto, previous, segment.bytes);
        if (!sameBytes(hash, segment.hash)) throw new ReplicaOpenError(`${where}: hash chain broken`);
        let events: ReturnType<typeof decodeSegment>['events'];
        try {
          events = decodeSegment(segment.bytes).events;
        } catch (error) {
          if (error instanceof SegmentError) throw new ReplicaOpenError(`${where}: ${error.message}`);
          throw error;
        }
        for (const event of events) {
          const at = `log ${head.origin} seq ${event.seq}`;
          const problem = eventProblem(event);
          if (problem !== null) throw new ReplicaOpenError(`${at}: malformed event: ${problem}`);
          if (applyCheckedEvent(state, event) !== 'applied')
            throw new ReplicaOpenError(`${at}: not applicable`);
        }
        previous = hash;
        seq = segment.lastSeq;
      }
    }
    if (seq !== head.seq || !sameBytes(previous, head.hash)) {
      throw new ReplicaOpenError(`log ${head.origin}: ends at seq ${seq}, its head says ${head.seq}`);
    }
    if (head.origin === origin) {
      const signed =
        head.signature !== null &&
        crypto.verify(
          crypto.publicKey,
          headSigningBytes(cluster, head.origin, head.seq, head.hash),
          head.signature,
        );
      if (!signed)
        throw new ReplicaOpenError(`log ${head.origin}: head signature does not verify with this node's key`);
    }
    heads.set(head.origin, head);
  }
  const control = new ControlDocument(ports.rng.nextUint32());
  for (const update of await store.readControl()) control.applyUpdate(update);
  for (const { key, problem } of control.audit()) {
    ports.logger.warn({ key, problem }, 'stored control entry breaks the policy rule: read as the default');
  }
  return { state, heads, control };
}
