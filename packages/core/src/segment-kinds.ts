/**
 * The segment codec's table of event kinds (segment.ts): per kind a one-byte code and its body
 * fields in order, each with a field type. The codec has no per-kind code: a new kind is one entry
 * here (a new code, its fields), and a new kind of value one entry in FIELD_TYPES' users below.
 * Codes are part of the stored and wire format: never reuse or renumber one.
 */
import type { LedgerEvent } from './events.js';

/**
 * How one field is written:
 * - `uint`: a safe integer ≥ 0, as a varint;
 * - `time?`: null, or a safe integer ≥ 0 (a presence byte, then a varint);
 * - `key`, `origin`, `eventId`: a string of the segment's string table (a grant id or idempotency
 *   key, an origin id, a debit or refund id), checked with core's validator when decoded;
 * - `parts`: a count, then per part a `key` (grant id) and a `uint` (amount);
 * - `json`: user JSON (debit metadata), as its canonical JSON text in UTF-8, length first.
 */
export type SegmentFieldType = 'uint' | 'time?' | 'key' | 'origin' | 'eventId' | 'parts' | 'json';

/** One kind's entry: its code in the format and its body fields, in the order they are written. */
export interface SegmentKind {
  readonly code: number;
  readonly fields: readonly (readonly [name: string, type: SegmentFieldType])[];
}

/**
 * Every event kind's entry. The envelope (origin, seq, at, tenant) is written by the codec itself.
 * To add a kind (`hold`, `capture`, `release`, `retire`): add it to events.ts, then one line here
 * with the next unused code and its fields; the compiler asks for it (the table is total).
 */
export const SEGMENT_KINDS: { readonly [K in LedgerEvent['kind']]: SegmentKind } = {
  grant: {
    code: 1,
    fields: [
      ['grantId', 'key'],
      ['amount', 'uint'],
      ['priority', 'uint'],
      ['expiresAt', 'time?'],
    ],
  },
  debit: {
    code: 2,
    fields: [
      ['amount', 'uint'],
      ['idempotencyKey', 'key'],
      ['parts', 'parts'],
      ['overdraft', 'uint'],
      ['metadata', 'json'],
    ],
  },
  refund: {
    code: 3,
    fields: [
      ['debitId', 'eventId'],
      ['amount', 'uint'],
      ['idempotencyKey', 'key'],
      ['parts', 'parts'],
      ['overdraft', 'uint'],
    ],
  },
  move: {
    code: 4,
    fields: [
      ['to', 'origin'],
      ['parts', 'parts'],
    ],
  },
  expire: {
    code: 5,
    fields: [
      ['grantId', 'key'],
      ['amount', 'uint'],
    ],
  },
  repay: {
    code: 6,
    fields: [
      ['amount', 'uint'],
      ['parts', 'parts'],
    ],
  },
  hold: {
    code: 8,
    fields: [
      ['amount', 'uint'],
      ['idempotencyKey', 'key'],
      ['parts', 'parts'],
      ['overdraft', 'uint'],
      ['expiresAt', 'uint'],
      ['metadata', 'json'],
    ],
  },
  capture: {
    code: 9,
    fields: [
      ['holdId', 'eventId'],
      ['amount', 'uint'],
      ['released', 'uint'],
      ['parts', 'parts'],
      ['overdraft', 'uint'],
    ],
  },
  release: {
    code: 10,
    fields: [
      ['holdId', 'eventId'],
      ['amount', 'uint'],
      // 'void' or 'expiry': a key-shaped string here, checked by core's eventProblem.
      ['cause', 'key'],
      ['parts', 'parts'],
      ['overdraft', 'uint'],
    ],
  },
  retire: {
    code: 11,
    fields: [
      ['retired', 'origin'],
      ['through', 'uint'],
      ['parts', 'parts'],
    ],
  },
  revoke: {
    code: 7,
    fields: [
      ['grantId', 'key'],
      ['loser', 'origin'],
      ['total', 'uint'],
      ['amount', 'uint'],
      ['parts', 'parts'],
      ['overdraft', 'uint'],
    ],
  },
};

/** The largest code a kind may have: the top bit of the kind byte says which way `at` moved. */
export const SEGMENT_KIND_CODE_MAX = 0x7f;

/** Each kind's name and entry by code, for decoding. */
export const SEGMENT_KINDS_BY_CODE: ReadonlyMap<
  number,
  { readonly kind: LedgerEvent['kind']; readonly entry: SegmentKind }
> = new Map(
  (Object.entries(SEGMENT_KINDS) as [LedgerEvent['kind'], SegmentKind][]).map(([kind, entry]) => [
    entry.code,
    { kind, entry },
  ]),
);
