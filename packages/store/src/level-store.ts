/**
 * The Store port on LevelDB (classic-level, through `level`): what a node's data directory holds.
 * One commit is one LevelDB batch, so a crash keeps all of it or none; with `sync` it is fsynced
 * before the promise resolves. Commits run one at a time, in call order, each checked against the
 * in-memory heads (no read), which change only once the write succeeded.
 */
import type { OriginId, TenantId } from '@allot/core';
import type { LogHead, NodeMeta, Store, StoreBatch, StoredEvent, TenantEventPage } from '@allot/replica';
import { Level } from 'level';
import { applyPlan, type CommitState, emptyCommitState, planCommit, planWrites } from './commit-plan.js';
import { cursorOf, parseCursor } from './cursor.js';
import {
  decodeControlUpdate,
  decodeCounter,
  decodeLogHead,
  decodeNodeMeta,
  decodeStoredEvent,
  decodeTenantEntry,
  encodeCounter,
} from './encoding.js';
import { StoreCorruptError } from './errors.js';
import { OperationGate } from './gate.js';
import {
  CONTROL_RANGE,
  COUNTER_KEY,
  controlKey,
  HEAD_RANGE,
  LAYOUT_PREFIX,
  logKey,
  logRange,
  META_KEY,
  parseControlKey,
  parseHeadKey,
  parseTenantKey,
  tenantKey,
  tenantRange,
} from './keys.js';
import { checkLevelDbFiles } from './leveldb-check.js';
import {
  byOrigin,
  checkLogRead,
  checkTenantRead,
  copyHead,
  expectHead,
  expectLogEvent,
  expectTenantEvent,
} from './read-checks.js';

type Db = Level<string, Uint8Array>;

/** The first key past the `v1/` prefix ('0' follows '/'): keys from here on belong to no layout we read. */
const LAYOUT_END = 'v10';

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
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
      return bytes === undefined ? null : decodeNodeMeta(META_KEY, bytes);
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
      writes.push({ type: 'put', key: COUNTER_KEY, value: encodeCounter(this.state.lastEntry) });
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
        return expectLogEvent(key, decodeStoredEvent(key, bytes), origin, seq);
      });
      if (events.length < expected) {
        const missing = logKey(origin, first + events.length);
        throw new StoreCorruptError(missing, `missing from the log below its head (seq ${head.seq})`);
      }
      return events;
    });
  }

  /** Up to `limit` events of `tenant` after `cursor`, in the order this store committed them. */
  readTenantEvents(tenant: TenantId, cursor: string | null, limit: number): Promise<TenantEventPage> {
    return this.gate.run(async () => {
      checkTenantRead(tenant, limit);
      const lastEntry = this.state.lastEntry;
      const after = parseCursor(cursor, lastEntry);
      if (after === lastEntry) return { events: [], next: null };
      const range = {
        gt: tenantRange(tenant, after).gt,
        lte: tenantKey(tenant, lastEntry),
        limit: limit + 1,
      };
      const found = await this.db.iterator(range).all();
      const page = found.slice(0, limit).map(([key, bytes]) => {
        const parsed = parseTenantKey(key);
        if (parsed === null || parsed.tenant !== tenant) {
          throw new StoreCorruptError(key, `not a key of tenant ${tenant}'s index`);
        }
        return { key, entry: parsed.entry, target: decodeTenantEntry(key, bytes) };
      });
      const logKeys = page.map(({ target }) => logKey(target.origin, target.seq));
      const values = page.length === 0 ? [] : await this.db.getMany(logKeys);
      const events = page.map(({ key, target }, i) => {
        const bytes = values[i];
        const eventKey = logKeys[i] as string;
        if (bytes === undefined) throw new StoreCorruptError(key, `points at ${eventKey}, which is missing`);
        return expectTenantEvent(eventKey, key, decodeStoredEvent(eventKey, bytes), target, tenant);
      });
      const last = page[page.length - 1];
      return { events, next: found.length > limit && last !== undefined ? cursorOf(last.entry) : null };
    });
  }

  /** Every control-document update kept, in commit order. */
  readControl(): Promise<Uint8Array[]> {
    return this.gate.run(async () => {
      const range = { gte: CONTROL_RANGE.gte, lte: controlKey(this.state.lastEntry) };
      const entries = await this.db.iterator(range).all();
      return entries.map(([key, bytes]) => {
        if (parseControlKey(key) === null) throw new StoreCorruptError(key, 'not a control key');
        return decodeControlUpdate(key, bytes);
      });
    });
  }

  /** Closes the store once the operations in flight (commits first of all) have settled. */
  async close(): Promise<void> {
    this.gate.assertOpen();
    await this.gate.close(`the store in ${this.location} is closed`);
    await this.db.close();
  }
}

/** Reads and checks what the in-memory state needs: meta present, entry counter, heads. */
async function loadState(db: Db): Promise<CommitState> {
  const [before] = await db.keys({ lt: LAYOUT_PREFIX, limit: 1 }).all();
  const [after] = await db.keys({ gte: LAYOUT_END, limit: 1 }).all();
  const foreign = before ?? after;
  if (foreign !== undefined) {
    throw new StoreCorruptError(foreign, `outside layout ${LAYOUT_PREFIX}, the only layout this build reads`);
  }
  const state = emptyCommitState();
  const meta = await db.get(META_KEY);
  if (meta !== undefined) {
    decodeNodeMeta(META_KEY, meta);
    state.metaStored = true;
  }
  const counter = await db.get(COUNTER_KEY);
  if (counter !== undefined) state.lastEntry = decodeCounter(COUNTER_KEY, counter);

  for (const [key, bytes] of await db.iterator(HEAD_RANGE).all()) {
    const origin = parseHeadKey(key);
    if (origin === null) throw new StoreCorruptError(key, 'not a head key');
    const head = expectHead(key, decodeLogHead(key, bytes), origin);
    await checkHeadAgainstLog(db, key, head);
    state.heads.set(origin, head);
  }

  const [lastControl] = await db.keys({ ...CONTROL_RANGE, reverse: true, limit: 1 }).all();
  const lastControlEntry = lastControl === undefined ? 0 : parseControlKey(lastControl);
  if (lastControl !== undefined && (lastControlEntry === null || lastControlEntry > state.lastEntry)) {
    throw new StoreCorruptError(lastControl, `not a control entry up to the counter (${state.lastEntry})`);
  }
  return state;
}

/** A head must be the last event of its log: the event exists, has the head's hash, and none follows. */
async function checkHeadAgainstLog(db: Db, key: string, head: LogHead): Promise<void> {
  const lastKey = logKey(head.origin, head.seq);
  const bytes = await db.get(lastKey);
  if (bytes === undefined) throw new StoreCorruptError(key, `its event ${lastKey} is missing`);
  const stored = expectLogEvent(lastKey, decodeStoredEvent(lastKey, bytes), head.origin, head.seq);
  if (!sameBytes(stored.hash, head.hash))
    throw new StoreCorruptError(key, `its hash is not the hash of ${lastKey}`);
  const [after] = await db.keys({ gt: lastKey, lte: logRange(head.origin, 0).lte, limit: 1 }).all();
  if (after !== undefined)
    throw new StoreCorruptError(after, `past the head of ${head.origin} (seq ${head.seq})`);
}
