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
import { invariant } from './amount.js';
import {
  GRANT_CELL_INDEX,
  PRIORITY_RANGE,
  TERM_AT,
  TERM_EXPIRES,
  TERM_ORIGIN_PRIORITY,
  TERM_SEQ,
  termCode,
} from './cell-codes.js';
import type { DebitId, GrantId, OriginId, RefundId, TenantId } from './ids.js';
import type { KeyIds } from './key-ids.js';
import { GRANT_SCAN_MAX, GRANT_SLOTS_MAX, ORIGINS_MAX } from './limits.js';
import { cellCode, EMPTY_SHAPE, type Packed, readPacked, type Shape } from './packed.js';
import { RecordWindow, type RecordWindowOptions } from './record-window.js';
import type { DebitRecord, HoldRecord, RefundRecord, RevokeRecord } from './records.js';

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
  debitsByKey: KeyIds | null = null;
  refunds: Map<RefundId, RefundRecord> | null = null;
  refundsByKey: KeyIds | null = null;
  refundedByDebit: Map<DebitId, number> | null = null;
  revokes: Map<string, RevokeRecord[]> | null = null;
  holds: Map<DebitId, HoldRecord> | null = null;
  holdsByKey: KeyIds | null = null;
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
  get holdsByKey(): KeyIds | null {
    return this.extra === null ? null : this.extra.holdsByKey;
  }
  set holdsByKey(value: KeyIds | null) {
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
  get debitsByKey(): KeyIds | null {
    return this.extra === null ? null : this.extra.debitsByKey;
  }
  set debitsByKey(value: KeyIds | null) {
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
  get refundsByKey(): KeyIds | null {
    return this.extra === null ? null : this.extra.refundsByKey;
  }
  set refundsByKey(value: KeyIds | null) {
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

function readTerms(grant: GrantState): GrantDefinition | null {
  const tenant = grant.owner;
  const originPriority = readPacked(tenant, termCode(grant.slot, TERM_ORIGIN_PRIORITY));
  if (originPriority === 0) return null;
  const priority = originPriority % PRIORITY_RANGE;
  const index = (originPriority - priority) / PRIORITY_RANGE - 1;
  const expires = readPacked(tenant, termCode(grant.slot, TERM_EXPIRES));
  return {
    // An origin grants a grant id at most once (the fold refuses a second), so its granted cell is
    // the amount of its definition.
    amount: readPacked(tenant, cellCode(grant.slot + 1, index, 0, GRANT_CELL_INDEX.granted)),
    priority,
    expiresAt: expires === 0 ? null : expires - 1,
    origin: tenant.ledger.origins[index] as OriginId,
    seq: readPacked(tenant, termCode(grant.slot, TERM_SEQ)),
    at: readPacked(tenant, termCode(grant.slot, TERM_AT)) - 1,
  };
}
