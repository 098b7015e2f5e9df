/**
 * The shape check of a replication frame as it arrives from a peer (DESIGN.md §4): the transport
 * runs it on every decoded frame before the replica sees it, and the simulator runs it on every
 * frame it delivers, so both worlds refuse the same frames. It checks shape and bounds only (exact
 * fields, ids, integers, byte lengths, one origin per run, contiguous seqs, each segment's header
 * saying what the frame says it is); the replica verifies content (hash chains, signatures, the
 * events a segment decodes to). It is at least as strict as the store's record checks, so a frame
 * that passes never makes the store refuse a write. Pure: no clock, no randomness, no I/O.
 */
import {
  isAmount,
  isOriginId,
  isRegionId,
  isTenantId,
  ORIGINS_MAX,
  parseEventRecordId,
  SEGMENT_BYTES_MAX,
  segmentHeader,
  TIME_MS_MAX,
} from '@allot/core';
import { describeValue as describe, fieldsProblem } from './event-shape.js';
import { FRAME_TYPES } from './frames.js';
import { JOIN_FRAME_FIELDS, joinFrameProblem } from './join-frames.js';
import { BORROW_WAIT_MS_MAX, CONTROL_MESSAGE_BYTES_MAX, FRAME_SEGMENT_BYTES_MAX } from './limits.js';
import { isOwnedBytes, isPlainRecord } from './values.js';

/**
 * Segments in one `segments` frame. Frames are bounded in bytes (FRAME_SEGMENT_BYTES_MAX); a
 * segment is at least a few dozen bytes, so an honest frame of small segments (one per commit of a
 * lightly loaded region) holds at most tens of thousands. This bounds the work of checking one.
 */
export const SEGMENTS_PER_FRAME_MAX = 65_536;

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
  segments: ['type', 'origin', 'segments'],
  pull: ['type', 'origin', 'fromSeq'],
  'rights-request': ['type', 'tenant', 'amount'],
  borrow: ['type', 'tenant', 'amount', 'head', 'since', 'least', 'waitsMs'],
  'hold-settle': ['type', 'id', 'tenant', 'holdId', 'action', 'amount'],
  'hold-settled': ['type', 'id', 'status', 'hold', 'held'],
  control: ['type', 'message'],
  ...JOIN_FRAME_FIELDS,
};

const WIRE_SEGMENT_FIELDS = ['firstSeq', 'lastSeq', 'bytes', 'signature'] as const;

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

function segmentsProblem(frame: Fields): string | null {
  const { origin, segments } = frame;
  if (!isOriginId(origin)) return 'invalid origin';
  if (!Array.isArray(segments)) return `segments is ${describe(segments)}, not an array`;
  if (segments.length === 0) return 'segments is empty';
  if (segments.length > SEGMENTS_PER_FRAME_MAX)
    return `${segments.length} segments, more than ${SEGMENTS_PER_FRAME_MAX}`;
  let previousSeq = 0;
  let bytesTotal = 0;
  for (let i = 0; i < segments.length; i++) {
    const wire: unknown = segments[i];
    const what = `segment ${i}`;
    const problem = fieldsProblem(what, wire, WIRE_SEGMENT_FIELDS);
    if (problem !== null) return problem;
    const { firstSeq, lastSeq, bytes, signature } = wire as Fields;
    if (!Number.isSafeInteger(firstSeq) || (firstSeq as number) < 1) return `${what} has an invalid firstSeq`;
    if (!Number.isSafeInteger(lastSeq) || (lastSeq as number) < (firstSeq as number))
      return `${what} has an invalid lastSeq`;
    if (i > 0 && firstSeq !== previousSeq + 1)
      return `${what} starts at seq ${firstSeq} after ${previousSeq}`;
    previousSeq = lastSeq as number;
    const bytesProblemText = boundedBytesProblem(`${what} bytes`, bytes, SEGMENT_BYTES_MAX);
    if (bytesProblemText !== null) return bytesProblemText;
    bytesTotal += (bytes as Uint8Array).length;
    if (bytesTotal > FRAME_SEGMENT_BYTES_MAX) return `segments of more than ${FRAME_SEGMENT_BYTES_MAX} bytes`;
    const signatureProblem = bytesProblem(`${what} signature`, signature, FRAME_SIGNATURE_BYTES);
    if (signatureProblem !== null) return signatureProblem;
  }
  // Then what each segment's header says, once the sizes are known to be bounded.
  for (let i = 0; i < segments.length; i++) {
    const { firstSeq, lastSeq, bytes } = segments[i] as Fields;
    let header: ReturnType<typeof segmentHeader>;
    try {
      header = segmentHeader(bytes as Uint8Array);
    } catch (error) {
      return `segment ${i}: ${(error as Error).message}`;
    }
    if (header.origin !== origin || header.firstSeq !== firstSeq || header.lastSeq !== lastSeq)
      return `segment ${i} holds ${header.origin} seqs ${header.firstSeq}-${header.lastSeq}, not ${origin} ${firstSeq}-${lastSeq}`;
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

/** A borrow ask's log head: a seq, 0 before the sender wrote any event. */
function borrowHeadProblem(head: unknown): string | null {
  return Number.isSafeInteger(head) && (head as number) >= 0 ? null : 'invalid head';
}

/** A borrow ask's claim: a time (ms since the epoch, the asker's clock) or null. */
function borrowClaimProblem(since: unknown): string | null {
  return since === null || (Number.isSafeInteger(since) && (since as number) >= 0) ? null : 'invalid since';
}

/** How long a borrow ask's debits will still wait: ms, 0..BORROW_WAIT_MS_MAX. */
function borrowWaitsProblem(waitsMs: unknown): string | null {
  return Number.isSafeInteger(waitsMs) &&
    (waitsMs as number) >= 0 &&
    (waitsMs as number) <= BORROW_WAIT_MS_MAX
    ? null
    : 'invalid waitsMs';
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
  'stranded',
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
    frame.status === 'accepted' ||
    frame.status === 'replayed' ||
    frame.status === 'not_active' ||
    frame.status === 'stranded';
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
    case 'segments':
      problem = segmentsProblem(frame);
      break;
    case 'pull':
      problem = pullProblem(frame);
      break;
    case 'rights-request':
      problem = rightsRequestProblem(frame);
      break;
    case 'borrow':
      problem =
        rightsRequestProblem(frame) ??
        borrowHeadProblem(frame.head) ??
        borrowClaimProblem(frame.since) ??
        (isAmount(frame.least) ? null : 'invalid least') ??
        borrowWaitsProblem(frame.waitsMs);
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
    default:
      problem = joinFrameProblem(type, frame);
  }
  return problem === null ? null : `${type}: ${problem}`;
}
