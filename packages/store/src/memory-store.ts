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
  StoredEvent,
  TenantEventPage,
} from '@allot/replica';
import {
  applyPlan,
  type CommitPlan,
  type CommitState,
  emptyCommitState,
  type KeyValue,
  planCommit,
} from './commit-plan.js';
import { cursorOf, parseCursor } from './cursor.js';
import {
  decodeControlTally,
  decodeCounter,
  decodeHeardOrigin,
  decodeLogHead,
  decodeNodeMeta,
  decodeStoredEvent,
} from './encoding.js';
import { StoreClosedError, StoreCorruptError, StoreInvariantError } from './errors.js';
import { OperationGate } from './gate.js';
import {
  CONTROL_TALLY_KEY,
  headKey,
  logKey,
  META_KEY,
  originKey,
  parseControlKey,
  tenantLastKey,
} from './keys.js';
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
  checkTenantPage,
  checkTenantRead,
  expectHead,
  expectLogEvent,
  expectTenantEvent,
} from './read-checks.js';
import { openRecord } from './records.js';

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

/** A tenant index entry as kept: its number and its encoded value. */
interface IndexEntry {
  readonly entry: number;
  readonly key: string;
  readonly value: Uint8Array;
}

/** The records of a data directory, as LevelStore would hold them under its keys. */
interface Image {
  meta: Uint8Array | null;
  lastEntry: number;
  /** Each origin's log, event seq at index seq − 1. */
  readonly logs: Map<OriginId, Uint8Array[]>;
  readonly heads: Map<OriginId, Uint8Array>;
  /** Each tenant's index, in entry order. */
  readonly tenants: Map<TenantId, IndexEntry[]>;
  /** Each tenant's last-entry record. */
  readonly tenantLast: Map<TenantId, Uint8Array>;
  /** The control tally's record, once there is a control update. */
  controlTally: Uint8Array | null;
  readonly control: KeyValue[];
  /** Each heard-of origin's record. */
  readonly origins: Map<OriginId, Uint8Array>;
}

function emptyImage(): Image {
  return {
    meta: null,
    lastEntry: 0,
    logs: new Map(),
    heads: new Map(),
    tenants: new Map(),
    tenantLast: new Map(),
    controlTally: null,
    control: [],
    origins: new Map(),
  };
}

/** A copy whose maps and arrays are its own; the encoded values are shared, as nothing changes them. */
function copyImage(image: Image): Image {
  return {
    meta: image.meta,
    lastEntry: image.lastEntry,
    logs: new Map([...image.logs].map(([origin, log]) => [origin, [...log]])),
    heads: new Map(image.heads),
    tenants: new Map([...image.tenants].map(([tenant, entries]) => [tenant, [...entries]])),
    tenantLast: new Map(image.tenantLast),
    controlTally: image.controlTally,
    control: [...image.control],
    origins: new Map(image.origins),
  };
}

function writePlan(image: Image, plan: CommitPlan): void {
  if (plan.meta !== null) image.meta = plan.meta.value;
  for (const event of plan.events) {
    const log = image.logs.get(event.origin) ?? [];
    image.logs.set(event.origin, log);
    // Planning checked contiguity against the visible image; an image out of step is a bug here.
    if (log.length !== event.seq - 1) {
      throw new StoreInvariantError(
        `memory image of ${event.origin} has ${log.length} events, not ${event.seq - 1}`,
      );
    }
    log.push(event.log.value);
    const entries = image.tenants.get(event.tenant) ?? [];
    image.tenants.set(event.tenant, entries);
    entries.push({ entry: event.entry, key: event.index.key, value: event.index.value });
  }
  for (const { head, value } of plan.heads) image.heads.set(head.origin, value);
  for (const { tenant, value } of plan.tenantLast) image.tenantLast.set(tenant, value);
  image.control.push(...plan.control);
  for (const { origin, value } of plan.origins) image.origins.set(origin, value);
  if (plan.controlTallyRecord !== null) image.controlTally = plan.controlTallyRecord.value;
  image.lastEntry = plan.lastEntry;
}

/** The state a store checks commits against, read back from an image. */
function stateOf(image: Image): CommitState {
  const state = emptyCommitState();
  state.metaStored = image.meta !== null;
  state.lastEntry = image.lastEntry;
  for (const [origin, bytes] of image.heads) {
    const key = headKey(origin);
    state.heads.set(origin, expectHead(key, decodeLogHead(key, openRecord(key, bytes)), origin));
  }
  for (const [tenant, bytes] of image.tenantLast) {
    const key = tenantLastKey(tenant);
    state.tenantLast.set(tenant, decodeCounter(key, openRecord(key, bytes)));
  }
  if (image.controlTally !== null) {
    state.control = decodeControlTally(CONTROL_TALLY_KEY, openRecord(CONTROL_TALLY_KEY, image.controlTally));
  }
  for (const [origin, bytes] of image.origins) {
    const key = originKey(origin);
    state.origins.add(decodeHeardOrigin(key, openRecord(key, bytes), origin));
  }
  return state;
}

