/**
 * The ledger state: per tenant, per grant, the escrow counter of DESIGN.md §1 with its grow-only
 * cells, plus the per-origin totals and the debit and refund records that refunds and idempotency
 * need. Every cell has exactly one writer (the origin it is indexed by), so merge is a per-cell max.
 *
 * Packed (DESIGN.md §2 "State, packed"): a tenant is one small object whose numbers (cells of the
 * tenant and of its grants, moved cells, the winning terms of each grant) live in one exact-size
 * array of doubles keyed by an interned shape (packed.ts); grants are slots, found by id in the
 * tenant's grant ids; records, losing definitions and caches sit apart in `extra`, null for most
 * tenants. GrantState and GrantTable are views made on access. Local origin indices and slots depend
 * on arrival order and never leave this module's state: everything encoded or compared uses ids.
 */
import { AmountLimitError, invariant } from './amount.js';
import type { DebitId, GrantId, OriginId, RefundId, TenantId } from './ids.js';
import { AMOUNT_MAX, GRANT_SCAN_MAX, GRANT_SLOTS_MAX, ORIGINS_MAX, PRIORITY_MAX } from './limits.js';
import {
  cellCode,
  codeA,
  codeB,
  codeKind,
  codeOfSlot,
  EMPTY_SHAPE,
  forEachInSlot,
  type Packed,
  readPacked,
  type Shape,
  slotStart,
  writePacked,
} from './packed.js';
import { RecordWindow, type RecordWindowOptions } from './record-window.js';
import type { DebitRecord, HoldRecord, RefundRecord, RevokeRecord } from './records.js';

/** Cells of a grant, per origin. */
export const GRANT_CELLS = ['granted', 'debited', 'refunded', 'expired'] as const;
/** One of the per-origin cells of a grant. */
export type GrantCell = (typeof GRANT_CELLS)[number];
const GRANT_CELL_INDEX: Record<GrantCell, number> = { granted: 0, debited: 1, refunded: 2, expired: 3 };

/**
 * Per-origin totals of a tenant: debits and refunds as charged to clients, and the overdraft taken,
 * repaid from received rights, and cleared by refunds. `debited` of the grants includes repay burns,
 * which is why the client-facing totals are their own cells. `revoked`: credits charged by revokes of
 * duplicate grant ids (their parts and overdraft).
 */
export const TENANT_CELLS = [
  'debited',
  'refunded',
  'overdrawn',
  'repaid',
  'overdraftRefunded',
  'revoked',
  'held',
  'heldSettled',
] as const;
/** One of the per-origin cells of a tenant. */
export type TenantCell = (typeof TENANT_CELLS)[number];
const TENANT_CELL_INDEX: Record<TenantCell, number> = {
  debited: 0,
  refunded: 1,
  overdrawn: 2,
  repaid: 3,
  overdraftRefunded: 4,
  revoked: 5,
  held: 6,
  heldSettled: 7,
};

/**
 * Code kind of moved[from→to]. Tenant cells (kinds 0–7) live in slot 0 only and grant cells (0–3)
 * in grant slots, where 4, 6 and 7 mean retired, moved and terms: codes never collide.
 */
const MOVED_KIND = 6;
/**
 * Code kind of retired[lost→current]: rights of a retired incarnation `a` taken over by the current
 * incarnation `b` of its region. Unlike moved, its one writer is `b` (the retire event's origin).
 */
const RETIRED_KIND = 4;
/** Code kind of a grant's winning terms; `a` is the field (TERM_*). */
const TERMS_KIND = 7;
/** Terms field: (origin local index + 1) · 2^20 + priority (PRIORITY_MAX < 2^20). */
const TERM_ORIGIN_PRIORITY = 0;
/** Terms field: the defining event's seq. */
const TERM_SEQ = 1;
/** Terms field: the defining event's time + 1. */
const TERM_AT = 2;
/** Terms field: expiresAt + 1; absent (0) for a grant that never expires. */
const TERM_EXPIRES = 3;
const PRIORITY_RANGE = 2 ** 20;

/** What a grant event defined: the grant's terms and which event defined them. */
export interface GrantDefinition {
  readonly amount: number;
  readonly priority: number;
  readonly expiresAt: number | null;
  readonly origin: OriginId;
  readonly seq: number;
  readonly at: number;
}

