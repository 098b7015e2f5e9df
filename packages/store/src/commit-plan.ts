/**
 * Planning a commit: the checks and the sealed records of one StoreBatch, shared by LevelStore and
 * MemoryStore so that both refuse the same batches and write the same bytes under the same keys.
 * Planning reads nothing and decodes no event: it checks the batch against the store's in-memory
 * state (the heads, whether meta exists, the entry counter), which the store updates only once the
 * write has succeeded, and each segment's header against what the batch says it is.
 */
import { isOriginId, isTenantId, ORIGINS_MAX, type OriginId, type TenantId } from '@allot/core';
import { type LogHead, type SegmentWrite, type StoreBatch, sameBytes } from '@allot/replica';
import type { ControlTally } from './encoding.js';
import {
  encodeControlTally,
  encodeControlUpdate,
  encodeCounter,
  encodeHeardOrigin,
  encodeLogHead,
  encodeNodeMeta,
  storedLogHead,
} from './encoding.js';
import { StoreInvariantError } from './errors.js';
import {
  baseKey,
  CONTROL_TALLY_KEY,
  COUNTER_KEY,
  controlKey,
  headKey,
  META_KEY,
  originKey,
  segmentKey,
  tenantKey,
} from './keys.js';
import { COMMIT_CONTROL_UPDATES_MAX, COMMIT_EVENTS_MAX } from './limits.js';
import { sealRecord } from './records.js';
import { type EventPosition, encodeSegmentRecord, encodeTenantEntry } from './segment-records.js';

/** What a store keeps in memory to check a batch without a read. */
export interface CommitState {
  /** The stored head of every origin, decoded from the bytes written. */
  readonly heads: Map<OriginId, LogHead>;
  metaStored: boolean;
  /** The last entry number given out (tenant index and control updates). */
  lastEntry: number;
  /** How many control updates are stored, and the last one's entry (0 and 0 for none). */
  control: ControlTally;
  /** The incarnations recorded as heard of. */
  readonly origins: Set<OriginId>;
  /** The log base of every origin whose log here starts after an installed checkpoint. */
  readonly bases: Map<OriginId, LogHead>;
}

/** One key and its sealed value (records.ts). */
export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
}

/** A segment of a plan: its record. */
export interface PlannedSegment extends KeyValue {
  readonly origin: OriginId;
  readonly lastSeq: number;
}

/** A tenant index entry of a plan: the tenant's events of this commit, entries `entry − count + 1` to `entry`. */
export interface PlannedEntry extends KeyValue {
  readonly tenant: TenantId;
  readonly entry: number;
  readonly count: number;
}

/** A head of a plan, with the head as decoded back from its bytes (what the store will hold). */
export interface PlannedHead extends KeyValue {
  readonly head: LogHead;
}

/** A control update of a plan. */
export interface PlannedControl extends KeyValue {
  readonly entry: number;
}

/** Everything one commit writes, encoded and checked. */
export interface CommitPlan {
  readonly meta: KeyValue | null;
  readonly segments: readonly PlannedSegment[];
  readonly entries: readonly PlannedEntry[];
  readonly heads: readonly PlannedHead[];
  readonly control: readonly PlannedControl[];
  /** The control tally after this commit, and its record when it changed. */
  readonly controlTally: ControlTally;
  readonly controlTallyRecord: KeyValue | null;
  /** Heard-of origins not recorded before, and their records. */
  readonly origins: readonly (KeyValue & { readonly origin: OriginId })[];
  /** The entry counter after this commit, and its record when it changed. */
  readonly lastEntry: number;
  readonly counter: KeyValue | null;
  /** Log bases set by this commit (StoreBatch.bases). */
  readonly bases: readonly PlannedHead[];
}

/** A fresh state for an empty data directory. */
export function emptyCommitState(): CommitState {
  return {
    heads: new Map(),
    metaStored: false,
    lastEntry: 0,
    control: { count: 0, last: 0 },
    origins: new Set(),
    bases: new Map(),
  };
}

function refuse(message: string): never {
  throw new StoreInvariantError(`commit refused, nothing written: ${message}`);
}

/**
 * The plan of `batch` against `state`; a StoreInvariantError when the batch breaks an invariant:
 * segments not contiguous after their origin's stored head (or whose bytes say otherwise), a head
 * that is not the last segment of its origin in the batch (or, for an origin without segments, not
 * the stored head re-signed), an origin whose segments come without its new head, a second meta, a
 * malformed record, a limit exceeded.
 */
