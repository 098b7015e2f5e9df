/** Identifiers: origins (region + incarnation), tenants, grants, debits, refunds, keys. */
import { INCARNATION_PATTERN, KEY_PATTERN, REGION_PATTERN, TENANT_ID_PATTERN } from './limits.js';

/** A region id such as `eu`. */
export type RegionId = string;
/** One incarnation of a region, written `eu#k3x9ab2c`: the writer of one log. */
export type OriginId = string;
/** The owner of a balance. */
export type TenantId = string;
/** A grant's id, chosen by the client, unique per tenant. */
export type GrantId = string;
/** A debit's id, derived from the origin and seq of its event: `eu.k3x9ab2c.42`. */
export type DebitId = string;
/** A refund's id, derived the same way from its event. */
export type RefundId = string;

/** True for a valid region id. */
export function isRegionId(value: unknown): value is RegionId {
  return typeof value === 'string' && REGION_PATTERN.test(value);
}

/** True for a valid incarnation id. */
export function isIncarnationId(value: unknown): value is string {
  return typeof value === 'string' && INCARNATION_PATTERN.test(value);
}

/** True for a valid tenant id. */
export function isTenantId(value: unknown): value is TenantId {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value);
}

/** True for a valid grant id or idempotency key (1–255 printable ASCII characters). */
export function isKey(value: unknown): value is string {
  return typeof value === 'string' && KEY_PATTERN.test(value);
}

/** The origin id of a region's incarnation. */
export function originId(region: RegionId, incarnation: string): OriginId {
  if (!isRegionId(region)) throw new TypeError(`invalid region id: ${JSON.stringify(region)}`);
  if (!isIncarnationId(incarnation)) {
    throw new TypeError(`invalid incarnation id: ${JSON.stringify(incarnation)}`);
  }
  return `${region}#${incarnation}`;
}

/** The parts of an origin id. */
export interface OriginParts {
  readonly region: RegionId;
  readonly incarnation: string;
}

/**
 * Origin ids parsed, with their parts: a ledger has a handful of origins, and the debit path asks
 * for several of them per debit (regionOf of every origin while it counts a region's overdraft,
 * eventRecordId, the shape check), so each is split and matched once. A pure memo (strings are
 * values, parts frozen) of valid ids only, emptied when it reaches ORIGIN_MEMO_MAX: ids from
 * outside cannot grow it without bound.
 */
const ORIGIN_MEMO_MAX = 1_024;
const originMemo = new Map<string, OriginParts>();

/** The parts of an origin id, or null when it is not one. */
export function parseOrigin(value: string): OriginParts | null {
  const known = originMemo.get(value);
  if (known !== undefined) return known;
  const at = value.indexOf('#');
  if (at < 0) return null;
  const region = value.slice(0, at);
  const incarnation = value.slice(at + 1);
  if (!isRegionId(region) || !isIncarnationId(incarnation)) return null;
  if (originMemo.size >= ORIGIN_MEMO_MAX) originMemo.clear();
  const parts = Object.freeze({ region, incarnation });
  originMemo.set(value, parts);
  return parts;
}

/** True for a valid origin id. */
export function isOriginId(value: unknown): value is OriginId {
  return typeof value === 'string' && parseOrigin(value) !== null;
}

/** The region of a valid origin id. */
export function regionOf(origin: OriginId): RegionId {
  const parsed = parseOrigin(origin);
  if (parsed === null) throw new TypeError(`invalid origin id: ${JSON.stringify(origin)}`);
  return parsed.region;
}

/**
 * The id of the debit or refund recorded by event (origin, seq). Dots separate the parts because
 * neither region nor incarnation may contain one, and a dot needs no escaping in a URL path.
 */
export function eventRecordId(origin: OriginId, seq: number): DebitId {
  const parsed = parseOrigin(origin);
  if (parsed === null) throw new TypeError(`invalid origin id: ${JSON.stringify(origin)}`);
  if (!Number.isSafeInteger(seq) || seq < 1) throw new TypeError(`invalid seq: ${seq}`);
  return `${parsed.region}.${parsed.incarnation}.${seq}`;
}

/** The origin and seq of a debit or refund id, or null when it is not one. */
export function parseEventRecordId(id: string): { origin: OriginId; seq: number } | null {
  const parts = id.split('.');
  if (parts.length !== 3) return null;
  const [region, incarnation, seqText] = parts as [string, string, string];
  if (!isRegionId(region) || !isIncarnationId(incarnation) || !/^[1-9][0-9]{0,15}$/.test(seqText)) {
    return null;
  }
  const seq = Number(seqText);
  return Number.isSafeInteger(seq) ? { origin: `${region}#${incarnation}`, seq } : null;
}
