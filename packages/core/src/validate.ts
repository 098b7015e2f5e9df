/**
 * Structural checks of an event, independent of any state: what a replica verifies before it
 * persists an event it received, and what the fold asserts before it applies one.
 */
import { isAmount, isCell } from './amount.js';
import type { LedgerEvent, Part } from './events.js';
import { isKey, isOriginId, isTenantId, parseEventRecordId, regionOf } from './ids.js';
import { PARTS_MAX, PRIORITY_MAX, PRIORITY_MIN, TIME_MS_MAX } from './limits.js';

function isTime(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= TIME_MS_MAX;
}

function partsProblem(parts: unknown, emptyAllowed: boolean, stringsChecked = false): string | null {
  if (!Array.isArray(parts)) return 'parts is not an array';
  if (parts.length === 0 && !emptyAllowed) return 'parts is empty';
  if (parts.length > PARTS_MAX) return `more than ${PARTS_MAX} parts`;
  const list = parts as Part[];
  // Few parts (most events have one): pairwise comparison, no Set for the hot path.
  const seen = list.length > PARTS_PAIRWISE_MAX ? new Set<string>() : null;
  let total = 0;
  for (let i = 0; i < list.length; i++) {
    const part = list[i];
    if (typeof part !== 'object' || part === null) return 'a part is not an object';
    if (!stringsChecked && !isKey(part.grantId)) return 'a part has an invalid grantId';
    if (!isAmount(part.amount)) return `part ${part.grantId} has an invalid amount`;
    if (seen === null) {
      for (let j = 0; j < i; j++)
        if ((list[j] as Part).grantId === part.grantId) return `grant ${part.grantId} appears in two parts`;
    } else {
      if (seen.has(part.grantId)) return `grant ${part.grantId} appears in two parts`;
      seen.add(part.grantId);
    }
    total += part.amount;
    if (!Number.isSafeInteger(total)) return 'parts add up past the amount limit';
  }
  return null;
}

/** Up to this many parts are checked for a repeated grant pairwise (≤ 28 comparisons), not by a Set. */
const PARTS_PAIRWISE_MAX = 8;

function partsTotal(parts: readonly Part[]): number {
  let total = 0;
  for (const part of parts) total += part.amount;
  return total;
}