/**
 * One grant of a tenant, as a view of its slot: its id, its winning terms (null until its grant
 * event is known here) and the losing definitions of the same id. Made on access; compare slots,
 * not objects.
 */
export class GrantState {
  constructor(
    /** The tenant whose packed values hold this grant. */
    readonly owner: TenantState,
    /** Position in the tenant's grant ids; keys this grant's packed values. */
    readonly slot: number,
  ) {}

  /** The grant id. */
  get grantId(): GrantId {
    const ids = this.owner.grantIds;
    return (typeof ids === 'string' ? ids : (ids as GrantId[])[this.slot]) as GrantId;
  }

  /** The winning definition; null while no grant event of this id is known here. */
  get definition(): GrantDefinition | null {
    return readTerms(this);
  }

  /** Losing definitions of the same grant id at other origins (compareDefinitions order); null: none. */
  get others(): GrantDefinition[] | null {
    return this.owner.extra?.others?.get(this.slot) ?? null;
  }
}

/** What only some tenants have: records, losing definitions, a grant index and burn order of many grants. */
class TenantExtra {
  debits: Map<DebitId, DebitRecord> | null = null;
  debitsByKey: Map<string, DebitId[]> | null = null;
  refunds: Map<RefundId, RefundRecord> | null = null;
  refundsByKey: Map<string, RefundId[]> | null = null;
  refundedByDebit: Map<DebitId, number> | null = null;
  revokes: Map<string, RevokeRecord[]> | null = null;
  holds: Map<DebitId, HoldRecord> | null = null;
  holdsByKey: Map<string, DebitId[]> | null = null;
  others: Map<number, GrantDefinition[]> | null = null;
  grantIndex: Map<GrantId, number> | null = null;
  burnOrder: GrantState[] | null = null;

  isEmpty(): boolean {
    return (
      this.debits === null &&
      this.debitsByKey === null &&
      this.refunds === null &&
      this.refundsByKey === null &&
      this.refundedByDebit === null &&
      this.revokes === null &&
      this.holds === null &&
      this.holdsByKey === null &&
      this.others === null &&
      this.grantIndex === null &&
      this.burnOrder === null
    );
  }
}

type ExtraField = Exclude<keyof TenantExtra, 'isEmpty'>;

/** Everything the ledger knows of one tenant. */
export class TenantState implements Packed {
  /** The interned codes of `values`. */
  shape: Shape = EMPTY_SHAPE;
  /** The tenant's non-zero numbers, position for position with `shape.codes`. */
  values: number[] = [];
  /** Grant ids by slot: one id alone while the tenant has one grant, then an exact-size array. */
  grantIds: GrantId | GrantId[] | null = null;
  /** Records and rare parts; null while the tenant has none. */
  extra: TenantExtra | null = null;

  constructor(
    readonly tenant: TenantId,
    /** The ledger whose origin indices key the values. */
    readonly ledger: LedgerState,
  ) {}

  // Getters read `extra`'s fields directly (a keyed read by field name is megamorphic, and these
  // run per debit); setters go through set$, which drops `extra` once it is empty.

  /** The tenant's grants (a view). */
  get grants(): GrantTable {
    return new GrantTable(this);
  }

  private set$<K extends ExtraField>(field: K, value: TenantExtra[K]): void {
    if (this.extra === null) {
      if (value === null) return;
      this.extra = new TenantExtra();
    }
    this.extra[field] = value;
    if (value === null && this.extra.isEmpty()) this.extra = null;
  }

