/**
 * The key layout of a data directory, version 1. Every key starts with `v1/`, so a later layout can
 * live beside this one during a migration and a node can tell a layout it does not know.
 *
 * Parts are separated by '/', which occurs in no id: origins are `[a-z0-9-]+#[a-z2-7]+` and tenant
 * ids `[A-Za-z0-9._:-]+` (core's limits), so `v1/tenant/a/…` and `v1/tenant/a.b/…` never mix.
 * Numbers are 16-digit zero-padded decimal: every safe integer (≤ 2^53 − 1, 16 digits) fits, and
 * lexicographic key order is numeric order, which is what LevelDB iterates in.
 *
 *   v1/meta                         → NodeMeta, written once when the data directory is created
 *   v1/counter                      → the last entry number given out (tenant index and control)
 *   v1/log/<origin>/<seq>           → StoredEvent: event `seq` of `origin`'s log, with its hash
 *   v1/head/<origin>                → LogHead: the newest event of `origin` stored here, signed
 *   v1/tenant/<tenant>/<entry>      → { origin, seq }: the tenant's events in this store's commit order
 *   v1/control/<entry>              → one control-document (Yjs) update, in commit order
 *
 * Entry numbers come from one counter, increased by one per tenant-index entry and per control
 * update, in commit order. A tenant cursor is such a number, so it stays valid as events arrive.
 */
import { isOriginId, isTenantId, type OriginId, type TenantId } from '@allot/core';

/** Prefix of every key of layout version 1. */
export const LAYOUT_PREFIX = 'v1/';

/** The node's metadata. */
export const META_KEY = 'v1/meta';

/** The last entry number given out, written in the batch that uses it. */
export const COUNTER_KEY = 'v1/counter';

const LOG = 'v1/log/';
const HEAD = 'v1/head/';
const TENANT = 'v1/tenant/';
const CONTROL = 'v1/control/';

/** Digits of a number in a key: 2^53 − 1 has 16. */
const NUMBER_DIGITS = 16;
/** The largest number a key can hold: fixed width keeps lexicographic order numeric. */
const NUMBER_KEY_MAX = '9'.repeat(NUMBER_DIGITS);
const NUMBER_PATTERN = /^[0-9]{16}$/;

/** `n` as a fixed-width key part. Only safe integers ≥ 0 have a place in the layout. */
function numberPart(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`no key for number ${n}`);
  return String(n).padStart(NUMBER_DIGITS, '0');
}

/** The number of a fixed-width key part, or null when it is not one. */
function parseNumberPart(part: string): number | null {
  if (!NUMBER_PATTERN.test(part)) return null;
  const n = Number(part);
  return Number.isSafeInteger(n) ? n : null;
}

/** Checks an id before it becomes part of a key: an id with a '/' would make the layout ambiguous. */
function checkOrigin(origin: OriginId): void {
  if (!isOriginId(origin)) throw new TypeError(`invalid origin id: ${JSON.stringify(origin)}`);
}

function checkTenant(tenant: TenantId): void {
  if (!isTenantId(tenant)) throw new TypeError(`invalid tenant id: ${JSON.stringify(tenant)}`);
}

/** The key of event `seq` of `origin`'s log. */
export function logKey(origin: OriginId, seq: number): string {
  checkOrigin(origin);
  return `${LOG}${origin}/${numberPart(seq)}`;
}

/** The keys of `origin`'s log from `fromSeq` on, as an inclusive range. */
export function logRange(origin: OriginId, fromSeq: number): { gte: string; lte: string } {
  return { gte: logKey(origin, fromSeq), lte: `${LOG}${origin}/${NUMBER_KEY_MAX}` };
}

/** The origin and seq of a log key, or null when it is not one. */
export function parseLogKey(key: string): { origin: OriginId; seq: number } | null {
  if (!key.startsWith(LOG)) return null;
  const rest = key.slice(LOG.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return null;
  const origin = rest.slice(0, slash);
  const seq = parseNumberPart(rest.slice(slash + 1));
  return isOriginId(origin) && seq !== null && seq >= 1 ? { origin, seq } : null;
}

/** The key of `origin`'s head. */
export function headKey(origin: OriginId): string {
  checkOrigin(origin);
  return `${HEAD}${origin}`;
}

/** Every head key, as a range: '0' follows '/' in ASCII, so `v1/head0` is just past the prefix. */
export const HEAD_RANGE = { gte: HEAD, lt: 'v1/head0' } as const;

/** The origin of a head key, or null when it is not one. */
export function parseHeadKey(key: string): OriginId | null {
  if (!key.startsWith(HEAD)) return null;
  const origin = key.slice(HEAD.length);
  return isOriginId(origin) ? origin : null;
}

/** The key of `tenant`'s index entry number `entry`. */
export function tenantKey(tenant: TenantId, entry: number): string {
  checkTenant(tenant);
  return `${TENANT}${tenant}/${numberPart(entry)}`;
}

/** The keys of `tenant`'s index entries after entry number `after`, as a range. */
export function tenantRange(tenant: TenantId, after: number): { gt: string; lte: string } {
  return { gt: tenantKey(tenant, after), lte: `${TENANT}${tenant}/${NUMBER_KEY_MAX}` };
}

/** The tenant and entry number of a tenant-index key, or null when it is not one. */
export function parseTenantKey(key: string): { tenant: TenantId; entry: number } | null {
  if (!key.startsWith(TENANT)) return null;
  const rest = key.slice(TENANT.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return null;
  const tenant = rest.slice(0, slash);
  const entry = parseNumberPart(rest.slice(slash + 1));
  return isTenantId(tenant) && entry !== null && entry >= 1 ? { tenant, entry } : null;
}

/** The key of control update number `entry`. */
export function controlKey(entry: number): string {
  return `${CONTROL}${numberPart(entry)}`;
}

/** Every control key, in entry order, as an inclusive range. */
export const CONTROL_RANGE = { gte: controlKey(0), lte: `${CONTROL}${NUMBER_KEY_MAX}` } as const;

/** The entry number of a control key, or null when it is not one. */
export function parseControlKey(key: string): number | null {
  if (!key.startsWith(CONTROL)) return null;
  const entry = parseNumberPart(key.slice(CONTROL.length));
  return entry !== null && entry >= 1 ? entry : null;
}
