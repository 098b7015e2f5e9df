/**
 * What the segment encoder (segment.ts) and decoder (segment-decode.ts) share: the format's version,
 * a segment's envelope, and what a string of a segment's table is checked to be.
 */
import type { LedgerEvent } from './events.js';
import { isKey, isOriginId, isTenantId, type OriginId, parseEventRecordId } from './ids.js';

/** The format version this build writes and reads. */
export const SEGMENT_VERSION = 1;

/** A segment's envelope: whose events, and which. */
export interface SegmentHeader {
  readonly origin: OriginId;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly count: number;
}

/** A decoded segment: its events in seq order and where each one's record lies in the bytes. */
export interface DecodedSegment extends SegmentHeader {
  readonly events: LedgerEvent[];
  /**
   * `count + 1` offsets: event i's record, its length prefix first, is bytes `bounds[i]` up to
   * `bounds[i + 1]` (`decodeSegmentRange` hands out the records without their prefixes).
   */
  readonly bounds: Uint32Array;
}

/** What a string of the table is checked to be, as bits (a string may serve as several). */
export const AS_TENANT = 1;
export const AS_KEY = 2;
export const AS_ORIGIN = 4;
export const AS_EVENT_ID = 8;

/** Whether `text` is valid as `as` (one AS_ bit). */
export function validAs(text: string, as: number): boolean {
  switch (as) {
    case AS_TENANT:
      return isTenantId(text);
    case AS_KEY:
      return isKey(text);
    case AS_ORIGIN:
      return isOriginId(text);
    default:
      return parseEventRecordId(text) !== null;
  }
}

/** What each AS_ bit names, for errors. */
export const AS_NAMES: Record<number, string> = {
  [AS_TENANT]: 'tenant id',
  [AS_KEY]: 'key',
  [AS_ORIGIN]: 'origin id',
  [AS_EVENT_ID]: 'debit or refund id',
};
