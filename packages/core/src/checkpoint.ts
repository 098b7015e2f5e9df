/**
 * Checkpoints (DESIGN.md §2 "Checkpoints and retention"): the whole folded state at a version
 * vector, in one canonical binary form, so that a start loads it and folds only the tail of each
 * log, and two honest nodes at one vector (and one retention setting) write the same bytes. Ids,
 * never local indices or slots; everything sorted; zero cells left out; shortest varints; so a
 * checkpoint that decodes re-encodes to the very same bytes. Layout (version 2; 3 below):
 *
 *   4 bytes  magic "ACKP", byte version (2; version 1 files are still read)
 *   byte     flags: 1 = made with a record window (records are in the key index, not written)
 *   varint   record window bucket (ms; 0 without a window)
 *   varint   idempotency retention (ms; 0: every record held is written)       [version 2]
 *   varint   the newest event time folded (LedgerState.newestAt)                [version 2]
 *   varint   origins; each, ascending by id: ascii id, varint folded seq (0: none of its events),
 *            then when seq > 0 the 32-byte hash of its log's head at that seq
 *   varint   retired incarnations; each ascending: varint origin, varint by, varint through  [v2]
 *   varint   tenants; each, ascending by id: ascii id,
 *            cells: varint count, each varint (origin · 8 + kind) ascending, varint value > 0
 *            grants: varint count, each ascending by id: ascii id,
 *              cells (origin · 4 + kind, value), moved (from · origins + to, value), retired
 *              (lost · origins + current, value; version 2), each ascending,
 *              byte defined, then the winner (DEFINITION_FIELDS), varint losers and each
 *            debits, refunds (without a window), revokes, holds: varint count, each ascending by
 *            id, as checkpoint-fields.ts's tables list their fields
 *            refund bounds: varint count, each ascending by debit id: ascii id, varint sum > 0
 *   with a record window, per key index (debits, then refunds): varint buckets, each ascending:
 *            varint bucket, varint tables, each ascending by origin: varint origin, varint high
 *            parts (ascending), varint smallest seq, varint entries, each 8 bytes (u32 check ≠ 0,
 *            u32 low; little-endian), ascending
 *
 * Version 3 (issue 18) is a node's own, local form: the same, but the key index's closed parts on
 * disk (key-spill.ts) are referred to, not embedded. After the retired incarnations, per key index
 * (debits, then refunds): varint parts, each ascending: varint bucket, varint part, the 32-byte
 * SHA-256 of its header value; the key indexes at the end then hold only the tables that were in
 * memory. It is written only when there are parts to refer to; it decodes into a ledger with those
 * very parts attached (a start: nothing of them is read), or whole from their chunks read back
 * (`partChunks`), and then re-encodes as the canonical version 2 every node writes at that vector
 * (what a joining node or an auditor is given).
 *
 * Retention (version 2, checkpoint-retention.ts): with a retention, a checkpoint holds exactly the
 * records, ended holds, refund bounds and key-index buckets from the cutoff its newest event time
 * implies (retention.ts vectorRetentionCutoff), so that what a node's sweeps had forgotten or not
 * yet forgotten never shows: two honest nodes at one vector write the same bytes.
 *
 * Decoding trusts nothing: every count is checked against the bytes left before anything is
 * allocated, every id and number is checked, every list must be in its one order, and anything
 * wrong is a CheckpointError.
 */