/** Index of the first entry numbered above `after` (entries are in increasing entry order). */
function firstAfter(entries: readonly IndexEntry[], after: number): number {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((entries[middle] as IndexEntry).entry <= after) low = middle + 1;
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
  private readonly state: CommitState;
  private readonly failures: Error[] = [];
  /** Set once the image moved to another instance (crash, disk loss): this one is gone for good. */
  private gone: string | null = null;

  /** A read-path storage fault (memory-faults.ts), until `healReads()`. */
  private readFault: ReadFault | null = null;

  private constructor(
    private readonly durable: Image,
    private readonly options: MemoryStoreOptions,
    private readonly disk: DiskHistory<Image, CommitPlan> = new DiskHistory(durable, copyImage, writePlan),
  ) {
    this.visible = copyImage(durable);
    this.state = stateOf(durable);
  }

  /** A store on an empty data directory. */
  static empty(options: MemoryStoreOptions = {}): MemoryStore {
    return new MemoryStore(emptyImage(), options);
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
      const older = new Map([...this.disk.compactedImage().heads].map(([o, bytes]) => [headKey(o), bytes]));
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
    return Object.fromEntries([...this.durable.logs].map(([origin, log]) => [origin, log.length]));
  }

  /** Ends a read-path fault: reads return what the disk holds again. */
  healReads(): void {
    this.readFault = null;
  }

  /** The bytes a read of `key` gets: what the image holds, unless a read fault says otherwise. */
  private read(key: string, bytes: Uint8Array): Uint8Array {
    return this.readFault === null ? bytes : this.readFault(key, bytes);
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

  private makeDurable(plan: CommitPlan): void {
    writePlan(this.durable, plan);
    this.disk.committed(this.durable, plan);
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
      const bytes = this.visible.meta;
      return bytes === null ? null : decodeNodeMeta(META_KEY, openRecord(META_KEY, bytes));
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
    writePlan(this.visible, plan);
    applyPlan(this.state, plan);
    this.unsynced.push(plan);
    if (options.sync) this.flush();
  }

  /** The stored head of every origin, by origin. */
  heads(): Promise<LogHead[]> {
    return this.gate.run(async () =>
      [...this.visible.heads]
        .map(([origin, bytes]) => {
          const key = headKey(origin);
          return expectHead(key, decodeLogHead(key, openRecord(key, this.read(key, bytes))), origin);
        })
        .sort(byOrigin),
    );
  }

  /** Up to `limit` events of `origin`'s log with seq ≥ `fromSeq`, in seq order. */
  readLog(origin: OriginId, fromSeq: number, limit: number): Promise<StoredEvent[]> {
    return this.gate.run(async () => {
      checkLogRead(origin, fromSeq, limit);
      const log = this.visible.logs.get(origin) ?? [];
      const events: StoredEvent[] = [];
      for (let seq = Math.max(fromSeq, 1); seq <= log.length && events.length < limit; seq++) {
        const key = logKey(origin, seq);
        const stored = decodeStoredEvent(key, openRecord(key, this.read(key, log[seq - 1] as Uint8Array)));
        events.push(expectLogEvent(key, stored, origin, seq));
      }
      return events;
    });
  }

  /** Up to `limit` events of `tenant` after `cursor`, in commit order; checked as LevelStore's are. */
  readTenantEvents(tenant: TenantId, cursor: string | null, limit: number): Promise<TenantEventPage> {
    return this.gate.run(async () => {
      checkTenantRead(tenant, limit);
      const after = parseCursor(cursor, this.state.lastEntry);
      const entries = this.visible.tenants.get(tenant) ?? [];
      const start = firstAfter(entries, after);
      const hits = entries.slice(start, start + limit + 1);
      const last = this.state.tenantLast.get(tenant) ?? 0;
      const { page, more } = checkTenantPage(tenant, after, last, hits, limit);
      const events = page.map(({ key, target }) => {
        const eventKey = logKey(target.origin, target.seq);
        const bytes = this.visible.logs.get(target.origin)?.[target.seq - 1];
        if (bytes === undefined) throw new StoreCorruptError(key, `points at ${eventKey}, which is missing`);
        const stored = decodeStoredEvent(eventKey, openRecord(eventKey, this.read(eventKey, bytes)));
        return expectTenantEvent(eventKey, key, stored, target, tenant);
      });
      const tail = page[page.length - 1];
      return { events, next: more && tail !== undefined ? cursorOf(tail.entry) : null };
    });
  }

  /** Every control-document update kept, in commit order; checked against the tally as LevelStore's. */
  readControl(): Promise<Uint8Array[]> {
    return this.gate.run(async () =>
      checkControl(
        this.state.control,
        this.visible.control.map(({ key, value }) => ({ key, entry: parseControlKey(key) ?? 0, value })),
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

  /** Every incarnation recorded as heard of, by origin; each record checked as LevelStore's are. */
  readOrigins(): Promise<OriginId[]> {
    return this.gate.run(async () =>
      [...this.visible.origins]
        .map(([origin, bytes]) => {
          const key = originKey(origin);
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
