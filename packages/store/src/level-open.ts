/**
 * Opening a LevelDB data directory, and refusing one that is damaged or not ours before anything
 * is served from it: the table files' checksums before LevelDB reads them (leveldb-check.ts), a
 * layout-v2 directory converted (convert-v2.ts) or refused, the archive opened, then every key in a
 * range of layout v3 and the in-memory state the store checks commits against, read with the cheap
 * checks a start relies on (heads, log bases, logs, counter, control tally).
 */
import type { Crypto } from '@allot/replica';
import { Level } from 'level';
import { Archive } from './archive.js';
import { DiskArchiveFiles, sha256 } from './archive-files.js';
import { type CommitState, emptyCommitState } from './commit-plan.js';
import { type ConversionReport, convertV2 } from './convert-v2.js';
import {
  decodeControlTally,
  decodeCounter,
  decodeHeardOrigin,
  decodeLogHead,
  decodeNodeMeta,
} from './encoding.js';
import { StoreCorruptError } from './errors.js';
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
  V2_LAYOUT_PREFIX,
} from './keys.js';
import type { Db } from './level-batch.js';
import { checkLevelDbFiles } from './leveldb-check.js';
import { LEVELDB_WRITE_BUFFER_BYTES } from './limits.js';
import { checkHeadAgainstLog, expectHead } from './read-checks.js';
import { openRecord } from './records.js';
import { decodeSegmentRecord } from './segment-records.js';

/** What an open data directory hands the store. */
export interface OpenedDirectory {
  readonly db: Db;
  readonly state: CommitState;
  /** What converting a layout-v2 directory did at this open; null if nothing. */
  readonly converted: ConversionReport | null;
  readonly archive: Archive;
}

function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/**
 * Opens (creating if missing) the LevelDB in `dir` and checks what it holds (see LevelStore.open);
 * the database is closed again when a check fails.
 */
export async function openDirectory(
  dir: string,
  options: { readonly crypto?: Crypto },
): Promise<OpenedDirectory> {
  // Before LevelDB sees the files: a damaged table must never reach a compaction (leveldb-check.ts).
  await checkLevelDbFiles(dir);
  const db: Db = new Level<string, Uint8Array>(dir, {
    keyEncoding: 'utf8',
    valueEncoding: 'view',
    writeBufferSize: LEVELDB_WRITE_BUFFER_BYTES,
  });
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
    return { db, state: await loadState(db, archive), converted, archive };
  } catch (error) {
    await db.close();
    throw error;
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
    await checkHeadAgainstLog(key, head, state.bases.get(origin), {
      segmentValue: (seq) => db.get(segmentKey(origin, seq)),
      keyPast: async (seq) =>
        (await db.keys({ gt: segmentKey(origin, seq), lt: segmentEnd(origin), limit: 1 }).all())[0],
    });
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
 * Every origin with segments has a head, and its log starts at seq 1, or at most right after its
 * archived part or its log base (which no head lies below): one seek per origin.
 */
async function checkEveryLogHasAHead(db: Db, state: CommitState, archive: Archive): Promise<void> {
  archive.checkLiveStore(
    (origin) => state.heads.get(origin)?.seq ?? 0,
    state.lastEntry,
    (origin) => state.bases.get(origin),
  );
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
    // Every seq up to `reach` is archived or below the base (came by a checkpoint, or a prefix).
    const reach = Math.max(archived, base);
    if (segment.firstSeq > reach + 1 || (reach === 0 && segment.firstSeq !== 1)) {
      const after = [
        ...(archived === 0 ? [] : [`archived to seq ${archived}`]),
        ...(base === 0 ? [] : [`its base at seq ${base}`]),
      ];
      throw new StoreCorruptError(
        first,
        `the log of ${parsed.origin} starts at seq ${segment.firstSeq}${after.length === 0 ? '' : ` (${after.join(', ')})`}`,
      );
    }
    from = segmentEnd(parsed.origin);
  }
}