import { invariant } from './amount.js';
import { CheckpointError, type OriginTable } from './checkpoint-fields.js';
import {
  type KeyIndexImage,
  keyIndexImage,
  LITTLE_ENDIAN,
  type PartRef,
  partRefs,
  readKeyIndex,
  readPartRefs,
  refPrefix,
  writeKeyIndex,
  writePartRefs,
} from './checkpoint-key-index.js';
import {
  CHECKPOINT_CANONICAL_VERSION,
  CHECKPOINT_HASH_BYTES,
  CHECKPOINT_VERSION,
  type CheckpointHead,
  cutoffOf,
  FLAG_WINDOW,
  fail,
  MAGIC,
  originTable,
  readHeader,
  readOrigins,
  readRetired,
} from './checkpoint-read.js';
import { type CheckpointRetention, imageWithin, oldestSeqs, sweepTenant } from './checkpoint-retention.js';
import { ascending, compareText, copyTenant, readTenant, writeTenant } from './checkpoint-tenant.js';
import { isTenantId, type OriginId } from './ids.js';
import type { KeyChunk } from './key-spill.js';
import type { RecordWindowOptions } from './record-window.js';
import { vectorRetentionCutoff } from './retention.js';
import { ByteReader, ByteWriter, SegmentError } from './segment-bytes.js';
import { createLedgerState, internOrigin, type LedgerState, TenantState } from './state.js';

export { CheckpointError } from './checkpoint-fields.js';
export { type PartRef, refPrefix } from './checkpoint-key-index.js';
export {
  CHECKPOINT_CANONICAL_VERSION,
  CHECKPOINT_HASH_BYTES,
  CHECKPOINT_VERSION,
  type CheckpointFormat,
  type CheckpointHead,
  checkpointFormat,
  checkpointHeads,
  checkpointPartRefs,
} from './checkpoint-read.js';

/** Tenants written per step of a CheckpointWriter: ~10–50 ms of work between two turns. */
const TENANTS_PER_STEP = 5_000;
/** A decoded checkpoint: the state it holds and each folded log's head at its vector. */
export interface DecodedCheckpoint {
  readonly state: LedgerState;
  /** Every origin with a folded seq > 0. */
  readonly heads: Map<OriginId, CheckpointHead>;
  /**
   * Its format version. Version 1 holds no newest event time: its state's `newestAt` is 0 until
   * the caller sets it (the latest time of the logs' events at the vector).
   */
  readonly version: number;
  /** The idempotency retention it was written with (ms; 0: none). */
  readonly retentionMs: number;
  /** The key-index parts on disk it refers to (format 3), by keys-area prefix; empty: none. */
  readonly parts: readonly string[];
}

/** How a checkpoint is written. */
export interface CheckpointOptions {
  /**
   * The idempotency retention (ms): only what is within it as of the vector's newest event time is
   * written (checkpoint-retention.ts). Absent or 0: everything the state holds.
   */
  readonly retentionMs?: number;
  /**
   * The format to write: the canonical 2 (the default), or 1 to reproduce a format-1 file (an
   * auditor comparing one, a test): no retention, no retired incarnations.
   */
  readonly version?: 1 | 2;
  /**
   * Refer to the key index's parts on disk (each must carry its digest) instead of embedding their
   * keys: format 3, a node's own local form, when there are any (else the canonical version 2).
   */
  readonly referParts?: boolean;
}

/**
 * The canonical checkpoint of `state`. `heads` gives the hash of every folded log's head at the
 * state's vector (each origin with a seq > 0 must have one).
 */
export function encodeCheckpoint(
  state: LedgerState,
  heads: ReadonlyMap<OriginId, Uint8Array>,
  options: CheckpointOptions = {},
): Uint8Array {
  const writer = prepareCheckpoint(state, heads, options);
  while (!writer.step()) {
    // Each step writes a run of tenants or one key-index table.
  }
  return writer.bytes();
}

/** The rest of a checkpoint's bytes, written a bounded piece at a time (prepareCheckpoint). */
export interface CheckpointWriter {
  /** The key-index parts on disk it refers to (format 3), by keys-area prefix. */
  readonly parts: readonly string[];
  /** Writes the next piece (a run of tenants, or one key-index table); true once every byte is written. */
  step(): boolean;
  /** The checkpoint's bytes, once `step()` returned true. */
  bytes(): Uint8Array;
}

