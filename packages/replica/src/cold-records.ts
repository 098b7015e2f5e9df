/**
 * Reading records off the heap back from the log (issue 18): a decision on a record window asks
 * for debit or refund ids (their events' origin and seq); this reads each event from the batches
 * not durable yet (own events as folded, received ones from their segments) or, failing that, from
 * the store (`readSegments(origin, seq, 1)`, the Store port only: the stored segment is kept for the
 * recalls that follow, RecalledSegments), and makes its record. An id whose
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
  SegmentRecords,
  type SegmentWriter,
  type SpilledPart,
} from '@allot/core';
import type { Batch } from './batch.js';
import { RECALL_ROUNDS_MAX } from './limits.js';
import type { Store } from './ports.js';

/** A recalled id's event is neither pending nor stored (nor below a log base). */
export class IndexedEventMissing extends Error {
  constructor(readonly id: string) {
    super(`event ${id} is indexed but neither pending nor stored`);
    this.name = 'IndexedEventMissing';
  }
}

/** Records recalled for one decision, over its rounds. */
export class RecalledSet extends Map<string, RecalledRecord> {
  /** Rounds of reading done for this decision. */
  rounds = 0;
  /** Chunks of key-index parts on disk read back, by keys-area key. */
  readonly keyChunks = new Map<string, KeyChunk>();
}

/**
 * Stored segments read back for recalls, kept for the recalls that follow: a retried batch asks for
 * thousands of records of the same few segments, one by one, and each read used to fetch, check and
 * skip through its whole segment again (~0.6 ms a key for a commit of 5,000). Bounded by the bytes
 * kept, the first kept dropped first. A stored segment never changes, so a kept one is never stale.
 */
export class RecalledSegments {
  /** Each origin's kept segments, by first seq. */
  private readonly byOrigin = new Map<string, SegmentRecords[]>();
  /** Every kept segment, first kept first. */
  private readonly kept = new Set<SegmentRecords>();
  private bytes = 0;

  constructor(private readonly bytesMax: number) {}

  /** The kept segment of `origin` holding `seq`, if any. */
  find(origin: string, seq: number): SegmentRecords | undefined {
    const segments = this.byOrigin.get(origin);
    if (segments === undefined) return undefined;
    const at = this.firstAfter(segments, seq) - 1;
    const segment = segments[at];
    return segment !== undefined && seq <= segment.header.lastSeq ? segment : undefined;
  }

  /** Keeps `segment` (unless one holding its first seq is kept already), then drops the oldest past the bound. */
  keep(segment: SegmentRecords): void {
    const { origin, firstSeq } = segment.header;
    if (this.find(origin, firstSeq) !== undefined) return;
    let segments = this.byOrigin.get(origin);
    if (segments === undefined) {
      segments = [];
      this.byOrigin.set(origin, segments);
    }
    segments.splice(this.firstAfter(segments, firstSeq), 0, segment);
    this.kept.add(segment);
    this.bytes += segment.retainedBytes;
    for (const oldest of this.kept) {
      if (this.bytes <= this.bytesMax || oldest === segment) break;
      this.drop(oldest);
    }
  }

  /** Bytes kept now. */
  get size(): number {
    return this.bytes;
  }

  private drop(segment: SegmentRecords): void {
    const segments = this.byOrigin.get(segment.header.origin) as SegmentRecords[];
    segments.splice(segments.indexOf(segment), 1);
    if (segments.length === 0) this.byOrigin.delete(segment.header.origin);
    this.kept.delete(segment);
    this.bytes -= segment.retainedBytes;
  }

