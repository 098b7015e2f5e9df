/**
 * Checkpoints (DESIGN.md §2 "Checkpoints and retention"): the whole folded state at a version
 * vector, in one canonical binary form, so that a start loads it and folds only the tail of each
 * log, and two honest nodes at one vector (and one retention cutoff) write the same bytes. Ids,
 * never local indices or slots; everything sorted; zero cells left out; shortest varints; so a
 * checkpoint that decodes re-encodes to the very same bytes. Layout (version 1):
 *
 *   4 bytes  magic "ACKP", byte version (1)
 *   byte     flags: 1 = made with a record window (records are in the key index, not written)
 *   varint   record window bucket (ms; 0 without a window)
 *   varint   origins; each, ascending by id: ascii id, varint folded seq (0: none of its events),
 *            then when seq > 0 the 32-byte hash of its log's head at that seq
 *   varint   tenants; each, ascending by id: ascii id,
 *            cells: varint count, each varint (origin · 8 + kind) ascending, varint value > 0
 *            grants: varint count, each ascending by id: ascii id,
 *              cells (origin · 4 + kind, value), moved (from · origins + to, value), both ascending,
 *              byte defined, then the winner (DEFINITION_FIELDS), varint losers and each
 *            debits, refunds (without a window), revokes, holds: varint count, each ascending by
 *            id, as checkpoint-fields.ts's tables list their fields
 *            refund bounds: varint count, each ascending by debit id: ascii id, varint sum > 0
 *   with a record window, per key index (debits, then refunds): varint buckets, each ascending:
 *            varint bucket, varint tables, each ascending by origin: varint origin, varint high
 *            parts (ascending), varint smallest seq, varint entries, each 8 bytes (u32 check ≠ 0,
 *            u32 low; little-endian), ascending
 *
 * Decoding trusts nothing: every count is checked against the bytes left before anything is
 * allocated, every id and number is checked, every list must be in its one order, and anything
 * wrong is a CheckpointError.
 */
import { invariant } from './amount.js';
import {
  CheckpointError,
  DEBIT_FIELDS,
  DEFINITION_FIELDS,
  HOLD_FIELDS,
  type OriginTable,
  REFUND_FIELDS,
  REVOKE_FIELDS,
  readFields,
  writeFields,
} from './checkpoint-fields.js';
import { eventRecordId, isOriginId, isTenantId, type OriginId, parseEventRecordId } from './ids.js';
import type { KeyIndex } from './key-index.js';
import { forEachInSlot } from './packed.js';
import type { RecordWindowOptions } from './record-window.js';
import type { DebitRecord, HoldRecord, RefundRecord, RevokeRecord } from './records.js';
import { ByteReader, ByteWriter, SegmentError } from './segment-bytes.js';
import {
  addDefinition,
  compareDefinitions,
  createLedgerState,
  ensureGrant,
  ensureTenant,
  GRANT_CELLS,
  type GrantDefinition,
  grantCellAt,
  internOrigin,
  type LedgerState,
  setGrantCell,
  setMovedAt,
  setTenantCell,
  TENANT_CELLS,
  type TenantState,
} from './state.js';

export { CheckpointError } from './checkpoint-fields.js';

/** The format version this build writes and reads. */
export const CHECKPOINT_VERSION = 1;

const MAGIC = [0x41, 0x43, 0x4b, 0x50]; // "ACKP"
const FLAG_WINDOW = 1;
/** Bytes of a log head's hash (SHA-256). */
export const CHECKPOINT_HASH_BYTES = 32;
const TENANT_KINDS = TENANT_CELLS.length;
const GRANT_KINDS = GRANT_CELLS.length;
/** Kinds of packed numbers in a grant slot (packed.ts): 0–3 cells, 6 moved, 7 terms. */
const MOVED_KIND = 6;
const ENTRY_BYTES = 8;
/** Key-index entries are written as the platform's u64 words: this codec runs little-endian only. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Where one origin's log stands in a checkpoint: its folded seq and the hash of its head there. */
export interface CheckpointHead {
  readonly seq: number;
  readonly hash: Uint8Array;
}