/**
 * encodeCheckpoint in two parts: this call reads everything of `state` it needs (the header
 * encoded, each tenant copied as it is, the key indexes copied), and the writer it returns writes
 * the bytes from those copies a piece at a time without touching `state`: a replica calls this
 * while commands wait (a copy costs far less than an encoding), and steps the writer while they run.
 */
export function prepareCheckpoint(
  state: LedgerState,
  heads: ReadonlyMap<OriginId, Uint8Array>,
  options: CheckpointOptions = {},
): CheckpointWriter {
  const retentionMs = options.retentionMs ?? 0;
  invariant(
    Number.isSafeInteger(retentionMs) && retentionMs >= 0,
    'checkpoint retention must be an integer ≥ 0',
  );
  const window = state.recordWindow;
  const cutoffMs =
    retentionMs > 0 ? vectorRetentionCutoff(state.newestAt, retentionMs, window?.options.bucketMs) : 0;
  const firstBucket = window === undefined ? 0 : Math.floor(cutoffMs / window.options.bucketMs);
  // Referring to the parts on disk, the key indexes are imaged from memory only: parts before the
  // retention's first bucket would be left out anyway.
  const referMode = options.referParts === true && window !== undefined && options.version === undefined;
  const refs = referMode
    ? [partRefs(window.debitKeys, firstBucket), partRefs(window.refundKeys, firstBucket)]
    : [[], []];
  const refer = refs.some((list) => list.length > 0);
  const version = refer ? CHECKPOINT_VERSION : (options.version ?? CHECKPOINT_CANONICAL_VERSION);
  invariant(
    version >= CHECKPOINT_CANONICAL_VERSION || (retentionMs === 0 && state.retired.size === 0),
    'checkpoint format 1 holds no retention and no retired incarnations',
  );
  invariant(LITTLE_ENDIAN, 'checkpoints are written on little-endian machines only');
  const out = new ByteWriter(1 << 16);
  for (const byte of MAGIC) out.byte(byte);
  out.byte(version);
  out.byte(window === undefined ? 0 : FLAG_WINDOW);
  out.varint(window === undefined ? 0 : window.options.bucketMs);
  if (version >= 2) {
    out.varint(retentionMs);
    out.varint(state.newestAt);
  }
  const ids = [...state.origins].sort(compareText);
  const table = originTable(ids);
  // Local index → position in the sorted table.
  const refOf = state.origins.map((origin) => table.refs.get(origin) as number);
  out.varint(ids.length);
  for (const origin of ids) {
    out.ascii(origin);
    const seq = state.versionVector[origin] ?? 0;
    out.varint(seq);
    if (seq === 0) continue;
    const hash = heads.get(origin);
    invariant(hash?.length === CHECKPOINT_HASH_BYTES, `checkpoint: no head hash of ${origin} at seq ${seq}`);
    out.bytes(hash);
  }
  const retired = [...state.retired]
    .map(([origin, { by, through }]) => [table.refs.get(origin), table.refs.get(by), through])
    .sort((a, b) => (a[0] as number) - (b[0] as number));
  if (version >= 2) out.varint(retired.length);
  for (const [origin, by, through] of retired) {
    invariant(origin !== undefined && by !== undefined, 'checkpoint: a retired origin not in the table');
    out.varint(origin);
    out.varint(by);
    out.varint(through as number);
  }
  if (version >= 3) for (const list of refs) writePartRefs(out, list);
  const records = window === undefined;
  const copies: TenantState[] = [];
  for (const tenant of state.tenants.values()) copies.push(copyTenant(tenant, records));
  let images =
    window === undefined
      ? []
      : [
          keyIndexImage(window.debitKeys, refOf, referMode),
          keyIndexImage(window.refundKeys, refOf, referMode),
        ];
  let retention: CheckpointRetention | null = null;
  if (retentionMs > 0) {
    const bucketMs = window?.options.bucketMs;
    if (bucketMs !== undefined) images = images.map((image) => imageWithin(image, bucketMs, cutoffMs));
    retention = {
      cutoffMs,
      vector: { ...state.versionVector },
      oldestDebitSeq:
        window === undefined ? null : oldestSeqs(images[0] as KeyIndexImage, ids, refs[0] as PartRef[]),
    };
  }
  const pieces = (function* () {
    copies.sort((a, b) => compareText(a.tenant, b.tenant));
    out.varint(copies.length);
    for (let at = 0; at < copies.length; at++) {
      const copy = copies[at] as TenantState;
      if (retention !== null) sweepTenant(copy, retention);
      writeTenant(out, copy, table, refOf, records, version);
      copies[at] = undefined as unknown as TenantState; // written: let it go
      if (at % TENANTS_PER_STEP === TENANTS_PER_STEP - 1) yield;
    }
    for (const image of images) yield* writeKeyIndex(out, image);
  })();
  let done = false;
  return {
    parts: refs.flat().map(refPrefix),
    step() {
      if (!done) done = pieces.next().done === true;
      return done;
    },
    bytes() {
      invariant(done, 'checkpoint bytes taken before the last step');
      return out.view().slice();
    },
  };
}

