/**
 * The Store port on LevelDB (classic-level, through `level`): what a node's data directory holds.
 * One commit is one LevelDB batch, so a crash keeps all of it or none; with `sync` it is fsynced
 * before the promise resolves. Commits run one at a time, in call order, each checked against the
 * in-memory heads (no read), which change only once the write succeeded.
 */
import type { OriginId, TenantId } from '@allot/core';
import type {
  ArchiveStep,
  Crypto,
  KeyAreaRecord,
  LogHead,
  NodeMeta,
  OutboxRecord,
  Store,
  StoreBatch,
  StoredCheckpoint,
  StoredEvent,
  StoredSegment,
  TenantEventPage,
} from '@allot/replica';
import { Level } from 'level';
import { Archive, type ArchiveUsage } from './archive.js';
import { DiskArchiveFiles, sha256 } from './archive-files.js';
import { type LiveRecords, moveSegments, moveTenantIndex, ReadTracker } from './archive-moves.js';
import {
  CHECKPOINT_RANGE,
  checkpointOf,
  checkpointRange,
  checkpointTotals,
  checkpointWrites,
} from './checkpoints.js';
import {
  applyPlan,
  type CommitState,
  counterRecord,
  emptyCommitState,
  planCommit,
  planWrites,
} from './commit-plan.js';
import { type ConversionReport, convertV2 } from './convert-v2.js';
import { cursorOf, parseCursor } from './cursor.js';
import {
  decodeControlTally,
  decodeCounter,
  decodeHeardOrigin,
  decodeLogHead,
  decodeNodeMeta,
} from './encoding.js';
import { StoreCorruptError } from './errors.js';
import { OperationGate } from './gate.js';
import {
  checkKeyAreaKey,
  keyAreaKeysOf,
  keyAreaRange,
  keyAreaStoreKey,
  keyAreaWrites,
  openKeyAreaValue,
} from './key-area.js';
import {
  BASE_RANGE,
  baseKey,
  CONTROL_RANGE,
  CONTROL_TALLY_KEY,
  COUNTER_KEY,
  controlKey,
  HEAD_RANGE,
  LAYOUT_END,
  LAYOUT_PREFIX,
  META_KEY,
  OLD_LAYOUT_PREFIX,
  ORIGIN_RANGE,
  parseBaseKey,
  parseControlKey,
  parseHeadKey,
  parseOriginKey,
  parseSegmentKey,
  parseTenantKey,
  RECORD_RANGES,
  SEGMENT_RANGE,
  segmentEnd,
  segmentKey,
  TENANT_RANGE,
  tenantKey,
  V2_LAYOUT_PREFIX,
} from './keys.js';
import { checkLevelDbFiles } from './leveldb-check.js';
import { LOG_PAGE_SEGMENTS_MAX } from './limits.js';
import { checkSegmentRun, eventsAt, eventsOfRun, pagePositions } from './log-reads.js';
import { OUTBOX_RANGE, outboxRecordsOf, outboxWrites } from './outbox.js';
import {
  byOrigin,
  checkControl,
  checkLogRead,
  checkSegmentRead,
  checkTenantRead,
  copyHead,
  expectHead,
} from './read-checks.js';
import { openRecord } from './records.js';
import { decodeSegmentRecord } from './segment-records.js';