export function planCommit(state: CommitState, batch: StoreBatch): CommitPlan {
  if (typeof batch !== 'object' || batch === null) refuse('the batch is not an object');
  const { segments, heads, meta, control = [], origins = [] } = batch;
  if (
    !Array.isArray(segments) ||
    !Array.isArray(heads) ||
    !Array.isArray(control) ||
    !Array.isArray(origins)
  ) {
    refuse('segments, heads, control and origins must be arrays');
  }
  let eventCount = 0;
  for (const segment of segments) eventCount += segment.lastSeq - segment.firstSeq + 1;
  if (!(eventCount <= COMMIT_EVENTS_MAX)) refuse(`${eventCount} events, more than ${COMMIT_EVENTS_MAX}`);
  if (heads.length > ORIGINS_MAX) refuse(`${heads.length} heads, more than ${ORIGINS_MAX}`);
  if (control.length > COMMIT_CONTROL_UPDATES_MAX) {
    refuse(`${control.length} control updates, more than ${COMMIT_CONTROL_UPDATES_MAX}`);
  }

  if (origins.length > ORIGINS_MAX) refuse(`${origins.length} heard-of origins, more than ${ORIGINS_MAX}`);
  const plannedOrigins: (KeyValue & { origin: OriginId })[] = [];
  for (const origin of origins) {
    if (!isOriginId(origin)) refuse(`heard-of origin ${JSON.stringify(origin)} is not an origin id`);
    if (state.origins.has(origin) || plannedOrigins.some((planned) => planned.origin === origin)) continue;
    const key = originKey(origin);
    plannedOrigins.push({ key, value: sealRecord(key, encodeHeardOrigin(origin)), origin });
  }

  let plannedMeta: KeyValue | null = null;
  if (meta !== undefined) {
    if (state.metaStored) refuse('the node meta is written once, when the data directory is created');
    plannedMeta = { key: META_KEY, value: sealRecord(META_KEY, encodeNodeMeta(meta)) };
  }

  const plannedBases = planBases(state, batch.bases ?? []);
  const baseOf = (origin: OriginId): LogHead | undefined =>
    plannedBases.find((planned) => planned.head.origin === origin)?.head;

  let entry = state.lastEntry;
  const lastOf = new Map<OriginId, SegmentWrite>();
  const positions = new Map<TenantId, EventPosition[]>();
  const plannedSegments: PlannedSegment[] = [];
  for (const segment of segments) {
    const { origin, firstSeq, lastSeq, tenants } = segment;
    if (!isOriginId(origin)) refuse(`a segment of ${JSON.stringify(origin)}, not an origin id`);
    const previous = lastOf.get(origin)?.lastSeq ?? baseOf(origin)?.seq ?? state.heads.get(origin)?.seq ?? 0;
    if (firstSeq !== previous + 1)
      refuse(`segment ${origin}/${firstSeq} does not follow seq ${previous} of its log`);
    if (!Array.isArray(tenants) || tenants.length !== lastSeq - firstSeq + 1)
      refuse(`segment ${origin}/${firstSeq}-${lastSeq} does not name the tenant of each event`);
    const key = segmentKey(origin, lastSeq);
    plannedSegments.push({ key, value: sealRecord(key, encodeSegmentRecord(segment)), origin, lastSeq });
    lastOf.set(origin, segment);
    for (let i = 0; i < tenants.length; i++) {
      const tenant = tenants[i] as TenantId;
      let list = positions.get(tenant);
      if (list === undefined) {
        if (!isTenantId(tenant))
          refuse(`segment ${origin}/${firstSeq}: ${JSON.stringify(tenant)} is no tenant id`);
        list = [];
        positions.set(tenant, list);
      }
      list.push({ origin, seq: firstSeq + i });
    }
  }
  const plannedEntries: PlannedEntry[] = [];
  for (const [tenant, list] of positions) {
    entry += list.length;
    const key = tenantKey(tenant, entry);
    plannedEntries.push({
      key,
      value: sealRecord(key, encodeTenantEntry(list)),
      tenant,
      entry,
      count: list.length,
    });
  }

  const plannedHeads: PlannedHead[] = [];
  for (const head of heads) {
    const value = encodeLogHead(head);
    const { origin } = head;
    if (plannedHeads.some((planned) => planned.head.origin === origin)) refuse(`two heads of ${origin}`);
    const last = lastOf.get(origin);
    if (last !== undefined) {
      if (head.seq !== last.lastSeq || !sameBytes(head.hash, last.hash)) {
        refuse(
          `the head of ${origin} (seq ${head.seq}) is not its last segment in the batch (seq ${last.lastSeq})`,
        );
      }
    } else {
      // A head without events only re-signs the stored head: it may not move it.
      const stored = baseOf(origin) ?? state.heads.get(origin);
      if (stored === undefined || stored.seq !== head.seq || !sameBytes(stored.hash, head.hash)) {
        refuse(
          `the head of ${origin} (seq ${head.seq}) has no events in the batch and is not the stored head`,
        );
      }
    }
    const key = headKey(origin);
    plannedHeads.push({ key, value: sealRecord(key, value), head: storedLogHead(head) });
  }
  for (const { head } of plannedBases) {
    if (!plannedHeads.some((planned) => planned.head.origin === head.origin))
      refuse(`the log base of ${head.origin} comes without its head`);
  }
  for (const origin of lastOf.keys()) {
    if (!plannedHeads.some((planned) => planned.head.origin === origin)) {
      refuse(`the segments of ${origin} come without its new head`);
    }
  }

  const plannedControl: PlannedControl[] = [];
  for (const update of control) {
    entry += 1;
    const key = controlKey(entry);
    plannedControl.push({ key, value: sealRecord(key, encodeControlUpdate(update)), entry });
  }

  return {
    meta: plannedMeta,
    segments: plannedSegments,
    entries: plannedEntries,
    heads: plannedHeads,
    control: plannedControl,
    origins: plannedOrigins,
    ...controlTallyOf(state.control, plannedControl),
    lastEntry: entry,
    counter: entry === state.lastEntry ? null : counterRecord(entry),
    bases: plannedBases,
  };
}

