/**
 * Moving records from the live store to the archive (archive.ts), shared by both stores: each store
 * hands in its live records (LiveRecords) and the archive. A step is crash-safe at every point: the
 * archive file and its manifest are durable before any live record is deleted, reads never look at a
 * live record the archive covers, and each step first deletes what an earlier, interrupted step left
 * live. Reads in flight when the archive grew finish before their live records go (ReadTracker).
 */
import { isOriginId, type OriginId } from '@allot/core';
import type { ArchiveStep, LogHead, StoredSegment } from '@allot/replica';
import type { Archive } from './archive.js';
import type { ArchivedIndexRecord } from './archive-format.js';
import type { KeyValue } from './commit-plan.js';
import { StoreCorruptError, StoreInvariantError } from './errors.js';
import { parseTenantKey, segmentKey } from './keys.js';
import {
  ARCHIVE_FILE_BYTES_MAX,
  ARCHIVE_FILE_SEGMENTS_MAX,
  ARCHIVE_INDEX_FILE_ENTRIES_MAX,
  HASH_BYTES,
  SIGNATURE_BYTES,
} from './limits.js';
import { openRecord } from './records.js';
import { decodeSegmentRecord, decodeTenantEntry } from './segment-records.js';

/** A live segment record: its key, its last seq and its sealed value. */
export interface LiveSegmentRecord extends KeyValue {
  readonly lastSeq: number;
}

/** What a store hands a move: its live records and a way to delete them. */
export interface LiveRecords {
  /** Up to `limit` live segment records of `origin` with last seq from `fromSeq` to `toSeq`, in order. */
  segmentRecords(
    origin: OriginId,
    fromSeq: number,
    toSeq: number,
    limit: number,
  ): Promise<LiveSegmentRecord[]>;
  /** Every live tenant index record. */
  tenantRecords(): Promise<KeyValue[]>;
  /** Deletes `keys` from the live store in one synced batch. */
  remove(keys: readonly string[]): Promise<void>;
}

/** The reads in flight, so that a move deletes live records only once no read that may use them runs. */
export class ReadTracker {
  private readonly inFlight = new Set<Promise<unknown>>();

  /** Tracks `read` until it settles. */
  track<T>(read: Promise<T>): Promise<T> {
    this.inFlight.add(read);
    const forget = () => this.inFlight.delete(read);
    read.then(forget, forget);
    return read;
  }

