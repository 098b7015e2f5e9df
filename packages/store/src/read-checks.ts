/**
 * Checks shared by both stores' reads: the arguments a caller passes (a clear error past a limit),
 * and that a record read back is the one its key promises (a store never hands out a record found
 * under the wrong key).
 */
import { isOriginId, isTenantId, type OriginId, type TenantId } from '@allot/core';
import { type LogHead, type StoredEvent, sameBytes } from '@allot/replica';
import { type ControlTally, decodeControlUpdate } from './encoding.js';
import { StoreCorruptError } from './errors.js';
import { CONTROL_TALLY_KEY, controlKey, segmentKey } from './keys.js';
import { LOG_PAGE_EVENTS_MAX, LOG_PAGE_SEGMENTS_MAX, TENANT_PAGE_EVENTS_MAX } from './limits.js';
import { openRecord } from './records.js';
import { decodeSegmentRecord } from './segment-records.js';

/** Throws unless (origin, fromSeq, limit) is a valid `readLog` request; limit 0 asks for nothing. */
export function checkLogRead(origin: OriginId, fromSeq: number, limit: number): void {
  if (!isOriginId(origin)) throw new TypeError(`readLog: invalid origin id ${JSON.stringify(origin)}`);
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) {
    throw new RangeError(`readLog: fromSeq ${fromSeq} is not a seq`);
  }
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > LOG_PAGE_EVENTS_MAX) {
    throw new RangeError(`readLog: limit ${limit} is not an integer from 0 to ${LOG_PAGE_EVENTS_MAX}`);
  }
}

/** Throws unless (origin, fromSeq, limit) is a valid `readSegments` request; limit 0 asks for nothing. */
export function checkSegmentRead(origin: OriginId, fromSeq: number, limit: number): void {
  if (!isOriginId(origin)) throw new TypeError(`readSegments: invalid origin id ${JSON.stringify(origin)}`);
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 0) {
    throw new RangeError(`readSegments: fromSeq ${fromSeq} is not a seq`);
  }
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > LOG_PAGE_SEGMENTS_MAX) {
    throw new RangeError(`readSegments: limit ${limit} is not an integer from 0 to ${LOG_PAGE_SEGMENTS_MAX}`);
  }
}

/** Throws unless (tenant, limit) is a valid `readTenantEvents` request. */
export function checkTenantRead(tenant: TenantId, limit: number): void {
  if (!isTenantId(tenant))
    throw new TypeError(`readTenantEvents: invalid tenant id ${JSON.stringify(tenant)}`);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > TENANT_PAGE_EVENTS_MAX) {
    throw new RangeError(
      `readTenantEvents: limit ${limit} is not an integer from 1 to ${TENANT_PAGE_EVENTS_MAX}`,
    );
  }
}

/** Throws a StoreCorruptError unless the event read at `key` is event `seq` of `origin`. */
export function expectLogEvent(key: string, stored: StoredEvent, origin: OriginId, seq: number): StoredEvent {
  if (stored.event.origin !== origin || stored.event.seq !== seq) {
    throw new StoreCorruptError(
      key,
      `holds event ${stored.event.origin}/${stored.event.seq}, not ${origin}/${seq}`,
    );
  }
  return stored;
}

/** Throws a StoreCorruptError unless the head read at `key` is the head of `origin`. */
export function expectHead(key: string, head: LogHead, origin: OriginId): LogHead {
  if (head.origin !== origin) throw new StoreCorruptError(key, `holds the head of ${head.origin}`);
  return head;
}

/** A copy of `head` whose bytes the caller may keep or change without touching the store's copy. */
export function copyHead(head: LogHead): LogHead {
  return {
    origin: head.origin,
    seq: head.seq,
    hash: new Uint8Array(head.hash),
    signature: head.signature === null ? null : new Uint8Array(head.signature),
  };
}

/** Orders heads by origin, so every store lists them the same way. */
export function byOrigin(a: LogHead, b: LogHead): number {
  return a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0;
}

/** A tenant index entry as read: its key, its number and its sealed value. */
export interface IndexHit {
  readonly key: string;
  readonly entry: number;
  readonly value: Uint8Array;
}

/**
 * The control updates in `hits` (every control entry up to the store's last entry, in order),
 * checked against the tally: as many as it counts, the last at its entry, each sealed and valid.
 * A missing or extra update is a StoreCorruptError: the control document is never built from part
 * of its updates.
 */
export function checkControl(tally: ControlTally, hits: readonly IndexHit[]): Uint8Array[] {
  const updates = hits.map(({ key, value }) => decodeControlUpdate(key, openRecord(key, value)));
  const last = hits[hits.length - 1]?.entry ?? 0;
  if (hits.length !== tally.count || last !== tally.last) {
    const where = tally.last > last ? controlKey(tally.last) : CONTROL_TALLY_KEY;
    throw new StoreCorruptError(
      where,
      `the control tally counts ${tally.count} updates up to entry ${tally.last}; found ${hits.length} up to entry ${last}`,
    );
  }
  return updates;
}

/** What a head is checked against: its origin's stored log, as a store reads it. */
export interface HeadLog {
  /** The sealed value of the segment record of the head's origin ending at `seq`; undefined: none. */
  segmentValue(seq: number): Promise<Uint8Array | undefined>;
  /** The first segment key of the head's origin past `seq`; undefined: none. */
  keyPast(seq: number): Promise<string | undefined>;
}

/**
 * Throws a StoreCorruptError unless `head` (read at `key`) is its log's last segment: the segment
 * exists, has the head's hash, and none follows; or, with nothing after its log base yet, the base
 * itself. LevelStore checks every head so at open; MemoryStore at every read of the heads (a read
 * fault may serve a stale one).
 */
export async function checkHeadAgainstLog(
  key: string,
  head: LogHead,
  base: LogHead | undefined,
  log: HeadLog,
): Promise<void> {
  if (base !== undefined && head.seq <= base.seq) {
    if (head.seq !== base.seq || !sameBytes(head.hash, base.hash))
      throw new StoreCorruptError(key, `below or beside its log base (seq ${base.seq})`);
  } else {
    const lastKey = segmentKey(head.origin, head.seq);
    const value = await log.segmentValue(head.seq);
    if (value === undefined) throw new StoreCorruptError(key, `its segment ${lastKey} is missing`);
    const segment = decodeSegmentRecord(lastKey, openRecord(lastKey, value), head.origin, head.seq);
    if (!sameBytes(segment.hash, head.hash))
      throw new StoreCorruptError(key, `its hash is not the hash of ${lastKey}`);
  }
  const after = await log.keyPast(head.seq);
  if (after !== undefined)
    throw new StoreCorruptError(after, `past the head of ${head.origin} (seq ${head.seq})`);
}
