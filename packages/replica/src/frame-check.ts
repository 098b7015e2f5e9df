/**
 * The shape check of a replication frame as it arrives from a peer (DESIGN.md §4): the transport
 * runs it on every decoded frame before the replica sees it, and the simulator runs it on every
 * frame it delivers, so both worlds refuse the same frames. It checks shape and bounds only (exact
 * fields, ids, integers, byte lengths, one origin per run, contiguous seqs); the replica verifies
 * content (hash chains, signatures). It is at least as strict as the store's record checks, so a
 * frame that passes never makes the store refuse a write. Pure: no clock, no randomness, no I/O.
 */
import {
  isAmount,
  isOriginId,
  isRegionId,
  isTenantId,
  type LedgerEvent,
  ORIGINS_MAX,
  parseEventRecordId,
  TIME_MS_MAX,
} from '@allot/core';
import { describeValue as describe, eventShapeProblem, fieldsProblem } from './event-shape.js';
import { FRAME_TYPES } from './frames.js';
import { CONTROL_MESSAGE_BYTES_MAX, EVENTS_FRAME_MAX } from './limits.js';
import { isOwnedBytes, isPlainRecord } from './values.js';

/**
 * Events in one `events` frame: the most a replica puts in one (EVENTS_FRAME_MAX, two head-signing
 * intervals, so every run it cuts reaches a signed event). A longer run is not from this protocol.
 */
export const EVENTS_PER_FRAME_MAX = EVENTS_FRAME_MAX;

/**
 * Origins in a summary's version vector: a ledger never knows more origins than core's ORIGINS_MAX
 * (its moved-cell keys depend on it), so no honest summary is larger.
 */
export const FRAME_ORIGINS_MAX = ORIGINS_MAX;

/**
 * Bytes of the control document's state vector in a summary. A Yjs state vector is about ten bytes
 * per client that ever edited the document; 1 MiB is ~100,000 editing sessions of an admin-edited
 * document, far beyond its life, and small next to the frame limit.
 */
export const FRAME_STATE_VECTOR_BYTES_MAX = 1024 * 1024;

/**
 * Bytes of one control message (a Yjs sync message): the replica's CONTROL_MESSAGE_BYTES_MAX, equal
 * to the store's bound on one kept control update, so every update a region may keep can travel.
 */
export const FRAME_CONTROL_BYTES_MAX = CONTROL_MESSAGE_BYTES_MAX;

/** Bytes of a chain hash: SHA-256 (the Crypto port's `hash`). */
export const FRAME_HASH_BYTES = 32;

/** Bytes of a head signature: Ed25519 (the Crypto port's `sign`). */
export const FRAME_SIGNATURE_BYTES = 64;

type Fields = Record<string, unknown>;

const FRAME_FIELDS: { readonly [K in (typeof FRAME_TYPES)[number]]: readonly string[] } = {
  summary: ['type', 'versionVector', 'control'],
  events: ['type', 'origin', 'events'],
  pull: ['type', 'origin', 'fromSeq'],
  'rights-request': ['type', 'tenant', 'amount'],
  borrow: ['type', 'tenant', 'amount'],
  'hold-settle': ['type', 'id', 'tenant', 'holdId', 'action', 'amount'],
  'hold-settled': ['type', 'id', 'status', 'hold', 'held'],
  control: ['type', 'message'],
};

const WIRE_EVENT_FIELDS = ['event', 'hash', 'signature'] as const;

function bytesProblem(what: string, value: unknown, length: number): string | null {
  if (!isOwnedBytes(value)) return `${what} is ${describe(value)}, not a Uint8Array`;
  return value.length === length ? null : `${what} has ${value.length} bytes, not ${length}`;
}

function boundedBytesProblem(what: string, value: unknown, max: number): string | null {
  if (!isOwnedBytes(value)) return `${what} is ${describe(value)}, not a Uint8Array`;
  if (value.length === 0) return `${what} is empty`;
  return value.length <= max ? null : `${what} has ${value.length} bytes, more than ${max}`;
}

function summaryProblem(frame: Fields): string | null {
  const vector = frame.versionVector;
  if (!isPlainRecord(vector)) return `versionVector is ${describe(vector)}, not a map`;
  const origins = Object.keys(vector);
  if (origins.length > FRAME_ORIGINS_MAX) {
    return `versionVector has ${origins.length} origins, more than ${FRAME_ORIGINS_MAX}`;
  }
  for (const origin of origins) {
    if (!isOriginId(origin)) return `versionVector has an invalid origin ${JSON.stringify(origin)}`;
    const seq = vector[origin];
    if (!Number.isSafeInteger(seq) || (seq as number) < 0) {
      return `versionVector has an invalid seq for ${origin}`;
    }
  }
  return boundedBytesProblem('control', frame.control, FRAME_STATE_VECTOR_BYTES_MAX);
}