/**
 * The records of `bases`: each unsigned, once per origin, for an origin of which nothing is stored
 * yet, or whose stored log (after an earlier base or not) ends before the base: a node far behind
 * adopting a checkpoint, the prefix it holds stays stored below the base, read only by its tenant
 * index entries.
 */
function planBases(state: CommitState, bases: readonly LogHead[]): PlannedHead[] {
  if (!Array.isArray(bases)) refuse('bases must be an array');
  if (bases.length > ORIGINS_MAX) refuse(`${bases.length} log bases, more than ${ORIGINS_MAX}`);
  const planned: PlannedHead[] = [];
  for (const base of bases) {
    const origin = base?.origin;
    if (!isOriginId(origin)) refuse(`a log base of ${JSON.stringify(origin)}, not an origin id`);
    const held = state.heads.get(origin)?.seq ?? 0;
    if (held >= base.seq)
      refuse(`the log of ${origin} is stored already (to seq ${held}): it gets no base at seq ${base.seq}`);
    if (planned.some((other) => other.head.origin === origin)) refuse(`two log bases of ${origin}`);
    if (base.signature !== null) refuse(`the log base of ${origin} is signed: a base carries no signature`);
    const key = baseKey(origin);
    const value = encodeLogHead(base);
    planned.push({ key, value: sealRecord(key, value), head: storedLogHead(base) });
  }
  return planned;
}

/** The control tally after `planned` are added to `tally`, and its record if they are any. */
function controlTallyOf(
  tally: ControlTally,
  planned: readonly PlannedControl[],
): { controlTally: ControlTally; controlTallyRecord: KeyValue | null } {
  const last = planned[planned.length - 1];
  if (last === undefined) return { controlTally: tally, controlTallyRecord: null };
  const controlTally = { count: tally.count + planned.length, last: last.entry };
  const value = sealRecord(CONTROL_TALLY_KEY, encodeControlTally(controlTally));
  return { controlTally, controlTallyRecord: { key: CONTROL_TALLY_KEY, value } };
}

/** The sealed record of the entry counter at `entry`. */
export function counterRecord(entry: number): KeyValue {
  return { key: COUNTER_KEY, value: sealRecord(COUNTER_KEY, encodeCounter(entry)) };
}

/** Every key and value `plan` writes, for one atomic LevelDB batch. */
export function planWrites(plan: CommitPlan): KeyValue[] {
  const writes: KeyValue[] = [];
  if (plan.meta !== null) writes.push(plan.meta);
  writes.push(...plan.segments, ...plan.entries, ...plan.heads, ...plan.control, ...plan.origins);
  writes.push(...plan.bases);
  if (plan.controlTallyRecord !== null) writes.push(plan.controlTallyRecord);
  if (plan.counter !== null) writes.push(plan.counter);
  return writes;
}

/** Brings `state` up to date once `plan` has been written. */
export function applyPlan(state: CommitState, plan: CommitPlan): void {
  if (plan.meta !== null) state.metaStored = true;
  for (const { head } of plan.heads) state.heads.set(head.origin, head);
  state.control = plan.controlTally;
  for (const { origin } of plan.origins) state.origins.add(origin);
  for (const { head } of plan.bases) state.bases.set(head.origin, head);
  state.lastEntry = plan.lastEntry;
}
