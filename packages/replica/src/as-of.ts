/**
 * Figures of the past (issue 11, "For auditors"): a tenant's balance as of a time, and a snapshot
 * at a version vector. Both are folds of durable log prefixes into a fresh state, read from the
 * store, so they never depend on what this node folded since, nor on the order its events arrived:
 * every node holding those events gives the same figures.
 *
 * The time rule. An event's time is its origin's clock when it was decided, and a node's clock may
 * step back (NTP), so an origin's times are not guaranteed to rise with seq. The as-of rule is
 * therefore a prefix rule, fixed by the log alone: of each origin, the tenant's events in seq order
 * up to (not including) the first one later than `at`. Where an origin's times rise with seq (the
 * normal case) that is exactly "every event with time ≤ at"; where they do not, an event at or
 * before `at` that follows a later one is left out with everything after it, so the result is
 * still a prefix of every log and `versionVector` describes it exactly.
 *
 * A tenant's events are folded alone: applyEvent asks each origin's events to follow one another
 * (seq = folded + 1), and the tenant's events of an origin skip the other tenants', so the fold is
 * told each time that the origin's log up to just before the event is folded. Nothing in the fold
 * of one tenant's event reads or writes another tenant, so this gives exactly the tenant's figures
 * of the whole fold at the same prefixes (a property test proves it).
 */
import {
  applyEvent,
  type BalanceFigures,
  createLedgerState,
  decodeSegment,
  grantCount,
  type LedgerState,
  type OriginId,
  parseOrigin,
  type RecordWindowOptions,
  type RegionId,
  tenantFigures,
  tenantIds,
  tenantTotalsOf,
} from '@allot/core';
import type { HeadView, SnapshotTenant } from './api.js';
import { ASOF_PAGE_EVENTS, ASOF_PAGE_SEGMENTS, ASOF_VECTOR_ORIGINS_MAX } from './limits.js';
import { toHex } from './log.js';
import type { Store, StoredSegment } from './ports.js';

/** A tenant's figures as of a time, and which events they fold (per origin, the last seq folded). */
export interface AsOfFigures {
  readonly figures: BalanceFigures;
  readonly versionVector: Readonly<Record<OriginId, number>>;
}

/** `vector` with its origins in code-unit order and zero entries left out: one vector, one text. */
export function canonicalVector(vector: Readonly<Record<OriginId, number>>): Record<OriginId, number> {
  const sorted: Record<OriginId, number> = {};
  for (const origin of Object.keys(vector).sort()) {
    const seq = vector[origin] as number;
    if (seq > 0) sorted[origin] = seq;
  }
  return sorted;
}

/**
 * Folds `event` into `state` although the origin's events before it may be missing there (they
 * are other tenants'): the fold is told the origin's log is folded up to just before it.
 */
function foldOneTenantEvent(state: LedgerState, event: Parameters<typeof applyEvent>[1]): void {
  state.versionVector[event.origin] = event.seq - 1;
  const result = applyEvent(state, event);
  if (result !== 'applied')
    throw new Error(`event ${event.origin}/${event.seq} was ${result} in an as-of fold`);
}

/**
 * The fold of `tenant`'s durable events as of `at` (the prefix rule above), or undefined when no
 * grant of the tenant is known by then (what the plain balance says of an unknown tenant).
 * `overdraft` is the allowance per region (the tenant's policy; policies are not in the logs).
 */
export async function tenantAsOf(
  store: Store,
  tenant: string,
  at: number,
  overdraft: Readonly<Record<RegionId, number>>,
): Promise<AsOfFigures | undefined> {
  const state = createLedgerState();
  const last = new Map<OriginId, number>();
  const stopped = new Set<OriginId>();
  let cursor: string | null = null;
  do {
    const page = await store.readTenantEvents(tenant, cursor, ASOF_PAGE_EVENTS);
    for (const { event } of page.events) {
      if (event.tenant !== tenant)
        throw new Error(`the index of ${tenant} names ${event.origin}/${event.seq}`);
      const before = last.get(event.origin) ?? 0;
      if (event.seq <= before) {
        throw new Error(`the index of ${tenant} lists ${event.origin}/${event.seq} after seq ${before}`);
      }
      if (stopped.has(event.origin)) continue;
      if (event.at > at) {
        stopped.add(event.origin);
        continue;
      }
      foldOneTenantEvent(state, event);
      last.set(event.origin, event.seq);
    }
    cursor = page.next;
  } while (cursor !== null);
  if (grantCount(state, tenant) === 0) return undefined;
  const figures = tenantFigures(state, tenant, { now: at, overdraft });
  if (figures === undefined) return undefined;
  return {
    figures: { ...figures, regions: sortedRecord(figures.regions) },
    versionVector: canonicalVector(Object.fromEntries(last)),
  };
}

function sortedRecord<V>(record: Readonly<Record<string, V>>): Record<string, V> {
  const sorted: Record<string, V> = {};
  for (const key of Object.keys(record).sort()) sorted[key] = record[key] as V;
  return sorted;
}

/**
 * Why `value` (JSON text, already parsed) is not a version vector one may ask a snapshot at, or
 * null when it is: an object of at most ASOF_VECTOR_ORIGINS_MAX origin ids, each to a seq (a safe
 * integer ≥ 0).
 */
