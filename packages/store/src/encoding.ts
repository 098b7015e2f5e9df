/**
 * The payloads of stored records: MessagePack (msgpackr) of plain maps, checked on the way in and on
 * the way out (records.ts seals each payload with its checksum). Writing refuses a malformed record (StoreInvariantError, nothing written); reading
 * refuses bytes that are not a valid record (StoreCorruptError naming the key), so a store never
 * hands the replica a malformed record.
 *
 * Exactness, and the msgpackr traps it avoids:
 * - No records or shared structures: a map carries its keys, so bytes written by one process (or a
 *   tool) read the same in another, with no structure table to keep in step.
 * - Bytes: msgpackr writes any typed array as `bin` of `length` elements truncated to bytes with a
 *   header of `byteLength` bytes, so a Float64Array comes out as garbage. Byte fields must be
 *   Uint8Array (checked) and every decoded `bin` is copied into a fresh Uint8Array: msgpackr hands
 *   back a Buffer, or a view into the read buffer, which a later read may reuse.
 * - Numbers: msgpackr writes integers past 2^32 as float64, exact up to 2^53 − 1. A uint64 written
 *   by another encoder decodes as a bigint and fails the checks; it never loses precision silently.
 * - Debit metadata is kept as its JSON text. msgpackr renames a `__proto__` key to `__proto_` and
 *   replaces lone surrogates in strings, so arbitrary client JSON would not come back as written
 *   (and its chain hash would no longer verify); JSON text round-trips every JSON value exactly
 *   (−0 aside, which JSON itself writes as 0).
 */
import {
  EVENT_KINDS,
  isIncarnationId,
  isOriginId,
  isRegionId,
  type Json,
  type LedgerEvent,
  type OriginId,
} from '@allot/core';
import {
  describeValue as describe,
  eventFieldNames,
  eventShapeProblem,
  fieldsProblem,
  isByteArray,
  isPlainRecord,
  type LogHead,
  MSGPACKR_OPTIONS,
  type NodeMeta,
} from '@allot/replica';
import { Packr } from 'msgpackr';
import { StoreCorruptError, StoreInvariantError } from './errors.js';
import { CLUSTER_ID_LENGTH_MAX, CONTROL_UPDATE_BYTES_MAX, HASH_BYTES, SIGNATURE_BYTES } from './limits.js';

const packr = new Packr(MSGPACKR_OPTIONS);

/**
 * An event as layout v2 stored it, one record per event with its own chain hash (and the origin's
 * signature where it signed): what a conversion to v3 reads (convert-v2.ts).
 */
export interface V2StoredEvent {
  readonly event: LedgerEvent;
  readonly hash: Uint8Array;
  readonly signature?: Uint8Array | null;
}

type Fields = Record<string, unknown>;

const HEAD_FIELDS = ['origin', 'seq', 'hash', 'signature'] as const;
const META_FIELDS = ['formatVersion', 'cluster', 'region', 'incarnation', 'createdAt'] as const;
/** A stored debit keeps its metadata as JSON text under this name (see the file's doc). */
const METADATA_JSON = 'metadataJson';

function bytesProblem(what: string, value: unknown, length: number): string | null {
  if (!isByteArray(value)) return `${what} is ${describe(value)}, not a Uint8Array`;
  return value.length === length ? null : `${what} has ${value.length} bytes, not ${length}`;
}

