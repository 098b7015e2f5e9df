/**
 * Segments (DESIGN.md §2): the run of one origin's events that one commit made durable, encoded
 * once in a compact, versioned binary form — no JSON and no per-event object encoding — that is
 * stored, sent and relayed as it is. Layout (version 1):
 *
 *   byte    version (1)
 *   ascii   origin
 *   varint  firstSeq (≥ 1), count (≥ 1)
 *   varint  strings; then each string of the segment's string table (ASCII ids, ≤ 255 bytes),
 *           in the order the records first use them
 *   count × (varint length, record): byte kind code (top bit: `at` went back), varint |Δat| from
 *           the previous event (the first: from 0), varint tenant (a string index), then the
 *           kind's fields as segment-kinds.ts lists them
 *
 * Every encoding has one form (shortest varints, table in first-use order, canonical metadata), so
 * a segment that decodes re-encodes to the same bytes, and its hash names exactly its events.
 * This module writes segments; segment-decode.ts reads them, and segment-format.ts holds what both
 * share. Decoding trusts nothing: every length is checked against the bytes left before anything is read
 * or allocated, every number is a safe integer, every id passes core's validator, and anything
 * else is a SegmentError. The record of each event has a known byte range (`DecodedSegment.bounds`).
 */
import { canonicalJson, nestsDeeper } from './canonical.js';
import type { Json, LedgerEvent, Part } from './events.js';
import { isOriginId, type OriginId } from './ids.js';
import { KEY_LENGTH_MAX, METADATA_DEPTH_MAX, PARTS_MAX, SEGMENT_BYTES_MAX } from './limits.js';
import { ByteWriter, SegmentEncodeError } from './segment-bytes.js';
import {
  AS_EVENT_ID,
  AS_KEY,
  AS_NAMES,
  AS_ORIGIN,
  AS_TENANT,
  SEGMENT_VERSION,
  validAs,
} from './segment-format.js';
import { SEGMENT_KINDS, type SegmentFieldType } from './segment-kinds.js';

export { SegmentEncodeError, SegmentError } from './segment-bytes.js';
export { decodeSegment, decodeSegmentRange, SegmentRecords, segmentHeader } from './segment-decode.js';
export { type DecodedSegment, SEGMENT_VERSION, type SegmentHeader } from './segment-format.js';
export { SEGMENT_KINDS, type SegmentFieldType, type SegmentKind } from './segment-kinds.js';

const utf8 = new TextEncoder();

/**
 * One event's record while `SegmentWriter.add` writes it, shared by every writer: `add` fills and
 * copies it without yielding, and a writer per commit made a second buffer each (a swarm worker's
 * commits are small and many).
 */
const RECORD = new ByteWriter(256);
/** A segment's header while `finish` writes it, shared as RECORD is: `finish` copies it out without yielding. */
const HEAD = new ByteWriter(1024);

/** Writes the events of one origin's run into one segment, event by event. */
export class SegmentWriter {
  private readonly records = new ByteWriter(1024);
  private readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  private checked: number[] = [];
  private previousAt = 0;
  /** Events written so far. */
  count = 0;
  /** Bytes of the strings' table so far (each string and its length). */
  private tableBytes = 0;

  /** A writer of the run of `origin`'s log that starts at `firstSeq`. */
  constructor(
    readonly origin: OriginId,
    readonly firstSeq: number,
  ) {
    if (!isOriginId(origin)) throw new SegmentEncodeError(`invalid origin ${JSON.stringify(origin)}`);
    if (!Number.isSafeInteger(firstSeq) || firstSeq < 1)
      throw new SegmentEncodeError(`invalid seq ${firstSeq}`);
  }

  /** Bytes the segment would have if finished now, give or take the header's few. */
  get bytes(): number {
    return this.records.length + this.tableBytes + this.origin.length + 32;
  }

  private ref(out: ByteWriter, text: string, as: number): void {
    let at = this.index.get(text);
    if (at === undefined) {
      at = this.strings.length;
      if (typeof text !== 'string' || text.length > KEY_LENGTH_MAX)
        throw new SegmentEncodeError(
          `${String(text).slice(0, 40)} is not an id of at most ${KEY_LENGTH_MAX}`,
        );
      this.strings.push(text);
      this.index.set(text, at);
      this.checked.push(0);
      this.tableBytes += text.length + 2;
    }
    const checked = this.checked[at] as number;
    if ((checked & as) === 0) {
      if (!validAs(text, as))
        throw new SegmentEncodeError(`${JSON.stringify(text)} is not a valid ${AS_NAMES[as]}`);
      this.checked[at] = checked | as;
    }
    out.varint(at);
  }

