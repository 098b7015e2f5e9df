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
import { Archive, type ArchiveUsage } from './archive.js';
import type { ArchiveHash } from './archive-format.js';
import { type LiveRecords, moveSegments, moveTenantIndex, ReadTracker } from './archive-moves.js';
import { memoryCheckpointStore } from './checkpoints.js';
import { applyPlan, type CommitState, emptyCommitState, planCommit } from './commit-plan.js';
import { cursorOf, parseCursor } from './cursor.js';
import {
  decodeControlTally,
  decodeCounter,
  decodeHeardOrigin,
  decodeLogHead,
  decodeNodeMeta,
} from './encoding.js';
import { StoreClosedError, StoreCorruptError, StoreInvariantError } from './errors.js';
import { OperationGate } from './gate.js';
import {
  checkKeyAreaKey,
  keyAreaStoreKey,
  listMemoryKeyArea,
  memoryKeyArea,
  openKeyAreaValue,
  writeMemoryKeyArea,
} from './key-area.js';
import {
  CONTROL_TALLY_KEY,
  COUNTER_KEY,
  controlKey,
  headKey,
  META_KEY,
  originKey,
  parseHeadKey,
  parseOriginKey,
  parseSegmentKey,
  segmentKey,
  tenantKey,
} from './keys.js';
import { LOG_PAGE_SEGMENTS_MAX } from './limits.js';
import { checkSegmentRun, eventsAt, eventsOfRun, pagePositions, type TenantHit } from './log-reads.js';
import { type ArchiveStepName, MemoryArchiveFiles, memoryLiveRecords } from './memory-archive.js';
import {
  corruptRecord,
  type DamageReport,
  DiskHistory,
  misdirectedRead,
  type Pick,
  type ReadFault,
  type StorageDamage,
  staleRead,
} from './memory-faults.js';
import {
  type DiskWrite,
  firstAtLeast,
  type Image,
  indexOf,
  type KeyIndex,
  writePlan,
} from './memory-image.js';
import { readMemoryOutbox, writeMemoryOutbox } from './outbox.js';
import {
  byOrigin,
  checkControl,
  checkLogRead,
  checkSegmentRead,
  checkTenantRead,
  expectHead,
} from './read-checks.js';
import { openRecord } from './records.js';
import { decodeSegmentRecord } from './segment-records.js';

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

/** The state a store checks commits against, read back from an image. */
function stateOf(image: Image): CommitState {
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
  }
  return state;
}

const resolved = (): Promise<void> => Promise.resolve();

/** A copy of a memory store's durable image (MemoryStore.backup), opaque to its users. */
export interface MemoryStoreBackup {
  readonly image: ReadonlyMap<string, Uint8Array>;
}

/** A Store in memory, with the crash semantics of a disk (see the file's doc). */
export class MemoryStore implements Store {
  private readonly gate = new OperationGate();
  private commits: Promise<void> = Promise.resolve();
  /** Commits since the last sync, oldest first: what a crash loses. */
  private unsynced: DiskWrite[] = [];
  /** The archive, read from its files on first use; reads in flight; archive steps, one at a time. */
  private archiveOpened: Promise<Archive> | null = null;
  private readonly reads = new ReadTracker();
  private moves: Promise<unknown> = Promise.resolve();
  /** The heads and entry counter the image held when this store was made: the archive is checked against them. */
  private readonly opened: { readonly heads: Map<OriginId, number>; readonly lastEntry: number };
  private readonly visible: Image;
  private readonly index: KeyIndex;
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
    this.state = stateOf(durable);
    this.opened = {
      heads: new Map([...this.state.heads].map(([origin, head]) => [origin, head.seq])),
      lastEntry: this.state.lastEntry,
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
    return new MemoryStore(this.durable, this.options, this.archiveFiles, this.disk);
  }