/**
 * The state a checkpoint holds (behaving as the fold it was taken from) and its heads; anything
 * else than a valid checkpoint is a CheckpointError. A checkpoint made with a record window loads
 * only into a ledger with a window of the same bucket length (its records are recalled from the
 * log through the key index); one made without loads into either.
 */
export function decodeCheckpoint(bytes: Uint8Array, options: DecodeOptions = {}): DecodedCheckpoint {
  try {
    return decode(bytes, options);
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    if (error instanceof SegmentError) throw new CheckpointError(error.offset, error.message);
    throw new CheckpointError(-1, error instanceof Error ? error.message : String(error));
  }
}

/** How a checkpoint is decoded. */
export interface DecodeOptions {
  readonly recordWindow?: RecordWindowOptions;
  /**
   * The chunks of every key-index part a format-3 checkpoint refers to, by keys-area prefix, read
   * back and checked against its digest by the caller: the checkpoint is decoded whole, into a
   * ledger with no parts attached. Absent: each referred part must be attached to the ledger
   * (`recordWindow.spilled`) with the very digest referred to, and nothing of it is read.
   */
  readonly partChunks?: ReadonlyMap<string, readonly KeyChunk[]>;
}

/**
 * Why a checkpoint of `state` written with `retentionMs` would not be the bytes every node at its
 * vector writes, or null when it would: a sweep by this node's clock forgot records before a later
 * cutoff than the vector's newest event implies (an idle node past a key-index bucket's end, or a
 * clock ahead of the events: retention.ts). The next events fix it.
 */
export function checkpointRetentionProblem(state: LedgerState, retentionMs: number): string | null {
  if (retentionMs === 0) return null;
  const cutoff = vectorRetentionCutoff(state.newestAt, retentionMs, state.recordWindow?.options.bucketMs);
  if (state.sweptBefore <= cutoff) return null;
  return `records before ${state.sweptBefore} were forgotten by this node's clock, past the ${cutoff} the newest event folded implies`;
}

