/**
 * A MemoryStore's image of a data directory (memory-store.ts): sealed records under LevelStore's
 * keys in a plain map, the sorted positions it finds them by (LevelDB's key order), and how a
 * commit or an archive step's deletion changes both.
 */
import type { OriginId, TenantId } from '@allot/core';
import { type CommitPlan, planWrites } from './commit-plan.js';
import { parseControlKey, parseSegmentKey, parseTenantKey } from './keys.js';

/** A data directory's records: sealed values under LevelStore's keys, as a plain key → bytes map. */
export type Image = Map<string, Uint8Array>;

/** What reaches the disk: a commit, or the deletion of live records an archive step moved. */
export type DiskWrite = CommitPlan | { readonly deletes: readonly string[] };

/** The sorted positions a store finds records by (LevelDB's key order, kept beside the map). */
export interface KeyIndex {
  /** Each origin's segments by last seq, ascending. */
  readonly segments: Map<OriginId, number[]>;
  /** Each tenant's index entries by (last) entry number, ascending. */
  readonly tenants: Map<TenantId, number[]>;
  /** Control update entries, ascending. */
  readonly control: number[];
}

/** An index of no key. */
export function emptyIndex(): KeyIndex {
  return { segments: new Map(), tenants: new Map(), control: [] };
}

/** Adds `key` to `index` (appended: callers keep key order, or sort after). */
export function indexKey(index: KeyIndex, key: string): void {
  const segment = parseSegmentKey(key);
  if (segment !== null) {
    const list = index.segments.get(segment.origin) ?? [];
    index.segments.set(segment.origin, list);
    list.push(segment.lastSeq);
    return;
  }
  const tenant = parseTenantKey(key);
  if (tenant !== null) {
    const list = index.tenants.get(tenant.tenant) ?? [];
    index.tenants.set(tenant.tenant, list);
    list.push(tenant.entry);
    return;
  }
  const control = parseControlKey(key);
  if (control !== null) index.control.push(control);
}

/** The index of every key of `image`, in key order. */
export function indexOf(image: Image): KeyIndex {
  const index = emptyIndex();
  for (const key of image.keys()) indexKey(index, key);
  const ascending = (a: number, b: number) => a - b;
  for (const list of index.segments.values()) list.sort(ascending);
  for (const list of index.tenants.values()) list.sort(ascending);
  index.control.sort(ascending);
  return index;
}

/** Applies `plan` to `image` (and `index`, when given). */
export function writePlan(image: Image, plan: DiskWrite, index: KeyIndex | null): void {
  if ('deletes' in plan) {
    for (const key of plan.deletes) image.delete(key);
    if (index !== null) unindexKeys(index, plan.deletes);
    return;
  }
  // New keys come in key order per origin, tenant and control (planning checked it): appended,
  // from the plan's own fields: no key is parsed back.
  if (index !== null) {
    for (const { key, origin, lastSeq } of plan.segments)
      if (!image.has(key)) appendTo(index.segments, origin, lastSeq);
    for (const { key, tenant, entry } of plan.entries)
      if (!image.has(key)) appendTo(index.tenants, tenant, entry);
    for (const { key, entry } of plan.control) if (!image.has(key)) index.control.push(entry);
  }
  for (const { key, value } of planWrites(plan)) image.set(key, value);
}

function appendTo<K>(lists: Map<K, number[]>, at: K, value: number): void {
  const list = lists.get(at);
  if (list === undefined) lists.set(at, [value]);
  else list.push(value);
}

/** Takes `keys` (segments and tenant entries) out of `index`. */
export function unindexKeys(index: KeyIndex, keys: readonly string[]): void {
  const segments = new Map<OriginId, Set<number>>();
  const tenants = new Map<TenantId, Set<number>>();
  for (const key of keys) {
    const segment = parseSegmentKey(key);
    if (segment !== null)
      segments.set(segment.origin, (segments.get(segment.origin) ?? new Set()).add(segment.lastSeq));
    const tenant = parseTenantKey(key);
    if (tenant !== null)
      tenants.set(tenant.tenant, (tenants.get(tenant.tenant) ?? new Set()).add(tenant.entry));
  }
  for (const [origin, gone] of segments)
    index.segments.set(
      origin,
      (index.segments.get(origin) ?? []).filter((seq) => !gone.has(seq)),
    );
  for (const [tenant, gone] of tenants)
    index.tenants.set(
      tenant,
      (index.tenants.get(tenant) ?? []).filter((entry) => !gone.has(entry)),
    );
}

/** Index of the first number ≥ `least` in an ascending list. */
export function firstAtLeast(list: readonly number[], least: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((list[middle] as number) < least) low = middle + 1;
    else high = middle;
  }
  return low;
}