  private field(out: ByteWriter, value: unknown, type: SegmentFieldType, name: string): void {
    switch (type) {
      case 'uint':
        out.varint(value as number);
        return;
      case 'time?':
        if (value === null) out.byte(0);
        else {
          out.byte(1);
          out.varint(value as number);
        }
        return;
      case 'key':
        this.ref(out, value as string, AS_KEY);
        return;
      case 'origin':
        this.ref(out, value as string, AS_ORIGIN);
        return;
      case 'eventId':
        this.ref(out, value as string, AS_EVENT_ID);
        return;
      case 'parts': {
        const parts = value as readonly Part[];
        if (!Array.isArray(parts) || parts.length > PARTS_MAX)
          throw new SegmentEncodeError(`${name} is not a list of at most ${PARTS_MAX} parts`);
        out.varint(parts.length);
        for (const part of parts) {
          this.ref(out, part.grantId, AS_KEY);
          out.varint(part.amount);
        }
        return;
      }
      case 'json': {
        const text = canonicalJson(value as Json);
        if (nestsDeeper(text, METADATA_DEPTH_MAX))
          throw new SegmentEncodeError(`${name} nests deeper than ${METADATA_DEPTH_MAX}`);
        // ASCII text (most metadata, and `null`) is its own UTF-8: no encoder call.
        if (out.asciiIfAscii(text)) return;
        const bytes = utf8.encode(text);
        out.varint(bytes.length);
        out.bytes(bytes);
        return;
      }
    }
  }

  /** Appends `event`, which must be the next of this run (`origin`, seq `firstSeq + count`). */
  add(event: LedgerEvent): void {
    if (event.origin !== this.origin || event.seq !== this.firstSeq + this.count)
      throw new SegmentEncodeError(
        `event ${event.origin} seq ${event.seq} does not follow ${this.origin} seq ${this.firstSeq + this.count - 1}`,
      );
    const entry = SEGMENT_KINDS[event.kind];
    if (entry === undefined) throw new SegmentEncodeError(`no segment code for kind ${String(event.kind)}`);
    const record = RECORD;
    record.reset();
    const at = event.at;
    if (!Number.isSafeInteger(at) || at < 0) throw new SegmentEncodeError(`invalid time ${at}`);
    const back = at < this.previousAt;
    record.byte(entry.code | (back ? 0x80 : 0));
    record.varint(back ? this.previousAt - at : at - this.previousAt);
    this.ref(record, event.tenant, AS_TENANT);
    const fields = event as unknown as Record<string, unknown>;
    for (const [name, type] of entry.fields) this.field(record, fields[name], type, name);
    this.records.prefixed(record);
    this.previousAt = at;
    this.count += 1;
  }

  /** The segment's bytes (a new array); at least one event must have been added. */
  finish(): Uint8Array {
    if (this.count === 0) throw new SegmentEncodeError('a segment holds at least one event');
    const head = HEAD;
    head.reset();
    head.byte(SEGMENT_VERSION);
    head.ascii(this.origin);
    head.varint(this.firstSeq);
    head.varint(this.count);
    head.varint(this.strings.length);
    for (const text of this.strings) head.ascii(text);
    const bytes = new Uint8Array(head.length + this.records.length);
    if (bytes.length > SEGMENT_BYTES_MAX)
      throw new SegmentEncodeError(`a segment of ${bytes.length} bytes (at most ${SEGMENT_BYTES_MAX})`);
    bytes.set(head.view(), 0);
    bytes.set(this.records.view(), head.length);
    return bytes;
  }
}

/** The segment of `events`: a non-empty run of `origin`'s log, in seq order from its first. */
export function encodeSegment(events: readonly LedgerEvent[]): Uint8Array {
  const first = events[0];
  if (first === undefined) throw new SegmentEncodeError('a segment holds at least one event');
  const writer = new SegmentWriter(first.origin, first.seq);
  for (const event of events) writer.add(event);
  return writer.finish();
}
