/**
 * Figures of the past (issue 11, "For auditors"): a tenant's balance as of a time, and a snapshot
 * at a version vector. Both are folds of durable log prefixes into a fresh state, read from the
 * store, so they never depend on what this node folded since, nor on the order its events arrived:
 * every node holding those events gives the same figures.
 *
 * The time rule. An event's time is its origin's clock when it was decided. A replica dates its
 * own events no earlier than the last one it wrote (event-time.ts), so its log's times rise with
 * seq even when its clock steps back; but a log written by an older node, or signed by a peer, may
 * not. The as-of rule is therefore a prefix rule, fixed by the log alone: of each origin, the
 * tenant's events in seq order up to (not including) the first one later than `at`. Where times
 * rise with seq that is exactly "every event with time ≤ at"; where they do not, an event at or
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
  checkpointFormat,
  createLedgerState,
  decodeSegment,
  grantCount,
  type LedgerEvent,
  LedgerInvariantError,
  type LedgerState,
  type OriginId,
  parseOrigin,
  type RecordWindowOptions,
  type RegionId,
  tenantFigures,
} from '@allot/core';
import type { SnapshotHeader, SnapshotTenant } from './api.js';
import { newestCheckpointWhere } from './checkpoints.js';
import {
  ASOF_BASE_EVENTS_MIN,
  ASOF_PAGE_EVENTS,
  ASOF_PAGE_SEGMENTS,
  ASOF_VECTOR_ORIGINS_MAX,
} from './limits.js';
import { signatureKept } from './log.js';
import type { Crypto, LogHead, Store, StoredSegment } from './ports.js';
import { type SnapshotMeta, snapshotOf } from './snapshot-view.js';

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
 * are other tenants'): the fold is told the origin's log is folded up to just before it. False
 * when the fold refuses it (LedgerInvariantError: it needs an event of another origin not folded
 * yet, e.g. the capture of a hold another incarnation of its region made); nothing changed then.
 */
function foldTenantEvent(state: LedgerState, event: LedgerEvent): boolean {
  const before = state.versionVector[event.origin];
  state.versionVector[event.origin] = event.seq - 1;
  try {
    const result = applyEvent(state, event);
    if (result !== 'applied')
      throw new Error(`event ${event.origin}/${event.seq} was ${result} in an as-of fold`);
    return true;
  } catch (error) {
    if (!(error instanceof LedgerInvariantError)) throw error;
    if (before === undefined) delete state.versionVector[event.origin];
    else state.versionVector[event.origin] = before;
    return false;
  }
}

/**
 * A fold to start a balance as of `at` from instead of an empty state: a checkpoint's state at
 * `vector` that folds no event later than `at`, or null when there is none.
 */
export type AsOfBase = (
  at: number,
) => Promise<{ readonly state: LedgerState; readonly vector: Readonly<Record<OriginId, number>> } | null>;

/**
 * The newest stored checkpoint of this node (hash and its signature checked) that folds no event later than
 * `at` (its header's newest event time; format 1 has none, so it never qualifies) and no `retire`
 * (whose retired incarnations change every tenant's overdraft, not only its own tenant's), decoded;
 * null when none. What a balance as of `at` folds from: each origin's checkpointed prefix then lies
 * within the prefix the as-of rule takes of it (as-of.ts).
 */
export function newestCheckpointAsOf(
  ports: { readonly store: Store; readonly crypto: Crypto },
  cluster: string,
  at: number,
  recordWindow: RecordWindowOptions,
): Promise<{ state: LedgerState; vector: Record<OriginId, number> } | null> {
  return newestCheckpointWhere(ports, cluster, recordWindow, {
    total: () => true,
    bytes: (bytes) => {
      const { version, newestAt } = checkpointFormat(bytes);
      return version >= 2 && newestAt <= at;
    },
    state: (state) => state.retired.size === 0 && state.newestAt <= at,
  });
}

