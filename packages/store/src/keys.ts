/**
 * The key layout of a data directory, version 3 (segments, DESIGN.md §2). Every key starts with
 * `v3/`, so a node can tell a layout it does not know (and convert layout v2: convert-v2.ts). Each
 * value is sealed with a checksum of key ‖ payload (records.ts). Version 3 differs from version 2
 * in its logs: one value per segment instead of one per event, and a tenant index with one key per
 * tenant per commit instead of one per event.
 *
 * Parts are separated by '/', which occurs in no id: origins are `[a-z0-9-]+#[a-z2-7]+` and tenant
 * ids `[A-Za-z0-9._:-]+` (core's limits), so `v3/tenant/a/…` and `v3/tenant/a.b/…` never mix.
 * Numbers are 16-digit zero-padded decimal: every safe integer (≤ 2^53 − 1, 16 digits) fits, and
 * lexicographic key order is numeric order, which is what LevelDB iterates in.
 *
 *   v3/meta                         → NodeMeta, written once when the data directory is created
 *   v3/counter                      → the last entry number given out (tenant index and control)
 *   v3/seg/<origin>/<lastSeq>       → a segment of `origin`'s log ending at `lastSeq`: its hash,
 *                                     its signature and its bytes (segment-records.ts); a seek to
 *                                     `<origin>/<seq>` lands on the segment that holds `seq`
 *   v3/head/<origin>                → LogHead: the last segment of `origin` stored here, signed
 *   v3/tenant/<tenant>/<entry>      → where the tenant's events of one commit are in their logs;
 *                                     they are entries `entry − count + 1` to `entry`
 *   v3/control/<entry>              → one control-document (Yjs) update, in commit order
 *   v3/control-tally                → how many control updates there are, and the last one's entry
 *   v3/origin/<origin>              → the origin id again: an incarnation this node heard of (its
 *                                     own, and each peer's from its handshake; DESIGN.md §1)
 *   v3/ckpt/<total>/<part>          → a checkpoint (checkpoints.ts): part 0 its header, then its
 *                                     bytes in parts; `total` is Σ of its version vector
 *   v3/outbox/<key>                 → an outbox record (outbox.ts): webhook deliveries, alert states
 *   v3/keys/<key>                   → a value of a closed key-index bucket written to disk (key-area.ts:
 *                                     a part's header, filter or chunk; core's key-spill.ts)
 *
 * Entry numbers come from one counter, increased by one per event indexed and per control update,
 * in commit order. A tenant cursor is such a number, so it stays valid as events arrive.
 */
import { isOriginId, isTenantId, type OriginId, type TenantId } from '@allot/core';

/** Prefix of every key of layout version 3. */
export const LAYOUT_PREFIX = 'v3/';

/** Prefix of every key of layout version 1, which this build refuses with a clear message. */
export const OLD_LAYOUT_PREFIX = 'v1/';

/** Prefix of every key of layout version 2, which this build converts (convert-v2.ts). */
export const V2_LAYOUT_PREFIX = 'v2/';

/** The node's metadata. */
export const META_KEY = 'v3/meta';

/** The control tally ('-' sorts before '/', so this key lies just before the control updates). */
export const CONTROL_TALLY_KEY = 'v3/control-tally';

/** The last entry number given out, written in the batch that uses it. */
export const COUNTER_KEY = 'v3/counter';

const SEG = 'v3/seg/';
const HEAD = 'v3/head/';
const TENANT = 'v3/tenant/';
const CONTROL = 'v3/control/';
const ORIGIN = 'v3/origin/';
/** Prefix of the outbox's records (outbox.ts): webhook deliveries and alert states, not the ledger. */
export const OUTBOX_KEY_PREFIX = 'v3/outbox/';
/** Every outbox key, as a range. */
export const OUTBOX_RANGE = { gte: OUTBOX_KEY_PREFIX, lt: 'v3/outbox0' } as const;
/** Prefix of the keys area (key-area.ts): closed key-index buckets, rebuilt from the logs if lost. */
export const KEYS_KEY_PREFIX = 'v3/keys/';

/**
 * The ranges of keys that each kind of record may occupy, in key order. A key of the layout outside
 * all of them is no record of this layout ('0' follows '/' in ASCII: `v3/seg0` is just past `v3/seg/…`).
 */
export const RECORD_RANGES: readonly { readonly gte: string; readonly lt: string }[] = [
  { gte: 'v3/ckpt/', lt: 'v3/ckpt0' },
  { gte: 'v3/control-tally', lt: 'v3/control-tally\u0000' },
  { gte: CONTROL, lt: 'v3/control0' },
  { gte: 'v3/counter', lt: 'v3/counter\u0000' },
  { gte: HEAD, lt: 'v3/head0' },
  { gte: KEYS_KEY_PREFIX, lt: 'v3/keys0' },
  { gte: 'v3/meta', lt: 'v3/meta\u0000' },
  { gte: ORIGIN, lt: 'v3/origin0' },
  OUTBOX_RANGE,
  { gte: SEG, lt: 'v3/seg0' },
  { gte: TENANT, lt: 'v3/tenant0' },
];

/** The first key past every key of the layout. */
export const LAYOUT_END = 'v30';

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

/** The key of the segment of `origin`'s log that ends at `lastSeq`. */
export function segmentKey(origin: OriginId, lastSeq: number): string {
  checkOrigin(origin);
  return `${SEG}${origin}/${numberPart(lastSeq)}`;
}

/** The origin and last seq of a segment key, or null when it is not one. */
export function parseSegmentKey(key: string): { origin: OriginId; lastSeq: number } | null {
  if (!key.startsWith(SEG)) return null;
  const rest = key.slice(SEG.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return null;
  const origin = rest.slice(0, slash);
  const lastSeq = parseNumberPart(rest.slice(slash + 1));
  return isOriginId(origin) && lastSeq !== null && lastSeq >= 1 ? { origin, lastSeq } : null;
}

/** Every segment key, as a range; the segments of one origin are contiguous in it. */
export const SEGMENT_RANGE = { gte: SEG, lt: 'v3/seg0' } as const;

/** The first key past every segment key of `origin` (no origin id continues with a character below '0'). */
export function segmentEnd(origin: OriginId): string {
  checkOrigin(origin);
  return `${SEG}${origin}0`;
}

/** The key of `origin`'s head. */
export function headKey(origin: OriginId): string {
  checkOrigin(origin);
  return `${HEAD}${origin}`;
}

/** Every head key, as a range. */
export const HEAD_RANGE = { gte: HEAD, lt: 'v3/head0' } as const;

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

/** The keys of `tenant`'s index entries that hold entries after number `after`, as a range. */
export function tenantRange(tenant: TenantId, after: number): { gt: string; lte: string } {
  return { gt: tenantKey(tenant, after), lte: `${TENANT}${tenant}/${NUMBER_KEY_MAX}` };
}

/** Every tenant index key, as a range. */
export const TENANT_RANGE = { gte: TENANT, lt: 'v3/tenant0' } as const;

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

/** The key of the record that `origin` was heard of. */
export function originKey(origin: OriginId): string {
  checkOrigin(origin);
  return `${ORIGIN}${origin}`;
}

/** Every heard-of origin key, as a range. */
export const ORIGIN_RANGE = { gte: ORIGIN, lt: 'v3/origin0' } as const;

/** The origin of a heard-of origin key, or null when it is not one. */
export function parseOriginKey(key: string): OriginId | null {
  if (!key.startsWith(ORIGIN)) return null;
  const origin = key.slice(ORIGIN.length);
  return isOriginId(origin) ? origin : null;
}
