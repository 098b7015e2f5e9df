/**
 * Reads of layout v3's logs shared by both stores: a run of segments checked to be whole (each
 * the one after the last, the first holding the seq asked for), the events of a run decoded from
 * its segments, a log read a page of segments at a time, and a tenant's page assembled from its
 * index entries. The stores hand in what they read; a gap, a record under the wrong key or bytes
 * that do not decode are a StoreCorruptError naming the key, never a shorter answer.
 */
import { decodeSegmentRange, type OriginId, SegmentError, type TenantId } from '@allot/core';
import type { StoredEvent, StoredSegment, TenantEventPage } from '@allot/replica';
import { cursorOf } from './cursor.js';
import { StoreCorruptError } from './errors.js';
import { segmentKey } from './keys.js';
import { LOG_PAGE_SEGMENTS_MAX } from './limits.js';
import { openRecord } from './records.js';
import { decodeTenantEntry, type EventPosition } from './segment-records.js';

/**
 * Throws unless `segments` (read for `origin` from `fromSeq`, below its head at `headSeq`) are a
 * run of the log: the first holds `fromSeq`, each starts where the one before ended, and a read
 * that stopped short of `limit` reached the head.
 */
export function checkSegmentRun(
  origin: OriginId,
  fromSeq: number,
  headSeq: number,
  segments: readonly StoredSegment[],
  limit: number,
): void {
  let expected = fromSeq;
  for (const [i, segment] of segments.entries()) {
    const first = i === 0 ? segment.firstSeq <= expected : segment.firstSeq === expected;
    if (!first)
      throw new StoreCorruptError(
        segmentKey(origin, segment.lastSeq),
        `starts at seq ${segment.firstSeq}: seqs from ${expected} are missing from the log`,
      );
    expected = segment.lastSeq + 1;
  }
  if (segments.length < limit && expected <= headSeq)
    throw new StoreCorruptError(
      segmentKey(origin, headSeq),
      `the log of ${origin} ends at seq ${expected - 1}, below its head (seq ${headSeq})`,
    );
}

/** The events of `segment` from index `from` to `to − 1`, each with its record's bytes. */
function eventsIn(segment: StoredSegment, from: number, to: number): StoredEvent[] {
  try {
    const { events, records } = decodeSegmentRange(segment.bytes, from, to);
    return events.map((event, i) => ({ event, record: records[i] as Uint8Array }));
  } catch (error) {
    if (error instanceof SegmentError)
      throw new StoreCorruptError(segmentKey(segment.origin, segment.lastSeq), error.message);
    throw error;
  }
}

/** Up to `limit` events with seq ≥ `fromSeq` of a checked run of segments. */
export function eventsOfRun(
  segments: readonly StoredSegment[],
  fromSeq: number,
  limit: number,
): StoredEvent[] {
  const events: StoredEvent[] = [];
  for (const segment of segments) {
    if (events.length >= limit) break;
    const from = Math.max(0, fromSeq - segment.firstSeq);
    const count = segment.lastSeq - segment.firstSeq + 1;
    if (from >= count) continue;
    events.push(...eventsIn(segment, from, Math.min(count, from + limit - events.length)));
  }
  return events;
}

/** A tenant index entry as read: its key, its (last) entry number and its sealed value. */
export interface TenantHit {
  readonly key: string;
  readonly entry: number;
  readonly value: Uint8Array;
}

/** An event position of a page, with its entry number and the index key that named it. */
export interface PagePosition extends EventPosition {
  readonly entry: number;
  readonly key: string;
}

/**
 * The first `limit` event positions after entry `after` from `hits` (the tenant's index entries
 * whose last entry is past `after`, in order), and whether more follow.
 */
