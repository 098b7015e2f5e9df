/**
 * The key layout of a data directory, version 2. Every key starts with `v2/`, so a later layout can
 * live beside this one during a migration and a node can tell a layout it does not know. Version 2
 * differs from version 1 in its values: each is sealed with a checksum of key ‖ payload
 * (records.ts), each tenant index entry names the tenant's previous entry, and each tenant's last
 * entry is recorded, so a read can tell a whole page from one with a record missing. A version-1
 * directory is refused at open (no migration: the node starts empty and fetches its logs back).
 *
 * Parts are separated by '/', which occurs in no id: origins are `[a-z0-9-]+#[a-z2-7]+` and tenant
 * ids `[A-Za-z0-9._:-]+` (core's limits), so `v2/tenant/a/…` and `v2/tenant/a.b/…` never mix.
 * Numbers are 16-digit zero-padded decimal: every safe integer (≤ 2^53 − 1, 16 digits) fits, and
 * lexicographic key order is numeric order, which is what LevelDB iterates in.
 *
 *   v2/meta                         → NodeMeta, written once when the data directory is created
 *   v2/counter                      → the last entry number given out (tenant index and control)
 *   v2/log/<origin>/<seq>           → StoredEvent: event `seq` of `origin`'s log, with its hash
 *   v2/head/<origin>                → LogHead: the newest event of `origin` stored here, signed
 *   v2/tenant/<tenant>/<entry>      → { origin, seq, previous }: the tenant's events in this store's
 *                                     commit order; `previous` is the tenant's entry before this one
 *   v2/last/<tenant>                → the number of the tenant's last index entry
 *   v2/control/<entry>              → one control-document (Yjs) update, in commit order
 *   v2/control-tally                → how many control updates there are, and the last one's entry
 *   v2/origin/<origin>              → the origin id again: an incarnation this node heard of (its
 *                                     own, and each peer's from its handshake; DESIGN.md §1)
 *   v2/outbox/<key>                 → an outbox record (outbox.ts): webhook deliveries, alert states
 *
 * Entry numbers come from one counter, increased by one per tenant-index entry and per control
 * update, in commit order. A tenant cursor is such a number, so it stays valid as events arrive.
 */
import { isOriginId, isTenantId, type OriginId, type TenantId } from '@allot/core';

/** Prefix of every key of layout version 2. */
export const LAYOUT_PREFIX = 'v2/';

/** Prefix of every key of layout version 1, which this build refuses with a clear message. */
export const OLD_LAYOUT_PREFIX = 'v1/';

/** The node's metadata. */
export const META_KEY = 'v2/meta';

/** The control tally ('-' sorts before '/', so this key lies just before the control updates). */
export const CONTROL_TALLY_KEY = 'v2/control-tally';

/** The last entry number given out, written in the batch that uses it. */
export const COUNTER_KEY = 'v2/counter';

const LOG = 'v2/log/';
const HEAD = 'v2/head/';
const TENANT = 'v2/tenant/';
const LAST = 'v2/last/';
const CONTROL = 'v2/control/';
const ORIGIN = 'v2/origin/';
/** Prefix of the outbox's records (outbox.ts): webhook deliveries and alert states, not the ledger. */
export const OUTBOX_KEY_PREFIX = 'v2/outbox/';
/** Every outbox key, as a range. */
export const OUTBOX_RANGE = { gte: OUTBOX_KEY_PREFIX, lt: 'v2/outbox0' } as const;

/**
 * The ranges of keys that each kind of record may occupy, in key order. A key of the layout outside
 * all of them is no record of this layout ('0' follows '/' in ASCII: `v2/log0` is just past `v2/log/…`).
 */
export const RECORD_RANGES: readonly { readonly gte: string; readonly lt: string }[] = [
  { gte: 'v2/control-tally', lt: 'v2/control-tally\u0000' },
  { gte: CONTROL, lt: 'v2/control0' },
  { gte: 'v2/counter', lt: 'v2/counter\u0000' },
  { gte: HEAD, lt: 'v2/head0' },
  { gte: LAST, lt: 'v2/last0' },
  { gte: LOG, lt: 'v2/log0' },
  { gte: 'v2/meta', lt: 'v2/meta\u0000' },
  { gte: ORIGIN, lt: 'v2/origin0' },
  OUTBOX_RANGE,
  { gte: TENANT, lt: 'v2/tenant0' },
];

/** The first key past every key of the layout. */
export const LAYOUT_END = 'v20';

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

/** Every head key, as a range. */
export const HEAD_RANGE = { gte: HEAD, lt: 'v2/head0' } as const;

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

/** The key of the record of `tenant`'s last index entry. */
export function tenantLastKey(tenant: TenantId): string {
  checkTenant(tenant);
  return `${LAST}${tenant}`;
}

/** Every tenant-last key, as a range. */
export const TENANT_LAST_RANGE = { gte: LAST, lt: 'v2/last0' } as const;

/** The tenant of a tenant-last key, or null when it is not one. */
export function parseTenantLastKey(key: string): TenantId | null {
  if (!key.startsWith(LAST)) return null;
  const tenant = key.slice(LAST.length);
  return isTenantId(tenant) ? tenant : null;
}

/** Every log key, as a range; the logs of one origin are contiguous in it. */
export const LOG_RANGE = { gte: LOG, lt: 'v2/log0' } as const;

/** The first key past every log key of `origin` (no origin id continues with a character below '0'). */
export function logEnd(origin: OriginId): string {
  checkOrigin(origin);
  return `${LOG}${origin}0`;
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

/** The key of the record that `origin` was heard of. */
export function originKey(origin: OriginId): string {
  checkOrigin(origin);
  return `${ORIGIN}${origin}`;
}

/** Every heard-of origin key, as a range. */
export const ORIGIN_RANGE = { gte: ORIGIN, lt: 'v2/origin0' } as const;

/** The origin of a heard-of origin key, or null when it is not one. */
export function parseOriginKey(key: string): OriginId | null {
  if (!key.startsWith(ORIGIN)) return null;
  const origin = key.slice(ORIGIN.length);
  return isOriginId(origin) ? origin : null;
}
