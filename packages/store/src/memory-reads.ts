/**
 * Reads of a MemoryStore's image (memory-image.ts), each record opened through its seal as
 * LevelStore's are: the commit state a store starts from, the live segments of a log and the live
 * index entries of a tenant found by the image's sorted positions, the control entries, the heads
 * and the incarnations heard of. A read fault (memory-faults.ts) may change what the log reads see.
 */
import type { OriginId, TenantId } from '@allot/core';
import type { LogHead, StoredSegment } from '@allot/replica';
import { type CommitState, emptyCommitState } from './commit-plan.js';
import { decodeControlTally, decodeCounter, decodeHeardOrigin, decodeLogHead } from './encoding.js';
import { StoreCorruptError } from './errors.js';
import {
  CONTROL_TALLY_KEY,
  COUNTER_KEY,
  controlKey,
  headKey,
  META_KEY,
  originKey,
  parseBaseKey,
  parseHeadKey,
  parseOriginKey,
  segmentKey,
  tenantKey,
} from './keys.js';
import type { TenantHit } from './log-reads.js';
import { firstAtLeast, type Image, type KeyIndex } from './memory-image.js';
import { byOrigin, checkHeadAgainstLog, expectHead, type IndexHit } from './read-checks.js';
import { openRecord } from './records.js';
import { decodeSegmentRecord } from './segment-records.js';

/** What the reads see of a store: its visible image, the positions in it, and its read path. */
export interface MemoryView {
  readonly visible: Image;
  readonly index: KeyIndex;
  /** The bytes a read of `key` gets: what the image holds, unless a read fault says otherwise. */
  readonly read: (key: string, bytes: Uint8Array) => Uint8Array;
}

/** The state a store checks commits against, read back from an image. */
export function commitStateOf(image: Image): CommitState {
  const state = emptyCommitState();
  state.metaStored = image.has(META_KEY);
  const counter = image.get(COUNTER_KEY);
  if (counter !== undefined) state.lastEntry = decodeCounter(COUNTER_KEY, openRecord(COUNTER_KEY, counter));
  const tally = image.get(CONTROL_TALLY_KEY);
  if (tally !== undefined)
    state.control = decodeControlTally(CONTROL_TALLY_KEY, openRecord(CONTROL_TALLY_KEY, tally));
  for (const [key, bytes] of image) {
    const headOrigin = parseHeadKey(key);
    if (headOrigin !== null)
      state.heads.set(headOrigin, expectHead(key, decodeLogHead(key, openRecord(key, bytes)), headOrigin));
    const heard = parseOriginKey(key);
    if (heard !== null) state.origins.add(decodeHeardOrigin(key, openRecord(key, bytes), heard));
    const based = parseBaseKey(key);
    if (based !== null)
      state.bases.set(based, expectHead(key, decodeLogHead(key, openRecord(key, bytes)), based));
  }
  return state;
}

/**
 * Appends to `segments`, until it holds `limit`, the live segments of `origin` from the one holding
 * `liveFrom` through the head at `headSeq`. A segment gone from the image is skipped: the caller's
 * run check names the gap.
 */
export function liveSegments(
  view: MemoryView,
  origin: OriginId,
  liveFrom: number,
  headSeq: number,
  limit: number,
  segments: StoredSegment[],
): void {
  const lastSeqs = view.index.segments.get(origin) ?? [];
  for (let i = firstAtLeast(lastSeqs, liveFrom); i < lastSeqs.length && segments.length < limit; i++) {
    const lastSeq = lastSeqs[i] as number;
    if (lastSeq > headSeq) break;
    const key = segmentKey(origin, lastSeq);
    const bytes = view.visible.get(key);
    if (bytes === undefined) continue; // gone from the image: the run check names the gap
    segments.push(decodeSegmentRecord(key, openRecord(key, view.read(key, bytes)), origin, lastSeq));
  }
}

/** Appends to `hits`, until it holds `limit + 1`, the live index entries of `tenant` from `liveFrom`. */
export function liveTenantHits(
  view: MemoryView,
  tenant: TenantId,
  liveFrom: number,
  limit: number,
  hits: TenantHit[],
): void {
  const entries = view.index.tenants.get(tenant) ?? [];
  for (let i = firstAtLeast(entries, liveFrom); i < entries.length && hits.length <= limit; i++) {
    const entry = entries[i] as number;
    const key = tenantKey(tenant, entry);
    const value = view.visible.get(key);
    if (value === undefined) continue;
    hits.push({ key, entry, value });
  }
}

/** Every control-document entry the image holds, in entry order (unchecked: see checkControl). */
export function controlHits(view: MemoryView): IndexHit[] {
  return view.index.control.flatMap((entry) => {
    const key = controlKey(entry);
    const value = view.visible.get(key);
    return value === undefined ? [] : [{ key, entry, value }];
  });
}

/**
 * The stored heads of `origins`, each read back from its record (through the read path) and checked
 * against its log as LevelStore's open checks them (read-checks.ts `checkHeadAgainstLog`): a head
 * read that lies (a stale read) is a StoreCorruptError, never a shorter log.
 */
export async function storedHeads(
  view: MemoryView,
  origins: Iterable<OriginId>,
  bases: ReadonlyMap<OriginId, LogHead>,
): Promise<LogHead[]> {
  const heads: LogHead[] = [];
  for (const origin of origins) {
    const key = headKey(origin);
    const bytes = view.visible.get(key);
    if (bytes === undefined) throw new StoreCorruptError(key, 'missing');
    const head = expectHead(key, decodeLogHead(key, openRecord(key, view.read(key, bytes))), origin);
    const lastSeqs = view.index.segments.get(origin) ?? [];
    await checkHeadAgainstLog(key, head, bases.get(origin), {
      segmentValue: async (seq) => {
        const segment = segmentKey(origin, seq);
        const value = view.visible.get(segment);
        return value === undefined ? undefined : view.read(segment, value);
      },
      keyPast: async (seq) => {
        const next = lastSeqs[firstAtLeast(lastSeqs, seq + 1)];
        return next === undefined ? undefined : segmentKey(origin, next);
      },
    });
    heads.push(head);
  }
  return heads.sort(byOrigin);
}

/** The incarnations `origins` recorded as heard of, sorted, each read back from its record. */
export function storedOrigins(view: MemoryView, origins: Iterable<OriginId>): OriginId[] {
  return [...origins]
    .map((origin) => {
      const key = originKey(origin);
      const bytes = view.visible.get(key);
      if (bytes === undefined) throw new StoreCorruptError(key, 'missing');
      return decodeHeardOrigin(key, openRecord(key, bytes), origin);
    })
    .sort();
}
