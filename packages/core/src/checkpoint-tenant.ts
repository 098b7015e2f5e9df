/**
 * One tenant in a checkpoint (checkpoint.ts has the layout): its cells, its grants (cells, moved
 * cells, the winning definition and the losers), and its records as checkpoint-fields.ts's tables
 * list them; written in the one canonical order and read back with every order and value checked.
 */

import { GRANT_CELLS, TENANT_CELLS } from './cell-codes.js';
import { grantCellAt, setGrantCell, setMovedAt, setRetiredAt, setTenantCell } from './cells.js';
import {
  CheckpointError,
  type CheckpointFields,
  DEBIT_FIELDS,
  DEFINITION_FIELDS,
  HOLD_FIELDS,
  type OriginTable,
  REFUND_FIELDS,
  REVOKE_FIELDS,
  readFields,
  writeFields,
} from './checkpoint-fields.js';
import { addDefinition, compareDefinitions } from './grant-terms.js';
import { eventRecordId, isKey, type OriginId, parseEventRecordId } from './ids.js';
import { addKeyId } from './key-ids.js';
import { SHAPE_SHARED_MAX } from './limits.js';
import { forEachInSlot, Shape } from './packed.js';
import type { DebitRecord, HoldRecord, RefundRecord, RevokeRecord } from './records.js';
import type { ByteReader, ByteWriter } from './segment-bytes.js';
import { ensureGrant, type GrantDefinition, TenantState } from './state.js';

const TENANT_KINDS = TENANT_CELLS.length;
const DEBIT_ID_FIELD: CheckpointFields = [['debitId', 'eventId']];

/**
 * A copy of `tenant` that later folds do not change (what a checkpoint writes from): its values,
 * grant ids and the parts of its records a checkpoint writes (debits and refunds only when
 * `records`). Immutable parts are shared: shared shapes, record objects, definitions.
 */
export function copyTenant(tenant: TenantState, records: boolean): TenantState {
  const copy = new TenantState(tenant.tenant, tenant.ledger);
  const shape = tenant.shape;
  // A shape of SHAPE_SHARED_MAX codes or more belongs to its tenant and grows in place (packed.ts).
  copy.shape = shape.codes.length < SHAPE_SHARED_MAX ? shape : new Shape([...shape.codes], false);
  copy.values = tenant.values.slice();
  const ids = tenant.grantIds;
  copy.grantIds = ids === null || typeof ids === 'string' ? ids : ids.slice();
  if (tenant.extra === null) return copy;
  const copyLists = <K, T>(map: Map<K, T[]> | null) =>
    map === null ? null : new Map([...map].map(([key, list]) => [key, list.slice()]));
  if (records) {
    copy.debits = tenant.debits === null ? null : new Map(tenant.debits);
    copy.refunds = tenant.refunds === null ? null : new Map(tenant.refunds);
  }
  copy.refundedByDebit = tenant.refundedByDebit === null ? null : new Map(tenant.refundedByDebit);
  copy.revokes = copyLists(tenant.revokes);
  copy.holds = tenant.holds === null ? null : new Map(tenant.holds);
  copy.othersBySlot = copyLists(tenant.othersBySlot);
  copy.grantIndex = tenant.grantIndex === null ? null : new Map(tenant.grantIndex);
  return copy;
}
const GRANT_KINDS = GRANT_CELLS.length;
/** Kinds of packed numbers in a grant slot (packed.ts): 0–3 cells, 4 retired, 6 moved, 7 terms. */
const MOVED_KIND = 6;
const RETIRED_KIND = 4;

/** Orders ids as the codec does (UTF-16 code units; ids are ASCII). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The entries of `map` in id order (none for null). */
export function byId<T>(map: ReadonlyMap<string, T> | null): [string, T][] {
  return map === null ? [] : [...map].sort(([a], [b]) => compareText(a, b));
}

/** Fails unless `next` comes strictly after `previous` (the one order of a list). */
export function ascending(input: ByteReader, previous: string | null, next: string, what: string): void {
  if (previous !== null && compareText(previous, next) >= 0)
    throw new CheckpointError(input.offset, `${what} out of order`);
}

/**
 * Writes one tenant: its cells, its grants, its records and refund bounds (records: without a
 * window), in the layout of `version` (checkpoint.ts; 2 adds the retired cells of grants).
 */
