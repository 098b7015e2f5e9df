/**
 * The record tables of the checkpoint codec (checkpoint.ts): per kind of record a state keeps
 * (debits, refunds, revokes, holds), its fields in the order they are written and how each is
 * written. The codec has no per-record code: a new kind of record (or a field a new event kind adds
 * to one) is an entry here. Fields derived from others (a record's id from its origin and seq, its
 * tenant from the tenant it sits in) are not written. Every field reads back checked: hostile bytes
 * give a CheckpointError, never anything else.
 */
import { type Canonical, canonicalJson, nestsDeeper } from './canonical.js';
import type { Json, Part } from './events.js';
import { isKey, parseEventRecordId } from './ids.js';
import { METADATA_DEPTH_MAX, PARTS_MAX } from './limits.js';
import type { ByteReader, ByteWriter } from './segment-bytes.js';

/** Bytes that do not decode as a checkpoint: where, and why. Decoding throws nothing else. */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
  constructor(
    /** The offset in the checkpoint's bytes where decoding stopped (−1: not known). */
    readonly offset: number,
    problem: string,
  ) {
    super(`checkpoint invalid at byte ${offset}: ${problem}`);
  }
}

/**
 * How one field is written:
 * - `uint`: a safe integer ≥ 0, as a varint;
 * - `time?`: null, or a safe integer ≥ 0 (a presence byte, then a varint);
 * - `origin`: an origin of the checkpoint's origin table, by its position (a varint);
 * - `key`: a grant id or idempotency key (ASCII, checked with core's validator);
 * - `eventId`: a debit or refund id (ASCII, checked);
 * - `parts`: a count, then per part a grant id (`key`) and an amount (`uint`);
 * - `json`: user JSON as its canonical JSON text in UTF-8, length first;
 * - `enum:a|b|…`: one of the listed strings, as its position (a byte);
 * - `end?`: null, or a hold's end (HOLD_END_FIELDS) after a presence byte.
 */
export type CheckpointFieldType =
  | 'uint'
  | 'time?'
  | 'origin'
  | 'key'
  | 'eventId'
  | 'parts'
  | 'json'
  | 'enum:capture|release'
  | 'enum:capture|void|expiry'
  | 'end?';

/** One record kind's fields, in the order they are written. */
export type CheckpointFields = readonly (readonly [name: string, type: CheckpointFieldType])[];

/** A debit record's fields (its debitId is eventRecordId(origin, seq); its tenant, the tenant's). */
export const DEBIT_FIELDS: CheckpointFields = [
  ['origin', 'origin'],
  ['seq', 'uint'],
  ['at', 'uint'],
  ['amount', 'uint'],
  ['idempotencyKey', 'key'],
  ['parts', 'parts'],
  ['overdraft', 'uint'],
  ['metadata', 'json'],
];

/** A refund record's fields (refundId derived as a debit's). */
export const REFUND_FIELDS: CheckpointFields = [
  ['origin', 'origin'],
  ['seq', 'uint'],
  ['at', 'uint'],
  ['debitId', 'eventId'],
  ['amount', 'uint'],
  ['idempotencyKey', 'key'],
  ['parts', 'parts'],
  ['overdraft', 'uint'],
];

/** A revoke record's fields (revokeId derived as a debit's). */
export const REVOKE_FIELDS: CheckpointFields = [
  ['origin', 'origin'],
  ['seq', 'uint'],
  ['at', 'uint'],
  ['grantId', 'key'],
  ['loser', 'origin'],
  ['total', 'uint'],
  ['amount', 'uint'],
  ['parts', 'parts'],
  ['overdraft', 'uint'],
];

/** How a hold ended. */
export const HOLD_END_FIELDS: CheckpointFields = [
  ['kind', 'enum:capture|release'],
  ['cause', 'enum:capture|void|expiry'],
  ['captured', 'uint'],
  ['released', 'uint'],
  ['origin', 'origin'],
  ['seq', 'uint'],
  ['at', 'uint'],
];

/** A hold record's fields (holdId derived as a debit's). */
export const HOLD_FIELDS: CheckpointFields = [
  ['origin', 'origin'],
  ['seq', 'uint'],
  ['at', 'uint'],
  ['amount', 'uint'],
  ['idempotencyKey', 'key'],
  ['parts', 'parts'],
  ['overdraft', 'uint'],
  ['expiresAt', 'uint'],
  ['metadata', 'json'],
  ['end', 'end?'],
];

/** A grant definition's fields (winning or losing). */
export const DEFINITION_FIELDS: CheckpointFields = [
  ['amount', 'uint'],
  ['priority', 'uint'],
  ['expiresAt', 'time?'],
  ['origin', 'origin'],
  ['seq', 'uint'],
  ['at', 'uint'],
];