  /**
   * The store a restart finds after a crash whose disk lied (memory-faults.ts): the durable image
   * with `damage` done to it (`pick` draws which record, which bit, which backup). Null when the
   * disk has nothing the damage can reach (then nothing happened: this store is still live).
   */
  crashDamaged(damage: StorageDamage, pick: Pick): { store: MemoryStore; report: DamageReport } | null {
    this.assertNotGone();
    let image = this.durable;
    let detail: string;
    let damagedKeys: string[] = [];
    let commitsLost = 0;
    let readFault: ReadFault | null = null;
    if (damage === 'torn-tail' || damage === 'lost-wal') {
      if (this.disk.walCommits === 0) return null;
      const cut = this.disk.truncate(damage === 'lost-wal' ? 0 : this.disk.walCommits - 1);
      image = cut.image;
      commitsLost = cut.lost;
      detail =
        damage === 'lost-wal'
          ? `the write-ahead log is lost: ${commitsLost} commits since the last compaction are gone`
          : 'the last commit was half written: it is dropped whole, as LevelDB drops a torn record';
    } else if (damage === 'old-backup') {
      const restored = this.disk.restore(pick(Math.max(1, this.disk.backupCount)));
      if (restored === null) return null;
      image = restored.image;
      commitsLost = restored.lost;
      detail = `the disk is restored from a backup ${commitsLost} commits old`;
    } else if (damage === 'corrupt-middle' || damage === 'corrupt-end') {
      const done = corruptRecord(this.durable, damage === 'corrupt-end' ? 'end' : 'middle', pick);
      if (done === null) return null;
      damagedKeys = [done.key];
      detail = done.detail;
    } else if (damage === 'misdirected-read') {
      const fault = misdirectedRead(this.durable, pick);
      if (fault === null) return null;
      damagedKeys = [fault.key];
      readFault = fault.read;
      detail = `reads of ${fault.key} return its neighbour's bytes`;
    } else {
      const older = new Map([...this.disk.compactedImage()].filter(([key]) => parseHeadKey(key) !== null));
      if (older.size === 0) return null;
      readFault = staleRead(older);
      detail = `reads of the ${older.size} heads return their values as of the last compaction`;
    }
    this.leave('crashed');
    const store = new MemoryStore(image, this.options, this.archiveFiles, this.disk);
    store.readFault = readFault;
    return { store, report: { damage, detail, damagedKeys, commitsLost } };
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
    this.disk.committed(this.durable, plan);
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
    return this.gate.run(async () =>
      [...this.state.heads.keys()]
        .map((origin) => {
          const key = headKey(origin);
          const bytes = this.visible.get(key);
          if (bytes === undefined) throw new StoreCorruptError(key, 'missing');
          return expectHead(key, decodeLogHead(key, openRecord(key, this.read(key, bytes))), origin);
        })
        .sort(byOrigin),
    );
  }

