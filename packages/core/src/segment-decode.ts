/**
 * Decoding segments (segment.ts has the layout): whole (`decodeSegment`), their envelope alone
 * (`segmentHeader`), one event at a time of a stored one (`SegmentRecords`), or a range of records
 * (`decodeSegmentRange`). Decoding trusts nothing: every length is checked against the bytes left
 * before anything is read or allocated, every number is a safe integer, every id passes core's
 * validator, and anything else is a SegmentError.
 */
import { canonicalJson, nestsDeeper } from './canonical.js';
import type { Json, LedgerEvent, Part } from './events.js';
import { isOriginId, type OriginId } from './ids.js';
import { KEY_LENGTH_MAX, METADATA_DEPTH_MAX, PARTS_MAX, SEGMENT_BYTES_MAX } from './limits.js';
import { ByteReader, SegmentError } from './segment-bytes.js';
import {
  AS_EVENT_ID,
  AS_KEY,
  AS_NAMES,
  AS_ORIGIN,
  AS_TENANT,
  type DecodedSegment,
  SEGMENT_VERSION,
  type SegmentHeader,
  validAs,
} from './segment-format.js';
import { SEGMENT_KINDS, SEGMENT_KINDS_BY_CODE, type SegmentFieldType } from './segment-kinds.js';

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The fields decodeDebit reads, in order: the table's debit entry must be exactly these. */
const DEBIT_FIELDS = 'amount:uint idempotencyKey:key parts:parts overdraft:uint metadata:json';
if (SEGMENT_KINDS.debit.fields.map(([name, type]) => `${name}:${type}`).join(' ') !== DEBIT_FIELDS)
  throw new Error(
    `segment-decode.ts: decodeDebit reads ${DEBIT_FIELDS}, SEGMENT_KINDS.debit lists other fields`,
  );

function readHeader(reader: ByteReader): SegmentHeader {
  if (reader.bytes.length > SEGMENT_BYTES_MAX)
    throw new SegmentError(0, `${reader.bytes.length} bytes (at most ${SEGMENT_BYTES_MAX})`);
  const version = reader.byte();
  if (version !== SEGMENT_VERSION)
    throw new SegmentError(0, `format version ${version} (this build reads ${SEGMENT_VERSION})`);
  const origin = reader.ascii(KEY_LENGTH_MAX);
  if (!isOriginId(origin)) throw reader.fail(`origin ${JSON.stringify(origin)} is not an origin id`);
  const firstSeq = reader.varint();
  if (firstSeq < 1) throw reader.fail('first seq 0');
  // A record has a length, a kind, a time and a tenant: at least 4 bytes.
  const count = reader.count('event count', 4);
  if (count < 1) throw reader.fail('no events');
  const lastSeq = firstSeq + count - 1;
  if (!Number.isSafeInteger(lastSeq)) throw reader.fail('seqs past 2^53 − 1');
  return { origin, firstSeq, lastSeq, count };
}

/** The envelope of a segment (origin, seqs, count), read without decoding its events. */
export function segmentHeader(bytes: Uint8Array): SegmentHeader {
  return readHeader(new ByteReader(bytes));
}

/** The decoding of one segment's string table and records, with the first-use order check. */
class SegmentDecoder {
  private readonly strings: string[];
  private readonly checked: Uint8Array;
  /** Where each string starts, when strings are read as they are used. */
  private readonly offsets: Uint32Array | null;
  /** The index the next string used for the first time must have. */
  private fresh = 0;

  /** With `ordered`, strings must be used in table order (a whole segment); without, in any order. */
  constructor(
    private readonly reader: ByteReader,
    private readonly ordered: boolean,
  ) {
    const count = reader.count('string count', 1);
    this.strings = new Array<string>(count);
    this.checked = new Uint8Array(count);
    this.offsets = ordered ? null : new Uint32Array(count);
    const seen = ordered ? new Set<string>() : null;
    for (let i = 0; i < count; i++) {
      const start = reader.offset;
      if (this.offsets !== null) {
        // Out of order (a range of a stored segment): find each string now, read it when used.
        this.offsets[i] = start;
        const length = reader.varint();
        if (length > KEY_LENGTH_MAX) throw new SegmentError(start, `a string of ${length} bytes`);
        reader.take(length);
        continue;
      }
      const text = reader.ascii(KEY_LENGTH_MAX);
      if (seen?.has(text)) throw new SegmentError(start, `string ${JSON.stringify(text)} twice in the table`);
      seen?.add(text);
      this.strings[i] = text;
    }
  }

