/**
 * An in-memory Store with crash semantics, for tests and the simulator (DESIGN.md §5). It keeps the
 * same encoded records as LevelStore (so every read proves a round trip) in two images: what is
 * durable, and what is visible. A synced commit makes itself and every commit before it durable
 * once its promise resolves; an unsynced one is visible but lost by `crash()` unless a later synced
 * commit or `flush()` made it durable. Deterministic on purpose: no clock, timers, randomness or
 * `node:` modules; a commit takes effect after `commitLatency` (by default one microtask), so no
 * caller can rely on a commit completing synchronously. The images and what a crash does to them are
 * memory-disk.ts's, the archive and its steps memory-archiving.ts's; this is the Store port over them.
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
import type { ArchiveUsage } from './archive.js';
import type { ArchiveHash } from './archive-format.js';
import { memoryCheckpointStore } from './checkpoints.js';
import { planCommit } from './commit-plan.js';
import { parseCursor } from './cursor.js';
import { decodeNodeMeta } from './encoding.js';
import { StoreClosedError } from './errors.js';
import { OneAtATime, OperationGate } from './gate.js';
import {
  checkKeyAreaKey,
  keyAreaStoreKey,
  listMemoryKeyArea,
  memoryKeyArea,
  openKeyAreaValue,
  writeMemoryKeyArea,
} from './key-area.js';
import { META_KEY } from './keys.js';
import { readLogEvents, type TenantHit, tenantPage } from './log-reads.js';
import type { ArchiveStepName } from './memory-archive.js';
import { MemoryArchiving } from './memory-archiving.js';
import { MemoryDisk } from './memory-disk.js';
import { type DamageReport, damageDisk, type Pick, type StorageDamage } from './memory-faults.js';
import { controlHits, liveTenantHits, storedHeads, storedOrigins } from './memory-reads.js';
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
  /** The archive, the reads in flight and the archive steps (memory-archiving.ts). */
  private readonly archiving: MemoryArchiving;
  private readonly failures: Error[] = [];
  /** Set once the image moved to another instance (crash, disk loss): this one is gone for good. */
  private gone: string | null = null;

  private constructor(
    /** The images, the unsynced commits and the read fault (memory-disk.ts); what the reads see. */
    private readonly disk: MemoryDisk,
    private readonly options: MemoryStoreOptions,
  ) {
    this.archiving = new MemoryArchiving(disk, options.archiveHash, (keys) => {
      this.assertNotGone();
      disk.archiveFiles.takeFailure('delete');
      disk.remove(keys);
      this.flush();
    });
  }

  /** A store on an empty data directory. */
  static empty(options: MemoryStoreOptions = {}): MemoryStore {
    return new MemoryStore(new MemoryDisk(new Map()), options);
  }

  /**
   * The store a restart finds after a crash: the durable image (plus the first
   * `keepUnsyncedCommits` unsynced commits). This instance then rejects every call, and its commits
   * still in flight reject: they were never acknowledged. Works on a closed store too (a restart
   * after a clean stop finds what was durable).
   */
  crash(options: CrashOptions = {}): MemoryStore {
    this.assertNotGone();
    this.disk.keepUnsynced(options.keepUnsyncedCommits ?? 0);
    this.leave('crashed');
    return new MemoryStore(this.disk.restarted(), this.options);
  }

  /**
   * The store a restart finds after a crash whose disk lied (memory-faults.ts): the durable image
   * with `damage` done to it (`pick` draws which record, which bit, which backup). Null when the
   * disk has nothing the damage can reach (then nothing happened: this store is still live).
   */
  crashDamaged(damage: StorageDamage, pick: Pick): { store: MemoryStore; report: DamageReport } | null {
    this.assertNotGone();
    const damaged = damageDisk(this.disk.durable, this.disk.history, damage, pick);
    if (damaged === null) return null;
    const { image, detail, damagedKeys, commitsLost, readFault } = damaged;
    this.leave('crashed');
    const store = new MemoryStore(this.disk.restartOn(image, readFault), this.options);
    return { store, report: { damage, detail, damagedKeys, commitsLost } };
  }

  /** How many events of each origin's log the disk holds durably (what a crash now would keep). */
  durableSeqs(): Record<string, number> {
    return this.disk.durableSeqs();
  }

  /** Ends a read-path fault: reads return what the disk holds again. */
  healReads(): void {
    this.disk.healReads();
  }

  /** A copy of what the disk holds durably now: a backup of the data directory, to restore later. */
  backup(): MemoryStoreBackup {
    this.assertNotGone();
    return { image: new Map(this.disk.durable) };
  }

  /** A store on a data directory restored from `backup` (an older copy of some node's disk). */
  static restored(backup: MemoryStoreBackup, options: MemoryStoreOptions = {}): MemoryStore {
    return new MemoryStore(new MemoryDisk(new Map(backup.image)), options);
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
    this.disk.flush();
  }

  /** The next commit (then the one after, for each call) fails with `error` and writes nothing. */
  failNextCommit(error: Error): void {
    this.assertNotGone();
    this.failures.push(error);
  }

  /** Commits that a crash would lose now. */
  get unsyncedCommits(): number {
    return this.disk.unsyncedCommits;
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
      await this.archiving.archive(); // checked against the image at the start, as LevelStore.open does
      const bytes = this.disk.visible.get(META_KEY);
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
    const plan = planCommit(this.disk.state, batch);
    await latency({ sync: options.sync });
    // A crash while the write was in flight: it never happened, and was never acknowledged.
    this.assertNotGone();
    this.disk.write(plan);
    if (options.sync) this.flush();
  }

  /** The stored head of every origin, by origin, each read back from its record. */
  heads(): Promise<LogHead[]> {
    return this.gate.run(() => storedHeads(this.disk, this.disk.state.heads.keys(), this.disk.state.bases));
  }

  /** The stored log base of every origin whose log starts past seq 1 here; see the Store port. */
  bases(): Promise<LogHead[]> {
    return this.gate.run(async () => [...this.disk.state.bases.values()].sort(byOrigin));
  }

  /** Up to `limit` segments of `origin`'s log from the one holding `fromSeq`; see the Store port. */
  readSegments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    return this.tracked(async () => {
      checkSegmentRead(origin, fromSeq, limit);
      if (fromSeq <= (this.disk.state.bases.get(origin)?.seq ?? 0)) return [];
      return this.archiving.segments(origin, Math.max(fromSeq, 1), limit);
    });
  }

  /** A read, tracked so that an archive step deletes no live record it may still use. */
  private tracked<T>(operation: () => Promise<T>): Promise<T> {
    return this.gate.run(() => this.archiving.track(operation()));
  }

  /** Up to `limit` events of `origin`'s log with seq ≥ `fromSeq`, in seq order. */
  readLog(origin: OriginId, fromSeq: number, limit: number): Promise<StoredEvent[]> {
    return this.tracked(async () => {
      checkLogRead(origin, fromSeq, limit);
      const baseSeq = this.disk.state.bases.get(origin)?.seq ?? 0;
      return readLogEvents(origin, fromSeq, limit, baseSeq, (at, from, count) =>
        this.archiving.segments(at, from, count),
      );
    });
  }

  /** Up to `limit` events of `tenant` after `cursor`, in commit order; checked as LevelStore's are. */
  readTenantEvents(tenant: TenantId, cursor: string | null, limit: number): Promise<TenantEventPage> {
    return this.tracked(async () => {
      checkTenantRead(tenant, limit);
      const after = parseCursor(cursor, this.disk.state.lastEntry);
      // The archived entries first (all numbered up to entryThrough), then the live ones past them.
      const archive = await this.archiving.archive();
      const archived = archive.entryThrough;
      const hits: TenantHit[] = after < archived ? await archive.tenantHits(tenant, after, limit + 1) : [];
      liveTenantHits(this.disk, tenant, Math.max(after, archived) + 1, limit, hits);
      return tenantPage(
        tenant,
        hits,
        after,
        limit,
        async (origin, seq) => (await this.archiving.segments(origin, seq, 1))[0],
      );
    });
  }

  /** Every control-document update kept, in commit order; checked against the tally as LevelStore's. */
  readControl(): Promise<Uint8Array[]> {
    return this.gate.run(async () => checkControl(this.disk.state.control, controlHits(this.disk)));
  }

  /** Writes and deletes outbox records at once, durable before it resolves (outbox.ts). */
  writeOutbox(puts: readonly OutboxRecord[], deletes: readonly string[]): Promise<void> {
    return this.gate.run(async () => writeMemoryOutbox(this.disk.durable, puts, deletes));
  }

  /** Every outbox record, checked, in key order (outbox.ts). */
  readOutbox(): Promise<OutboxRecord[]> {
    return this.gate.run(async () => readMemoryOutbox(this.disk.durable));
  }

  /** Writes and deletes keys-area values at once, durable before it resolves (key-area.ts). */
  writeKeyArea(puts: readonly KeyAreaRecord[], deletes: readonly string[]): Promise<void> {
    return this.gate.run(async () => writeMemoryKeyArea(this.disk.durable, puts, deletes));
  }

  /** The keys-area value `key`, checked (key-area.ts); null when there is none. */
  readKeyArea(key: string): Promise<Uint8Array | null> {
    return this.gate.run(async () => {
      checkKeyAreaKey(key);
      const storeKey = keyAreaStoreKey(key);
      return openKeyAreaValue(storeKey, memoryKeyArea(this.disk.durable).get(storeKey));
    });
  }

  /** The keys-area keys starting with `prefix`, in key order (key-area.ts). */
  listKeyArea(prefix: string): Promise<string[]> {
    return this.gate.run(async () => listMemoryKeyArea(this.disk.durable, prefix));
  }

  /** Writes a checkpoint, durable before it resolves (checkpoints.ts). */
  writeCheckpoint(checkpoint: StoredCheckpoint): Promise<void> {
    return this.gate.run(async () => memoryCheckpointStore(this.disk.durable).write(checkpoint));
  }

  /** The totals of the stored checkpoints, newest first. */
  listCheckpoints(): Promise<number[]> {
    return this.gate.run(async () => memoryCheckpointStore(this.disk.durable).list());
  }

  /** The checkpoint at `total`, every part checked; null when none is stored there. */
  readCheckpoint(total: number): Promise<StoredCheckpoint | null> {
    return this.gate.run(async () => memoryCheckpointStore(this.disk.durable).read(total));
  }

  /** Deletes the checkpoint at `total`. */
  deleteCheckpoint(total: number): Promise<void> {
    return this.gate.run(async () => memoryCheckpointStore(this.disk.durable).remove(total));
  }

  /** Every incarnation recorded as heard of, by origin; each record checked as LevelStore's are. */
  readOrigins(): Promise<OriginId[]> {
    return this.gate.run(async () => storedOrigins(this.disk, this.disk.state.origins));
  }

  /** The last seq of each origin's log moved to the archive; see the Store port. */
  archivedSeqs(): Promise<Record<OriginId, number>> {
    return this.gate.run(async () => (await this.archiving.archive()).throughSeqs());
  }

  /** One step of moving `origin`'s segments through `throughSeq` to the archive; see the Store port. */
  archiveSegments(origin: OriginId, throughSeq: number): Promise<ArchiveStep> {
    return this.gate.run(() => this.archiving.moveSegments(origin, throughSeq));
  }

  /** One step of moving the tenant index entries of archived events; see the Store port. */
  archiveTenantIndex(): Promise<number> {
    return this.gate.run(() => this.archiving.moveTenantIndex());
  }

  /** The next archive step named fails with `error` and does nothing (a crash test stops a move there). */
  failNextArchiveStep(step: ArchiveStepName, error: Error): void {
    this.assertNotGone();
    this.disk.archiveFiles.failNext(step, error);
  }

  /** Keys and bytes of the live records (what LevelDB would hold), and files and bytes archived. */
  async usage(): Promise<{ liveKeys: number; liveBytes: number; archive: ArchiveUsage }> {
    let liveBytes = 0;
    for (const [key, value] of this.disk.visible) liveBytes += key.length + value.length;
    return { liveKeys: this.disk.visible.size, liveBytes, archive: (await this.archiving.archive()).usage() };
  }

  /** The archive's files, `dir/name` → the stored bytes (a test may damage them in place). */
  archiveFileEntries(): [string, Uint8Array][] {
    return this.disk.archiveFiles.entries();
  }

  /** Closes the store once the commits in flight have settled. Unsynced commits stay unsynced. */
  async close(): Promise<void> {
    this.gate.assertOpen();
    await this.gate.close('the memory store is closed');
  }
}