  /** Defined grants in burn order, cached for tenants with many grants; null when not cached. */
  get burnOrder(): GrantState[] | null {
    return this.extra === null ? null : this.extra.burnOrder;
  }
  set burnOrder(value: GrantState[] | null) {
    this.set$('burnOrder', value);
  }
  /** Hold id → its record: while active, and while within the idempotency retention after it ended. */
  get holds(): Map<DebitId, HoldRecord> | null {
    return this.extra === null ? null : this.extra.holds;
  }
  set holds(value: Map<DebitId, HoldRecord> | null) {
    this.set$('holds', value);
  }
  /** Idempotency key → holds recorded with it. */
  get holdsByKey(): Map<string, DebitId[]> | null {
    return this.extra === null ? null : this.extra.holdsByKey;
  }
  set holdsByKey(value: Map<string, DebitId[]> | null) {
    this.set$('holdsByKey', value);
  }
  /** Debit id → its record, while within the idempotency retention. */
  get debits(): Map<DebitId, DebitRecord> | null {
    return this.extra === null ? null : this.extra.debits;
  }
  set debits(value: Map<DebitId, DebitRecord> | null) {
    this.set$('debits', value);
  }
  /** Idempotency key → debits recorded with it (more than one only after a cross-region race). */
  get debitsByKey(): Map<string, DebitId[]> | null {
    return this.extra === null ? null : this.extra.debitsByKey;
  }
  set debitsByKey(value: Map<string, DebitId[]> | null) {
    this.set$('debitsByKey', value);
  }
  /** Refund id → its record, while within the idempotency retention. */
  get refunds(): Map<RefundId, RefundRecord> | null {
    return this.extra === null ? null : this.extra.refunds;
  }
  set refunds(value: Map<RefundId, RefundRecord> | null) {
    this.set$('refunds', value);
  }
  /** Idempotency key → refunds recorded with it. */
  get refundsByKey(): Map<string, RefundId[]> | null {
    return this.extra === null ? null : this.extra.refundsByKey;
  }
  set refundsByKey(value: Map<string, RefundId[]> | null) {
    this.set$('refundsByKey', value);
  }
  /** Debit id → sum of its refunds known here (also for debits not known here yet). */
  get refundedByDebit(): Map<DebitId, number> | null {
    return this.extra === null ? null : this.extra.refundedByDebit;
  }
  set refundedByDebit(value: Map<DebitId, number> | null) {
    this.set$('refundedByDebit', value);
  }
  /** revokeKey(grant, loser) → its revokes, first first; never forgotten (few: one per duplicate). */
  get revokes(): Map<string, RevokeRecord[]> | null {
    return this.extra === null ? null : this.extra.revokes;
  }
  set revokes(value: Map<string, RevokeRecord[]> | null) {
    this.set$('revokes', value);
  }
  /** @internal Losing definitions by slot. */
  get othersBySlot(): Map<number, GrantDefinition[]> | null {
    return this.extra === null ? null : this.extra.others;
  }
  set othersBySlot(value: Map<number, GrantDefinition[]> | null) {
    this.set$('others', value);
  }
  /** @internal Grant id → slot, for tenants with more than GRANT_SCAN_MAX grants. */
  get grantIndex(): Map<GrantId, number> | null {
    return this.extra === null ? null : this.extra.grantIndex;
  }
  set grantIndex(value: Map<GrantId, number> | null) {
    this.set$('grantIndex', value);
  }
}

/** The grants of one tenant in slot order (a view): Map-like reads by grant id. */
export class GrantTable {
  constructor(private readonly tenant: TenantState) {}

  /** How many grant ids are known (defined or pending). */
  get size(): number {
    const ids = this.tenant.grantIds;
    return ids === null ? 0 : typeof ids === 'string' ? 1 : ids.length;
  }

  /** The slot of `grantId`, or −1. */
  slotOf(grantId: GrantId): number {
    const ids = this.tenant.grantIds;
    if (ids === null) return -1;
    if (typeof ids === 'string') return ids === grantId ? 0 : -1;
    const index = this.tenant.grantIndex;
    if (index !== null) return index.get(grantId) ?? -1;
    return ids.indexOf(grantId);
  }

  /** The grant with id `grantId`, if known. */
  get(grantId: GrantId): GrantState | undefined {
    const slot = this.slotOf(grantId);
    return slot < 0 ? undefined : new GrantState(this.tenant, slot);
  }

  /** True when `grantId` is known. */
  has(grantId: GrantId): boolean {
    return this.slotOf(grantId) >= 0;
  }

  /** The grants in slot order. */
  *values(): IterableIterator<GrantState> {
    const size = this.size;
    for (let slot = 0; slot < size; slot++) yield new GrantState(this.tenant, slot);
  }

  /** The grant ids in slot order. */
  *keys(): IterableIterator<GrantId> {
    for (const grant of this.values()) yield grant.grantId;
  }

  /** [grant id, grant] in slot order. */
  *[Symbol.iterator](): IterableIterator<[GrantId, GrantState]> {
    for (const grant of this.values()) yield [grant.grantId, grant];
  }
}