function decode(bytes: Uint8Array, options: DecodeOptions): DecodedCheckpoint {
  if (!LITTLE_ENDIAN) throw new CheckpointError(0, 'checkpoints are read on little-endian machines only');
  const input = new ByteReader(bytes);
  const header = readHeader(input);
  const { version, window, bucketMs } = header;
  if (window && options.recordWindow === undefined)
    throw new CheckpointError(input.offset, 'made with a record window: loads only into a ledger with one');
  if (window && options.recordWindow?.bucketMs !== bucketMs)
    throw fail(
      input,
      `record window bucket ${bucketMs} ms, this ledger's is ${options.recordWindow?.bucketMs} ms`,
    );
  const state = createLedgerState(
    options.recordWindow === undefined ? {} : { recordWindow: options.recordWindow },
  );
  const { table, seqs, heads } = readOrigins(input);
  const indexOf = table.ids.map((origin) => internOrigin(state, origin));
  table.ids.forEach((origin, at) => {
    const seq = seqs[at] as number;
    if (seq > 0) state.versionVector[origin] = seq;
  });
  state.newestAt = header.newestAt;
  if (version >= 2) readRetired(input, state, table);
  const cutoffMs = cutoffOf(header);
  let refs: PartRef[] = [];
  if (version >= 3) {
    if (!window) throw fail(input, 'format 3 without a record window');
    const firstBucket = Math.floor(cutoffMs / bucketMs);
    refs = [...readPartRefs(input, 'd', firstBucket), ...readPartRefs(input, 'r', firstBucket)];
    if (refs.length === 0) throw fail(input, 'format 3 referring to no key index part');
  }
  const tenants = input.count('tenants', 4);
  let previous: string | null = null;
  for (let i = 0; i < tenants; i++) {
    const id = input.ascii(Number.MAX_SAFE_INTEGER);
    if (!isTenantId(id)) throw new CheckpointError(input.offset, 'a tenant id that is not valid');
    ascending(input, previous, id, 'tenants');
    previous = id;
    // Ids strictly ascending: each is new, so no lookup before the insert.
    const tenant = new TenantState(id, state);
    state.tenants.set(id, tenant);
    readTenant(input, tenant, table, indexOf, !window, version);
  }
  if (window) {
    const recordWindow = state.recordWindow;
    invariant(recordWindow !== undefined, 'a window');
    const firstBucket = cutoffMs / bucketMs;
    readKeyIndex(input, recordWindow.debitKeys, indexOf, firstBucket);
    readKeyIndex(input, recordWindow.refundKeys, indexOf, firstBucket);
    for (const ref of refs) {
      const index = ref.kind === 'd' ? recordWindow.debitKeys : recordWindow.refundKeys;
      const prefix = refPrefix(ref);
      if (options.partChunks !== undefined) {
        const chunks = options.partChunks.get(prefix);
        if (chunks === undefined) throw fail(input, `key index part ${prefix} was not read back`);
        if (index.partAt(ref.bucket, ref.part) !== undefined || index.spilledParts().length > 0)
          throw fail(input, 'decoded whole only into a ledger with no key index parts attached');
        index.mergeChunks(ref.bucket, chunks);
        continue;
      }
      const part = index.partAt(ref.bucket, ref.part);
      if (part?.digest == null || !sameDigest(part.digest, ref.digest))
        throw fail(input, `it refers to key index part ${prefix}, which is not on disk as it was`);
    }
  }
  if (input.left !== 0) throw new CheckpointError(input.offset, `${input.left} bytes past the end`);
  if (header.retentionMs > 0) checkWithinRetention(state, table, indexOf, cutoffMs, input.offset);
  return { state, heads, version, retentionMs: header.retentionMs, parts: refs.map(refPrefix) };
}

function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Refuses a checkpoint holding anything its retention would not write (checkpoint-retention.ts):
 * such bytes would not re-encode to themselves.
 */
function checkWithinRetention(
  state: LedgerState,
  table: OriginTable,
  indexOf: readonly number[],
  cutoffMs: number,
  offset: number,
): void {
  const window = state.recordWindow;
  let oldestDebitSeq: Map<string, number> | null = null;
  if (window !== undefined) {
    oldestDebitSeq = new Map();
    table.ids.forEach((origin, ref) => {
      const oldest = window.debitKeys.oldestSeq(indexOf[ref] as number);
      if (oldest !== undefined) oldestDebitSeq?.set(origin, oldest);
    });
  }
  const retention: CheckpointRetention = { cutoffMs, vector: state.versionVector, oldestDebitSeq };
  for (const tenant of state.tenants.values())
    if (tenant.extra !== null && sweepTenant(tenant, retention) > 0)
      throw new CheckpointError(offset, `tenant ${tenant.tenant} holds records past the retention`);
}