/**
 * A balance as of `at` needs events this node does not hold: the log of `origin` here starts after
 * a base at `seq` (it joined from a checkpoint, or installed one far behind: join-install.ts), so
 * it holds that log only from `seq` + 1, and no checkpoint it may fold from (newestCheckpointAsOf)
 * covers the events up to `seq`. A fold without them would be a wrong figure, not a smaller one.
 */
export class AsOfNotHeldError extends Error {
  override readonly name = 'AsOfNotHeldError';
  /** The first seq of `origin` this node holds past its base. */
  readonly heldFrom: number;

  constructor(
    readonly tenant: string,
    readonly at: number,
    readonly origin: OriginId,
    readonly seq: number,
  ) {
    super(
      `a balance of ${tenant} as of ${new Date(at).toISOString()} needs the events of ${origin} up to seq ${seq}, ` +
        `and this node holds that log only from seq ${seq + 1} (it started from a checkpoint of a later time)`,
    );
    this.heldFrom = seq + 1;
  }
}

/**
 * The fold of `tenant`'s durable events as of `at` (the prefix rule above), or undefined when no
 * grant of the tenant is known by then (what the plain balance says of an unknown tenant).
 * `overdraft` is the allowance per region (the tenant's policy; policies are not in the logs).
 * AsOfNotHeldError when an origin's log here starts at a base (Store.bases) that the checkpoint
 * folded from does not cover: its events up to the base are not held here.
 *
 * Events are folded in the order the store indexed them (the order this node folded them); an
 * event the fold refuses there, because the event of another origin it needs comes later, waits
 * with the rest of its origin's events and is folded once that is. If an event still does not fold
 * when everything else has (its need lies past `at`), its origin's prefix ends before it.
 *
 * The fold starts from what `base` gives (a checkpoint folding no event later than `at`, see
 * newestCheckpointAsOf), else from an empty state. Each origin's checkpointed prefix is then inside
 * the prefix the rule takes (every event of it is at or before `at`, and each one folded there, so
 * whatever it needs is too), and the fold of the tenant's events of that prefix is the checkpoint's
 * figures of the tenant: only the events after it are folded, with the same answer.
 */
