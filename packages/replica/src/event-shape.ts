/**
 * The exact shape of a ledger event as it crosses a boundary (a peer's frame, a stored record):
 * exactly its kind's fields, plain objects, JSON metadata within a depth bound, then core's
 * `eventProblem`. One check, used by the frame check and by the store, so a frame that passes is
 * one the store writes. Pure: no clock, no randomness, no I/O.
 */
import { EVENT_KINDS, eventProblem, type LedgerEvent } from '@allot/core';
import { METADATA_DEPTH_MAX } from './limits.js';
import { isPlainRecord } from './values.js';

/** The fields every event has. */
export const ENVELOPE_FIELDS = ['origin', 'seq', 'at', 'tenant', 'kind'] as const;

/** The fields of each event kind besides the envelope (core's events.ts). */
export const BODY_FIELDS: { readonly [K in LedgerEvent['kind']]: readonly string[] } = {
  grant: ['grantId', 'amount', 'priority', 'expiresAt'],
  debit: ['amount', 'idempotencyKey', 'parts', 'overdraft', 'metadata'],
  refund: ['debitId', 'amount', 'idempotencyKey', 'parts', 'overdraft'],
  move: ['to', 'parts'],
  expire: ['grantId', 'amount'],
  repay: ['amount', 'parts'],
  revoke: ['grantId', 'loser', 'total', 'amount', 'parts', 'overdraft'],
  hold: ['amount', 'idempotencyKey', 'parts', 'overdraft', 'expiresAt', 'metadata'],
  capture: ['holdId', 'amount', 'released', 'parts', 'overdraft'],
  release: ['holdId', 'amount', 'cause', 'parts', 'overdraft'],
  retire: ['retired', 'through', 'parts'],
};

/** The fields of a part. */
export const PART_FIELDS = ['grantId', 'amount'] as const;

/** Every field of an event of `kind`, envelope first. */
export function eventFieldNames(kind: LedgerEvent['kind']): readonly string[] {
  return [...ENVELOPE_FIELDS, ...BODY_FIELDS[kind]];
}

/** A short description of what `value` is, for error messages. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  if (Array.isArray(value)) return 'an array';
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' ? `a ${name}` : 'an object';
}

/** Why `value` does not have exactly `fields` (each defined), or null when it does. */
export function fieldsProblem(what: string, value: unknown, fields: readonly string[]): string | null {
  if (!isPlainRecord(value)) return `${what} is ${describeValue(value)}, not a map`;
  for (const field of fields) {
    if (!Object.hasOwn(value, field) || value[field] === undefined) return `${what} has no ${field}`;
  }
  const keys = Object.keys(value);
  if (keys.length !== fields.length) {
    const extra = keys.find((key) => !fields.includes(key));
    return `${what} has an unexpected field ${JSON.stringify(extra)}`;
  }
  return null;
}

/** Why `value` is not a JSON value within the depth bound, or null. */
function jsonProblem(value: unknown, depth: number): string | null {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : `metadata holds ${value}`;
  if (depth >= METADATA_DEPTH_MAX) return `metadata nests deeper than ${METADATA_DEPTH_MAX}`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return 'metadata holds a sparse array';
      const problem = jsonProblem(value[i], depth + 1);
      if (problem !== null) return problem;
    }
    return null;
  }
  if (isPlainRecord(value)) {
    for (const key of Object.keys(value)) {
      if (value[key] === undefined) return `metadata holds undefined at ${JSON.stringify(key)}`;
      const problem = jsonProblem(value[key], depth + 1);
      if (problem !== null) return problem;
    }
    return null;
  }
  return `metadata holds ${describeValue(value)}`;
}

function isKind(value: unknown): value is LedgerEvent['kind'] {
  return typeof value === 'string' && (EVENT_KINDS as readonly string[]).includes(value);
}

/** Why `event` is not a ledger event with exactly its kind's fields, or null when it is. */
export function eventShapeProblem(event: unknown): string | null {
  if (!isPlainRecord(event)) return `event is ${describeValue(event)}, not a map`;
  if (!isKind(event.kind)) return `unknown event kind ${JSON.stringify(event.kind)}`;
  const problem = fieldsProblem('event', event, eventFieldNames(event.kind));
  if (problem !== null) return problem;
  if (Array.isArray(event.parts)) {
    for (const part of event.parts) {
      const partProblem = fieldsProblem('a part', part, PART_FIELDS);
      if (partProblem !== null) return partProblem;
    }
  }
  if (event.kind === 'debit' || event.kind === 'hold') {
    const metadataProblem = jsonProblem(event.metadata, 0);
    if (metadataProblem !== null) return metadataProblem;
  }
  return eventProblem(event as unknown as LedgerEvent);
}