/** A retired incarnation: the origin that retired it and the highest seq of it that counts. */
export interface RetiredOrigin {
  readonly by: OriginId;
  readonly through: number;
}

/** One replica's view of the ledger: the fold of a prefix of each origin's log. */
export interface LedgerState {
  /** How much of each origin's log is folded in. */
  readonly versionVector: Record<OriginId, number>;
  readonly origins: OriginId[];
  readonly originIndex: Map<OriginId, number>;
  readonly tenants: Map<TenantId, TenantState>;
  /**
   * Incarnations retired by a `retire` event folded here (grow-only; of two, the higher `through`,
   * then the larger `by`, so any order of folds and merges agrees).
   */
  readonly retired: Map<OriginId, RetiredOrigin>;
  /**
   * The latest time of any event folded (0: none): a function of the version vector, so the
   * retention cutoff derived from it (retention.ts) is the same at every node at one vector.
   */
  newestAt: number;
  /**
   * The latest cutoff a retention sweep forgot records before (0: none): past the vector's own
   * cutoff (retention.ts), a checkpoint of this state would not be canonical.
   */
  sweptBefore: number;
  /** The window of full records in memory (issue 18); absent: every record stays until retention. */
  readonly recordWindow?: RecordWindow;
}

/** An empty ledger; with `recordWindow`, only that many full records stay on the heap. */
export function createLedgerState(
  options: { readonly recordWindow?: RecordWindowOptions } = {},
): LedgerState {
  const state = {
    versionVector: {},
    origins: [],
    originIndex: new Map(),
    tenants: new Map(),
    retired: new Map(),
    newestAt: 0,
    sweptBefore: 0,
  };
  return options.recordWindow === undefined
    ? state
    : { ...state, recordWindow: new RecordWindow(options.recordWindow, state.origins) };
}

/** The local index of `origin`, interning it when new. */
export function internOrigin(state: LedgerState, origin: OriginId): number {
  const known = state.originIndex.get(origin);
  if (known !== undefined) return known;
  invariant(state.origins.length < ORIGINS_MAX, `more than ${ORIGINS_MAX} origins in one ledger`);
  const index = state.origins.length;
  state.origins.push(origin);
  state.originIndex.set(origin, index);
  return index;
}

/** The tenant's state, or undefined when nothing of it is known here. */
export function getTenant(state: LedgerState, tenant: TenantId): TenantState | undefined {
  return state.tenants.get(tenant);
}

/** The tenant's state, created empty when new. */
export function ensureTenant(state: LedgerState, tenant: TenantId): TenantState {
  let found = state.tenants.get(tenant);
  if (found === undefined) {
    found = new TenantState(tenant, state);
    state.tenants.set(tenant, found);
  }
  return found;
}

/** The grant's state, created with no definition and zero cells when new. */
export function ensureGrant(tenant: TenantState, grantId: GrantId): GrantState {
  const table = tenant.grants;
  const known = table.slotOf(grantId);
  if (known >= 0) return new GrantState(tenant, known);
  const slot = table.size;
  invariant(slot < GRANT_SLOTS_MAX, `more than ${GRANT_SLOTS_MAX} grant ids of tenant ${tenant.tenant}`);
  const ids = tenant.grantIds;
  if (ids === null) tenant.grantIds = grantId;
  else tenant.grantIds = typeof ids === 'string' ? [ids, grantId] : [...ids, grantId];
  const index = tenant.grantIndex;
  if (index !== null) index.set(grantId, slot);
  else if (slot + 1 > GRANT_SCAN_MAX)
    tenant.grantIndex = new Map((tenant.grantIds as GrantId[]).map((id, at) => [id, at]));
  return new GrantState(tenant, slot);
}

/**
 * Orders grant definitions of one grant id (and revokes of one definition) the same way at every
 * replica, as duplicate debits: the origin's time, then origin id, then seq. The first wins.
 */
export function compareDefinitions(
  a: { readonly at: number; readonly origin: OriginId; readonly seq: number },
  b: { readonly at: number; readonly origin: OriginId; readonly seq: number },
): number {
  if (a.at !== b.at) return a.at - b.at;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  return a.seq - b.seq;
}

function termCode(grant: GrantState, field: number): number {
  return cellCode(grant.slot + 1, field, 0, TERMS_KIND);
}