type Db = Level<string, Uint8Array>;

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/** A node's durable storage in a LevelDB directory. */
export class LevelStore implements Store {
  private readonly gate = new OperationGate();
  /** The tail of the commit chain: each commit starts once the one before it has settled. */
  private commits: Promise<void> = Promise.resolve();
  /** Reads in flight (an archive step deletes live records only after them), and the archive steps, one at a time. */
  private readonly reads = new ReadTracker();
  private moves: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly db: Db,
    private readonly state: CommitState,
    /** The data directory. */
    readonly location: string,
    /** What converting a layout-v2 directory did at this open, for the node to log; null if nothing. */
    readonly converted: ConversionReport | null,
    private readonly archive: Archive,
  ) {}

  /**
   * Opens (creating if missing) the store in `dir` and checks what it holds: only layout-v3 keys,
   * a readable meta and counter, and every head matching the last segment of its log. A store that
   * fails these checks is not opened: the node prints the one-line StoreCorruptError and stops. A
   * layout-v2 directory is converted first when `crypto` (the node's own key) is given, so that its
   * own log can be signed again as segments (convert-v2.ts); without it, it is refused.
   */
  static async open(dir: string, options: { readonly crypto?: Crypto } = {}): Promise<LevelStore> {
    // Before LevelDB sees the files: a damaged table must never reach a compaction (leveldb-check.ts).
    await checkLevelDbFiles(dir);
    const db: Db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (error) {
      throw new Error(`cannot open the store in ${dir}: ${messageOf(error)}`, { cause: error });
    }
    try {
      const [v2] = await db.keys({ gte: V2_LAYOUT_PREFIX, lt: 'v20', limit: 1 }).all();
      let converted: ConversionReport | null = null;
      if (v2 !== undefined) {
        if (options.crypto === undefined)
          throw new StoreCorruptError(
            v2,
            `layout ${V2_LAYOUT_PREFIX} (an older Allot wrote this directory): start the node with this build to convert it, or move it away and start on an empty one (its log comes back from its peers)`,
          );
        converted = await convertV2(db, options.crypto);
      }
      const archiveFiles = new DiskArchiveFiles(dir);
      await archiveFiles.clearTemporary();
      const archive = await Archive.open(archiveFiles, sha256);
      return new LevelStore(db, await loadState(db, archive), dir, converted, archive);
    } catch (error) {
      await db.close();
      throw error;
    }
  }

  /** The node's metadata, or null for a new data directory. */
  readMeta(): Promise<NodeMeta | null> {
    return this.gate.run(async () => {
      const bytes = await this.db.get(META_KEY);
      return bytes === undefined ? null : decodeNodeMeta(META_KEY, openRecord(META_KEY, bytes));
    });
  }

  /** Writes `batch` as one LevelDB batch, after the commits before it; see the Store port. */
  commit(batch: StoreBatch, options: { readonly sync: boolean }): Promise<void> {
    return this.gate.run(() => {
      const done = this.commits.then(() => this.write(batch, options));
      this.commits = done.then(
        () => undefined,
        () => undefined,
      );
      return done;
    });
  }

  private async write(batch: StoreBatch, options: { readonly sync: boolean }): Promise<void> {
    if (typeof options?.sync !== 'boolean') throw new TypeError('commit: options.sync must be a boolean');
    const plan = planCommit(this.state, batch);
    const writes = planWrites(plan).map(({ key, value }) => ({ type: 'put' as const, key, value }));
    if (writes.length === 0 && options.sync) {
      // An empty synced commit is a barrier that makes every earlier commit durable (as in
      // MemoryStore): LevelDB skips an empty batch, so rewrite the counter to have something to fsync.
      writes.push({ type: 'put', ...counterRecord(this.state.lastEntry) });
    }
    if (writes.length > 0) await this.db.batch(writes, { sync: options.sync });
    applyPlan(this.state, plan);
  }

  /** The stored head of every origin, by origin. */
  heads(): Promise<LogHead[]> {
    return this.gate.run(async () => [...this.state.heads.values()].map(copyHead).sort(byOrigin));
  }

  /** The stored log base of every origin whose log starts past seq 1 here; see the Store port. */
  bases(): Promise<LogHead[]> {
    return this.gate.run(async () => [...this.state.bases.values()].map(copyHead).sort(byOrigin));
  }

  /** Up to `limit` segments of `origin`'s log from the one holding `fromSeq`; see the Store port. */
  readSegments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    return this.read(async () => {
      checkSegmentRead(origin, fromSeq, limit);
      if (fromSeq <= (this.state.bases.get(origin)?.seq ?? 0)) return [];
      return this.segments(origin, Math.max(fromSeq, 1), limit);
    });
  }

  /** A read, tracked so that an archive step deletes no live record it may still use. */
  private read<T>(operation: () => Promise<T>): Promise<T> {
    return this.gate.run(() => this.reads.track(operation()));
  }

  /**
   * The segments of a checked read, bounded by the head so that a read never sees a commit settling:
   * the archived ones first, then the live ones past them.
   */
  private async segments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    const head = this.state.heads.get(origin);
    if (head === undefined || fromSeq > head.seq || limit === 0) return [];
    const archived = this.archive.throughSeq(origin);
    const segments = fromSeq <= archived ? await this.archive.segments(origin, fromSeq, limit) : [];
    const liveFrom = Math.max(fromSeq, archived + 1);
    if (segments.length < limit && liveFrom <= head.seq) {
      const range = {
        gte: segmentKey(origin, liveFrom),
        lte: segmentKey(origin, head.seq),
        limit: limit - segments.length,
      };
      for (const [key, bytes] of await this.db.iterator(range).all()) {
        const parsed = parseSegmentKey(key);
        if (parsed === null || parsed.origin !== origin)
          throw new StoreCorruptError(key, 'not a segment key');
        segments.push(decodeSegmentRecord(key, openRecord(key, bytes), origin, parsed.lastSeq));
      }
    }
    checkSegmentRun(origin, fromSeq, head.seq, segments, limit);
    return segments;
  }

  /** Up to `limit` events of `origin`'s log with seq ≥ `fromSeq`, in seq order. */
  readLog(origin: OriginId, fromSeq: number, limit: number): Promise<StoredEvent[]> {
    return this.read(async () => {
      checkLogRead(origin, fromSeq, limit);
      const events: StoredEvent[] = [];
      let from = Math.max(fromSeq, (this.state.bases.get(origin)?.seq ?? 0) + 1);
      while (events.length < limit) {
        const run = await this.segments(origin, from, Math.min(LOG_PAGE_SEGMENTS_MAX, limit - events.length));
        const last = run[run.length - 1];
        if (last === undefined) break;
        events.push(...eventsOfRun(run, from, limit - events.length));
        from = last.lastSeq + 1;
      }
      return events;
    });
  }

  /**
   * Up to `limit` events of `tenant` after `cursor`, in the order this store committed them. An
   * entry that points at no event of the tenant is a StoreCorruptError naming it, never a shorter page.
   */
  readTenantEvents(tenant: TenantId, cursor: string | null, limit: number): Promise<TenantEventPage> {
    return this.read(async () => {
      checkTenantRead(tenant, limit);
      const lastEntry = this.state.lastEntry;
      const after = parseCursor(cursor, lastEntry);
      if (after === lastEntry) return { events: [], next: null };
      // The archived entries first (all numbered up to entryThrough), then the live ones past them.
      const archived = this.archive.entryThrough;
      const hits = after < archived ? await this.archive.tenantHits(tenant, after, limit + 1) : [];
      // An entry's key is its last entry number: the first key at or past after + 1 holds it.
      const range = {
        gte: tenantKey(tenant, Math.max(after, archived) + 1),
        lte: tenantKey(tenant, lastEntry),
        limit: limit + 1 - hits.length,
      };
      if (range.limit > 0)
        for (const [key, value] of await this.db.iterator(range).all()) {
          const parsed = parseTenantKey(key);
          if (parsed === null || parsed.tenant !== tenant)
            throw new StoreCorruptError(key, `not a key of tenant ${tenant}'s index`);
          hits.push({ key, entry: parsed.entry, value });
        }
      const { positions, more } = pagePositions(hits, after, limit);
      const events = await eventsAt(tenant, positions, async (origin, seq) => {
        const [segment] = await this.segments(origin, seq, 1);
        return segment;
      });
      const tail = positions[positions.length - 1];
      return { events, next: more && tail !== undefined ? cursorOf(tail.entry) : null };
    });
  }

  /** Every control-document update kept, in commit order; all of them, or a StoreCorruptError. */
  readControl(): Promise<Uint8Array[]> {
    return this.gate.run(async () => {
      const tally = this.state.control;
      const range = { gte: CONTROL_RANGE.gte, lte: controlKey(this.state.lastEntry) };
      const entries = await this.db.iterator(range).all();
      const hits = entries.map(([key, value]) => {
        const entry = parseControlKey(key);
        if (entry === null) throw new StoreCorruptError(key, 'not a control key');
        return { key, entry, value };
      });
      return checkControl(tally, hits);
    });
  }

  /** Every incarnation recorded as heard of, by origin (read and checked when the store opened). */
  readOrigins(): Promise<OriginId[]> {
    return this.gate.run(async () => [...this.state.origins].sort());
  }

  /** Writes and deletes outbox records in one synced batch (outbox.ts). */
  writeOutbox(puts: readonly OutboxRecord[], deletes: readonly string[]): Promise<void> {
    return this.gate.run(async () => this.db.batch(outboxWrites(puts, deletes), { sync: true }));
  }

  /** Every outbox record, checked, in key order (outbox.ts). */
  readOutbox(): Promise<OutboxRecord[]> {
    return this.gate.run(async () => outboxRecordsOf(await this.db.iterator(OUTBOX_RANGE).all()));
  }

  /** Writes and deletes keys-area values in one synced batch (key-area.ts). */
  writeKeyArea(puts: readonly KeyAreaRecord[], deletes: readonly string[]): Promise<void> {
    return this.gate.run(async () => this.db.batch(keyAreaWrites(puts, deletes), { sync: true }));
  }

  /** The keys-area value `key`, checked (key-area.ts); null when there is none. */
  readKeyArea(key: string): Promise<Uint8Array | null> {
    return this.gate.run(async () => {
      checkKeyAreaKey(key);
      const storeKey = keyAreaStoreKey(key);
      return openKeyAreaValue(storeKey, await this.db.get(storeKey));
    });
  }

  /** The keys-area keys starting with `prefix`, in key order (key-area.ts). */
  listKeyArea(prefix: string): Promise<string[]> {
    return this.gate.run(async () => keyAreaKeysOf(await this.db.keys(keyAreaRange(prefix)).all()));
  }

  /** The last seq of each origin's log moved to the archive; see the Store port. */
  archivedSeqs(): Promise<Record<OriginId, number>> {
    return this.gate.run(async () => this.archive.throughSeqs());
  }

  /** One step of moving `origin`'s segments through `throughSeq` to the archive; see the Store port. */
  archiveSegments(origin: OriginId, throughSeq: number): Promise<ArchiveStep> {
    const head = () => this.state.heads.get(origin)?.seq ?? 0;
    // A log that starts after a log base (joined by checkpoint) is not archived: archive files run
    // from seq 1. It stays live (nothing moves), which a sweep may ask for again safely.
    if (this.state.bases.has(origin))
      return this.gate.run(async () => ({ segments: 0, events: 0, throughSeq: 0 }));
    return this.gate.run(() =>
      this.oneMove(() => moveSegments(this.archive, this.live, this.reads, origin, throughSeq, head)),
    );
  }

  /** One step of moving the tenant index entries of archived events; see the Store port. */
  archiveTenantIndex(): Promise<number> {
    return this.gate.run(() => this.oneMove(() => moveTenantIndex(this.archive, this.live, this.reads)));
  }

  /** Files and bytes in the archive. */
  archiveUsage(): ArchiveUsage {
    return this.archive.usage();
  }

  private oneMove<T>(move: () => Promise<T>): Promise<T> {
    const done = this.moves.then(move);
    this.moves = done.catch(() => undefined);
    return done;
  }

  /** The live records an archive step reads and deletes. */
  private readonly live: LiveRecords = {
    segmentRecords: async (origin, fromSeq, toSeq, limit) => {
      const range = { gte: segmentKey(origin, fromSeq), lte: segmentKey(origin, toSeq), limit };
      return (await this.db.iterator(range).all()).map(([key, value]) => {
        const parsed = parseSegmentKey(key);
        if (parsed === null || parsed.origin !== origin)
          throw new StoreCorruptError(key, 'not a segment key');
        return { key, value, lastSeq: parsed.lastSeq };
      });
    },
    tenantRecords: async () =>
      (await this.db.iterator(TENANT_RANGE).all()).map(([key, value]) => ({ key, value })),
    remove: (keys) =>
      this.db.batch(
        keys.map((key) => ({ type: 'del' as const, key })),
        { sync: true },
      ),
  };

  /** Writes a checkpoint in one synced batch, replacing one stored at its total (checkpoints.ts). */
  writeCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    return this.gate.run(async () => {
      const writes = checkpointWrites(checkpoint);
      const old = await this.db.keys(checkpointRange(checkpoint.total)).all();
      await this.db.batch(
        [
          ...old.map((key) => ({ type: 'del' as const, key })),
          ...writes.map(({ key, value }) => ({ type: 'put' as const, key, value })),
        ],
        { sync: true },
      );
    });
  }

  /** The totals of the stored checkpoints, newest first. */
  listCheckpoints(): Promise<number[]> {
    return this.gate.run(async () => checkpointTotals(await this.db.keys(CHECKPOINT_RANGE).all()));
  }

  /** The checkpoint at `total`, every part checked; null when none is stored there. */
  readCheckpoint(total: number): Promise<StoredCheckpoint | null> {
    return this.gate.run(async () =>
      checkpointOf(total, await this.db.iterator(checkpointRange(total)).all()),
    );
  }

  /** Deletes every part of the checkpoint at `total`. */
  deleteCheckpoint(total: number): Promise<void> {
    return this.gate.run(async () => {
      const keys = await this.db.keys(checkpointRange(total)).all();
      await this.db.batch(
        keys.map((key) => ({ type: 'del' as const, key })),
        { sync: true },
      );
    });
  }

  /** Closes the store once the operations in flight (commits first of all) have settled. */
  async close(): Promise<void> {
    this.gate.assertOpen();
    await this.gate.close(`the store in ${this.location} is closed`);
    await this.db.close();
  }
}