export function pagePositions(
  hits: readonly TenantHit[],
  after: number,
  limit: number,
): { positions: PagePosition[]; more: boolean } {
  const positions: PagePosition[] = [];
  let previous = after;
  for (const hit of hits) {
    const listed = decodeTenantEntry(hit.key, openRecord(hit.key, hit.value));
    const first = hit.entry - listed.length + 1;
    if (first <= previous && positions.length > 0)
      throw new StoreCorruptError(hit.key, `overlaps the entry before it (entry ${previous})`);
    for (let i = Math.max(0, after + 1 - first); i < listed.length; i++) {
      if (positions.length === limit) return { positions, more: true };
      positions.push({ ...(listed[i] as EventPosition), entry: first + i, key: hit.key });
    }
    previous = hit.entry;
  }
  return { positions, more: false };
}

/**
 * The events at `positions`, read with `segmentOf` (the stored segment holding a seq of an origin,
 * or undefined when none does), checked to be the tenant's. Positions that follow each other in
 * one segment are decoded together: one string table and one pass per segment, not per event.
 */
export async function eventsAt(
  tenant: TenantId,
  positions: readonly PagePosition[],
  segmentOf: (origin: OriginId, seq: number) => Promise<StoredSegment | undefined>,
): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let i = 0;
  while (i < positions.length) {
    const position = positions[i] as PagePosition;
    const segment = await segmentOf(position.origin, position.seq);
    if (segment === undefined || segment.firstSeq > position.seq)
      throw new StoreCorruptError(
        position.key,
        `points at ${position.origin} seq ${position.seq}, which is missing from its log`,
      );
    // The run of positions in this segment, in ascending seq.
    let end = i + 1;
    while (end < positions.length) {
      const next = positions[end] as PagePosition;
      const previous = positions[end - 1] as PagePosition;
      if (next.origin !== segment.origin || next.seq > segment.lastSeq || next.seq <= previous.seq) break;
      end += 1;
    }
    const from = position.seq - segment.firstSeq;
    const to = (positions[end - 1] as PagePosition).seq - segment.firstSeq + 1;
    const decoded = eventsIn(segment, from, to);
    for (let j = i; j < end; j++) {
      const at = positions[j] as PagePosition;
      const stored = decoded[at.seq - segment.firstSeq - from];
      if (stored === undefined || stored.event.tenant !== tenant)
        throw new StoreCorruptError(at.key, `points at an event of tenant ${stored?.event.tenant}`);
      events.push(stored);
    }
    i = end;
  }
  return events;
}

/**
 * Up to `limit` events of `origin`'s log with seq ≥ `fromSeq`, in seq order, read a page of
 * segments at a time with `segments` (a store's checked read); nothing at or below the log base
 * `baseSeq` (0 for a log from seq 1).
 */
export async function readLogEvents(
  origin: OriginId,
  fromSeq: number,
  limit: number,
  baseSeq: number,
  segments: (origin: OriginId, fromSeq: number, limit: number) => Promise<StoredSegment[]>,
): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let from = Math.max(fromSeq, baseSeq + 1);
  while (events.length < limit) {
    const run = await segments(origin, from, Math.min(LOG_PAGE_SEGMENTS_MAX, limit - events.length));
    const last = run[run.length - 1];
    if (last === undefined) break;
    events.push(...eventsOfRun(run, from, limit - events.length));
    from = last.lastSeq + 1;
  }
  return events;
}

/**
 * A page of `tenant`'s events after entry `after`: the first `limit` positions of `hits` (its index
 * entries past `after`, in order, `limit + 1` of them when there are), their events read with
 * `segmentOf`, and the cursor of the next page when more follow.
 */
export async function tenantPage(
  tenant: TenantId,
  hits: readonly TenantHit[],
  after: number,
  limit: number,
  segmentOf: (origin: OriginId, seq: number) => Promise<StoredSegment | undefined>,
): Promise<TenantEventPage> {
  const { positions, more } = pagePositions(hits, after, limit);
  const events = await eventsAt(tenant, positions, segmentOf);
  const tail = positions[positions.length - 1];
  return { events, next: more && tail !== undefined ? cursorOf(tail.entry) : null };
}