  /** A string of the table, which must be valid as `as`. */
  ref(as: number): string {
    const start = this.reader.offset;
    const at = this.reader.varint();
    if (at >= this.strings.length || (this.ordered && at > this.fresh))
      throw new SegmentError(start, `string ${at} used before string ${this.fresh}, or past the table`);
    if (at === this.fresh) this.fresh += 1;
    let text = this.strings[at];
    if (text === undefined) {
      const reader = new ByteReader(this.reader.bytes, (this.offsets as Uint32Array)[at] as number);
      text = reader.ascii(KEY_LENGTH_MAX);
      this.strings[at] = text;
    }
    const checked = this.checked[at] as number;
    if ((checked & as) === 0) {
      if (!validAs(text, as))
        throw new SegmentError(start, `${JSON.stringify(text)} is not a valid ${AS_NAMES[as]}`);
      this.checked[at] = checked | as;
    }
    return text;
  }

  /** Every string was used (the table is exactly what the records need). */
  allUsed(): boolean {
    return this.fresh === this.strings.length;
  }

  field(type: SegmentFieldType): unknown {
    const reader = this.reader;
    switch (type) {
      case 'uint':
        return reader.varint();
      case 'time?': {
        const present = reader.byte();
        if (present === 0) return null;
        if (present !== 1) throw reader.fail(`presence byte ${present}`);
        return reader.varint();
      }
      case 'key':
        return this.ref(AS_KEY);
      case 'origin':
        return this.ref(AS_ORIGIN);
      case 'eventId':
        return this.ref(AS_EVENT_ID);
      case 'parts': {
        // A part is a string index and an amount: at least 2 bytes.
        const count = reader.count('part count', 2);
        if (count > PARTS_MAX) throw reader.fail(`${count} parts (at most ${PARTS_MAX})`);
        // Of its size: most records hold one part, and a pushed-to empty array keeps room for 16.
        const parts: Part[] = new Array(count);
        for (let i = 0; i < count; i++) {
          const grantId = this.ref(AS_KEY);
          parts[i] = { grantId, amount: reader.varint() };
        }
        return parts;
      }
      case 'json': {
        if (reader.nullText()) return null;
        const start = reader.offset;
        const view = reader.take(reader.count('metadata length', 1));
        let text: string;
        let value: Json;
        try {
          text = utf8Strict.decode(view);
        } catch {
          throw new SegmentError(start, 'metadata is not UTF-8');
        }
        if (nestsDeeper(text, METADATA_DEPTH_MAX))
          throw new SegmentError(start, `metadata nests deeper than ${METADATA_DEPTH_MAX}`);
        try {
          value = JSON.parse(text) as Json;
          if (canonicalJson(value) !== text) throw new SegmentError(start, 'metadata is not canonical JSON');
        } catch (error) {
          if (error instanceof SegmentError) throw error;
          throw new SegmentError(start, 'metadata is not JSON');
        }
        return value;
      }
    }
  }
}

/**
 * The body of a debit record, read in the order SEGMENT_KINDS.debit lists its fields (checked when
 * this module loads: DEBIT_FIELDS), into an event of the same shape the table-driven decoder makes.
 */
function decodeDebit(
  reader: ByteReader,
  decoder: SegmentDecoder,
  origin: OriginId,
  seq: number,
  at: number,
  tenant: string,
): LedgerEvent {
  const amount = reader.varint();
  const idempotencyKey = decoder.ref(AS_KEY);
  const parts = decoder.field('parts') as Part[];
  const overdraft = reader.varint();
  const metadata = decoder.field('json') as Json | null;
  return { kind: 'debit', origin, seq, at, tenant, amount, idempotencyKey, parts, overdraft, metadata };
}

function decodeRecord(
  reader: ByteReader,
  decoder: SegmentDecoder,
  header: SegmentHeader,
  i: number,
  previousAt: number,
): LedgerEvent {
  const start = reader.offset;
  const kindByte = reader.byte();
  const kind = SEGMENT_KINDS_BY_CODE.get(kindByte & 0x7f);
  if (kind === undefined) throw new SegmentError(start, `unknown kind code ${kindByte & 0x7f}`);
  const delta = reader.varint();
  let at = previousAt;
  if (kindByte & 0x80) {
    if (delta === 0) throw new SegmentError(start, 'time moved back by 0');
    at -= delta;
  } else at += delta;
  if (!Number.isSafeInteger(at) || at < 0) throw new SegmentError(start, `time ${at} out of range`);
  const tenant = decoder.ref(AS_TENANT);
  // Debits are most of every log: one object literal of a fixed shape, no per-field dispatch
  // (decoding a catch-up's segments was ~600 ns an event with the loop below, ~400 with this).
  if (kind.kind === 'debit')
    return decodeDebit(reader, decoder, header.origin, header.firstSeq + i, at, tenant);
  const event: Record<string, unknown> = {
    kind: kind.kind,
    origin: header.origin,
    seq: header.firstSeq + i,
    at,
    tenant,
  };
  for (const [name, type] of kind.entry.fields) event[name] = decoder.field(type);
  return event as unknown as LedgerEvent;
}