/** True unless `text` holds a lone UTF-16 surrogate, which UTF-8 (and so MessagePack) cannot carry. */
function isWellFormed(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

/** Why `stored` is not a storable event with its chain hash, or null when it is. */
export function storedEventProblem(stored: V2StoredEvent): string | null {
  if (!isPlainRecord(stored)) return `stored event is ${describe(stored)}, not a map`;
  const problem = eventShapeProblem(stored.event) ?? bytesProblem('hash', stored.hash, HASH_BYTES);
  if (problem !== null || stored.signature === undefined || stored.signature === null) return problem;
  return bytesProblem('signature', stored.signature, SIGNATURE_BYTES);
}

/** Why `head` is not a valid log head, or null when it is. */
export function logHeadProblem(head: LogHead): string | null {
  const problem = fieldsProblem('head', head, HEAD_FIELDS);
  if (problem !== null) return problem;
  if (!isOriginId(head.origin)) return 'head has an invalid origin';
  if (!Number.isSafeInteger(head.seq) || head.seq < 1) return 'head has an invalid seq';
  const hashProblem = bytesProblem('head hash', head.hash, HASH_BYTES);
  if (hashProblem !== null) return hashProblem;
  return head.signature === null ? null : bytesProblem('head signature', head.signature, SIGNATURE_BYTES);
}

/** Why `meta` is not valid node metadata of format version 1, or null when it is. */
export function nodeMetaProblem(meta: NodeMeta): string | null {
  const problem = fieldsProblem('node meta', meta, META_FIELDS);
  if (problem !== null) return problem;
  if (meta.formatVersion !== 1) {
    return `format version ${JSON.stringify(meta.formatVersion)} is not one this build reads (1)`;
  }
  const { cluster } = meta;
  if (typeof cluster !== 'string' || cluster.length === 0 || cluster.length > CLUSTER_ID_LENGTH_MAX) {
    return `cluster is not a string of 1 to ${CLUSTER_ID_LENGTH_MAX} characters`;
  }
  if (!isWellFormed(cluster)) return 'cluster holds a lone UTF-16 surrogate';
  if (!isRegionId(meta.region)) return 'invalid region';
  if (!isIncarnationId(meta.incarnation)) return 'invalid incarnation';
  return Number.isSafeInteger(meta.createdAt) && meta.createdAt >= 0 ? null : 'invalid createdAt';
}

function controlProblem(update: Uint8Array): string | null {
  if (!isByteArray(update)) return `control update is ${describe(update)}, not a Uint8Array`;
  if (update.length === 0) return 'control update is empty';
  return update.length <= CONTROL_UPDATE_BYTES_MAX
    ? null
    : `control update has ${update.length} bytes, more than ${CONTROL_UPDATE_BYTES_MAX}`;
}

/** Exact-size bytes of `record`, not a view into msgpackr's shared write buffer. */
function pack(record: unknown): Uint8Array {
  return new Uint8Array(packr.pack(record));
}

function unpack(key: string, bytes: Uint8Array): unknown {
  if (!isByteArray(bytes)) throw new StoreCorruptError(key, `value is ${describe(bytes)}, not bytes`);
  try {
    return packr.unpack(bytes);
  } catch (error) {
    throw new StoreCorruptError(key, `not MessagePack: ${error instanceof Error ? error.message : error}`);
  }
}

function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function refuse(what: string, problem: string): never {
  throw new StoreInvariantError(`cannot store ${what}: ${problem}`);
}

function eventName(event: unknown): string {
  return isPlainRecord(event) ? `event ${String(event.origin)}/${String(event.seq)}` : 'an event';
}

// ---------------------------------------------------------------------------------------------
// Events

function isKind(value: unknown): value is LedgerEvent['kind'] {
  return typeof value === 'string' && (EVENT_KINDS as readonly string[]).includes(value);
}

/** The fields of a `kind` event. */
function eventFields(kind: LedgerEvent['kind']): readonly string[] {
  return eventFieldNames(kind);
}

/**
 * The bytes of `stored`; a StoreInvariantError if it is not a well-formed event and hash. Fields
 * keep their order (MessagePack maps are ordered), so a decoded event prints as the original did.
 */
export function encodeStoredEvent(stored: V2StoredEvent): Uint8Array {
  const problem = storedEventProblem(stored);
  if (problem !== null) refuse(eventName(isPlainRecord(stored) ? stored.event : undefined), problem);
  const event = stored.event as unknown as Fields;
  const record: Fields = {};
  for (const field of Object.keys(event)) {
    if (field === 'metadata') record[METADATA_JSON] = JSON.stringify(event.metadata);
    else if (field === 'parts') record.parts = (event.parts as Fields[]).map((part) => ({ ...part }));
    else record[field] = event[field];
  }
  const signed =
    stored.signature === undefined || stored.signature === null ? {} : { signature: stored.signature };
  return pack({ event: record, hash: stored.hash, ...signed });
}

/** The stored event in `bytes` read at `key`; a StoreCorruptError unless it is a valid record. */
export function decodeStoredEvent(key: string, bytes: Uint8Array): V2StoredEvent {
  const record = unpack(key, bytes) as Fields;
  // `signature` is optional: only the last event of each of an origin's commits carries one.
  const recordProblem =
    isPlainRecord(record) && Object.hasOwn(record, 'signature')
      ? fieldsProblem('record', { ...record, signature: record.signature ?? false }, [
          'event',
          'hash',
          'signature',
        ])
      : fieldsProblem('record', record, ['event', 'hash']);
  if (recordProblem !== null) throw new StoreCorruptError(key, recordProblem);
  const fields = record.event;
  if (!isPlainRecord(fields)) throw new StoreCorruptError(key, `event is ${describe(fields)}, not a map`);
  if (!isKind(fields.kind))
    throw new StoreCorruptError(key, `unknown event kind ${JSON.stringify(fields.kind)}`);
  const stored = eventFields(fields.kind).map((field) => (field === 'metadata' ? METADATA_JSON : field));
  const fieldProblem = fieldsProblem('event', fields, stored);
  if (fieldProblem !== null) throw new StoreCorruptError(key, fieldProblem);
  const event: Fields = {};
  for (const field of Object.keys(fields)) {
    if (field === METADATA_JSON) event.metadata = parseMetadata(key, fields[field]);
    else event[field] = fields[field];
  }
  const hash = isByteArray(record.hash) ? copyBytes(record.hash) : record.hash;
  const signed =
    record.signature === undefined || record.signature === null
      ? {}
      : { signature: isByteArray(record.signature) ? copyBytes(record.signature) : record.signature };
  const result = { event, hash, ...signed } as unknown as V2StoredEvent;
  const problem = storedEventProblem(result);
  if (problem !== null) throw new StoreCorruptError(key, problem);
  return result;
}

function parseMetadata(key: string, text: unknown): Json {
  if (typeof text !== 'string')
    throw new StoreCorruptError(key, `metadata is ${describe(text)}, not JSON text`);
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new StoreCorruptError(
      key,
      `metadata is not JSON: ${error instanceof Error ? error.message : error}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Heads

/**
 * The bytes of `head`; a StoreInvariantError if it is not a valid head. Written out by hand, byte
 * for byte what msgpackr packs for the map {origin, seq, hash, signature} (a property test pins
 * them): a head is encoded at every commit, and the generic packer was ~2 % of a swarm worker.
 */
export function encodeLogHead(head: LogHead): Uint8Array {
  const problem = logHeadProblem(head);
  if (problem !== null) refuse(`the head of ${String(head?.origin)}`, problem);
  const { origin, seq, hash, signature } = head;
  const seqBytes = seq < 0x80 ? 1 : seq < 0x100 ? 2 : seq < 0x10000 ? 3 : seq < 0x100000000 ? 5 : 9;
  const originHeader = origin.length < 0x20 ? 1 : 2;
  const bytes = new Uint8Array(
    HEAD_MAP_BYTES +
      HEAD_KEY_BYTES +
      originHeader +
      origin.length +
      seqBytes +
      2 +
      hash.length +
      (signature === null ? 1 : 2 + signature.length),
  );
  const view = new DataView(bytes.buffer);
  let at = 0;
  // map16 of four entries: msgpackr writes an object's map with a 16-bit size.
  bytes[at++] = 0xde;
  bytes[at++] = 0;
  bytes[at++] = 4;
  const key = (name: string) => {
    bytes[at++] = 0xa0 | name.length;
    for (let i = 0; i < name.length; i++) bytes[at++] = name.charCodeAt(i);
  };
  key('origin');
  // An origin id is ASCII of at most 65 characters: fixstr, or str8.
  if (originHeader === 1) bytes[at++] = 0xa0 | origin.length;
  else {
    bytes[at++] = 0xd9;
    bytes[at++] = origin.length;
  }
  for (let i = 0; i < origin.length; i++) bytes[at++] = origin.charCodeAt(i);
  key('seq');
  // msgpackr's integers: positive fixint, uint8, uint16, uint32, and float64 past 2^32 (exact to 2^53).
  if (seqBytes === 1) bytes[at++] = seq;
  else if (seqBytes === 2) {
    bytes[at++] = 0xcc;
    bytes[at++] = seq;
  } else if (seqBytes === 3) {
    bytes[at++] = 0xcd;
    view.setUint16(at, seq);
    at += 2;
  } else if (seqBytes === 5) {
    bytes[at++] = 0xce;
    view.setUint32(at, seq);
    at += 4;
  } else {
    bytes[at++] = 0xcb;
    view.setFloat64(at, seq);
    at += 8;
  }
  key('hash');
  const bin = (value: Uint8Array) => {
    bytes[at++] = 0xc4; // bin8: a hash has 32 bytes, a signature 64
    bytes[at++] = value.length;
    bytes.set(value, at);
    at += value.length;
  };
  bin(hash);
  key('signature');
  if (signature === null) bytes[at++] = 0xc0;
  else bin(signature);
  return bytes;
}

/** Bytes of the head's map16 header, and of its four keys as fixstr: origin, seq, hash, signature. */
const HEAD_MAP_BYTES = 3;
const HEAD_KEY_BYTES = HEAD_FIELDS.reduce((sum, name) => sum + 1 + name.length, 0);

/**
 * The head a read of `encodeLogHead(head)` gives back (`decodeLogHead`), for a head that
 * `encodeLogHead` took: its fields in that order, hash and signature copied.
 */
export function storedLogHead(head: LogHead): LogHead {
  return {
    origin: head.origin,
    seq: head.seq,
    hash: copyBytes(head.hash),
    signature: head.signature === null ? null : copyBytes(head.signature),
  };
}

/** The head in `bytes` read at `key`; a StoreCorruptError unless it is a valid head. */
export function decodeLogHead(key: string, bytes: Uint8Array): LogHead {
  const record = unpack(key, bytes) as Fields;
  const head = isPlainRecord(record)
    ? {
        ...record,
        hash: isByteArray(record.hash) ? copyBytes(record.hash) : record.hash,
        signature: isByteArray(record.signature) ? copyBytes(record.signature) : record.signature,
      }
    : record;
  const problem = logHeadProblem(head as unknown as LogHead);
  if (problem !== null) throw new StoreCorruptError(key, problem);
  return head as unknown as LogHead;
}

// ---------------------------------------------------------------------------------------------
// Node metadata

/** The bytes of `meta`; a StoreInvariantError if it is not valid metadata. */
export function encodeNodeMeta(meta: NodeMeta): Uint8Array {
  const problem = nodeMetaProblem(meta);
  if (problem !== null) refuse('node meta', problem);
  const { formatVersion, cluster, region, incarnation, createdAt } = meta;
  return pack({ formatVersion, cluster, region, incarnation, createdAt });
}

/** The metadata in `bytes` read at `key`; a StoreCorruptError unless it is valid (format 1). */
export function decodeNodeMeta(key: string, bytes: Uint8Array): NodeMeta {
  const meta = unpack(key, bytes);
  const problem = nodeMetaProblem(meta as NodeMeta);
  if (problem !== null) throw new StoreCorruptError(key, problem);
  return meta as NodeMeta;
}

// ---------------------------------------------------------------------------------------------
// Control updates, the entry counter

/** The bytes of a control-document update (a MessagePack `bin`). */
export function encodeControlUpdate(update: Uint8Array): Uint8Array {
  const problem = controlProblem(update);
  if (problem !== null) refuse('control update', problem);
  return pack(update);
}

/** The control update in `bytes` read at `key`, as a fresh Uint8Array. */
export function decodeControlUpdate(key: string, bytes: Uint8Array): Uint8Array {
  const update = unpack(key, bytes);
  const problem = controlProblem(update as Uint8Array);
  if (problem !== null) throw new StoreCorruptError(key, problem);
  return copyBytes(update as Uint8Array);
}

/** The bytes of the entry counter. */
export function encodeCounter(counter: number): Uint8Array {
  if (!Number.isSafeInteger(counter) || counter < 0) refuse('entry counter', `${counter} is not a count`);
  return pack(counter);
}

/** The entry counter in `bytes` read at `key`. */
export function decodeCounter(key: string, bytes: Uint8Array): number {
  const counter = unpack(key, bytes);
  if (typeof counter !== 'number' || !Number.isSafeInteger(counter) || counter < 0) {
    throw new StoreCorruptError(key, `entry counter is ${describe(counter)}, not a count`);
  }
  return counter;
}

/** How many control updates the store holds, and the entry number of the last: a read checks both. */
export interface ControlTally {
  readonly count: number;
  readonly last: number;
}

function tallyProblem(tally: ControlTally): string | null {
  const problem = fieldsProblem('control tally', tally, ['count', 'last']);
  if (problem !== null) return problem;
  const { count, last } = tally;
  if (!Number.isSafeInteger(count) || count < 1) return 'control tally has an invalid count';
  return Number.isSafeInteger(last) && last >= count ? null : 'control tally has an invalid last entry';
}

/** The bytes of the control tally. */
export function encodeControlTally(tally: ControlTally): Uint8Array {
  const problem = tallyProblem(tally);
  if (problem !== null) refuse('control tally', problem);
  return pack({ count: tally.count, last: tally.last });
}

/** The control tally in `bytes` read at `key`. */
export function decodeControlTally(key: string, bytes: Uint8Array): ControlTally {
  const tally = unpack(key, bytes);
  const problem = tallyProblem(tally as ControlTally);
  if (problem !== null) throw new StoreCorruptError(key, problem);
  return tally as ControlTally;
}

/** The bytes of the record that `origin` was heard of: the id itself, so a read can check its key. */
export function encodeHeardOrigin(origin: OriginId): Uint8Array {
  if (!isOriginId(origin)) refuse('heard-of origin', `${describe(origin)} is not an origin id`);
  return pack(origin);
}

/** The heard-of origin in `bytes` read at `key`, which must be the origin `expected` of its key. */
export function decodeHeardOrigin(key: string, bytes: Uint8Array, expected: OriginId): OriginId {
  const origin = unpack(key, bytes);
  if (origin !== expected) {
    throw new StoreCorruptError(key, `heard-of origin is ${describe(origin)}, not ${expected} of its key`);
  }
  return expected;
}