/**
 * Reads and checks what the in-memory state needs, with the cheap checks of what a start relies on:
 * only keys of this layout and each in a record range; a readable meta and counter; every head the
 * last event of its log (present, same hash, nothing after it); every origin with a log has a head
 * and a log from seq 1; every tenant's last entry present and within the counter. The replica's
 * recovery then reads every log in full (each record checked), so a damaged event anywhere fails
 * the start with one line too.
 */
async function loadState(db: Db, archive: Archive): Promise<CommitState> {
  const [before] = await db.keys({ lt: LAYOUT_PREFIX, limit: 1 }).all();
  const [after] = await db.keys({ gte: LAYOUT_END, limit: 1 }).all();
  const foreign = before ?? after;
  if (foreign !== undefined) {
    const old = foreign.startsWith(OLD_LAYOUT_PREFIX)
      ? ' (an older Allot wrote this directory: move it away and start the node on an empty one; its log comes back from its peers)'
      : '';
    throw new StoreCorruptError(
      foreign,
      `outside layout ${LAYOUT_PREFIX}, the only layout this build reads${old}`,
    );
  }
  let from = LAYOUT_PREFIX;
  for (const range of [...RECORD_RANGES, { gte: LAYOUT_END, lt: LAYOUT_END }]) {
    const [stray] = await db.keys({ gte: from, lt: range.gte, limit: 1 }).all();
    if (stray !== undefined)
      throw new StoreCorruptError(stray, `no record of layout ${LAYOUT_PREFIX} has this key`);
    from = range.lt;
  }

  const state = emptyCommitState();
  const meta = await db.get(META_KEY);
  if (meta !== undefined) {
    decodeNodeMeta(META_KEY, openRecord(META_KEY, meta));
    state.metaStored = true;
  }
  const counter = await db.get(COUNTER_KEY);
  if (counter !== undefined) state.lastEntry = decodeCounter(COUNTER_KEY, openRecord(COUNTER_KEY, counter));

  for (const [key, bytes] of await db.iterator(BASE_RANGE).all()) {
    const origin = parseBaseKey(key);
    if (origin === null) throw new StoreCorruptError(key, 'not a log base key');
    state.bases.set(origin, expectHead(key, decodeLogHead(key, openRecord(key, bytes)), origin));
  }
  for (const [key, bytes] of await db.iterator(HEAD_RANGE).all()) {
    const origin = parseHeadKey(key);
    if (origin === null) throw new StoreCorruptError(key, 'not a head key');
    const head = expectHead(key, decodeLogHead(key, openRecord(key, bytes)), origin);
    await checkHeadAgainstLog(db, key, head, state.bases.get(origin));
    state.heads.set(origin, head);
  }
  for (const origin of state.bases.keys())
    if (!state.heads.has(origin))
      throw new StoreCorruptError(baseKey(origin), `the log of ${origin} has a base and no head`);
  await checkEveryLogHasAHead(db, state, archive);

  for (const [key, bytes] of await db.iterator(ORIGIN_RANGE).all()) {
    const origin = parseOriginKey(key);
    if (origin === null) throw new StoreCorruptError(key, 'not a heard-of origin key');
    state.origins.add(decodeHeardOrigin(key, openRecord(key, bytes), origin));
  }

  // The newest index entry lies within the counter (one seek per tenant would be a scan: the
  // replica's events pages check each entry they read instead).
  const [lastTenantKey] = await db.keys({ ...TENANT_RANGE, reverse: true, limit: 1 }).all();
  if (lastTenantKey !== undefined && parseTenantKey(lastTenantKey) === null)
    throw new StoreCorruptError(lastTenantKey, 'not a tenant index key');

  const tally = await db.get(CONTROL_TALLY_KEY);
  if (tally !== undefined) {
    state.control = decodeControlTally(CONTROL_TALLY_KEY, openRecord(CONTROL_TALLY_KEY, tally));
  }
  const [lastControl] = await db.keys({ ...CONTROL_RANGE, reverse: true, limit: 1 }).all();
  const lastControlEntry = lastControl === undefined ? 0 : parseControlKey(lastControl);
  if (lastControlEntry === null || lastControlEntry > state.lastEntry) {
    const key = lastControl ?? CONTROL_TALLY_KEY;
    throw new StoreCorruptError(key, `not a control entry up to the counter (${state.lastEntry})`);
  }
  if (lastControlEntry !== state.control.last) {
    const where = lastControl ?? CONTROL_TALLY_KEY;
    throw new StoreCorruptError(
      lastControlEntry < state.control.last ? controlKey(state.control.last) : where,
      `the control tally's last update is entry ${state.control.last}; the last stored is entry ${lastControlEntry}`,
    );
  }
  return state;
}