function readTerms(grant: GrantState): GrantDefinition | null {
  const tenant = grant.owner;
  const originPriority = readPacked(tenant, termCode(grant, TERM_ORIGIN_PRIORITY));
  if (originPriority === 0) return null;
  const priority = originPriority % PRIORITY_RANGE;
  const index = (originPriority - priority) / PRIORITY_RANGE - 1;
  const expires = readPacked(tenant, termCode(grant, TERM_EXPIRES));
  return {
    // An origin grants a grant id at most once (the fold refuses a second), so its granted cell is
    // the amount of its definition.
    amount: grantCellAt(grant, index, 'granted'),
    priority,
    expiresAt: expires === 0 ? null : expires - 1,
    origin: tenant.ledger.origins[index] as OriginId,
    seq: readPacked(tenant, termCode(grant, TERM_SEQ)),
    at: readPacked(tenant, termCode(grant, TERM_AT)) - 1,
  };
}

/** True when a grant event of `grant`'s id is known here (its terms are set): no definition object. */
export function isDefined(grant: GrantState): boolean {
  return readPacked(grant.owner, termCode(grant, TERM_ORIGIN_PRIORITY)) !== 0;
}

/**
 * The winning definition's expiresAt of a defined grant (null: never expires), read without making
 * the definition: the burn path asks this per grant per decision.
 */
export function definedExpiresAt(grant: GrantState): number | null {
  const expires = readPacked(grant.owner, termCode(grant, TERM_EXPIRES));
  return expires === 0 ? null : expires - 1;
}

function writeTerms(grant: GrantState, definition: GrantDefinition): void {
  const tenant = grant.owner;
  invariant(definition.priority <= PRIORITY_MAX && PRIORITY_MAX < PRIORITY_RANGE, 'priority out of range');
  const index = internOrigin(tenant.ledger, definition.origin);
  invariant(
    grantCellAt(grant, index, 'granted') === definition.amount,
    `grant ${grant.grantId}: definition of ${definition.origin} does not match its granted cell`,
  );
  writePacked(
    tenant,
    termCode(grant, TERM_ORIGIN_PRIORITY),
    (index + 1) * PRIORITY_RANGE + definition.priority,
  );
  writePacked(tenant, termCode(grant, TERM_SEQ), definition.seq);
  writePacked(tenant, termCode(grant, TERM_AT), definition.at + 1);
  writePacked(
    tenant,
    termCode(grant, TERM_EXPIRES),
    definition.expiresAt === null ? 0 : definition.expiresAt + 1,
  );
}

/**
 * Adds `definition` to `grant` (winner first); true when the winner changed. The granted cell of
 * the definition's origin must be written first (it is the definition's amount).
 */
export function addDefinition(grant: GrantState, definition: GrantDefinition): boolean {
  const winner = grant.definition;
  if (winner === null) {
    writeTerms(grant, definition);
    return true;
  }
  const order = compareDefinitions(definition, winner);
  if (order === 0) return false;
  const tenant = grant.owner;
  const others = grant.others ?? [];
  let loser = definition;
  if (order < 0) {
    writeTerms(grant, definition);
    loser = winner;
  }
  // Binary search: a grant id may be defined at every origin (ORIGINS_MAX), so no linear scans.
  let low = 0;
  let high = others.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareDefinitions(others[middle] as GrantDefinition, loser) < 0) low = middle + 1;
    else high = middle;
  }
  if (low < others.length && compareDefinitions(others[low] as GrantDefinition, loser) === 0) return false;
  others.splice(low, 0, { ...loser });
  const bySlot = tenant.othersBySlot ?? new Map<number, GrantDefinition[]>();
  bySlot.set(grant.slot, others);
  tenant.othersBySlot = bySlot;
  return order < 0;
}

/** Cell `kind` of `origin` on `grant` (0 when the origin never wrote it). */
export function grantCell(state: LedgerState, grant: GrantState, origin: OriginId, kind: GrantCell): number {
  const index = state.originIndex.get(origin);
  return index === undefined ? 0 : grantCellAt(grant, index, kind);
}

/** Sets cell `kind` of the origin with local index `index` on `grant`. */
export function setGrantCell(grant: GrantState, index: number, kind: GrantCell, value: number): void {
  writePacked(grant.owner, cellCode(grant.slot + 1, index, 0, GRANT_CELL_INDEX[kind]), value);
}

