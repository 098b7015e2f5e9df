/**
 * The Store port on LevelDB (classic-level, through `level`): what a node's data directory holds.
 * One commit is one LevelDB batch, so a crash keeps all of it or none; with `sync` it is fsynced
 * before the promise resolves. Commits run one at a time, in call order, each checked against the
 * in-memory heads (no read), which change only once the write succeeded.
 */
import type { OriginId, TenantId } from '@allot/core';
import type { OutboxRecord } from '@allot/replica';
import {
  type LogHead,
  type NodeMeta,
  type Store,
  type StoreBatch,
  type StoredEvent,
  sameBytes,
  type TenantEventPage,
} from '@allot/replica';
import { Level } from 'level';
import {
  applyPlan,
  type CommitState,
  counterRecord,
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
  decodeStoredEvent,
} from './encoding.js';
import { StoreCorruptError } from './errors.js';
import { OperationGate } from './gate.js';
import {
  CONTROL_RANGE,
  CONTROL_TALLY_KEY,
  COUNTER_KEY,
  controlKey,
  HEAD_RANGE,
  LAYOUT_END,
  LAYOUT_PREFIX,
  LOG_RANGE,
  logEnd,
  logKey,
  logRange,
  META_KEY,
  OLD_LAYOUT_PREFIX,
  ORIGIN_RANGE,
  parseControlKey,
  parseHeadKey,
  parseLogKey,
  parseOriginKey,
  parseTenantKey,
  parseTenantLastKey,
  RECORD_RANGES,
  TENANT_LAST_RANGE,
  tenantKey,
  tenantLastKey,
  tenantRange,
} from './keys.js';
import { checkLevelDbFiles } from './leveldb-check.js';
import { OPEN_READ_BATCH_KEYS } from './limits.js';
import { OUTBOX_RANGE, outboxRecordsOf, outboxWrites } from './outbox.js';
import {
  byOrigin,
  checkControl,
  checkLogRead,
  checkTenantPage,
  checkTenantRead,
  copyHead,
  expectHead,
  expectLogEvent,
  expectTenantEvent,
} from './read-checks.js';
import { openRecord } from './records.js';

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

  private constructor(
    private readonly db: Db,
    private readonly state: CommitState,
    /** The data directory. */
    readonly location: string,
  ) {}

  /**
   * Opens (creating if missing) the store in `dir` and checks what it holds: only layout-v1 keys,
   * a readable meta and counter, and every head matching the last event of its log. A store that
   * fails these checks is not opened: the node prints the one-line StoreCorruptError and stops.
   */
  static async open(dir: string): Promise<LevelStore> {
    // Before LevelDB sees the files: a damaged table must never reach a compaction (leveldb-check.ts).
    await checkLevelDbFiles(dir);
    const db: Db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    try {
      await db.open();
    } catch (error) {
      throw new Error(`cannot open the store in ${dir}: ${messageOf(error)}`, { cause: error });
    }
    try {
      return new LevelStore(db, await loadState(db), dir);
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

  /** Up to `limit` events of `origin`'s log with seq ≥ `fromSeq`, in seq order. */
  readLog(origin: OriginId, fromSeq: number, limit: number): Promise<StoredEvent[]> {
    return this.gate.run(async () => {
      checkLogRead(origin, fromSeq, limit);
      const head = this.state.heads.get(origin);
      const first = Math.max(fromSeq, 1);
      if (head === undefined || first > head.seq || limit === 0) return [];
      // Bounded by the head, so a read never sees a commit that is still settling.
      const range = { gte: logRange(origin, first).gte, lte: logKey(origin, head.seq), limit };
      const entries = await this.db.iterator(range).all();
      const expected = Math.min(limit, head.seq - first + 1);
      const events = entries.map(([key, bytes], i) => {
        const seq = first + i;
        if (key !== logKey(origin, seq)) {
          throw new StoreCorruptError(
            logKey(origin, seq),
            `missing from the log below its head (seq ${head.seq})`,
          );
        }
        return expectLogEvent(key, decodeStoredEvent(key, openRecord(key, bytes)), origin, seq);
      });
      if (events.length < expected) {
        const missing = logKey(origin, first + events.length);
        throw new StoreCorruptError(missing, `missing from the log below its head (seq ${head.seq})`);
      }
      return events;
    });
  }

  /**
   * Up to `limit` events of `tenant` after `cursor`, in the order this store committed them. The
   * page is checked to be whole (read-checks.ts, checkTenantPage): a missing or damaged record is a
   * StoreCorruptError naming it, never a shorter page.
   */
  readTenantEvents(tenant: TenantId, cursor: string | null, limit: number): Promise<TenantEventPage> {
    return this.gate.run(async () => {
      checkTenantRead(tenant, limit);
      // Read together, before any await: both describe the same committed state.
      const lastEntry = this.state.lastEntry;
      const last = this.state.tenantLast.get(tenant) ?? 0;
      const after = parseCursor(cursor, lastEntry);
      if (after === lastEntry) return { events: [], next: null };
      // Up to the store's last entry, not the tenant's: an entry past the tenant's last is damage.
      const range = {
        gt: tenantRange(tenant, after).gt,
        lte: tenantKey(tenant, lastEntry),
        limit: limit + 1,
      };
      const found = await this.db.iterator(range).all();
      const hits = found.map(([key, value]) => {
        const parsed = parseTenantKey(key);
        if (parsed === null || parsed.tenant !== tenant) {
          throw new StoreCorruptError(key, `not a key of tenant ${tenant}'s index`);
        }
        return { key, entry: parsed.entry, value };
      });
      const { page, more } = checkTenantPage(tenant, after, last, hits, limit);
      const logKeys = page.map(({ target }) => logKey(target.origin, target.seq));
      const values = page.length === 0 ? [] : await this.db.getMany(logKeys);
      const events = page.map(({ key, target }, i) => {
        const bytes = values[i];
        const eventKey = logKeys[i] as string;
        if (bytes === undefined) throw new StoreCorruptError(key, `points at ${eventKey}, which is missing`);
        const stored = decodeStoredEvent(eventKey, openRecord(eventKey, bytes));
        return expectTenantEvent(eventKey, key, stored, target, tenant);
      });
      const tail = page[page.length - 1];
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
async function loadState(db: Db): Promise<CommitState> {
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

  for (const [key, bytes] of await db.iterator(HEAD_RANGE).all()) {
    const origin = parseHeadKey(key);
    if (origin === null) throw new StoreCorruptError(key, 'not a head key');
    const head = expectHead(key, decodeLogHead(key, openRecord(key, bytes)), origin);
    await checkHeadAgainstLog(db, key, head);
    state.heads.set(origin, head);
  }
  await checkEveryLogHasAHead(db, state);

  for (const [key, bytes] of await db.iterator(ORIGIN_RANGE).all()) {
    const origin = parseOriginKey(key);
    if (origin === null) throw new StoreCorruptError(key, 'not a heard-of origin key');
    state.origins.add(decodeHeardOrigin(key, openRecord(key, bytes), origin));
  }

  for (const [key, bytes] of await db.iterator(TENANT_LAST_RANGE).all()) {
    const tenant = parseTenantLastKey(key);
    if (tenant === null) throw new StoreCorruptError(key, 'not a tenant-last key');
    const entry = decodeCounter(key, openRecord(key, bytes));
    if (entry < 1 || entry > state.lastEntry) {
      throw new StoreCorruptError(
        key,
        `names entry ${entry}, not one from 1 to the counter (${state.lastEntry})`,
      );
    }
    state.tenantLast.set(tenant, entry);
  }
  // Each tenant's last entry is there: one batched read of keys, not a scan of the index.
  const lastKeys = [...state.tenantLast].map(([tenant, entry]) => tenantKey(tenant, entry));
  for (let i = 0; i < lastKeys.length; i += OPEN_READ_BATCH_KEYS) {
    const chunk = lastKeys.slice(i, i + OPEN_READ_BATCH_KEYS);
    const values = await db.getMany(chunk);
    // biome-ignore lint/complexity/useIndexOf: getMany's type has no undefined for indexOf to take
    const missing = values.findIndex((value) => value === undefined);
    if (missing >= 0) {
      const key = chunk[missing] as string;
      throw new StoreCorruptError(
        key,
        `missing: ${tenantLastKey(parseTenantKey(key)?.tenant ?? '')} names it as the tenant's last entry`,
      );
    }
  }

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

/** A head must be the last event of its log: the event exists, has the head's hash, and none follows. */
async function checkHeadAgainstLog(db: Db, key: string, head: LogHead): Promise<void> {
  const lastKey = logKey(head.origin, head.seq);
  const bytes = await db.get(lastKey);
  if (bytes === undefined) throw new StoreCorruptError(key, `its event ${lastKey} is missing`);
  const stored = decodeStoredEvent(lastKey, openRecord(lastKey, bytes));
  expectLogEvent(lastKey, stored, head.origin, head.seq);
  if (!sameBytes(stored.hash, head.hash))
    throw new StoreCorruptError(key, `its hash is not the hash of ${lastKey}`);
  const [after] = await db.keys({ gt: lastKey, lt: logEnd(head.origin), limit: 1 }).all();
  if (after !== undefined)
    throw new StoreCorruptError(after, `past the head of ${head.origin} (seq ${head.seq})`);
}

/** Every origin with log records has a head, and its log starts at seq 1: one seek per origin. */
async function checkEveryLogHasAHead(db: Db, state: CommitState): Promise<void> {
  let from: string = LOG_RANGE.gte;
  for (;;) {
    const [first] = await db.keys({ gte: from, lt: LOG_RANGE.lt, limit: 1 }).all();
    if (first === undefined) return;
    const parsed = parseLogKey(first);
    if (parsed === null) throw new StoreCorruptError(first, 'not a log key');
    if (!state.heads.has(parsed.origin)) {
      throw new StoreCorruptError(first, `in the log of ${parsed.origin}, which has no head`);
    }
    if (parsed.seq !== 1) {
      throw new StoreCorruptError(
        logKey(parsed.origin, 1),
        `missing: the log of ${parsed.origin} starts at seq ${parsed.seq}`,
      );
    }
    from = logEnd(parsed.origin);
  }
}