export function writeTenant(
  out: ByteWriter,
  tenant: TenantState,
  table: OriginTable,
  refOf: readonly number[],
  records: boolean,
  version: number,
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
    const retired: [number, number][] = [];
    forEachInSlot(tenant, grant.slot + 1, (kind, a, b, value) => {
      if (value === 0) return;
      if (kind < GRANT_KINDS) grantCells.push([(refOf[a] as number) * GRANT_KINDS + kind, value]);
      else if (kind === MOVED_KIND)
        moved.push([(refOf[a] as number) * table.ids.length + (refOf[b] as number), value]);
      else if (kind === RETIRED_KIND)
        retired.push([(refOf[a] as number) * table.ids.length + (refOf[b] as number), value]);
    });
    writePairs(out, grantCells);
    writePairs(out, moved);
    if (version >= 2) writePairs(out, retired);
    else if (retired.length > 0) throw new CheckpointError(-1, 'retired cells need format 2');
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

/**
 * Reads a list of (code, value) pairs into `into` (code, value, code, value … from its start) and
 * returns how many numbers it wrote there: codes strictly ascending below `codeEnd`, values > 0.
 * No callback: this runs per grant of every tenant of a checkpoint, a million times at a start.
 */
function readPairs(input: ByteReader, what: string, codeEnd: number, into: number[]): number {
  const count = input.count(what, 2);
  let last = -1;
  for (let i = 0; i < count; i++) {
    const code = input.varint();
    if (code <= last || code >= codeEnd)
      throw new CheckpointError(input.offset, `${what} out of order or range`);
    last = code;
    const value = input.varint();
    if (value === 0) throw new CheckpointError(input.offset, `${what}: a zero value`);
    into[2 * i] = code;
    into[2 * i + 1] = value;
  }
  return 2 * count;
}

/** Pairs read by readPairs, reused from one list to the next (decoding is synchronous). */
const PAIRS: number[] = [];

/** A grant definition (DEFINITION_FIELDS' layout, read without readFields' generic object). */
function readDefinition(input: ByteReader, table: OriginTable): GrantDefinition {
  const amount = input.varint();
  const priority = input.varint();
  const present = input.byte();
  if (present > 1) throw new CheckpointError(input.offset - 1, `expiresAt: presence byte ${present}`);
  const expiresAt = present === 1 ? input.varint() : null;
  const start = input.offset;
  const ref = input.varint();
  const origin = table.ids[ref];
  if (origin === undefined) throw new CheckpointError(start, `origin: origin ${ref} not in the table`);
  const seq = input.varint();
  const at = input.varint();
  return { amount, priority, expiresAt, origin, seq, at };
}

/** Reads one tenant into `tenant` in the layout of `version`, every value and order checked. */
export function readTenant(
  input: ByteReader,
  tenant: TenantState,
  table: OriginTable,
  indexOf: readonly number[],
  records: boolean,
  version: number,
): void {
  const origins = table.ids.length;
  const pairs = PAIRS;
  let end = readPairs(input, 'tenant cells', origins * TENANT_KINDS, pairs);
  for (let i = 0; i < end; i += 2) {
    const code = pairs[i] as number;
    const kind = code % TENANT_KINDS;
    setTenantCell(
      tenant,
      indexOf[(code - kind) / TENANT_KINDS] as number,
      TENANT_CELLS[kind] as never,
      pairs[i + 1] as number,
    );
  }
  const grants = input.count('grants', 4);
  let previous: string | null = null;
  for (let g = 0; g < grants; g++) {
    const idAt = input.offset;
    const grantId = input.ascii(Number.MAX_SAFE_INTEGER);
    if (!isKey(grantId)) throw new CheckpointError(idAt, 'grantId: not a valid key');
    ascending(input, previous, grantId, 'grants');
    previous = grantId;
    const grant = ensureGrant(tenant, grantId);
    end = readPairs(input, 'grant cells', origins * GRANT_KINDS, pairs);
    for (let i = 0; i < end; i += 2) {
      const code = pairs[i] as number;
      const kind = code % GRANT_KINDS;
      setGrantCell(
        grant,
        indexOf[(code - kind) / GRANT_KINDS] as number,
        GRANT_CELLS[kind] as never,
        pairs[i + 1] as number,
      );
    }
    end = readPairs(input, 'moved cells', origins * origins, pairs);
    for (let i = 0; i < end; i += 2) {
      const code = pairs[i] as number;
      const to = code % origins;
      setMovedAt(
        grant,
        indexOf[(code - to) / origins] as number,
        indexOf[to] as number,
        pairs[i + 1] as number,
      );
    }
    if (version >= 2) {
      end = readPairs(input, 'retired cells', origins * origins, pairs);
      for (let i = 0; i < end; i += 2) {
        const code = pairs[i] as number;
        const current = code % origins;
        const lost = (code - current) / origins;
        if (lost === current)
          throw new CheckpointError(input.offset, 'a retired cell of an origin to itself');
        setRetiredAt(grant, indexOf[lost] as number, indexOf[current] as number, pairs[i + 1] as number);
      }
    }
    const defined = input.byte();
    if (defined > 1) throw new CheckpointError(input.offset, `definition presence byte ${defined}`);
    if (defined === 0) {
      if (input.varint() !== 0)
        throw new CheckpointError(input.offset, 'losing definitions of an undefined grant');
      continue;
    }
    const winner = readDefinition(input, table);
    const others = input.count('losing definitions', 6);
    const definitions = [winner];
    for (let i = 0; i < others; i++) definitions.push(readDefinition(input, table));
    for (const definition of definitions) {
      const index = indexOf[table.refs.get(definition.origin) as number] as number;
      // The granted cell of the definition's origin is the definition's amount (one grant per origin).
      if (definition.amount === 0 || grantCellAt(grant, index, 'granted') !== definition.amount)
        throw new CheckpointError(
          input.offset,
          `definition of ${grantId} by ${definition.origin} does not match its granted cell`,
        );
      addDefinition(grant, definition);
    }
    // One definition is the winner of a grant that had none; with losers, the winner first and the
    // losers in their order: anything else would decode to another form.
    if (others === 0) continue;
    const won = grant.definition;
    if (won === null || !sameDefinition(won, winner))
      throw new CheckpointError(input.offset, `definitions of ${grantId} out of order`);
    const losers = grant.others ?? [];
    if (
      losers.length !== others ||
      losers.some((other, i) => !sameDefinition(other, definitions[i + 1] as GrantDefinition))
    )
      throw new CheckpointError(input.offset, `definitions of ${grantId} out of order`);
  }
  readRecords(input, 'debits', DEBIT_FIELDS, table, tenant, (record) => {
    if (!records)
      throw new CheckpointError(input.offset, 'debit records in a checkpoint made with a record window');
    const debit = record as unknown as DebitRecord;
    tenant.debits ??= new Map();
    tenant.debitsByKey ??= new Map();
    tenant.debits.set(debit.debitId, debit);
    addKeyId(tenant.debitsByKey, debit.idempotencyKey, debit.debitId);
    tenant.ledger.recordWindow?.recordedDebit(tenant, debit);
  });
  readRecords(input, 'refunds', REFUND_FIELDS, table, tenant, (record) => {
    if (!records)
      throw new CheckpointError(input.offset, 'refund records in a checkpoint made with a record window');
    const refund = record as unknown as RefundRecord;
    tenant.refunds ??= new Map();
    tenant.refundsByKey ??= new Map();
    tenant.refunds.set(refund.refundId, refund);
    addKeyId(tenant.refundsByKey, refund.idempotencyKey, refund.refundId);
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
    addKeyId(tenant.holdsByKey, hold.idempotencyKey, hold.holdId);
  });
  const bounds = input.count('refund bounds', 2);
  let last: string | null = null;
  for (let i = 0; i < bounds; i++) {
    const debitId = readFields(input, DEBIT_ID_FIELD, table).debitId as string;
    ascending(input, last, debitId, 'refund bounds');
    last = debitId;
    const sum = input.varint();
    if (sum === 0) throw new CheckpointError(input.offset, 'a zero refund bound');
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
    if (seq < 1) throw new CheckpointError(input.offset, `${what}: seq 0`);
    const id = eventRecordId(fieldsRead.origin as OriginId, seq);
    ascending(input, previous, id, what);
    previous = id;
    if (parseEventRecordId(id) === null) throw new CheckpointError(input.offset, `${what}: no id`);
    // The record's own fields, in the fold's order: id, tenant, then the rest.
    keep({ [idField]: id, tenant: tenant.tenant, ...fieldsRead });
  }
}