function eventsProblem(frame: Fields): string | null {
  const { origin, events } = frame;
  if (!isOriginId(origin)) return 'invalid origin';
  if (!Array.isArray(events)) return `events is ${describe(events)}, not an array`;
  if (events.length === 0) return 'events is empty';
  if (events.length > EVENTS_PER_FRAME_MAX) {
    return `${events.length} events, more than ${EVENTS_PER_FRAME_MAX}`;
  }
  let previousSeq = 0;
  for (let i = 0; i < events.length; i++) {
    const wire: unknown = events[i];
    const what = `event ${i}`;
    const problem = fieldsProblem(what, wire, WIRE_EVENT_FIELDS);
    if (problem !== null) return problem;
    const { event, hash, signature } = wire as Fields;
    const eventShape = eventShapeProblem(event);
    if (eventShape !== null) return `${what}: ${eventShape}`;
    const { origin: eventOrigin, seq } = event as LedgerEvent;
    if (eventOrigin !== origin) return `${what} is of origin ${eventOrigin}, not ${origin}`;
    if (i > 0 && seq !== previousSeq + 1) return `${what} has seq ${seq} after ${previousSeq}`;
    previousSeq = seq;
    const hashProblem = bytesProblem(`${what} hash`, hash, FRAME_HASH_BYTES);
    if (hashProblem !== null) return hashProblem;
    if (signature !== null) {
      const signatureProblem = bytesProblem(`${what} signature`, signature, FRAME_SIGNATURE_BYTES);
      if (signatureProblem !== null) return signatureProblem;
    } else if (i === events.length - 1) {
      return 'the last event is not signed';
    }
  }
  return null;
}

function pullProblem(frame: Fields): string | null {
  if (!isOriginId(frame.origin)) return 'invalid origin';
  const { fromSeq } = frame;
  return Number.isSafeInteger(fromSeq) && (fromSeq as number) >= 1 ? null : 'invalid fromSeq';
}

function rightsRequestProblem(frame: Fields): string | null {
  if (!isTenantId(frame.tenant)) return 'invalid tenant';
  return isAmount(frame.amount) ? null : 'invalid amount';
}

/** A forwarded request's id: the sender's counter, a safe non-negative integer. */
function isRequestId(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isHoldId(value: unknown): boolean {
  return typeof value === 'string' && parseEventRecordId(value) !== null;
}

function holdSettleProblem(frame: Fields): string | null {
  if (!isRequestId(frame.id)) return 'invalid id';
  if (!isTenantId(frame.tenant)) return 'invalid tenant';
  if (!isHoldId(frame.holdId)) return 'invalid holdId';
  if (frame.action !== 'capture' && frame.action !== 'void') return 'invalid action';
  if (frame.action === 'capture') return isAmount(frame.amount) ? null : 'invalid amount';
  return frame.amount === null ? null : 'a void has no amount';
}

const HOLD_VIEW_FIELDS = [
  'holdId',
  'tenant',
  'amount',
  'region',
  'expiresAt',
  'at',
  'status',
  'captured',
] as const;
const SETTLED_STATUSES = [
  'accepted',
  'replayed',
  'not_found',
  'not_active',
  'exceeds_hold',
  'invalid',
  'unavailable',
];
const HOLD_STATUSES = ['active', 'captured', 'voided', 'expired'];

function isTimeMs(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= TIME_MS_MAX;
}

function holdViewProblem(hold: unknown): string | null {
  const problem = fieldsProblem('hold', hold, HOLD_VIEW_FIELDS);
  if (problem !== null) return problem;
  const view = hold as Fields;
  if (!isHoldId(view.holdId)) return 'hold has an invalid holdId';
  if (!isTenantId(view.tenant)) return 'hold has an invalid tenant';
  if (!isAmount(view.amount)) return 'hold has an invalid amount';
  if (!isRegionId(view.region)) return 'hold has an invalid region';
  if (!isTimeMs(view.expiresAt) || !isTimeMs(view.at)) return 'hold has an invalid time';
  if (!HOLD_STATUSES.includes(view.status as string)) return 'hold has an invalid status';
  if (
    view.captured !== null &&
    !(isAmount(view.captured) && (view.captured as number) <= (view.amount as number))
  )
    return 'hold has an invalid captured amount';
  return null;
}

function holdSettledProblem(frame: Fields): string | null {
  if (!isRequestId(frame.id)) return 'invalid id';
  if (!SETTLED_STATUSES.includes(frame.status as string)) return 'invalid status';
  const needsHold =
    frame.status === 'accepted' || frame.status === 'replayed' || frame.status === 'not_active';
  if (needsHold) {
    const problem = holdViewProblem(frame.hold);
    if (problem !== null) return problem;
  } else if (frame.hold !== null) return `a ${String(frame.status)} answer has no hold`;
  if (frame.status === 'exceeds_hold') return isAmount(frame.held) ? null : 'invalid held';
  return frame.held === null ? null : 'held is only for exceeds_hold';
}

function isFrameType(value: unknown): value is (typeof FRAME_TYPES)[number] {
  return typeof value === 'string' && (FRAME_TYPES as readonly string[]).includes(value);
}

/**
 * Why `frame` is not a well-formed ReplicationFrame, or null when it is. The answer names the frame
 * type and the first field at fault, for the warning the transport logs when it closes a link.
 */
export function frameProblem(frame: unknown): string | null {
  if (!isPlainRecord(frame)) return `frame is ${describe(frame)}, not a map`;
  const { type } = frame;
  if (!isFrameType(type)) return `unknown frame type ${JSON.stringify(type)}`;
  const fields = fieldsProblem(type, frame, FRAME_FIELDS[type]);
  if (fields !== null) return fields;
  let problem: string | null;
  switch (type) {
    case 'summary':
      problem = summaryProblem(frame);
      break;
    case 'events':
      problem = eventsProblem(frame);
      break;
    case 'pull':
      problem = pullProblem(frame);
      break;
    case 'rights-request':
    case 'borrow':
      problem = rightsRequestProblem(frame);
      break;
    case 'hold-settle':
      problem = holdSettleProblem(frame);
      break;
    case 'hold-settled':
      problem = holdSettledProblem(frame);
      break;
    case 'control':
      problem = boundedBytesProblem('message', frame.message, FRAME_CONTROL_BYTES_MAX);
      break;
  }
  return problem === null ? null : `${type}: ${problem}`;
}