/** Origin ids and their positions in the checkpoint's origin table. */
export interface OriginTable {
  readonly ids: readonly string[];
  readonly refs: ReadonlyMap<string, number>;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function enumValues(type: CheckpointFieldType): readonly string[] {
  return type.slice('enum:'.length).split('|');
}

/** Writes `value`'s fields as `fields` lists them. */
export function writeFields(
  out: ByteWriter,
  fields: CheckpointFields,
  value: Readonly<Record<string, unknown>>,
  origins: OriginTable,
): void {
  for (const [name, type] of fields) writeField(out, type, value[name], name, origins);
}

function writeField(
  out: ByteWriter,
  type: CheckpointFieldType,
  value: unknown,
  name: string,
  origins: OriginTable,
): void {
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
    case 'origin': {
      const ref = origins.refs.get(value as string);
      if (ref === undefined)
        throw new CheckpointError(-1, `${name}: origin ${String(value)} not in the table`);
      out.varint(ref);
      return;
    }
    case 'key':
    case 'eventId':
      out.ascii(value as string);
      return;
    case 'parts': {
      const parts = value as readonly Part[];
      out.varint(parts.length);
      for (const part of parts) {
        out.ascii(part.grantId);
        out.varint(part.amount);
      }
      return;
    }
    case 'json': {
      const text = canonicalJson(value as Canonical);
      if (out.asciiIfAscii(text)) return;
      const bytes = utf8.encode(text);
      out.varint(bytes.length);
      out.bytes(bytes);
      return;
    }
    case 'enum:capture|release':
    case 'enum:capture|void|expiry': {
      const at = enumValues(type).indexOf(value as string);
      if (at < 0) throw new CheckpointError(-1, `${name}: ${String(value)} is not one of ${type}`);
      out.byte(at);
      return;
    }
    case 'end?':
      if (value === null) out.byte(0);
      else {
        out.byte(1);
        writeFields(out, HOLD_END_FIELDS, value as Record<string, unknown>, origins);
      }
      return;
  }
}

/** Reads the fields `fields` lists into a new object (every value checked). */
export function readFields(
  input: ByteReader,
  fields: CheckpointFields,
  origins: OriginTable,
): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const [name, type] of fields) value[name] = readField(input, type, name, origins);
  return value;
}

function presence(input: ByteReader, name: string): boolean {
  const flag = input.byte();
  if (flag > 1) throw new CheckpointError(input.offset - 1, `${name}: presence byte ${flag}`);
  return flag === 1;
}

function readField(
  input: ByteReader,
  type: CheckpointFieldType,
  name: string,
  origins: OriginTable,
): unknown {
  const start = input.offset;
  switch (type) {
    case 'uint':
      return input.varint();
    case 'time?':
      return presence(input, name) ? input.varint() : null;
    case 'origin': {
      const ref = input.varint();
      const origin = origins.ids[ref];
      if (origin === undefined) throw new CheckpointError(start, `${name}: origin ${ref} not in the table`);
      return origin;
    }
    case 'key': {
      const key = input.ascii(Number.MAX_SAFE_INTEGER);
      if (!isKey(key)) throw new CheckpointError(start, `${name}: not a valid key`);
      return key;
    }
    case 'eventId': {
      const id = input.ascii(Number.MAX_SAFE_INTEGER);
      if (parseEventRecordId(id) === null) throw new CheckpointError(start, `${name}: not an event id`);
      return id;
    }
    case 'parts': {
      const count = input.count(name, 2);
      if (count > PARTS_MAX)
        throw new CheckpointError(start, `${name}: ${count} parts, more than ${PARTS_MAX}`);
      const parts: Part[] = [];
      for (let i = 0; i < count; i++) {
        const at = input.offset;
        const grantId = input.ascii(Number.MAX_SAFE_INTEGER);
        if (!isKey(grantId)) throw new CheckpointError(at, `${name}: a part's grant id is not valid`);
        parts.push({ grantId, amount: input.varint() });
      }
      return parts;
    }
    case 'json': {
      const length = input.varint();
      const bytes = input.take(length);
      let text: string;
      let parsed: Json;
      try {
        text = utf8Strict.decode(bytes);
        if (nestsDeeper(text, METADATA_DEPTH_MAX)) throw new Error('nests too deep');
        parsed = JSON.parse(text) as Json;
      } catch {
        throw new CheckpointError(start, `${name}: not JSON of at most ${METADATA_DEPTH_MAX} levels`);
      }
      if (canonicalJson(parsed) !== text) throw new CheckpointError(start, `${name}: JSON not canonical`);
      return parsed;
    }
    case 'enum:capture|release':
    case 'enum:capture|void|expiry': {
      const values = enumValues(type);
      const at = input.byte();
      const chosen = values[at];
      if (chosen === undefined) throw new CheckpointError(start, `${name}: ${at} is not one of ${type}`);
      return chosen;
    }
    case 'end?':
      return presence(input, name) ? readFields(input, HOLD_END_FIELDS, origins) : null;
  }
}
