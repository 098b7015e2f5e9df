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
import { memoryCheckpointStore } from './checkpoints.js';
import {
  applyPlan,
  type CommitPlan,
  type CommitState,
  emptyCommitState,
  planCommit,
  planWrites,
} from './commit-plan.js';
import { cursorOf, parseCursor } from './cursor.js';
import {
  decodeControlTally,
  decodeCounter,
  decodeHeardOrigin,
  decodeLogHead,
  decodeNodeMeta,
} from './encoding.js';
import { StoreClosedError, StoreCorruptError } from './errors.js';
import { OperationGate } from './gate.js';
import {
  CONTROL_TALLY_KEY,
  COUNTER_KEY,
  controlKey,
  headKey,
  META_KEY,
  originKey,
  parseControlKey,
  parseHeadKey,
  parseOriginKey,
  parseSegmentKey,
  parseTenantKey,
  segmentKey,
  tenantKey,
} from './keys.js';
import { LOG_PAGE_SEGMENTS_MAX } from './limits.js';
import { checkSegmentRun, eventsAt, eventsOfRun, pagePositions, type TenantHit } from './log-reads.js';
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
}

/** What `crash()` keeps besides the durable image. */
export interface CrashOptions {
  /**
   * How many of the unsynced commits, oldest first, reached the disk anyway (the OS wrote them back
   * before the crash): a prefix, as LevelDB's write-ahead log is replayed in order. Default 0.
   */
  readonly keepUnsyncedCommits?: number;
}

/** A data directory's records: sealed values under LevelStore's keys, as a plain key → bytes map. */
type Image = Map<string, Uint8Array>;

/** The sorted positions a store finds records by (LevelDB's key order, kept beside the map). */
interface KeyIndex {
  /** Each origin's segments by last seq, ascending. */
  readonly segments: Map<OriginId, number[]>;
  /** Each tenant's index entries by (last) entry number, ascending. */
  readonly tenants: Map<TenantId, number[]>;
  /** Control update entries, ascending. */
  readonly control: number[];
}

function emptyIndex(): KeyIndex {
  return { segments: new Map(), tenants: new Map(), control: [] };
}

function indexKey(index: KeyIndex, key: string): void {
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
function indexOf(image: Image): KeyIndex {
  const index = emptyIndex();
  for (const key of image.keys()) indexKey(index, key);
  const ascending = (a: number, b: number) => a - b;
  for (const list of index.segments.values()) list.sort(ascending);
  for (const list of index.tenants.values()) list.sort(ascending);
  index.control.sort(ascending);
  return index;
}

function writePlan(image: Image, plan: CommitPlan, index: KeyIndex | null): void {
  for (const { key, value } of planWrites(plan)) {
    // New keys come in key order per origin, tenant and control (planning checked it): appended.
    if (index !== null && !image.has(key)) indexKey(index, key);
    image.set(key, value);
  }
}

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

/** Index of the first number ≥ `least` in an ascending list. */
function firstAtLeast(list: readonly number[], least: number): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((list[middle] as number) < least) low = middle + 1;
    else high = middle;
  }
  return low;
}

const resolved = (): Promise<void> => Promise.resolve();

/** A Store in memory, with the crash semantics of a disk (see the file's doc). */
export class MemoryStore implements Store {
  private readonly gate = new OperationGate();
  private commits: Promise<void> = Promise.resolve();
  /** Commits since the last sync, oldest first: what a crash loses. */
  private unsynced: CommitPlan[] = [];
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
    private readonly disk: DiskHistory<Image, CommitPlan> = new DiskHistory(
      durable,
      (image) => new Map(image),
      (image, plan) => writePlan(image, plan, null),
    ),
  ) {
    this.visible = new Map(durable);
    this.index = indexOf(durable);
    this.state = stateOf(durable);
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
    return new MemoryStore(this.durable, this.options, this.disk);
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
    const store = new MemoryStore(image, this.options, this.disk);
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

  private makeDurable(plan: CommitPlan): void {
    writePlan(this.durable, plan, null);
    this.disk.committed(this.durable, plan);
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

  /** The node's metadata, or null for a new data directory. */
  readMeta(): Promise<NodeMeta | null> {
    return this.gate.run(async () => {
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
    return this.gate.run(async () => {
      checkSegmentRead(origin, fromSeq, limit);
      return this.segments(origin, Math.max(fromSeq, 1), limit);
    });
  }

  private segments(origin: OriginId, fromSeq: number, limit: number): StoredSegment[] {
    const head = this.state.heads.get(origin);
    if (head === undefined || fromSeq > head.seq || limit === 0) return [];
    const lastSeqs = this.index.segments.get(origin) ?? [];
    const segments: StoredSegment[] = [];
    for (let i = firstAtLeast(lastSeqs, fromSeq); i < lastSeqs.length && segments.length < limit; i++) {
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
    return this.gate.run(async () => {
      checkLogRead(origin, fromSeq, limit);
      const events: StoredEvent[] = [];
      let from = Math.max(fromSeq, 1);
      while (events.length < limit) {
        const run = this.segments(origin, from, Math.min(LOG_PAGE_SEGMENTS_MAX, limit - events.length));
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
    return this.gate.run(async () => {
      checkTenantRead(tenant, limit);
      const after = parseCursor(cursor, this.state.lastEntry);
      const entries = this.index.tenants.get(tenant) ?? [];
      const hits: TenantHit[] = [];
      for (let i = firstAtLeast(entries, after + 1); i < entries.length && hits.length <= limit; i++) {
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
        async (origin, seq) => this.segments(origin, seq, 1)[0],
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

  /** Closes the store once the commits in flight have settled. Unsynced commits stay unsynced. */
  async close(): Promise<void> {
    this.gate.assertOpen();
    await this.gate.close('the memory store is closed');
  }
}
