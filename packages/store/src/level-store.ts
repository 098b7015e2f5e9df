/**
 * The Store port on LevelDB (classic-level, through `level`): what a node's data directory holds.
 * One commit is one LevelDB batch, so a crash keeps all of it or none; with `sync` it is fsynced
 * before the promise resolves. Commits run one at a time, in call order, each checked against the
 * in-memory heads (no read), which change only once the write succeeded. Opening a directory and
 * its checks are level-open.ts's.
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
import { type Archive, type ArchiveUsage, archivedAndLive } from './archive.js';
import { type LiveRecords, moveSegments, moveTenantIndex, ReadTracker } from './archive-moves.js';
import {
  CHECKPOINT_RANGE,
  checkpointOf,
  checkpointRange,
  checkpointTotals,
  checkpointWrites,
} from './checkpoints.js';
import { applyPlan, type CommitState, counterRecord, planCommit, planWrites } from './commit-plan.js';
import type { ConversionReport } from './convert-v2.js';
import { parseCursor } from './cursor.js';
import { decodeNodeMeta } from './encoding.js';
import { StoreCorruptError } from './errors.js';
import { OneAtATime, OperationGate } from './gate.js';
import {
  checkKeyAreaKey,
  keyAreaKeysOf,
  keyAreaRange,
  keyAreaStoreKey,
  keyAreaWrites,
  openKeyAreaValue,
} from './key-area.js';
import {
  CONTROL_RANGE,
  controlKey,
  META_KEY,
  parseControlKey,
  parseSegmentKey,
  parseTenantKey,
  segmentKey,
  TENANT_RANGE,
  tenantKey,
} from './keys.js';
import { type Db, writeBatch } from './level-batch.js';
import { openDirectory } from './level-open.js';
import { readLogEvents, tenantPage } from './log-reads.js';
import { OUTBOX_RANGE, outboxRecordsOf, outboxWrites } from './outbox.js';
import {
  byOrigin,
  checkControl,
  checkLogRead,
  checkSegmentRead,
  checkTenantRead,
  copyHead,
} from './read-checks.js';
import { openRecord } from './records.js';
import { decodeSegmentRecord } from './segment-records.js';

/** A node's durable storage in a LevelDB directory. */
export class LevelStore implements Store {
  private readonly gate = new OperationGate();
  /** Commits, one at a time in call order: each starts once the one before it has settled. */
  private readonly commits = new OneAtATime();
  /** Reads in flight (an archive step deletes live records only after them), and the archive steps, one at a time. */
  private readonly reads = new ReadTracker();
  private readonly moves = new OneAtATime();

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
    const { db, state, converted, archive } = await openDirectory(dir, options);
    return new LevelStore(db, state, dir, converted, archive);
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
    return this.gate.run(() => this.commits.run(() => this.write(batch, options)));
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
    await writeBatch(this.db, writes, { sync: options.sync });
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
  private segments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    const head = this.state.heads.get(origin)?.seq;
    return archivedAndLive(this.archive, origin, fromSeq, head, limit, async (from, to, count) => {
      const run: StoredSegment[] = [];
      const range = { gte: segmentKey(origin, from), lte: segmentKey(origin, to), limit: count };
      for (const [key, bytes] of await this.db.iterator(range).all()) {
        const parsed = parseSegmentKey(key);
        if (parsed === null || parsed.origin !== origin)
          throw new StoreCorruptError(key, 'not a segment key');
        run.push(decodeSegmentRecord(key, openRecord(key, bytes), origin, parsed.lastSeq));
      }
      return run;
    });
  }

  /** Up to `limit` events of `origin`'s log with seq ≥ `fromSeq`, in seq order. */
  readLog(origin: OriginId, fromSeq: number, limit: number): Promise<StoredEvent[]> {
    return this.read(async () => {
      checkLogRead(origin, fromSeq, limit);
      const baseSeq = this.state.bases.get(origin)?.seq ?? 0;
      return readLogEvents(origin, fromSeq, limit, baseSeq, (at, from, count) =>
        this.segments(at, from, count),
      );
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
      return tenantPage(tenant, hits, after, limit, async (origin, seq) => {
        const [segment] = await this.segments(origin, seq, 1);
        return segment;
      });
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
    return this.gate.run(() => writeBatch(this.db, outboxWrites(puts, deletes), { sync: true }));
  }

  /** Every outbox record, checked, in key order (outbox.ts). */
  readOutbox(): Promise<OutboxRecord[]> {
    return this.gate.run(async () => outboxRecordsOf(await this.db.iterator(OUTBOX_RANGE).all()));
  }

  /** Writes and deletes keys-area values in one synced batch (key-area.ts). */
  writeKeyArea(puts: readonly KeyAreaRecord[], deletes: readonly string[]): Promise<void> {
    return this.gate.run(() => writeBatch(this.db, keyAreaWrites(puts, deletes), { sync: true }));
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
    const base = () => this.state.bases.get(origin);
    return this.gate.run(() =>
      this.moves.run(() => moveSegments(this.archive, this.live, this.reads, origin, throughSeq, head, base)),
    );
  }

  /** One step of moving the tenant index entries of archived events; see the Store port. */
  archiveTenantIndex(): Promise<number> {
    return this.gate.run(() =>
      this.moves.run(() =>
        moveTenantIndex(
          this.archive,
          this.live,
          this.reads,
          (origin) => this.state.bases.get(origin)?.seq ?? 0,
        ),
      ),
    );
  }

  /** Files and bytes in the archive. */
  archiveUsage(): ArchiveUsage {
    return this.archive.usage();
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
      writeBatch(
        this.db,
        keys.map((key) => ({ type: 'del' as const, key })),
        { sync: true },
      ),
  };

  /** Writes a checkpoint in one synced batch, replacing one stored at its total (checkpoints.ts). */
  writeCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    return this.gate.run(async () => {
      const writes = checkpointWrites(checkpoint);
      const old = await this.db.keys(checkpointRange(checkpoint.total)).all();
      await writeBatch(
        this.db,
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
      await writeBatch(
        this.db,
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
