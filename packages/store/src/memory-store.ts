/**
 * An in-memory Store with crash semantics, for tests and the simulator (DESIGN.md §5). It keeps the
 * same encoded records as LevelStore (so every read proves a round trip) in two images: what is
 * durable, and what is visible. A synced commit makes itself and every commit before it durable
 * once its promise resolves; an unsynced one is visible but lost by `crash()` unless a later synced
 * commit or `flush()` made it durable. Deterministic on purpose: no clock, timers, randomness or
 * `node:` modules; a commit takes effect after `commitLatency` (by default one microtask), so no
 * caller can rely on a commit completing synchronously.
 */
import type { OriginId, TenantId } from '@allot/core';
import type {
  ArchiveStep,
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
import { Archive, type ArchiveUsage, archivedAndLive } from './archive.js';
import type { ArchiveHash } from './archive-format.js';
import { type LiveRecords, moveSegments, moveTenantIndex, ReadTracker } from './archive-moves.js';
import { memoryCheckpointStore } from './checkpoints.js';
import { applyPlan, type CommitState, planCommit } from './commit-plan.js';
import { parseCursor } from './cursor.js';
import { decodeNodeMeta } from './encoding.js';
import { StoreClosedError, StoreInvariantError } from './errors.js';
import { OneAtATime, OperationGate } from './gate.js';
import {
  checkKeyAreaKey,
  keyAreaStoreKey,
  listMemoryKeyArea,
  memoryKeyArea,
  openKeyAreaValue,
  writeMemoryKeyArea,
} from './key-area.js';
import { META_KEY, parseSegmentKey } from './keys.js';
import { readLogEvents, type TenantHit, tenantPage } from './log-reads.js';
import { type ArchiveStepName, MemoryArchiveFiles, memoryLiveRecords } from './memory-archive.js';
import {
  type DamageReport,
  DiskHistory,
  damageDisk,
  type Pick,
  type ReadFault,
  type StorageDamage,
} from './memory-faults.js';
import { type DiskWrite, type Image, indexOf, type KeyIndex, writePlan } from './memory-image.js';
import {
  commitStateOf,
  controlHits,
  liveSegments,
  liveTenantHits,
  type MemoryView,
  storedHeads,
  storedOrigins,
} from './memory-reads.js';
import { readMemoryOutbox, writeMemoryOutbox } from './outbox.js';
import { byOrigin, checkControl, checkLogRead, checkSegmentRead, checkTenantRead } from './read-checks.js';
import { openRecord } from './records.js';

/** How a MemoryStore behaves; kept by the stores that `crash()` and `loseDisk()` return. */
export interface MemoryStoreOptions {
  /**
   * Awaited before each commit takes effect: the simulator's write (and fsync) latency on its own
   * clock. Default: resolved at once, so a commit completes one microtask later.
   */
  readonly commitLatency?: (options: { readonly sync: boolean }) => Promise<void>;
  /**
   * SHA-256 (the Crypto port's `hash`), which the archive checks its files with (archive.ts). A
   * store made without it reads no archive and refuses to archive (the simulator does not archive).
   */
  readonly archiveHash?: ArchiveHash;
}

/** What `crash()` keeps besides the durable image. */
export interface CrashOptions {
  /**
   * How many of the unsynced commits, oldest first, reached the disk anyway (the OS wrote them back
   * before the crash): a prefix, as LevelDB's write-ahead log is replayed in order. Default 0.
   */
  readonly keepUnsyncedCommits?: number;
}

const noArchiveHash: ArchiveHash = () => {
  throw new StoreInvariantError('this MemoryStore was made without archiveHash: it keeps no archive');
};

const resolved = (): Promise<void> => Promise.resolve();

/** A copy of a memory store's durable image (MemoryStore.backup), opaque to its users. */
export interface MemoryStoreBackup {
  readonly image: ReadonlyMap<string, Uint8Array>;
}

/** A Store in memory, with the crash semantics of a disk (see the file's doc). */
export class MemoryStore implements Store {
  private readonly gate = new OperationGate();
  /** Commits, one at a time in call order. */
  private readonly commits = new OneAtATime();
  /** Commits since the last sync, oldest first: what a crash loses. */
  private unsynced: DiskWrite[] = [];
  /** The archive, read from its files on first use; reads in flight; archive steps, one at a time. */
  private archiveOpened: Promise<Archive> | null = null;
  private readonly reads = new ReadTracker();
  private readonly moves = new OneAtATime();
  /** The heads and entry counter the image held when this store was made: the archive is checked against them. */
  private readonly opened: {
    readonly heads: Map<OriginId, number>;
    readonly lastEntry: number;
    readonly bases: Map<OriginId, LogHead>;
  };
  private readonly visible: Image;
  private readonly index: KeyIndex;
  /** What the reads of the image see (memory-reads.ts). */
  private readonly view: MemoryView;
  private readonly state: CommitState;
  private readonly failures: Error[] = [];
  /** Set once the image moved to another instance (crash, disk loss): this one is gone for good. */
  private gone: string | null = null;

  /** A read-path storage fault (memory-faults.ts), until `healReads()`. */
  private readFault: ReadFault | null = null;

  private constructor(
    private readonly durable: Image,
    private readonly options: MemoryStoreOptions,
    private readonly archiveFiles: MemoryArchiveFiles = new MemoryArchiveFiles(),
    private readonly disk: DiskHistory<Image, DiskWrite> = new DiskHistory(
      durable,
      (image) => new Map(image),
      (image, plan) => writePlan(image, plan, null),
    ),
  ) {
    this.visible = new Map(durable);
    this.index = indexOf(durable);
    this.view = { visible: this.visible, index: this.index, read: (key, bytes) => this.read(key, bytes) };
    this.state = commitStateOf(durable);
    this.opened = {
      heads: new Map([...this.state.heads].map(([origin, head]) => [origin, head.seq])),
      lastEntry: this.state.lastEntry,
      bases: new Map(this.state.bases),
    };
  }

  /** A store on an empty data directory. */
  static empty(options: MemoryStoreOptions = {}): MemoryStore {
    return new MemoryStore(new Map(), options);
  }

  /**
   * The store a restart finds after a crash: the durable image (plus the first
   * `keepUnsyncedCommits` unsynced commits). This instance then rejects every call, and its commits
   * still in flight reject: they were never acknowledged. Works on a closed store too (a restart
   * after a clean stop finds what was durable).
   */
  crash(options: CrashOptions = {}): MemoryStore {
    this.assertNotGone();
    const keep = options.keepUnsyncedCommits ?? 0;
    if (!Number.isSafeInteger(keep) || keep < 0 || keep > this.unsynced.length) {
      throw new RangeError(`keepUnsyncedCommits ${keep} is not from 0 to ${this.unsynced.length}`);
    }
    for (const plan of this.unsynced.slice(0, keep)) this.makeDurable(plan);
    this.leave('crashed');
    // A lying disk still lies after another crash: its read fault lasts until healReads (swarm seed
    // 11912: eu crashed again before it restarted on a misdirected read, the fault was dropped, and
    // eu opened on a disk it should have refused).
    return this.restartOn(this.durable, this.readFault);
  }

  /** The store a restart finds on `image` of this disk, its reads going through `readFault`. */
  private restartOn(image: Image, readFault: ReadFault | null): MemoryStore {
    const store = new MemoryStore(image, this.options, this.archiveFiles, this.disk);
    store.readFault = readFault;
    return store;
  }

  /**
   * The store a restart finds after a crash whose disk lied (memory-faults.ts): the durable image
   * with `damage` done to it (`pick` draws which record, which bit, which backup). Null when the
   * disk has nothing the damage can reach (then nothing happened: this store is still live).
   */
  crashDamaged(damage: StorageDamage, pick: Pick): { store: MemoryStore; report: DamageReport } | null {
    this.assertNotGone();
    const damaged = damageDisk(this.durable, this.disk, damage, pick);
    if (damaged === null) return null;
    const { image, detail, damagedKeys, commitsLost, readFault } = damaged;
    this.leave('crashed');
    return { store: this.restartOn(image, readFault), report: { damage, detail, damagedKeys, commitsLost } };
  }

  /** How many events of each origin's log the disk holds durably (what a crash now would keep). */
  durableSeqs(): Record<string, number> {
    const seqs: Record<string, number> = {};
    for (const key of this.durable.keys()) {
      const segment = parseSegmentKey(key);
      if (segment !== null) seqs[segment.origin] = Math.max(seqs[segment.origin] ?? 0, segment.lastSeq);
    }
    return seqs;
  }

  /** Ends a read-path fault: reads return what the disk holds again. */
  healReads(): void {
    this.readFault = null;
  }

  /** The bytes a read of `key` gets: what the image holds, unless a read fault says otherwise. */
  private read(key: string, bytes: Uint8Array): Uint8Array {
    return this.readFault === null ? bytes : this.readFault(key, bytes);
  }

  private makeDurable(plan: DiskWrite): void {
    writePlan(this.durable, plan, null);
    this.disk.committed(plan);
  }

  /** A copy of what the disk holds durably now: a backup of the data directory, to restore later. */
  backup(): MemoryStoreBackup {
    this.assertNotGone();
    return { image: new Map(this.durable) };
  }

  /** A store on a data directory restored from `backup` (an older copy of some node's disk). */
  static restored(backup: MemoryStoreBackup, options: MemoryStoreOptions = {}): MemoryStore {
    return new MemoryStore(new Map(backup.image), options);
  }

  /** The store a restart finds after its disk was lost: empty. This instance rejects every call. */
  loseDisk(): MemoryStore {
    this.assertNotGone();
    this.leave('lost its disk');
    return MemoryStore.empty(this.options);
  }

  /** Makes every commit so far durable, as an fsync (or the OS writing its cache back) would. */
  flush(): void {
    this.assertNotGone();
    for (const plan of this.unsynced) this.makeDurable(plan);
    this.unsynced = [];
  }

  /** The next commit (then the one after, for each call) fails with `error` and writes nothing. */
  failNextCommit(error: Error): void {
    this.assertNotGone();
    this.failures.push(error);
  }

  /** Commits that a crash would lose now. */
  get unsyncedCommits(): number {
    return this.unsynced.length;
  }

  private assertNotGone(): void {
    if (this.gone !== null)
      throw new StoreClosedError(`this memory store ${this.gone}; use the store it returned`);
  }

  private leave(reason: string): void {
    this.gone = reason;
    this.gate.shut(`the memory store ${reason}`);
  }

  /**
   * The node's metadata, or null for a new data directory; a StoreCorruptError when the archive
   * holds more than the image did at the start (as LevelStore.open refuses it).
   */
  readMeta(): Promise<NodeMeta | null> {
    return this.gate.run(async () => {
      await this.archive(); // checked against the image at the start, as LevelStore.open does
      const bytes = this.visible.get(META_KEY);
      return bytes === undefined ? null : decodeNodeMeta(META_KEY, openRecord(META_KEY, bytes));
    });
  }

  /** Takes effect after the commits before it and `commitLatency`; see the Store port. */
  commit(batch: StoreBatch, options: { readonly sync: boolean }): Promise<void> {
    return this.gate.run(() => this.commits.run(() => this.write(batch, options)));
  }

  private async write(batch: StoreBatch, options: { readonly sync: boolean }): Promise<void> {
    this.assertNotGone();
    if (typeof options?.sync !== 'boolean') throw new TypeError('commit: options.sync must be a boolean');
    const latency = this.options.commitLatency ?? resolved;
    const failure = this.failures.shift();
    if (failure !== undefined) {
      await latency({ sync: options.sync });
      this.assertNotGone();
      throw failure;
    }
    const plan = planCommit(this.state, batch);
    await latency({ sync: options.sync });
    // A crash while the write was in flight: it never happened, and was never acknowledged.
    this.assertNotGone();
    writePlan(this.visible, plan, this.index);
    applyPlan(this.state, plan);
    this.unsynced.push(plan);
    if (options.sync) this.flush();
  }

  /** The stored head of every origin, by origin, each read back from its record. */
  heads(): Promise<LogHead[]> {
    return this.gate.run(() => storedHeads(this.view, this.state.heads.keys(), this.state.bases));
  }

  /** The stored log base of every origin whose log starts past seq 1 here; see the Store port. */
  bases(): Promise<LogHead[]> {
    return this.gate.run(async () => [...this.state.bases.values()].sort(byOrigin));
  }

  /** Up to `limit` segments of `origin`'s log from the one holding `fromSeq`; see the Store port. */
  readSegments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    return this.tracked(async () => {
      checkSegmentRead(origin, fromSeq, limit);
      if (fromSeq <= (this.state.bases.get(origin)?.seq ?? 0)) return [];
      return this.segments(origin, Math.max(fromSeq, 1), limit);
    });
  }

  /** A read, tracked so that an archive step deletes no live record it may still use. */
  private tracked<T>(operation: () => Promise<T>): Promise<T> {
    return this.gate.run(() => this.reads.track(operation()));
  }

  /** The archive, read and checked from its files on first use. */
  private archive(): Promise<Archive> {
    this.archiveOpened ??= Archive.open(this.archiveFiles, this.options.archiveHash ?? noArchiveHash).then(
      (archive) => {
        archive.checkLiveStore(
          (origin) => this.opened.heads.get(origin) ?? 0,
          this.opened.lastEntry,
          (origin) => this.opened.bases.get(origin),
        );
        return archive;
      },
    );
    return this.archiveOpened;
  }

  /** The archived segments from `fromSeq` first, then the live ones past them (as LevelStore's). */
  private async segments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    const archive = await this.archive(); // first: a store whose archive was refused reads nothing
    const head = this.state.heads.get(origin)?.seq;
    return archivedAndLive(archive, origin, fromSeq, head, limit, async (from, to, count) => {
      const run: StoredSegment[] = [];
      liveSegments(this.view, origin, from, to, count, run);
      return run;
    });
  }

  /** Up to `limit` events of `origin`'s log with seq ≥ `fromSeq`, in seq order. */
  readLog(origin: OriginId, fromSeq: number, limit: number): Promise<StoredEvent[]> {
    return this.tracked(async () => {
      checkLogRead(origin, fromSeq, limit);
      const baseSeq = this.state.bases.get(origin)?.seq ?? 0;
      return readLogEvents(origin, fromSeq, limit, baseSeq, (at, from, count) =>
        this.segments(at, from, count),
      );
    });
  }

  /** Up to `limit` events of `tenant` after `cursor`, in commit order; checked as LevelStore's are. */
  readTenantEvents(tenant: TenantId, cursor: string | null, limit: number): Promise<TenantEventPage> {
    return this.tracked(async () => {
      checkTenantRead(tenant, limit);
      const after = parseCursor(cursor, this.state.lastEntry);
      // The archived entries first (all numbered up to entryThrough), then the live ones past them.
      const archive = await this.archive();
      const archived = archive.entryThrough;
      const hits: TenantHit[] = after < archived ? await archive.tenantHits(tenant, after, limit + 1) : [];
      liveTenantHits(this.view, tenant, Math.max(after, archived) + 1, limit, hits);
      return tenantPage(
        tenant,
        hits,
        after,
        limit,
        async (origin, seq) => (await this.segments(origin, seq, 1))[0],
      );
    });
  }

  /** Every control-document update kept, in commit order; checked against the tally as LevelStore's. */
  readControl(): Promise<Uint8Array[]> {
    return this.gate.run(async () => checkControl(this.state.control, controlHits(this.view)));
  }

  /** Writes and deletes outbox records at once, durable before it resolves (outbox.ts). */
  writeOutbox(puts: readonly OutboxRecord[], deletes: readonly string[]): Promise<void> {
    return this.gate.run(async () => writeMemoryOutbox(this.durable, puts, deletes));
  }

  /** Every outbox record, checked, in key order (outbox.ts). */
  readOutbox(): Promise<OutboxRecord[]> {
    return this.gate.run(async () => readMemoryOutbox(this.durable));
  }

  /** Writes and deletes keys-area values at once, durable before it resolves (key-area.ts). */
  writeKeyArea(puts: readonly KeyAreaRecord[], deletes: readonly string[]): Promise<void> {
    return this.gate.run(async () => writeMemoryKeyArea(this.durable, puts, deletes));
  }

  /** The keys-area value `key`, checked (key-area.ts); null when there is none. */
  readKeyArea(key: string): Promise<Uint8Array | null> {
    return this.gate.run(async () => {
      checkKeyAreaKey(key);
      const storeKey = keyAreaStoreKey(key);
      return openKeyAreaValue(storeKey, memoryKeyArea(this.durable).get(storeKey));
    });
  }

  /** The keys-area keys starting with `prefix`, in key order (key-area.ts). */
  listKeyArea(prefix: string): Promise<string[]> {
    return this.gate.run(async () => listMemoryKeyArea(this.durable, prefix));
  }

  /** Writes a checkpoint, durable before it resolves (checkpoints.ts). */
  writeCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    return this.gate.run(async () => memoryCheckpointStore(this.durable).write(checkpoint));
  }

  /** The totals of the stored checkpoints, newest first. */
  listCheckpoints(): Promise<number[]> {
    return this.gate.run(async () => memoryCheckpointStore(this.durable).list());
  }

  /** The checkpoint at `total`, every part checked; null when none is stored there. */
  readCheckpoint(total: number): Promise<StoredCheckpoint | null> {
    return this.gate.run(async () => memoryCheckpointStore(this.durable).read(total));
  }

  /** Deletes the checkpoint at `total`. */
  deleteCheckpoint(total: number): Promise<void> {
    return this.gate.run(async () => memoryCheckpointStore(this.durable).remove(total));
  }

  /** Every incarnation recorded as heard of, by origin; each record checked as LevelStore's are. */
  readOrigins(): Promise<OriginId[]> {
    return this.gate.run(async () => storedOrigins(this.view, this.state.origins));
  }

  /** The last seq of each origin's log moved to the archive; see the Store port. */
  archivedSeqs(): Promise<Record<OriginId, number>> {
    return this.gate.run(async () => (await this.archive()).throughSeqs());
  }

  /** One step of moving `origin`'s segments through `throughSeq` to the archive; see the Store port. */
  archiveSegments(origin: OriginId, throughSeq: number): Promise<ArchiveStep> {
    const head = () => this.state.heads.get(origin)?.seq ?? 0;
    const base = () => this.state.bases.get(origin);
    return this.gate.run(() =>
      this.moves.run(async () =>
        moveSegments(await this.archive(), this.live, this.reads, origin, throughSeq, head, base),
      ),
    );
  }

  /** One step of moving the tenant index entries of archived events; see the Store port. */
  archiveTenantIndex(): Promise<number> {
    return this.gate.run(() =>
      this.moves.run(async () =>
        moveTenantIndex(
          await this.archive(),
          this.live,
          this.reads,
          (origin) => this.state.bases.get(origin)?.seq ?? 0,
        ),
      ),
    );
  }

  /** The next archive step named fails with `error` and does nothing (a crash test stops a move there). */
  failNextArchiveStep(step: ArchiveStepName, error: Error): void {
    this.assertNotGone();
    this.archiveFiles.failNext(step, error);
  }

  /** Keys and bytes of the live records (what LevelDB would hold), and files and bytes archived. */
  async usage(): Promise<{ liveKeys: number; liveBytes: number; archive: ArchiveUsage }> {
    let liveBytes = 0;
    for (const [key, value] of this.visible) liveBytes += key.length + value.length;
    return { liveKeys: this.visible.size, liveBytes, archive: (await this.archive()).usage() };
  }

  /** The archive's files, `dir/name` → the stored bytes (a test may damage them in place). */
  archiveFileEntries(): [string, Uint8Array][] {
    return this.archiveFiles.entries();
  }

  /** The live records an archive step reads and deletes; a deletion is synced (durable with all before it). */
  private readonly live: LiveRecords = memoryLiveRecords({
    index: () => this.index,
    visible: () => this.visible,
    readValue: (key, bytes) => this.read(key, bytes),
    remove: (keys) => {
      this.assertNotGone();
      this.archiveFiles.takeFailure('delete');
      const deletion = { deletes: [...keys] };
      writePlan(this.visible, deletion, this.index);
      this.unsynced.push(deletion);
      this.flush();
    },
  });

  /** Closes the store once the commits in flight have settled. Unsynced commits stay unsynced. */
  async close(): Promise<void> {
    this.gate.assertOpen();
    await this.gate.close('the memory store is closed');
  }
}