/**
 * A head must be its log's last segment: the segment exists, has the head's hash, and none follows;
 * or, with nothing after its log base yet, the base itself.
 */
async function checkHeadAgainstLog(
  db: Db,
  key: string,
  head: LogHead,
  base: LogHead | undefined,
): Promise<void> {
  const lastKey = segmentKey(head.origin, head.seq);
  if (base !== undefined && head.seq <= base.seq) {
    if (head.seq !== base.seq || !sameHash(head.hash, base.hash))
      throw new StoreCorruptError(key, `below or beside its log base (seq ${base.seq})`);
    const [stray] = await db
      .keys({ gte: segmentKey(head.origin, base.seq + 1), lt: segmentEnd(head.origin), limit: 1 })
      .all();
    if (stray !== undefined)
      throw new StoreCorruptError(stray, `past the head of ${head.origin} (seq ${head.seq})`);
    return;
  }
  const bytes = await db.get(lastKey);
  if (bytes === undefined) throw new StoreCorruptError(key, `its segment ${lastKey} is missing`);
  const segment = decodeSegmentRecord(lastKey, openRecord(lastKey, bytes), head.origin, head.seq);
  if (!sameHash(segment.hash, head.hash))
    throw new StoreCorruptError(key, `its hash is not the hash of ${lastKey}`);
  const [after] = await db.keys({ gt: lastKey, lt: segmentEnd(head.origin), limit: 1 }).all();
  if (after !== undefined)
    throw new StoreCorruptError(after, `past the head of ${head.origin} (seq ${head.seq})`);
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/**
 * Every origin with segments has a head, and its log starts at seq 1 or right after its archived
 * part (which no head lies below): one seek per origin.
 */
async function checkEveryLogHasAHead(db: Db, state: CommitState, archive: Archive): Promise<void> {
  archive.checkLiveStore((origin) => state.heads.get(origin)?.seq ?? 0, state.lastEntry);
  let from: string = SEGMENT_RANGE.gte;
  for (;;) {
    const [entry] = await db.iterator({ gte: from, lt: SEGMENT_RANGE.lt, limit: 1 }).all();
    if (entry === undefined) return;
    const [first, bytes] = entry;
    const parsed = parseSegmentKey(first);
    if (parsed === null) throw new StoreCorruptError(first, 'not a segment key');
    if (!state.heads.has(parsed.origin)) {
      throw new StoreCorruptError(first, `in the log of ${parsed.origin}, which has no head`);
    }
    const segment = decodeSegmentRecord(first, openRecord(first, bytes), parsed.origin, parsed.lastSeq);
    const archived = archive.throughSeq(parsed.origin);
    const base = state.bases.get(parsed.origin)?.seq ?? 0;
    if (base > 0 && archived === 0) {
      if (segment.firstSeq > base + 1)
        throw new StoreCorruptError(
          first,
          `the log of ${parsed.origin} starts at seq ${segment.firstSeq}, not after its base (seq ${base})`,
        );
    } else if (segment.firstSeq > archived + 1 || (archived === 0 && segment.firstSeq !== 1)) {
      const after = archived === 0 ? '' : ` (archived to seq ${archived})`;
      throw new StoreCorruptError(
        first,
        `the log of ${parsed.origin} starts at seq ${segment.firstSeq}${after}`,
      );
    }
    from = segmentEnd(parsed.origin);
  }
}