  /** Resolves once every read in flight now has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}

/** Bytes of an archive file before its segments: magic, version, kind, origin and count. */
const FILE_HEADER_BYTES = 8 + 1 + 1 + 2 + 4;

/**
 * One step of moving `origin`'s log (head at `headSeq`, log base `baseOf()` if it has one) to the
 * archive, up to the segment ending at `throughSeq`: at most one file (ARCHIVE_FILE_SEGMENTS_MAX,
 * ARCHIVE_FILE_BYTES_MAX) of one chained run. The run continues what is archived; where the live
 * log does not (a node that joined by checkpoint holds nothing between the prefix it held and its
 * log base), it starts right after the base, chained to the base's hash. A prefix below the base
 * that does not continue the archive (after an earlier base) stays live: it never grows.
 */
export async function moveSegments(
  archive: Archive,
  live: LiveRecords,
  reads: ReadTracker,
  origin: OriginId,
  throughSeq: number,
  headSeq: () => number,
  baseOf: () => LogHead | undefined,
): Promise<ArchiveStep> {
  if (!isOriginId(origin))
    throw new TypeError(`archiveSegments: invalid origin id ${JSON.stringify(origin)}`);
  if (!Number.isSafeInteger(throughSeq) || throughSeq < 0 || throughSeq > headSeq())
    throw new RangeError(
      `archiveSegments: seq ${throughSeq} is not a seq of ${origin}'s log (head ${headSeq()})`,
    );
  // The head's segment stays live (a start checks the head against it); read when deleting, as
  // commits may move the head meanwhile.
  const isHead = (key: string) => key === segmentKey(origin, Math.max(headSeq(), 1));
  // Finish an earlier step: live copies of archived segments go (the head's stays live). Only the
  // last file's can be left: each step finishes the one before it first.
  const archived = archive.throughSeq(origin);
  const lastFrom = archive.lastFileFrom(origin);
  if (archived > 0) {
    const leftovers = await live.segmentRecords(origin, lastFrom, archived, ARCHIVE_FILE_SEGMENTS_MAX + 1);
    if (leftovers.some((record) => !isHead(record.key))) {
      await reads.settled();
      await live.remove(leftovers.map((record) => record.key).filter((key) => !isHead(key)));
    }
  }
  const none = { segments: 0, events: 0, throughSeq: archived };
  if (throughSeq <= archived) return none;
  const base = baseOf();
  const decode = ({ key, lastSeq, value }: LiveSegmentRecord) =>
    decodeSegmentRecord(key, openRecord(key, value), origin, lastSeq);
  let records = await live.segmentRecords(origin, archived + 1, throughSeq, ARCHIVE_FILE_SEGMENTS_MAX);
  let expected = archived + 1;
  let opening = records[0] === undefined ? undefined : decode(records[0]);
  if (opening !== undefined && base !== undefined && base.seq > archived && opening.firstSeq > expected) {
    // The live log does not continue the archive: its run after the base does.
    records = await live.segmentRecords(origin, base.seq + 1, throughSeq, ARCHIVE_FILE_SEGMENTS_MAX);
    opening = records[0] === undefined ? undefined : decode(records[0]);
    expected = base.seq + 1;
  }
  const segments: StoredSegment[] = [];
  let bytes = FILE_HEADER_BYTES + origin.length;
  for (const [i, record] of records.entries()) {
    const { key } = record;
    const segment = i === 0 && opening !== undefined ? opening : decode(record);
    const size = 4 + HASH_BYTES + SIGNATURE_BYTES + segment.bytes.length;
    if (segments.length > 0 && bytes + size > ARCHIVE_FILE_BYTES_MAX) break;
    if (segment.firstSeq !== expected) {
      // A run ends where the live log has a gap below the base (the next step starts after it).
      const gap = segment.firstSeq > expected && base !== undefined && segment.firstSeq - 1 <= base.seq;
      if (segments.length > 0 && gap) break;
      throw new StoreCorruptError(
        key,
        `starts at seq ${segment.firstSeq}: seqs from ${expected} are missing from the log`,
      );
    }
    segments.push(segment);
    bytes += size;
    expected = segment.lastSeq + 1;
  }
  const last = segments[segments.length - 1];
  if (last === undefined) return none;
  await archive.appendSegments(origin, segments, base);
  await reads.settled();
  const moved = records
    .slice(0, segments.length)
    .map((record) => record.key)
    .filter((key) => !isHead(key));
  if (moved.length > 0) await live.remove(moved);
  const first = segments[0] as StoredSegment;
  return {
    segments: segments.length,
    events: last.lastSeq - first.firstSeq + 1,
    throughSeq: last.lastSeq,
  };
}

/**
 * One step of moving the tenant index: the entries numbered below every entry that still points at
 * a live event that may yet move (past the archive and the origin's log base `baseSeq`: what lies
 * below a base and is not archived stays live for good), in entry order, at most
 * ARCHIVE_INDEX_FILE_ENTRIES_MAX. Entries are moved by number, so the archived index always holds
 * every entry up to its `entryThrough` and the live store only those past it: a page reads the
 * archive's, then the live ones (each event from wherever its segment is). Returns how many moved.
 */
export async function moveTenantIndex(
  archive: Archive,
  live: LiveRecords,
  reads: ReadTracker,
  baseSeq: (origin: OriginId) => number,
): Promise<number> {
  const through = archive.entryThrough;
  const leftovers: string[] = [];
  const ready: (ArchivedIndexRecord & { entry: number })[] = [];
  let blocked = Number.POSITIVE_INFINITY;
  for (const { key, value } of await live.tenantRecords()) {
    const parsed = parseTenantKey(key);
    if (parsed === null) throw new StoreCorruptError(key, 'not a tenant index key');
    if (parsed.entry <= through) {
      leftovers.push(key); // an earlier step archived it and stopped before deleting it
      continue;
    }
    const positions = decodeTenantEntry(key, openRecord(key, value));
    const first = parsed.entry - positions.length + 1;
    if (positions.every(({ origin, seq }) => seq <= Math.max(archive.throughSeq(origin), baseSeq(origin))))
      ready.push({ key, value, entry: parsed.entry });
    else blocked = Math.min(blocked, first);
  }
  const moving = ready
    .filter((record) => record.entry < blocked)
    .sort((a, b) => a.entry - b.entry)
    .slice(0, ARCHIVE_INDEX_FILE_ENTRIES_MAX);
  const last = moving[moving.length - 1];
  if (last !== undefined) {
    if (last.entry <= through) throw new StoreInvariantError(`archived index: entry ${last.entry} again`);
    const records = moving.map(({ key, value }) => ({ key, value })).sort((a, b) => (a.key < b.key ? -1 : 1));
    await archive.appendIndex(records, last.entry);
  }
  const keys = [...leftovers, ...moving.map((record) => record.key)];
  if (keys.length > 0) {
    await reads.settled();
    await live.remove(keys);
  }
  return moving.length;
}