  /** The index of the first of `segments` (by first seq) that starts past `seq`. */
  private firstAfter(segments: readonly SegmentRecords[], seq: number): number {
    let low = 0;
    let high = segments.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if ((segments[mid] as SegmentRecords).header.firstSeq <= seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

/** Where recalled events come from: the batches not durable yet, then the store. */
export interface RecallSource {
  readonly store: Store;
  /** Stored segments read back by earlier recalls (none kept when absent). */
  readonly segments?: RecalledSegments;
  /** The batches in flight, queued and open (events folded but maybe not durable yet). */
  pending(): Iterable<Batch | null>;
  /** The key-index part on disk a chunk key belongs to (undefined: gone), and how to read it. */
  readonly keyParts?: {
    partOf(key: string): SpilledPart | undefined;
    readChunk(part: SpilledPart, key: string): Promise<KeyChunk>;
  };
}

/**
 * Random access to a segment still being written, kept while no event is added to it: a retried
 * batch of keys whose debits are all in flight reads them from one copy of the segment, not one
 * copy (up to SEGMENT_CUT_BYTES) per key.
 */
const writing = new WeakMap<SegmentWriter, { readonly count: number; readonly records: SegmentRecords }>();

function pendingRecords(writer: SegmentWriter): SegmentRecords {
  const kept = writing.get(writer);
  if (kept !== undefined && kept.count === writer.count) return kept.records;
  const records = new SegmentRecords(writer.finish());
  writing.set(writer, { count: writer.count, records });
  return records;
}

function pendingEvent(source: RecallSource, origin: string, seq: number): LedgerEvent | undefined {
  for (const batch of source.pending()) {
    if (batch === null) continue;
    // Own and received events are not kept as objects until their commit (each would survive a
    // young-generation collection): read back from the segment being written, or as received.
    for (const { writer } of batch.own) {
      if (writer.origin !== origin || seq < writer.firstSeq || seq >= writer.firstSeq + writer.count)
        continue;
      return pendingRecords(writer).event(seq - writer.firstSeq);
    }
    for (const write of batch.received) {
      if (write.origin !== origin || seq < write.firstSeq || seq > write.lastSeq) continue;
      const index = seq - write.firstSeq;
      return decodeSegmentRange(write.bytes, index, index + 1).events[0];
    }
  }
  return undefined;
}

/**
 * `origin`'s event `seq` from the store (undefined when the store does not hold it), through the
 * segments kept by earlier recalls. A segment that is not the one asked for is an error.
 */
async function storedEvent(
  source: RecallSource,
  origin: string,
  seq: number,
): Promise<LedgerEvent | undefined> {
  let segment = source.segments?.find(origin, seq);
  if (segment === undefined) {
    const [stored] = await source.store.readSegments(origin, seq, 1);
    if (stored === undefined) return undefined;
    segment = new SegmentRecords(stored.bytes);
    const { header } = segment;
    if (
      header.origin !== origin ||
      header.firstSeq !== stored.firstSeq ||
      header.lastSeq !== stored.lastSeq ||
      seq < header.firstSeq ||
      seq > header.lastSeq
    )
      throw new Error(
        `the store answered a read of ${origin} seq ${seq} with ${header.origin} seqs ${header.firstSeq}–${header.lastSeq}`,
      );
    source.segments?.keep(segment);
  }
  return segment.event(seq - segment.header.firstSeq);
}

/**
 * Reads `ids` back into a copy of `previous` (one more round); null when the decision has used
 * up RECALL_ROUNDS_MAX rounds. Rejects when the store fails, when an event lies below a log base
 * (a node that joined by checkpoint does not hold it: its record is unknown here, not absent), and
 * with IndexedEventMissing when an event is neither pending nor stored.
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
      event = await storedEvent(source, at.origin, at.seq);
      // Not here because this node joined by a checkpoint after it: unknown, never "no record"
      // (that would take a replayed key for a new one). The command is refused instead.
      if (event === undefined) {
        const base = (await source.store.bases()).find((head) => head.origin === at.origin);
        if (base !== undefined && at.seq <= base.seq)
          throw new Error(
            `event ${id} lies before the checkpoint this node joined from: it is not held here`,
          );
        // Indexed, yet neither pending nor stored: the fold it was indexed in was undone (a failed
        // commit; a received segment folded in part) or a lookup is broken. Never "no record":
        // that would take a replayed key for a new one and charge it twice.
        throw new IndexedEventMissing(id);
      }
    }
    recalled.set(id, recordFromEvent(event));
  }
  return recalled;
}