/** Cell `kind` of the origin with local index `index` on `grant`. */
export function grantCellAt(grant: GrantState, index: number, kind: GrantCell): number {
  return readPacked(grant.owner, cellCode(grant.slot + 1, index, 0, GRANT_CELL_INDEX[kind]));
}

/** Cell `kind` of `origin` on `tenant` (0 when the origin never wrote it). */
export function tenantCell(
  state: LedgerState,
  tenant: TenantState,
  origin: OriginId,
  kind: TenantCell,
): number {
  const index = state.originIndex.get(origin);
  return index === undefined ? 0 : tenantCellAt(tenant, index, kind);
}

/** Cell `kind` of the origin with local index `index` on `tenant`. */
export function tenantCellAt(tenant: TenantState, index: number, kind: TenantCell): number {
  return readPacked(tenant, cellCode(0, index, 0, TENANT_CELL_INDEX[kind]));
}

/** Sets cell `kind` of the origin with local index `index` on `tenant`. */
export function setTenantCell(tenant: TenantState, index: number, kind: TenantCell, value: number): void {
  writePacked(tenant, cellCode(0, index, 0, TENANT_CELL_INDEX[kind]), value);
}

/** `moved[from→to]` on `grant` by local indices. */
export function movedAt(grant: GrantState, from: number, to: number): number {
  return readPacked(grant.owner, cellCode(grant.slot + 1, from, to, MOVED_KIND));
}

/** Sets `moved[from→to]` on `grant` by local indices. */
export function setMovedAt(grant: GrantState, from: number, to: number, value: number): void {
  writePacked(grant.owner, cellCode(grant.slot + 1, from, to, MOVED_KIND), value);
}

/** `retired[lost→current]` on `grant` by local indices. */
export function retiredAt(grant: GrantState, lost: number, current: number): number {
  return readPacked(grant.owner, cellCode(grant.slot + 1, lost, current, RETIRED_KIND));
}

/** Sets `retired[lost→current]` on `grant` by local indices. */
export function setRetiredAt(grant: GrantState, lost: number, current: number, value: number): void {
  writePacked(grant.owner, cellCode(grant.slot + 1, lost, current, RETIRED_KIND), value);
}

/** Calls `visit(lost, current, amount)` for every non-zero retired cell of `grant` (local indices). */
export function forEachRetired(
  grant: GrantState,
  visit: (lost: number, current: number, amount: number) => void,
): void {
  forEachInSlot(grant.owner, grant.slot + 1, (kind, lost, current, value) => {
    if (kind === RETIRED_KIND && value !== 0) visit(lost, current, value);
  });
}

/** Records that `origin` is retired (see LedgerState.retired); true when that changed anything. */
export function noteRetired(state: LedgerState, origin: OriginId, retired: RetiredOrigin): boolean {
  const known = state.retired.get(origin);
  if (
    known !== undefined &&
    (known.through > retired.through || (known.through === retired.through && known.by >= retired.by))
  )
    return false;
  state.retired.set(origin, { by: retired.by, through: retired.through });
  return true;
}

/** Calls `visit(from, to, amount)` for every non-zero moved[from→to] of `grant` (local indices). */
export function forEachMoved(
  grant: GrantState,
  visit: (from: number, to: number, amount: number) => void,
): void {
  forEachInSlot(grant.owner, grant.slot + 1, (kind, from, to, value) => {
    if (kind === MOVED_KIND && value !== 0) visit(from, to, value);
  });
}

/**
 * rights(r) = granted[r] + Σ_s moved[s→r] − Σ_s moved[r→s] − debited[r] + refunded[r] − expired[r]
 * + Σ_l retired[l→r] − Σ_c retired[r→c] for the origin with local index `index`. Seen from another replica it may be transiently
 * negative (it saw r spend rights that r received by a move it has not seen yet); at r itself it
 * never is.
 */