/** A decoded checkpoint: the state it holds and each folded log's head at its vector. */
export interface DecodedCheckpoint {
  readonly state: LedgerState;
  /** Every origin with a folded seq > 0. */
  readonly heads: Map<OriginId, CheckpointHead>;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byId<T>(map: ReadonlyMap<string, T> | null): [string, T][] {
  return map === null ? [] : [...map].sort(([a], [b]) => compareText(a, b));
}

function originTable(ids: readonly string[]): OriginTable {
  return { ids, refs: new Map(ids.map((id, at) => [id, at])) };
}

/**
 * The canonical checkpoint of `state`. `heads` gives the hash of every folded log's head at the
 * state's vector (each origin with a seq > 0 must have one).
 */
export function encodeCheckpoint(state: LedgerState, heads: ReadonlyMap<OriginId, Uint8Array>): Uint8Array {
  invariant(LITTLE_ENDIAN, 'checkpoints are written on little-endian machines only');
  const out = new ByteWriter(1 << 16);
  for (const byte of MAGIC) out.byte(byte);
  out.byte(CHECKPOINT_VERSION);
  const window = state.recordWindow;
  out.byte(window === undefined ? 0 : FLAG_WINDOW);
  out.varint(window === undefined ? 0 : window.options.bucketMs);
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
  const tenants = byId(state.tenants);
  out.varint(tenants.length);
  for (const [, tenant] of tenants) writeTenant(out, tenant, table, refOf, window === undefined);
  if (window !== undefined) {
    writeKeyIndex(out, window.debitKeys, refOf);
    writeKeyIndex(out, window.refundKeys, refOf);
  }
  return out.view().slice();
}

function writeTenant(
  out: ByteWriter,
  tenant: TenantState,
  table: OriginTable,
  refOf: readonly number[],
  records: boolean,
): void {
  out.ascii(tenant.tenant);
  const cells: [number, number][] = [];
  forEachInSlot(tenant, 0, (kind, index, _b, value) => {
    if (value !== 0) cells.push([(refOf[index] as number) * TENANT_KINDS + kind, value]);
  });
  writePairs(out, cells);
  const grants = [...tenant.grants].sort(([a], [b]) => compareText(a, b));
  out.varint(grants.length);
  for (const [grantId, grant] of grants) {
    out.ascii(grantId);
    const grantCells: [number, number][] = [];
    const moved: [number, number][] = [];
    forEachInSlot(tenant, grant.slot + 1, (kind, a, b, value) => {
      if (value === 0) return;
      if (kind < GRANT_KINDS) grantCells.push([(refOf[a] as number) * GRANT_KINDS + kind, value]);
      else if (kind === MOVED_KIND)
        moved.push([(refOf[a] as number) * table.ids.length + (refOf[b] as number), value]);
    });
    writePairs(out, grantCells);
    writePairs(out, moved);
    const definition = grant.definition;
    if (definition === null) out.byte(0);
    else {
      out.byte(1);
      writeFields(out, DEFINITION_FIELDS, definition as unknown as Record<string, unknown>, table);
    }
    const others = grant.others ?? [];
    out.varint(others.length);
    for (const other of others)
      writeFields(out, DEFINITION_FIELDS, other as unknown as Record<string, unknown>, table);
  }
  writeRecords(out, records ? byId(tenant.debits) : [], DEBIT_FIELDS, table);
  writeRecords(out, records ? byId(tenant.refunds) : [], REFUND_FIELDS, table);
  const revokes: [string, RevokeRecord][] = [];
  for (const list of tenant.revokes?.values() ?? [])
    for (const revoke of list) revokes.push([revoke.revokeId, revoke]);
  writeRecords(
    out,
    revokes.sort(([a], [b]) => compareText(a, b)),
    REVOKE_FIELDS,
    table,
  );
  writeRecords(out, byId(tenant.holds), HOLD_FIELDS, table);
  const bounds = byId(tenant.refundedByDebit).filter(([, sum]) => sum > 0);
  out.varint(bounds.length);
  for (const [debitId, sum] of bounds) {
    out.ascii(debitId);
    out.varint(sum);
  }
}

function writePairs(out: ByteWriter, pairs: [number, number][]): void {
  pairs.sort(([a], [b]) => a - b);
  out.varint(pairs.length);
  for (const [code, value] of pairs) {
    out.varint(code);
    out.varint(value);
  }
}

function writeRecords(
  out: ByteWriter,
  records: readonly [string, unknown][],
  fields: typeof DEBIT_FIELDS,
  table: OriginTable,
): void {
  out.varint(records.length);
  for (const [, record] of records) writeFields(out, fields, record as Record<string, unknown>, table);
}

function writeKeyIndex(out: ByteWriter, index: KeyIndex, refOf: readonly number[]): void {
  const tables: {
    bucket: number;
    ref: number;
    image: Parameters<Parameters<KeyIndex['forEachTable']>[0]>[2];
  }[] = [];
  index.forEachTable((bucket, origin, image) => {
    if (image.checks.length > 0) tables.push({ bucket, ref: refOf[origin] as number, image });
  });
  tables.sort((a, b) => a.bucket - b.bucket || a.ref - b.ref);
  const buckets: number[] = [];
  for (const { bucket } of tables) if (buckets[buckets.length - 1] !== bucket) buckets.push(bucket);
  out.varint(buckets.length);
  let at = 0;
  for (const bucket of buckets) {
    out.varint(bucket);
    let end = at;
    while (end < tables.length && tables[end]?.bucket === bucket) end += 1;
    out.varint(end - at);
    for (; at < end; at++) {
      const { ref, image } = tables[at] as (typeof tables)[number];
      out.varint(ref);
      const highs = [...image.seqHighs].sort((a, b) => a - b);
      out.varint(highs.length);
      for (const high of highs) out.varint(high);
      out.varint(image.minSeq);
      // Entries in one order: each the 64-bit number check · 2^32 + low, ascending, little-endian.
      const size = image.checks.length;
      const words = new Uint32Array(size * 2);
      for (let i = 0; i < size; i++) {
        words[2 * i] = image.lows[i] as number;
        words[2 * i + 1] = image.checks[i] as number;
      }
      new BigUint64Array(words.buffer).sort();
      out.varint(size);
      out.bytes(new Uint8Array(words.buffer));
    }
  }
}

/**
 * The state a checkpoint holds (behaving as the fold it was taken from) and its heads; anything
 * else than a valid checkpoint is a CheckpointError. A checkpoint made with a record window loads
 * only into a ledger with a window of the same bucket length (its records are recalled from the
 * log through the key index); one made without loads into either.
 */
export function decodeCheckpoint(
  bytes: Uint8Array,
  options: { readonly recordWindow?: RecordWindowOptions } = {},
): DecodedCheckpoint {
  try {
    return decode(bytes, options);
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    if (error instanceof SegmentError) throw new CheckpointError(error.offset, error.message);
    throw new CheckpointError(-1, error instanceof Error ? error.message : String(error));
  }
}

/** The version vector and heads of a checkpoint, read from its header only (checked as decode does). */
export function checkpointHeads(bytes: Uint8Array): Map<OriginId, CheckpointHead> {
  try {
    const input = new ByteReader(bytes);
    readHeader(input);
    return readOrigins(input).heads;
  } catch (error) {
    if (error instanceof CheckpointError) throw error;
    if (error instanceof SegmentError) throw new CheckpointError(error.offset, error.message);
    throw new CheckpointError(-1, String(error));
  }
}

function fail(input: ByteReader, problem: string): CheckpointError {
  return new CheckpointError(input.offset, problem);
}

function readHeader(input: ByteReader): { window: boolean; bucketMs: number } {
  for (const byte of MAGIC) if (input.byte() !== byte) throw fail(input, 'not a checkpoint (magic)');
  const version = input.byte();
  if (version !== CHECKPOINT_VERSION)
    throw fail(input, `version ${version}, this build reads ${CHECKPOINT_VERSION}`);
  const flags = input.byte();
  if (flags > FLAG_WINDOW) throw fail(input, `unknown flags ${flags}`);
  const bucketMs = input.varint();
  const window = flags === FLAG_WINDOW;
  if (window !== bucketMs > 0) throw fail(input, 'record window flag and bucket disagree');
  return { window, bucketMs };
}

function readOrigins(input: ByteReader): {
  table: OriginTable;
  seqs: number[];
  heads: Map<OriginId, CheckpointHead>;
} {
  const count = input.count('origins', 2);
  const ids: string[] = [];
  const seqs: number[] = [];
  const heads = new Map<OriginId, CheckpointHead>();
  for (let i = 0; i < count; i++) {
    const origin = input.ascii(Number.MAX_SAFE_INTEGER);
    if (!isOriginId(origin)) throw fail(input, 'an origin id that is not valid');
    if (i > 0 && compareText(ids[i - 1] as string, origin) >= 0) throw fail(input, 'origins out of order');
    const seq = input.varint();
    ids.push(origin);
    seqs.push(seq);
    if (seq > 0) heads.set(origin, { seq, hash: input.take(CHECKPOINT_HASH_BYTES).slice() });
  }
  return { table: originTable(ids), seqs, heads };
}

function ascending(input: ByteReader, previous: string | null, next: string, what: string): void {
  if (previous !== null && compareText(previous, next) >= 0) throw fail(input, `${what} out of order`);
}

function decode(
  bytes: Uint8Array,
  options: { readonly recordWindow?: RecordWindowOptions },
): DecodedCheckpoint {
  if (!LITTLE_ENDIAN) throw new CheckpointError(0, 'checkpoints are read on little-endian machines only');
  const input = new ByteReader(bytes);
  const { window, bucketMs } = readHeader(input);
  if (window && options.recordWindow === undefined)
    throw fail(input, 'made with a record window: loads only into a ledger with one');
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
  const tenants = input.count('tenants', 4);
  let previous: string | null = null;
  for (let i = 0; i < tenants; i++) {
    const id = input.ascii(Number.MAX_SAFE_INTEGER);
    if (!isTenantId(id)) throw fail(input, 'a tenant id that is not valid');
    ascending(input, previous, id, 'tenants');
    previous = id;
    readTenant(input, ensureTenant(state, id), table, indexOf, !window);
  }
  if (window) {
    const recordWindow = state.recordWindow;
    invariant(recordWindow !== undefined, 'a window');
    readKeyIndex(input, recordWindow.debitKeys, indexOf);
    readKeyIndex(input, recordWindow.refundKeys, indexOf);
  }
  if (input.left !== 0) throw fail(input, `${input.left} bytes past the end`);
  return { state, heads };
}

function readPairs(
  input: ByteReader,
  what: string,
  codeEnd: number,
  visit: (code: number, value: number) => void,
): void {
  const count = input.count(what, 2);
  let last = -1;
  for (let i = 0; i < count; i++) {
    const code = input.varint();
    if (code <= last || code >= codeEnd) throw fail(input, `${what} out of order or range`);
    last = code;
    const value = input.varint();
    if (value === 0) throw fail(input, `${what}: a zero value`);
    visit(code, value);
  }
}

function readTenant(
  input: ByteReader,
  tenant: TenantState,
  table: OriginTable,
  indexOf: readonly number[],
  records: boolean,
): void {
  const origins = table.ids.length;
  readPairs(input, 'tenant cells', origins * TENANT_KINDS, (code, value) => {
    const kind = code % TENANT_KINDS;
    setTenantCell(
      tenant,
      indexOf[(code - kind) / TENANT_KINDS] as number,
      TENANT_CELLS[kind] as never,
      value,
    );
  });
  const grants = input.count('grants', 4);
  let previous: string | null = null;
  for (let g = 0; g < grants; g++) {
    const grantId = readFields(input, [['grantId', 'key']], table).grantId as string;
    ascending(input, previous, grantId, 'grants');
    previous = grantId;
    const grant = ensureGrant(tenant, grantId);
    readPairs(input, 'grant cells', origins * GRANT_KINDS, (code, value) => {
      const kind = code % GRANT_KINDS;
      setGrantCell(grant, indexOf[(code - kind) / GRANT_KINDS] as number, GRANT_CELLS[kind] as never, value);
    });
    readPairs(input, 'moved cells', origins * origins, (code, value) => {
      const to = code % origins;
      const from = (code - to) / origins;
      setMovedAt(grant, indexOf[from] as number, indexOf[to] as number, value);
    });
    const defined = input.byte();
    if (defined > 1) throw fail(input, `definition presence byte ${defined}`);
    const definitions: GrantDefinition[] = [];
    if (defined === 1)
      definitions.push(readFields(input, DEFINITION_FIELDS, table) as unknown as GrantDefinition);
    const others = input.count('losing definitions', 6);
    if (others > 0 && defined === 0) throw fail(input, 'losing definitions of an undefined grant');
    for (let i = 0; i < others; i++)
      definitions.push(readFields(input, DEFINITION_FIELDS, table) as unknown as GrantDefinition);
    for (const definition of definitions) {
      const index = indexOf[table.refs.get(definition.origin) as number] as number;
      // The granted cell of the definition's origin is the definition's amount (one grant per origin).
      if (definition.amount === 0 || grantCellAt(grant, index, 'granted') !== definition.amount)
        throw fail(input, `definition of ${grantId} by ${definition.origin} does not match its granted cell`);
      addDefinition(grant, definition);
    }
    // The winner first, the losers in their order: anything else would decode to another form.
    const winner = grant.definition;
    if (
      definitions.length > 0 &&
      (winner === null || !sameDefinition(winner, definitions[0] as GrantDefinition))
    )
      throw fail(input, `definitions of ${grantId} out of order`);
    const losers = grant.others ?? [];
    if (
      losers.length !== others ||
      losers.some((other, i) => !sameDefinition(other, definitions[i + 1] as GrantDefinition))
    )
      throw fail(input, `definitions of ${grantId} out of order`);
  }
  readRecords(input, 'debits', DEBIT_FIELDS, table, tenant, (record) => {
    if (!records) throw fail(input, 'debit records in a checkpoint made with a record window');
    const debit = record as unknown as DebitRecord;
    tenant.debits ??= new Map();
    tenant.debitsByKey ??= new Map();
    tenant.debits.set(debit.debitId, debit);
    appendId(tenant.debitsByKey, debit.idempotencyKey, debit.debitId);
    tenant.ledger.recordWindow?.recordedDebit(tenant, debit);
  });
  readRecords(input, 'refunds', REFUND_FIELDS, table, tenant, (record) => {
    if (!records) throw fail(input, 'refund records in a checkpoint made with a record window');
    const refund = record as unknown as RefundRecord;
    tenant.refunds ??= new Map();
    tenant.refundsByKey ??= new Map();
    tenant.refunds.set(refund.refundId, refund);
    appendId(tenant.refundsByKey, refund.idempotencyKey, refund.refundId);
    tenant.ledger.recordWindow?.recordedRefund(tenant, refund);
  });
  readRecords(input, 'revokes', REVOKE_FIELDS, table, tenant, (record) => {
    const revoke = record as unknown as RevokeRecord;
    tenant.revokes ??= new Map();
    const key = `${revoke.grantId}\u0000${revoke.loser}`;
    const known = tenant.revokes.get(key) ?? [];
    known.push(revoke);
    known.sort(compareDefinitions);
    tenant.revokes.set(key, known);
  });
  readRecords(input, 'holds', HOLD_FIELDS, table, tenant, (record) => {
    const hold = record as unknown as HoldRecord;
    tenant.holds ??= new Map();
    tenant.holdsByKey ??= new Map();
    tenant.holds.set(hold.holdId, hold);
    appendId(tenant.holdsByKey, hold.idempotencyKey, hold.holdId);
  });
  const bounds = input.count('refund bounds', 2);
  let last: string | null = null;
  for (let i = 0; i < bounds; i++) {
    const debitId = readFields(input, [['debitId', 'eventId']], table).debitId as string;
    ascending(input, last, debitId, 'refund bounds');
    last = debitId;
    const sum = input.varint();
    if (sum === 0) throw fail(input, 'a zero refund bound');
    tenant.refundedByDebit ??= new Map();
    tenant.refundedByDebit.set(debitId, sum);
  }
}

function sameDefinition(a: GrantDefinition, b: GrantDefinition): boolean {
  return (
    a.amount === b.amount &&
    a.priority === b.priority &&
    a.expiresAt === b.expiresAt &&
    a.origin === b.origin &&
    a.seq === b.seq &&
    a.at === b.at
  );
}

function appendId(index: Map<string, string[]>, key: string, id: string): void {
  const ids = index.get(key);
  if (ids === undefined) index.set(key, [id]);
  else ids.push(id);
}

/** Reads a list of records with derived ids (ascending, seq ≥ 1), tenant filled in. */
function readRecords(
  input: ByteReader,
  what: 'debits' | 'refunds' | 'revokes' | 'holds',
  fields: typeof DEBIT_FIELDS,
  table: OriginTable,
  tenant: TenantState,
  keep: (record: Record<string, unknown>) => void,
): void {
  const idField = { debits: 'debitId', refunds: 'refundId', revokes: 'revokeId', holds: 'holdId' }[what];
  const count = input.count(what, fields.length);
  let previous: string | null = null;
  for (let i = 0; i < count; i++) {
    const fieldsRead = readFields(input, fields, table);
    const seq = fieldsRead.seq as number;
    if (seq < 1) throw fail(input, `${what}: seq 0`);
    const id = eventRecordId(fieldsRead.origin as OriginId, seq);
    ascending(input, previous, id, what);
    previous = id;
    if (parseEventRecordId(id) === null) throw fail(input, `${what}: no id`);
    // The record's own fields, in the fold's order: id, tenant, then the rest.
    keep({ [idField]: id, tenant: tenant.tenant, ...fieldsRead });
  }
}

function readKeyIndex(input: ByteReader, index: KeyIndex, indexOf: readonly number[]): void {
  const buckets = input.count('key index buckets', 2);
  let lastBucket = -1;
  for (let b = 0; b < buckets; b++) {
    const bucket = input.varint();
    if (bucket <= lastBucket) throw fail(input, 'key index buckets out of order');
    lastBucket = bucket;
    const tables = input.count('key index tables', 4);
    if (tables === 0) throw fail(input, 'an empty key index bucket');
    let lastRef = -1;
    for (let t = 0; t < tables; t++) {
      const ref = input.varint();
      if (ref <= lastRef || ref >= indexOf.length)
        throw fail(input, 'key index tables out of order or range');
      lastRef = ref;
      const highCount = input.count('seq high parts', 1);
      const seqHighs: number[] = [];
      for (let h = 0; h < highCount; h++) {
        const high = input.varint();
        if (h > 0 && high <= (seqHighs[h - 1] as number)) throw fail(input, 'seq high parts out of order');
        seqHighs.push(high);
      }
      const minSeq = input.varint();
      const size = input.count('key index entries', ENTRY_BYTES);
      if (size === 0 || highCount === 0) throw fail(input, 'an empty key index table');
      const words = new Uint32Array(size * 2);
      new Uint8Array(words.buffer).set(input.take(size * ENTRY_BYTES));
      const checks = new Uint32Array(size);
      const lows = new Uint32Array(size);
      let lastCheck = 0;
      let lastLow = 0;
      for (let i = 0; i < size; i++) {
        const low = words[2 * i] as number;
        const check = words[2 * i + 1] as number;
        if (check === 0 || check < lastCheck || (check === lastCheck && low < lastLow))
          throw fail(input, 'key index entries out of order or empty');
        lastCheck = check;
        lastLow = low;
        checks[i] = check;
        lows[i] = low;
      }
      index.restoreTable(bucket, indexOf[ref] as number, { seqHighs, minSeq, checks, lows });
    }
  }
}