  /** Up to `limit` segments of `origin`'s log from the one holding `fromSeq`; see the Store port. */
  readSegments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    return this.tracked(async () => {
      checkSegmentRead(origin, fromSeq, limit);
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
        archive.checkLiveStore((origin) => this.opened.heads.get(origin) ?? 0, this.opened.lastEntry);
        return archive;
      },
    );
    return this.archiveOpened;
  }

  /** The archived segments from `fromSeq` first, then the live ones past them (as LevelStore's). */
  private async segments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    const archive = await this.archive(); // first: a store whose archive was refused reads nothing
    const head = this.state.heads.get(origin);
    if (head === undefined || fromSeq > head.seq || limit === 0) return [];
    const archived = archive.throughSeq(origin);
    const segments = fromSeq <= archived ? await archive.segments(origin, fromSeq, limit) : [];
    const lastSeqs = this.index.segments.get(origin) ?? [];
    const liveFrom = Math.max(fromSeq, archived + 1);
    for (let i = firstAtLeast(lastSeqs, liveFrom); i < lastSeqs.length && segments.length < limit; i++) {
      const lastSeq = lastSeqs[i] as number;
      if (lastSeq > head.seq) break;
      const key = segmentKey(origin, lastSeq);
      const bytes = this.visible.get(key);
      if (bytes === undefined) continue; // gone from the image: the run check names the gap
      segments.push(decodeSegmentRecord(key, openRecord(key, this.read(key, bytes)), origin, lastSeq));
    }
    checkSegmentRun(origin, fromSeq, head.seq, segments, limit);
    return segments;
  }

  /** Up to `limit` events of `origin`'s log with seq ≥ `fromSeq`, in seq order. */
  readLog(origin: OriginId, fromSeq: number, limit: number): Promise<StoredEvent[]> {
    return this.tracked(async () => {
      checkLogRead(origin, fromSeq, limit);
      const events: StoredEvent[] = [];
      let from = Math.max(fromSeq, 1);
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

  /** Up to `limit` events of `tenant` after `cursor`, in commit order; checked as LevelStore's are. */
  readTenantEvents(tenant: TenantId, cursor: string | null, limit: number): Promise<TenantEventPage> {
    return this.tracked(async () => {
      checkTenantRead(tenant, limit);
      const after = parseCursor(cursor, this.state.lastEntry);
      const entries = this.index.tenants.get(tenant) ?? [];
      // The archived entries first (all numbered up to entryThrough), then the live ones past them.
      const archive = await this.archive();
      const archived = archive.entryThrough;
      const hits: TenantHit[] = after < archived ? await archive.tenantHits(tenant, after, limit + 1) : [];
      const liveFrom = Math.max(after, archived) + 1;
      for (let i = firstAtLeast(entries, liveFrom); i < entries.length && hits.length <= limit; i++) {
        const entry = entries[i] as number;
        const key = tenantKey(tenant, entry);
        const value = this.visible.get(key);
        if (value === undefined) continue;
        hits.push({ key, entry, value });
      }
      const { positions, more } = pagePositions(hits, after, limit);
      const events = await eventsAt(
        tenant,
        positions,
        async (origin, seq) => (await this.segments(origin, seq, 1))[0],
      );
      const tail = positions[positions.length - 1];
      return { events, next: more && tail !== undefined ? cursorOf(tail.entry) : null };
    });
  }

  /** Every control-document update kept, in commit order; checked against the tally as LevelStore's. */
  readControl(): Promise<Uint8Array[]> {
    return this.gate.run(async () =>
      checkControl(
        this.state.control,
        this.index.control.flatMap((entry) => {
          const key = controlKey(entry);
          const value = this.visible.get(key);
          return value === undefined ? [] : [{ key, entry, value }];
        }),
      ),
    );
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
    return this.gate.run(async () =>
      [...this.state.origins]
        .map((origin) => {
          const key = originKey(origin);
          const bytes = this.visible.get(key);
          if (bytes === undefined) throw new StoreCorruptError(key, 'missing');
          return decodeHeardOrigin(key, openRecord(key, bytes), origin);
        })
        .sort(),
    );
  }

  /** The last seq of each origin's log moved to the archive; see the Store port. */
  archivedSeqs(): Promise<Record<OriginId, number>> {
    return this.gate.run(async () => (await this.archive()).throughSeqs());
  }

  /** One step of moving `origin`'s segments through `throughSeq` to the archive; see the Store port. */
  archiveSegments(origin: OriginId, throughSeq: number): Promise<ArchiveStep> {
    const head = () => this.state.heads.get(origin)?.seq ?? 0;
    return this.gate.run(() =>
      this.oneMove(async () =>
        moveSegments(await this.archive(), this.live, this.reads, origin, throughSeq, head),
      ),
    );
  }

  /** One step of moving the tenant index entries of archived events; see the Store port. */
  archiveTenantIndex(): Promise<number> {
    return this.gate.run(() =>
      this.oneMove(async () => moveTenantIndex(await this.archive(), this.live, this.reads)),
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

  private oneMove<T>(move: () => Promise<T>): Promise<T> {
    const done = this.moves.then(move);
    this.moves = done.catch(() => undefined);
    return done;
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