export function rightsAt(grant: GrantState, index: number): number {
  // A direct scan of the slot's codes (no visitor closure): this runs per grant per decision.
  const owner = grant.owner;
  const codes = owner.shape.codes;
  const values = owner.values;
  const end = codeOfSlot(grant.slot + 2);
  let rights = 0;
  for (let at = slotStart(owner, grant.slot + 1); at < codes.length; at++) {
    const code = codes[at] as number;
    if (code >= end) break;
    const kind = codeKind(code);
    if (kind === MOVED_KIND || kind === RETIRED_KIND) {
      const value = values[at] as number;
      if (codeB(code) === index) rights += value;
      if (codeA(code) === index) rights -= value;
    } else if (kind < 4 && codeA(code) === index) {
      const value = values[at] as number;
      rights += kind === 0 || kind === 2 ? value : -value;
    }
  }
  return rights;
}

/** Σ of the numbers of kind `wanted` in `slot` of `packed`. */
function slotKindTotal(packed: Packed, slot: number, wanted: number): number {
  const codes = packed.shape.codes;
  const end = codeOfSlot(slot + 1);
  let total = 0;
  for (let at = slotStart(packed, slot); at < codes.length; at++) {
    const code = codes[at] as number;
    if (code >= end) break;
    if (codeKind(code) === wanted) total += packed.values[at] as number;
  }
  return total;
}

/** Σ over origins of one grant cell. */
export function grantCellTotal(grant: GrantState, kind: GrantCell): number {
  return slotKindTotal(grant.owner, grant.slot + 1, GRANT_CELL_INDEX[kind]);
}

/** A tenant's cells summed over origins (and grants), as its totals need them. */
export interface TenantSums {
  /** Σ granted cells of every grant. */
  readonly granted: number;
  /** Σ expired cells of every grant. */
  readonly expired: number;
  readonly debited: number;
  readonly refunded: number;
  readonly revoked: number;
  readonly held: number;
  readonly heldSettled: number;
}

function checkedAdd(total: number, value: number, what: string, tenant: TenantState): number {
  const sum = total + value;
  if (!Number.isSafeInteger(sum) || sum > AMOUNT_MAX)
    throw new AmountLimitError(`${what} of ${tenant.tenant}`, total, value);
  return sum;
}

/**
 * The sums of a tenant's figures in one pass over its packed numbers, each checked against the
 * amount limit (a balance read runs this once per decision: no views, closures or arrays).
 */
export function tenantSums(tenant: TenantState): TenantSums {
  const codes = tenant.shape.codes;
  const values = tenant.values;
  const grantsFrom = codeOfSlot(1);
  let granted = 0;
  let expired = 0;
  let debited = 0;
  let refunded = 0;
  let revoked = 0;
  let held = 0;
  let heldSettled = 0;
  for (let at = 0; at < codes.length; at++) {
    const code = codes[at] as number;
    const value = values[at] as number;
    const kind = codeKind(code);
    if (code >= grantsFrom) {
      if (kind === GRANT_CELL_INDEX.granted) granted = checkedAdd(granted, value, 'granted', tenant);
      else if (kind === GRANT_CELL_INDEX.expired) expired = checkedAdd(expired, value, 'expired', tenant);
    } else if (kind === TENANT_CELL_INDEX.debited) debited = checkedAdd(debited, value, 'debited', tenant);
    else if (kind === TENANT_CELL_INDEX.refunded) refunded = checkedAdd(refunded, value, 'refunded', tenant);
    else if (kind === TENANT_CELL_INDEX.revoked) revoked = checkedAdd(revoked, value, 'revoked', tenant);
    else if (kind === TENANT_CELL_INDEX.held) held = checkedAdd(held, value, 'held', tenant);
    else if (kind === TENANT_CELL_INDEX.heldSettled)
      heldSettled = checkedAdd(heldSettled, value, 'settled holds', tenant);
  }
  return { granted, expired, debited, refunded, revoked, held, heldSettled };
}

/** Calls `visit(kind, index, value)` for every stored cell of `tenant` itself (not its grants). */
export function forEachTenantCell(
  tenant: TenantState,
  visit: (kind: TenantCell, index: number, value: number) => void,
): void {
  forEachInSlot(tenant, 0, (kind, index, _b, value) => visit(TENANT_CELLS[kind] as TenantCell, index, value));
}

/** Σ over origins of one tenant cell. */
export function tenantCellTotal(tenant: TenantState, kind: TenantCell): number {
  return slotKindTotal(tenant, 0, TENANT_CELL_INDEX[kind]);
}
