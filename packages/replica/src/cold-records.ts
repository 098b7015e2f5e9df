/**
 * Reading records off the heap back from the log (issue 18): a decision on a record window asks
 * for debit or refund ids (their events' origin and seq); this reads each event from the batches
 * not durable yet (own events as folded, received ones from their segments) or, failing that, from
 * the store (`readLog(origin, seq, 1)`, the Store port only), and makes its record. An id whose
 * event is not a debit or refund there is recalled as null, and core compares tenant, key and id,
 * so a fingerprint collision never answers the wrong record.
 * A lookup may also ask for a chunk of a key-index part on disk (a keys-area key): it is read and
 * checked (key-spill.ts) into `keyChunks`; a damaged one rejects, naming it.
 */
import {
  decodeSegmentRange,
  type KeyChunk,
  type LedgerEvent,
  parseEventRecordId,
  parseKeyAreaKey,
  type RecalledRecord,
  recordFromEvent,
  type SpilledPart,
} from '@allot/core';
import type { Batch } from './batch.js';
import { RECALL_ROUNDS_MAX } from './limits.js';
import type { Store } from './ports.js';

/** Records recalled for one decision, over its rounds. */
export class RecalledSet extends Map<string, RecalledRecord> {
  /** Rounds of reading done for this decision. */
  rounds = 0;
  /** Chunks of key-index parts on disk read back, by keys-area key. */
  readonly keyChunks = new Map<string, KeyChunk>();
}

/** Where recalled events come from: the batches not durable yet, then the store. */
export interface RecallSource {
  readonly store: Store;
  /** The batches in flight, queued and open (events folded but maybe not durable yet). */
  pending(): Iterable<Batch | null>;
  /** The key-index part on disk a chunk key belongs to (undefined: gone), and how to read it. */
  readonly keyParts?: {
    partOf(key: string): SpilledPart | undefined;
    readChunk(part: SpilledPart, key: string): Promise<KeyChunk>;
  };
}

function pendingEvent(source: RecallSource, origin: string, seq: number): LedgerEvent | undefined {
  for (const batch of source.pending()) {
    if (batch === null) continue;
    for (const event of batch.events) if (event.seq === seq && event.origin === origin) return event;
    // Received events are not kept as objects until their commit: read back from their segment.
    for (const write of batch.received) {
      if (write.origin !== origin || seq < write.firstSeq || seq > write.lastSeq) continue;
      const index = seq - write.firstSeq;
      return decodeSegmentRange(write.bytes, index, index + 1).events[0];
    }
  }
  return undefined;
}

/**
 * Reads `ids` back into a copy of `previous` (one more round); null when the decision has used
 * up RECALL_ROUNDS_MAX rounds. Rejects when the store fails, or when an event lies below a log base
 * (a node that joined by checkpoint does not hold it: its record is unknown here, not absent).
 */
export async function recallRecords(
  source: RecallSource,
  ids: readonly string[],
  previous: RecalledSet | undefined,
): Promise<RecalledSet | null> {
  const recalled = new RecalledSet(previous ?? []);
  for (const [key, chunk] of previous?.keyChunks ?? []) recalled.keyChunks.set(key, chunk);
  recalled.rounds = (previous?.rounds ?? 0) + 1;
  if (recalled.rounds > RECALL_ROUNDS_MAX) return null;
  for (const id of ids) {
    if (parseKeyAreaKey(id) !== null) {
      // A chunk of a key-index part on disk; a part forgotten meanwhile is asked for no more.
      const keyParts = source.keyParts;
      const part = keyParts?.partOf(id);
      if (keyParts !== undefined && part !== undefined)
        recalled.keyChunks.set(id, await keyParts.readChunk(part, id));
      continue;
    }
    const at = parseEventRecordId(id);
    if (at === null) {
      recalled.set(id, null);
      continue;
    }
    // Pending first: an event not pending now is durable (or was never folded), never the reverse.
    let event = pendingEvent(source, at.origin, at.seq);
    if (event === undefined) {
      const [stored] = await source.store.readLog(at.origin, at.seq, 1);
      if (stored !== undefined && stored.event.origin === at.origin && stored.event.seq === at.seq)
        event = stored.event;
      // Not here because this node joined by a checkpoint after it: unknown, never "no record"
      // (that would take a replayed key for a new one). The command is refused instead.
      if (event === undefined) {
        const base = (await source.store.bases()).find((head) => head.origin === at.origin);
        if (base !== undefined && at.seq <= base.seq)
          throw new Error(
            `event ${id} lies before the checkpoint this node joined from: it is not held here`,
          );
      }
    }
    recalled.set(id, event === undefined ? null : recordFromEvent(event));
  }
  return recalled;
}