export function versionVectorQueryProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'a version vector is a JSON object of origin to seq, e.g. {"eu#k3x9…":42}';
  }
  const entries = Object.entries(value);
  if (entries.length > ASOF_VECTOR_ORIGINS_MAX) {
    return `a version vector names at most ${ASOF_VECTOR_ORIGINS_MAX} origins, not ${entries.length}`;
  }
  for (const [origin, seq] of entries) {
    if (parseOrigin(origin) === null)
      return `${JSON.stringify(origin.slice(0, 80))} is not an origin id (region#incarnation)`;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
      return `the seq of ${origin} must be an integer from 0 to 2^53 − 1`;
    }
  }
  return null;
}

/**
 * The version vector in `text` (JSON), or the reason it is not one (see versionVectorQueryProblem).
 */
export function parseVersionVector(text: string): { vector: Record<OriginId, number> } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'not JSON: a version vector is a JSON object of origin to seq' };
  }
  const problem = versionVectorQueryProblem(value);
  if (problem !== null) return { problem };
  return { vector: canonicalVector(value as Record<OriginId, number>) };
}

/** What a snapshot at a version vector is (figures of exactly those prefixes), or why there is none. */
export type SnapshotAtOutcome =
  | {
      readonly status: 'ok';
      readonly versionVector: Readonly<Record<OriginId, number>>;
      readonly heads: Readonly<Record<OriginId, HeadView>>;
      readonly tenants: SnapshotTenant[];
    }
  | SnapshotAtRefusal;

/** Why there is no snapshot at a version vector here. */
export type SnapshotAtRefusal =
  /** `seq` of `origin` falls inside a segment: only a segment's end has a signed head. */
  | {
      readonly status: 'inside_segment';
      readonly origin: OriginId;
      readonly seq: number;
      readonly firstSeq: number;
      readonly lastSeq: number;
    }
  /** This node holds `origin`'s log only up to `held`, below the `seq` asked for. */
  | { readonly status: 'not_held'; readonly origin: OriginId; readonly seq: number; readonly held: number };

/** The segment of `origin` that ends at `seq`, or why there is none (see SnapshotAtOutcome). */
async function segmentEndingAt(
  store: Store,
  origin: OriginId,
  seq: number,
  held: number,
): Promise<StoredSegment | SnapshotAtRefusal> {
  if (seq > held) return { status: 'not_held', origin, seq, held };
  const [segment] = await store.readSegments(origin, seq, 1);
  if (segment === undefined || segment.firstSeq > seq) return { status: 'not_held', origin, seq, held };
  if (segment.lastSeq !== seq) {
    return { status: 'inside_segment', origin, seq, firstSeq: segment.firstSeq, lastSeq: segment.lastSeq };
  }
  return segment;
}

/**
 * The snapshot of exactly the log prefixes `vector` names (origins it leaves out: none of theirs),
 * folded from the store into a fresh state, with each origin's signed head at its seq. Every seq
 * must end a segment (segments are cut alike at every node: their bytes are relayed as they are).
 */
export async function snapshotAt(
  store: Store,
  vector: Readonly<Record<OriginId, number>>,
  recordWindow: RecordWindowOptions,
): Promise<SnapshotAtOutcome> {
  const wanted = canonicalVector(vector);
  const heldBy = new Map((await store.heads()).map((head) => [head.origin, head.seq]));
  const heads: Record<OriginId, HeadView> = {};
  for (const [origin, seq] of Object.entries(wanted)) {
    const end = await segmentEndingAt(store, origin, seq, heldBy.get(origin) ?? 0);
    if (!('bytes' in end)) return end;
    heads[origin] = { seq, hash: toHex(end.hash), signature: toHex(end.signature) };
  }
  const state = createLedgerState({ recordWindow });
  for (const [origin, seq] of Object.entries(wanted)) {
    let folded = 0;
    while (folded < seq) {
      const page = await store.readSegments(origin, folded + 1, ASOF_PAGE_SEGMENTS);
      if (page.length === 0) throw new Error(`the log of ${origin} ends at seq ${folded}, below ${seq}`);
      for (const segment of page) {
        if (segment.firstSeq !== folded + 1) {
          throw new Error(
            `the log of ${origin} has segment ${segment.firstSeq}–${segment.lastSeq} after seq ${folded}`,
          );
        }
        if (segment.lastSeq > seq)
          throw new Error(`segment ${segment.firstSeq}–${segment.lastSeq} of ${origin} passes ${seq}`);
        for (const event of decodeSegment(segment.bytes).events) {
          if (applyEvent(state, event) !== 'applied') {
            throw new Error(`event ${origin}/${event.seq} did not apply in a snapshot fold`);
          }
        }
        folded = segment.lastSeq;
        if (folded === seq) break;
      }
    }
  }
  const tenants: SnapshotTenant[] = [];
  for (const tenant of [...tenantIds(state)].sort()) {
    const totals = tenantTotalsOf(state, tenant);
    if (totals === undefined) continue;
    const { balance, ...rest } = totals;
    tenants.push({ tenant, balance, ...rest });
  }
  return { status: 'ok', versionVector: wanted, heads, tenants };
}