export async function tenantAsOf(
  store: Store,
  tenant: string,
  at: number,
  overdraft: Readonly<Record<RegionId, number>>,
  base: AsOfBase = async () => null,
  baseEventsMin = ASOF_BASE_EVENTS_MIN,
): Promise<AsOfFigures | undefined> {
  let page = await store.readTenantEvents(tenant, null, ASOF_PAGE_EVENTS);
  // A base only for a tenant of more than baseEventsMin events (see ASOF_BASE_EVENTS_MIN), or on
  // a node whose logs start past seq 1: what comes before them is only in its checkpoints.
  const logBases = await store.bases();
  const from =
    logBases.length > 0 || page.next !== null || page.events.length > baseEventsMin ? await base(at) : null;
  const state = from?.state ?? createLedgerState();
  const through = from?.vector ?? {};
  const uncovered = logBases
    .filter((head) => head.seq > (through[head.origin] ?? 0))
    .sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0))[0];
  if (uncovered !== undefined) throw new AsOfNotHeldError(tenant, at, uncovered.origin, uncovered.seq);
  const seen = new Map<OriginId, number>();
  const folded = new Map<OriginId, number>();
  const stopped = new Set<OriginId>();
  const waiting = new Map<OriginId, LedgerEvent[]>();
  for (;;) {
    for (const { event } of page.events) {
      const { origin, seq } = event;
      if (event.tenant !== tenant) throw new Error(`the index of ${tenant} names ${origin}/${seq}`);
      const previous = seen.get(origin) ?? 0;
      if (seq <= previous)
        throw new Error(`the index of ${tenant} lists ${origin}/${seq} after seq ${previous}`);
      seen.set(origin, seq);
      if (stopped.has(origin)) continue;
      if (seq <= (through[origin] ?? 0)) {
        // Folded in the base already, which promised nothing in it is later than `at`.
        if (event.at > at)
          throw new Error(`the base of a balance as of ${at} folds ${origin}/${seq}, dated ${event.at}`);
        folded.set(origin, seq);
        continue;
      }
      if (event.at > at) {
        stopped.add(origin);
        continue;
      }
      const queue = waiting.get(origin);
      if (queue !== undefined) queue.push(event);
      else if (foldTenantEvent(state, event)) folded.set(origin, seq);
      else waiting.set(origin, [event]);
    }
    if (page.next === null) break;
    page = await store.readTenantEvents(tenant, page.next, ASOF_PAGE_EVENTS);
  }
  for (let progress = waiting.size > 0; progress; ) {
    progress = false;
    for (const [origin, queue] of waiting) {
      let next = 0;
      for (; next < queue.length; next++) {
        const event = queue[next] as LedgerEvent;
        if (!foldTenantEvent(state, event)) break;
        folded.set(origin, event.seq);
        progress = true;
      }
      if (next === queue.length) waiting.delete(origin);
      else waiting.set(origin, queue.slice(next));
    }
  }
  // An origin whose log here starts at a base the checkpoint covers, with none of the tenant's
  // events held past it by `at`: its last event of the tenant folded lies at or below the base,
  // inside the checkpoint, which does not say where. The base names a prefix the fold does hold
  // whole, with the same events of the tenant; a node holding every event names that last one.
  for (const head of logBases) if (!folded.has(head.origin)) folded.set(head.origin, head.seq);
  if (grantCount(state, tenant) === 0) return undefined;
  const figures = tenantFigures(state, tenant, { now: at, overdraft });
  if (figures === undefined) return undefined;
  return {
    figures: { ...figures, regions: sortedRecord(figures.regions) },
    versionVector: canonicalVector(Object.fromEntries(folded)),
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

/** A snapshot at a version vector (the fold of exactly those prefixes), or why there is none. */
export type SnapshotAtOutcome =
  | { readonly status: 'ok'; readonly header: SnapshotHeader; readonly tenants: SnapshotTenant[] }
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
  | { readonly status: 'not_held'; readonly origin: OriginId; readonly seq: number; readonly held: number }
  /**
   * The prefixes do not fold together: event `seq` of `origin` needs an event the vector leaves
   * out (e.g. the capture of a hold another incarnation of its region made); `problem` says which.
   */
  | {
      readonly status: 'does_not_fold';
      readonly origin: OriginId;
      readonly seq: number;
      readonly problem: string;
    }
  /** As many snapshots at a version vector as `limit` are being folded already: retry later. */
  | { readonly status: 'busy'; readonly limit: number };

/** One origin's log from `from` + 1 up to a segment end, read a page of segments at a time. */
export class PrefixReader {
  private events: LedgerEvent[] = [];
  private next = 0;
  private read: number;

  constructor(
    private readonly store: Store,
    readonly origin: OriginId,
    private readonly until: number,
    from = 0,
  ) {
    this.read = from;
  }

  /** The next event not folded yet, or null once the prefix is folded whole. */
  async peek(): Promise<LedgerEvent | null> {
    if (this.next < this.events.length) return this.events[this.next] as LedgerEvent;
    if (this.read >= this.until) return null;
    const page = await this.store.readSegments(this.origin, this.read + 1, ASOF_PAGE_SEGMENTS);
    if (page.length === 0)
      throw new Error(`the log of ${this.origin} ends at seq ${this.read}, below ${this.until}`);
    this.events = [];
    this.next = 0;
    for (const segment of page) {
      if (segment.firstSeq !== this.read + 1 || segment.lastSeq > this.until) {
        throw new Error(
          `the log of ${this.origin} has segment ${segment.firstSeq}–${segment.lastSeq} after seq ${this.read}`,
        );
      }
      this.events.push(...decodeSegment(segment.bytes).events);
      this.read = segment.lastSeq;
      if (this.read === this.until) break;
    }
    return this.peek();
  }

  /** Moves past the event `peek` gave. */
  take(): void {
    this.next += 1;
  }
}

/**
 * Folds every reader's prefix into `state`. An origin's events fold in seq order; when one is
 * refused (it needs another origin's event not folded yet) the next origin goes on, and the
 * refused one is tried again on the next pass. Null once all is folded; the first refusal of a
 * pass that folded nothing otherwise (nothing that pass tried changed `state`).
 */
export async function foldPrefixes(
  state: LedgerState,
  readers: readonly PrefixReader[],
): Promise<Extract<SnapshotAtRefusal, { status: 'does_not_fold' }> | null> {
  for (;;) {
    let progress = false;
    let pending = false;
    let refused: Extract<SnapshotAtRefusal, { status: 'does_not_fold' }> | null = null;
    for (const reader of readers) {
      for (let event = await reader.peek(); event !== null; event = await reader.peek()) {
        try {
          const result = applyEvent(state, event);
          if (result !== 'applied') throw new Error(`event ${event.origin}/${event.seq} was ${result}`);
        } catch (error) {
          if (!(error instanceof LedgerInvariantError)) throw error;
          refused ??= {
            status: 'does_not_fold',
            origin: event.origin,
            seq: event.seq,
            problem: error.message,
          };
          pending = true;
          break;
        }
        reader.take();
        progress = true;
      }
    }
    if (!pending) return null;
    if (!progress) return refused;
  }
}

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
 * A fold to start a snapshot from instead of an empty state: a checkpoint's state at `vector`
 * (every seq of it at most the asked vector's), or null when there is none.
 */
export type SnapshotBase = (
  wanted: Readonly<Record<OriginId, number>>,
) => Promise<{ readonly state: LedgerState; readonly vector: Readonly<Record<OriginId, number>> } | null>;

/**
 * The snapshot of exactly the log prefixes `vector` names (origins it leaves out: none of theirs),
 * folded from the store with each origin's signed head at its seq, built by the one snapshot
 * builder (snapshot-view.ts) with `meta` as of when the fold is done. Every seq must end a segment
 * (segments are cut alike at every node: their bytes are relayed as they are). The fold starts
 * from what `base` gives (a checkpoint at a vector within the asked one: the fold of checkpoint +
 * the prefixes after it is the fold of the prefixes), else from an empty state.
 */
export async function snapshotAt(
  store: Store,
  vector: Readonly<Record<OriginId, number>>,
  recordWindow: RecordWindowOptions,
  meta: () => SnapshotMeta,
  base: SnapshotBase = async () => null,
): Promise<SnapshotAtOutcome> {
  const wanted = canonicalVector(vector);
  const heldBy = new Map((await store.heads()).map((head) => [head.origin, head.seq]));
  const heads: LogHead[] = [];
  for (const [origin, seq] of Object.entries(wanted)) {
    const end = await segmentEndingAt(store, origin, seq, heldBy.get(origin) ?? 0);
    if (!('bytes' in end)) return end;
    // A segment inside a stretch of a received run keeps no signature here (run-check.ts): null.
    heads.push({
      origin,
      seq,
      hash: end.hash,
      signature: signatureKept(end.signature) ? end.signature : null,
    });
  }
  const from = await base(wanted);
  const state = from?.state ?? createLedgerState({ recordWindow });
  const stuck = await foldPrefixes(
    state,
    Object.entries(wanted).map(
      ([origin, seq]) => new PrefixReader(store, origin, seq, from?.vector[origin] ?? 0),
    ),
  );
  if (stuck !== null) return stuck;
  return { status: 'ok', ...snapshotOf(state, heads, meta()) };
}