/** Decodes a whole segment; a SegmentError, and nothing else, for bytes that are not one. */
export function decodeSegment(bytes: Uint8Array): DecodedSegment {
  if (!(bytes instanceof Uint8Array)) throw new SegmentError(0, 'not bytes');
  const reader = new ByteReader(bytes);
  const header = readHeader(reader);
  const decoder = new SegmentDecoder(reader, true);
  const events: LedgerEvent[] = [];
  const bounds = new Uint32Array(header.count + 1);
  let at = 0;
  for (let i = 0; i < header.count; i++) {
    bounds[i] = reader.offset;
    const length = reader.count('record length', 1);
    const start = reader.offset;
    const event = decodeRecord(reader, decoder, header, i, at);
    if (reader.offset !== start + length)
      throw new SegmentError(start, `record of ${length} bytes holds ${reader.offset - start}`);
    at = event.at;
    events.push(event);
  }
  bounds[header.count] = reader.offset;
  if (reader.left !== 0) throw reader.fail(`${reader.left} bytes after the last record`);
  if (!decoder.allUsed()) throw reader.fail('strings in the table that no record uses');
  return { ...header, events, bounds };
}

/**
 * Random access to the events of a segment already checked whole (a stored one: sealed, and
 * decoded when it was received or written). The string table is located once and each string read
 * when first used; records are found by their lengths as far as one was asked for, not decoded:
 * reading one event of a large segment costs its string table, the skip to it and that record, and
 * reading another of the same segment only that record. Still a SegmentError, never another throw,
 * for bad bytes.
 */
export class SegmentRecords {
  readonly header: SegmentHeader;
  private readonly reader: ByteReader;
  private readonly decoder: SegmentDecoder;
  /** Where each record's body starts (past its length), for the records found so far. */
  private readonly starts: Uint32Array;
  /** Each record's length, for the records found so far. */
  private readonly lengths: Uint32Array;
  /** Each event's time (a record holds the delta from the one before), for those found so far. */
  private readonly times: Float64Array;
  /** Records found so far, and where the next one's length is. */
  private found = 0;
  private next: number;

  constructor(readonly bytes: Uint8Array) {
    this.reader = new ByteReader(bytes);
    this.header = readHeader(this.reader);
    this.decoder = new SegmentDecoder(this.reader, false);
    const count = this.header.count;
    this.starts = new Uint32Array(count);
    this.lengths = new Uint32Array(count);
    this.times = new Float64Array(count);
    this.next = this.reader.offset;
  }

  /** Bytes this reader keeps: the segment and its record table. */
  get retainedBytes(): number {
    return this.bytes.length + this.header.count * 16;
  }

  /** Finds records by their lengths up to index `i`, reading only each one's kind byte and delta. */
  private findUpTo(i: number): void {
    const reader = this.reader;
    while (this.found <= i) {
      reader.offset = this.next;
      const length = reader.count('record length', 1);
      const start = reader.offset;
      const kindByte = reader.byte();
      const delta = reader.varint();
      const previous = this.found === 0 ? 0 : (this.times[this.found - 1] as number);
      this.starts[this.found] = start;
      this.lengths[this.found] = length;
      this.times[this.found] = previous + (kindByte & 0x80 ? -delta : delta);
      reader.offset = start;
      reader.take(length);
      this.next = reader.offset;
      this.found += 1;
    }
  }

  /** The event at index `i` of the segment (seq firstSeq + i). */
  event(i: number): LedgerEvent {
    if (!Number.isSafeInteger(i) || i < 0 || i >= this.header.count)
      throw new SegmentError(0, `event ${i} of a segment of ${this.header.count}`);
    this.findUpTo(i);
    const reader = this.reader;
    const start = this.starts[i] as number;
    const length = this.lengths[i] as number;
    reader.offset = start;
    const event = decodeRecord(
      reader,
      this.decoder,
      this.header,
      i,
      i === 0 ? 0 : (this.times[i - 1] as number),
    );
    if (reader.offset !== start + length)
      throw new SegmentError(start, `record of ${length} bytes holds ${reader.offset - start}`);
    return event;
  }

  /** The bytes of the record at index `i` (found by an earlier `event(i)`). */
  record(i: number): Uint8Array {
    this.findUpTo(i);
    const start = this.starts[i] as number;
    return this.bytes.subarray(start, start + (this.lengths[i] as number));
  }
}

/**
 * Events `from` to `to − 1` (indices in the segment) of a segment already checked whole, with
 * each one's record bytes (SegmentRecords: records before `from` are skipped, not decoded).
 */
export function decodeSegmentRange(
  bytes: Uint8Array,
  from: number,
  to: number,
): { readonly header: SegmentHeader; readonly events: LedgerEvent[]; readonly records: Uint8Array[] } {
  const segment = new SegmentRecords(bytes);
  const header = segment.header;
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 0 || to > header.count || from > to)
    throw new SegmentError(0, `events ${from} to ${to} of a segment of ${header.count}`);
  const events: LedgerEvent[] = [];
  const records: Uint8Array[] = [];
  for (let i = from; i < to; i++) {
    events.push(segment.event(i));
    records.push(segment.record(i));
  }
  return { header, events, records };
}