/** Why `event` is not a well-formed ledger event, or null when it is. */
export function eventProblem(event: LedgerEvent): string | null {
  if (typeof event !== 'object' || event === null) return 'event is not an object';
  if (event.kind === 'debit') return debitProblem(event, false);
  if (!isOriginId(event.origin)) return 'invalid origin';
  if (!Number.isSafeInteger(event.seq) || event.seq < 1) return 'invalid seq';
  if (!isTime(event.at)) return 'invalid time';
  if (!isTenantId(event.tenant)) return 'invalid tenant';
  switch (event.kind) {
    case 'grant':
      if (!isKey(event.grantId)) return 'invalid grantId';
      if (!isAmount(event.amount)) return 'invalid amount';
      if (
        !Number.isSafeInteger(event.priority) ||
        event.priority < PRIORITY_MIN ||
        event.priority > PRIORITY_MAX
      ) {
        return 'invalid priority';
      }
      if (event.expiresAt !== null && !isTime(event.expiresAt)) return 'invalid expiresAt';
      return null;
    case 'refund': {
      if (!isAmount(event.amount)) return 'invalid amount';
      if (!isKey(event.idempotencyKey)) return 'invalid idempotencyKey';
      if (typeof event.debitId !== 'string' || parseEventRecordId(event.debitId) === null) {
        return 'invalid debitId';
      }
      if (!isCell(event.overdraft)) return 'invalid overdraft';
      const problem = partsProblem(event.parts, true);
      if (problem !== null) return problem;
      if (partsTotal(event.parts) + event.overdraft !== event.amount) {
        return 'parts and overdraft do not add up to the amount';
      }
      return null;
    }
    case 'move': {
      if (!isOriginId(event.to)) return 'invalid target origin';
      if (event.to === event.origin) return 'a move to the origin itself';
      return partsProblem(event.parts, false);
    }
    case 'expire':
      if (!isKey(event.grantId)) return 'invalid grantId';
      return isAmount(event.amount) ? null : 'invalid amount';
    case 'repay': {
      if (!isAmount(event.amount)) return 'invalid amount';
      const problem = partsProblem(event.parts, false);
      if (problem !== null) return problem;
      return partsTotal(event.parts) === event.amount ? null : 'parts do not add up to the amount';
    }
    case 'revoke': {
      if (!isKey(event.grantId)) return 'invalid grantId';
      if (!isOriginId(event.loser)) return 'invalid loser origin';
      // Only the region that accepted a duplicate takes it back.
      if (regionOf(event.loser) !== regionOf(event.origin)) return "a revoke of another region's grant";
      if (!isCell(event.total)) return 'invalid total';
      if (!isCell(event.amount) || event.amount > event.total) return 'invalid amount';
      if (!isCell(event.overdraft)) return 'invalid overdraft';
      const problem = partsProblem(event.parts, true);
      if (problem !== null) return problem;
      return partsTotal(event.parts) + event.overdraft === event.amount
        ? null
        : 'parts and overdraft do not add up to the amount';
    }
    case 'hold': {
      if (!isAmount(event.amount)) return 'invalid amount';
      if (!isKey(event.idempotencyKey)) return 'invalid idempotencyKey';
      if (!isCell(event.overdraft)) return 'invalid overdraft';
      if (!isTime(event.expiresAt) || event.expiresAt <= event.at) return 'invalid expiresAt';
      const problem = partsProblem(event.parts, true);
      if (problem !== null) return problem;
      if (partsTotal(event.parts) + event.overdraft !== event.amount) {
        return 'parts and overdraft do not add up to the amount';
      }
      return event.metadata === undefined ? 'metadata is missing' : null;
    }
    case 'capture': {
      if (typeof event.holdId !== 'string' || parseEventRecordId(event.holdId) === null)
        return 'invalid holdId';
      if (!isAmount(event.amount)) return 'invalid amount';
      if (!isCell(event.released) || !Number.isSafeInteger(event.amount + event.released)) {
        return 'invalid released';
      }
      if (!isCell(event.overdraft)) return 'invalid overdraft';
      const problem = partsProblem(event.parts, true);
      if (problem !== null) return problem;
      return partsTotal(event.parts) + event.overdraft === event.released
        ? null
        : 'parts and overdraft do not add up to what is released';
    }
    case 'release': {
      if (typeof event.holdId !== 'string' || parseEventRecordId(event.holdId) === null)
        return 'invalid holdId';
      if (!isAmount(event.amount)) return 'invalid amount';
      if (event.cause !== 'void' && event.cause !== 'expiry') return 'invalid cause';
      if (!isCell(event.overdraft)) return 'invalid overdraft';
      const problem = partsProblem(event.parts, true);
      if (problem !== null) return problem;
      return partsTotal(event.parts) + event.overdraft === event.amount
        ? null
        : 'parts and overdraft do not add up to the amount';
    }
    case 'retire': {
      if (!isOriginId(event.retired)) return 'invalid retired origin';
      if (event.retired === event.origin) return 'an origin retiring itself';
      // Only the region's current incarnation takes over a lost one of its own region.
      if (regionOf(event.retired) !== regionOf(event.origin)) return "a retire of another region's origin";
      if (!Number.isSafeInteger(event.through) || event.through < 0) return 'invalid through';
      return partsProblem(event.parts, true);
    }
    default:
      return 'unknown event kind';
  }
}

/**
 * eventProblem for an event that decodeSegment made: the decoder checked each of its strings as
 * what it stands for (origin, tenant, key, event id; segment-decode.ts `ref`), so a debit, most of
 * every log, skips those checks here (~15 % of a received run's check). Other kinds are checked
 * whole.
 */
export function decodedEventProblem(event: LedgerEvent): string | null {
  return event.kind === 'debit' ? debitProblem(event, true) : eventProblem(event);
}

/** eventProblem of a debit; with `stringsChecked`, its origin, tenant and keys are taken as valid. */
function debitProblem(event: LedgerEvent & { kind: 'debit' }, stringsChecked: boolean): string | null {
  if (!stringsChecked && !isOriginId(event.origin)) return 'invalid origin';
  if (!Number.isSafeInteger(event.seq) || event.seq < 1) return 'invalid seq';
  if (!isTime(event.at)) return 'invalid time';
  if (!stringsChecked && !isTenantId(event.tenant)) return 'invalid tenant';
  if (!isAmount(event.amount)) return 'invalid amount';
  if (!stringsChecked && !isKey(event.idempotencyKey)) return 'invalid idempotencyKey';
  if (!isCell(event.overdraft)) return 'invalid overdraft';
  const problem = partsProblem(event.parts, true, stringsChecked);
  if (problem !== null) return problem;
  if (partsTotal(event.parts) + event.overdraft !== event.amount) {
    return 'parts and overdraft do not add up to the amount';
  }
  return event.metadata === undefined ? 'metadata is missing' : null;
}
