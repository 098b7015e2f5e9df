/**
 * The ledger state: per tenant, per grant, the escrow counter of DESIGN.md §1 with its grow-only
 * cells, plus the per-origin totals and the debit and refund records that refunds and idempotency
 * need. Every cell has exactly one writer (the origin it is indexed by), so merge is a per-cell max.
 *
 * Packed (DESIGN.md §2 "State, packed"): a tenant's cells and all its grants' cells (moved cells
 * included) are one sorted array of [code, value] pairs of unboxed doubles, non-zero cells only,
 * keyed by grant slot and origin local index (both interned); grants are a small table found by a
 * scan while few. Local indices and slots depend on arrival order and never leave this module's
 * state: everything encoded or compared uses origin and grant ids.
 */
import { invariant } from './amount.js';
import type { Json, Part } from './events.js';
import type { DebitId, GrantId, OriginId, RefundId, TenantId } from './ids.js';
import { GRANT_SCAN_MAX, GRANT_SLOTS_MAX, ORIGINS_MAX } from './limits.js';

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
};

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
 * One grant of a tenant: its terms (null until its grant event is known here), its losing
 * definitions, and its slot in the tenant's packed cells (the cells themselves live in the
 * tenant's `cells`, not in this object).
 */
export interface GrantState {
  readonly grantId: GrantId;
  definition: GrantDefinition | null;
  /** Losing definitions of the same grant id at other origins (compareRecords order); null: none. */
  others: GrantDefinition[] | null;
  /** Position in the tenant's grant table; keys this grant's cells in the tenant's packed cells. */
  readonly slot: number;
  /** The tenant whose packed cells hold this grant's cells. */
  readonly owner: TenantState;
}

/** A debit as recorded in the ledger (the fields of its event, with its id). */
export interface DebitRecord {
  readonly debitId: DebitId;
  readonly tenant: TenantId;
  readonly origin: OriginId;
  readonly seq: number;
  readonly at: number;
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly parts: readonly Part[];
  readonly overdraft: number;
  readonly metadata: Json;
}

/** A refund as recorded in the ledger. */
export interface RefundRecord {
  readonly refundId: RefundId;
  readonly tenant: TenantId;
  readonly origin: OriginId;
  readonly seq: number;
  readonly at: number;
  readonly debitId: DebitId;
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly parts: readonly Part[];
  readonly overdraft: number;
}

/** A revoke of a duplicate grant definition, as recorded in the ledger. */
export interface RevokeRecord {
  readonly revokeId: string;
  readonly tenant: TenantId;
  readonly origin: OriginId;
  readonly seq: number;
  readonly at: number;
  readonly grantId: GrantId;
  readonly loser: OriginId;
  readonly total: number;
  readonly amount: number;
  readonly parts: readonly Part[];
  readonly overdraft: number;
}

/** The key of the revokes of `loser`'s definition of `grantId`. */
export function revokeKey(grantId: GrantId, loser: OriginId): string {
  return `${grantId}\u0000${loser}`;
}

/** Where the revoke of one duplicate definition stands: what it must take back, what it took. */
export interface RevokeStanding {
  readonly total: number;
  readonly charged: number;
}

/**
 * The grants of one tenant in arrival order (a slot is a position here, never reused), found by id
 * with a linear scan while few (most tenants hold 1–3 grants) and through a Map beyond
 * GRANT_SCAN_MAX. Map-like reads so callers do not depend on the layout.
 */
export class GrantTable {
  /** The grant in slot 0 (most tenants hold one), kept out of any array. */
  private first: GrantState | null = null;
  /** Grants in slots 1…, exact-size; null while there is at most one. */
  private rest: GrantState[] | null = null;
  private index: Map<GrantId, GrantState> | null = null;

  /** How many grant ids are known (defined or pending). */
  get size(): number {
    return this.first === null ? 0 : 1 + (this.rest?.length ?? 0);
  }

  /** The grant with id `grantId`, if known. */
  get(grantId: GrantId): GrantState | undefined {
    if (this.index !== null) return this.index.get(grantId);
    if (this.first?.grantId === grantId) return this.first;
    if (this.rest !== null) for (const grant of this.rest) if (grant.grantId === grantId) return grant;
    return undefined;
  }

  /** True when `grantId` is known. */
  has(grantId: GrantId): boolean {
    return this.get(grantId) !== undefined;
  }

  /** Adds a new grant in the next slot (its id must not be known). */
  add(grant: GrantState): void {
    invariant(grant.slot === this.size, `grant ${grant.grantId} added out of slot order`);
    if (this.first === null) this.first = grant;
    else this.rest = this.rest === null ? [grant] : [...this.rest, grant];
    if (this.index !== null) this.index.set(grant.grantId, grant);
    else if (this.size > GRANT_SCAN_MAX) this.index = new Map([...this].map(([id, known]) => [id, known]));
  }

  /** The grants in slot order. */
  *values(): IterableIterator<GrantState> {
    if (this.first !== null) yield this.first;
    if (this.rest !== null) yield* this.rest;
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

/** Everything the ledger knows of one tenant. */
export interface TenantState {
  readonly tenant: TenantId;
  readonly grants: GrantTable;
  /** Defined grants in burn order; null when it must be recomputed. */
  burnOrder: GrantState[] | null;
  /**
   * Every non-zero cell of the tenant and of its grants, packed: pairs `[code, value]` sorted by
   * code (see cellCode), unboxed doubles in one exact-size array. Zero cells are not stored.
   */
  cells: number[];
  debits: Map<DebitId, DebitRecord> | null;
  /** Idempotency key → debits recorded with it (more than one only after a cross-region race). */
  debitsByKey: Map<string, DebitId[]> | null;
  refunds: Map<RefundId, RefundRecord> | null;
  refundsByKey: Map<string, RefundId[]> | null;
  /** Debit id → sum of its refunds known here (also for debits not known here yet). */
  refundedByDebit: Map<DebitId, number> | null;
  /** revokeKey(grant, loser) → its revokes, first first; never forgotten (few: one per duplicate). */
  revokes: Map<string, RevokeRecord[]> | null;
}

/** One replica's view of the ledger: the fold of a prefix of each origin's log. */
export interface LedgerState {
  /** How much of each origin's log is folded in. */
  readonly versionVector: Record<OriginId, number>;
  readonly origins: OriginId[];
  readonly originIndex: Map<OriginId, number>;
  readonly tenants: Map<TenantId, TenantState>;
}

/** An empty ledger. */
export function createLedgerState(): LedgerState {
  return { versionVector: {}, origins: [], originIndex: new Map(), tenants: new Map() };
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
    found = {
      tenant,
      grants: new GrantTable(),
      burnOrder: null,
      cells: [],
      debits: null,
      debitsByKey: null,
      refunds: null,
      refundsByKey: null,
      refundedByDebit: null,
      revokes: null,
    };
    state.tenants.set(tenant, found);
  }
  return found;
}

/** The grant's state, created with no definition and zero cells when new. */
export function ensureGrant(tenant: TenantState, grantId: GrantId): GrantState {
  let grant = tenant.grants.get(grantId);
  if (grant === undefined) {
    const slot = tenant.grants.size;
    invariant(slot < GRANT_SLOTS_MAX, `more than ${GRANT_SLOTS_MAX} grant ids of tenant ${tenant.tenant}`);
    grant = { grantId, definition: null, others: null, slot, owner: tenant };
    tenant.grants.add(grant);
  }
  return grant;
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

/** Adds `definition` to `grant` (winner first); true when the winner changed. */
export function addDefinition(grant: GrantState, definition: GrantDefinition): boolean {
  const winner = grant.definition;
  if (winner === null) {
    grant.definition = definition;
    return true;
  }
  const order = compareDefinitions(definition, winner);
  if (order === 0) return false;
  const others = grant.others ?? [];
  let loser = definition;
  if (order < 0) {
    grant.definition = definition;
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
  others.splice(low, 0, loser);
  grant.others = others;
  return order < 0;
}

/** Kinds per code: grant cells 0–3, tenant cells 0–5, MOVED_KIND for moved[from→to]. */
const CODE_KINDS = 8;
/** The kind of a moved[from→to] code (grant cells are 0–3 with `to` = 0, so codes never collide). */
const MOVED_KIND = 6;
/** Above this many stored cells a new cell grows the array in place (amortized) instead of copying. */
const EXACT_COPY_MAX = 1_024;

/**
 * The key of one cell in a tenant's packed cells: slot 0 is the tenant's own cells, slot s + 1 the
 * cells of the grant in slot s; `a` is the writing origin's local index (the `from` of a move) and
 * `b` the `to` of a move (0 for other cells). Sorted by code, one grant's cells are contiguous. The
 * largest code, (GRANT_SLOTS_MAX + 1) · ORIGINS_MAX² · CODE_KINDS = 2^52, is an exact integer.
 */
function cellCode(slot: number, a: number, b: number, kind: number): number {
  return ((slot * ORIGINS_MAX + a) * ORIGINS_MAX + b) * CODE_KINDS + kind;
}

/** First pair position whose code is ≥ `code`. */
function lowerBound(cells: readonly number[], code: number): number {
  let low = 0;
  let high = cells.length >> 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((cells[middle * 2] as number) < code) low = middle + 1;
    else high = middle;
  }
  return low;
}

function readPacked(cells: readonly number[], code: number): number {
  const at = lowerBound(cells, code);
  return cells[at * 2] === code ? (cells[at * 2 + 1] as number) : 0;
}

function writePacked(tenant: TenantState, code: number, value: number): void {
  const cells = tenant.cells;
  const at = lowerBound(cells, code);
  if (cells[at * 2] === code) {
    cells[at * 2 + 1] = value;
    return;
  }
  if (value === 0) return;
  if (cells.length >= EXACT_COPY_MAX) {
    cells.splice(at * 2, 0, code, value);
    return;
  }
  // A new cell is rare (once per origin, kind and grant): copy into an exact-size array so a
  // tenant's cells carry no growth slack.
  const next: number[] = new Array(cells.length + 2);
  for (let i = 0; i < at * 2; i++) next[i] = cells[i] as number;
  next[at * 2] = code;
  next[at * 2 + 1] = value;
  for (let i = at * 2; i < cells.length; i++) next[i + 2] = cells[i] as number;
  tenant.cells = next;
}

/** Calls `visit(kind, a, b, value)` for every stored cell of `slot` (0: the tenant, s + 1: grant s). */
function forEachInSlot(
  cells: readonly number[],
  slot: number,
  visit: (kind: number, a: number, b: number, value: number) => void,
): void {
  const end = cellCode(slot + 1, 0, 0, 0);
  for (let at = lowerBound(cells, cellCode(slot, 0, 0, 0)) * 2; at < cells.length; at += 2) {
    const code = cells[at] as number;
    if (code >= end) break;
    const kind = code % CODE_KINDS;
    const rest = (code - kind) / CODE_KINDS;
    const b = rest % ORIGINS_MAX;
    const a = ((rest - b) / ORIGINS_MAX) % ORIGINS_MAX;
    visit(kind, a, b, cells[at + 1] as number);
  }
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
  return readPacked(grant.owner.cells, cellCode(grant.slot + 1, index, 0, GRANT_CELL_INDEX[kind]));
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
  return readPacked(tenant.cells, cellCode(0, index, 0, TENANT_CELL_INDEX[kind]));
}

/** Sets cell `kind` of the origin with local index `index` on `tenant`. */
export function setTenantCell(tenant: TenantState, index: number, kind: TenantCell, value: number): void {
  writePacked(tenant, cellCode(0, index, 0, TENANT_CELL_INDEX[kind]), value);
}

/** `moved[from→to]` on `grant` by local indices. */
export function movedAt(grant: GrantState, from: number, to: number): number {
  return readPacked(grant.owner.cells, cellCode(grant.slot + 1, from, to, MOVED_KIND));
}

/** Sets `moved[from→to]` on `grant` by local indices. */
export function setMovedAt(grant: GrantState, from: number, to: number, value: number): void {
  writePacked(grant.owner, cellCode(grant.slot + 1, from, to, MOVED_KIND), value);
}

/** Calls `visit(from, to, amount)` for every non-zero moved[from→to] of `grant` (local indices). */
export function forEachMoved(
  grant: GrantState,
  visit: (from: number, to: number, amount: number) => void,
): void {
  forEachInSlot(grant.owner.cells, grant.slot + 1, (kind, from, to, value) => {
    if (kind === MOVED_KIND && value !== 0) visit(from, to, value);
  });
}

/**
 * rights(r) = granted[r] + Σ_s moved[s→r] − Σ_s moved[r→s] − debited[r] + refunded[r] − expired[r]
 * for the origin with local index `index`. Seen from another replica it may be transiently
 * negative (it saw r spend rights that r received by a move it has not seen yet); at r itself it
 * never is.
 */
export function rightsAt(grant: GrantState, index: number): number {
  let rights = 0;
  forEachInSlot(grant.owner.cells, grant.slot + 1, (kind, a, b, value) => {
    if (kind === MOVED_KIND) {
      if (b === index) rights += value;
      if (a === index) rights -= value;
    } else if (a === index) {
      rights += kind === 0 || kind === 2 ? value : -value;
    }
  });
  return rights;
}

/** rights(origin) on `grant`, by origin id. */
export function rightsOf(state: LedgerState, grant: GrantState, origin: OriginId): number {
  const index = state.originIndex.get(origin);
  return index === undefined ? 0 : rightsAt(grant, index);
}

/** Σ over origins of one grant cell. */
export function grantCellTotal(grant: GrantState, kind: GrantCell): number {
  const wanted = GRANT_CELL_INDEX[kind];
  let total = 0;
  forEachInSlot(grant.owner.cells, grant.slot + 1, (found, _a, _b, value) => {
    if (found === wanted) total += value;
  });
  return total;
}

/** Calls `visit(kind, index, value)` for every stored cell of `tenant` itself (not its grants). */
export function forEachTenantCell(
  tenant: TenantState,
  visit: (kind: TenantCell, index: number, value: number) => void,
): void {
  forEachInSlot(tenant.cells, 0, (kind, index, _b, value) =>
    visit(TENANT_CELLS[kind] as TenantCell, index, value),
  );
}

/** Σ over origins of one tenant cell. */
export function tenantCellTotal(tenant: TenantState, kind: TenantCell): number {
  const wanted = TENANT_CELL_INDEX[kind];
  let total = 0;
  forEachInSlot(tenant.cells, 0, (found, _a, _b, value) => {
    if (found === wanted) total += value;
  });
  return total;
}

/** What is left of a grant over all origins: granted − debited + refunded − expired. */
export function grantRemaining(grant: GrantState): number {
  return (
    grantCellTotal(grant, 'granted') -
    grantCellTotal(grant, 'debited') +
    grantCellTotal(grant, 'refunded') -
    grantCellTotal(grant, 'expired')
  );
}

/** Overdraft of the origin with local index `index` not yet repaid or refunded. */
export function overdraftInUseAt(tenant: TenantState, index: number): number {
  return (
    tenantCellAt(tenant, index, 'overdrawn') -
    tenantCellAt(tenant, index, 'repaid') -
    tenantCellAt(tenant, index, 'overdraftRefunded')
  );
}

/**
 * Compares grants in burn order: priority, then earliest expiry (never-expiring last), then grant id.
 * Both grants must be defined.
 */
export function compareBurnOrder(a: GrantState, b: GrantState): number {
  const x = a.definition as GrantDefinition;
  const y = b.definition as GrantDefinition;
  if (x.priority !== y.priority) return x.priority - y.priority;
  if (x.expiresAt !== y.expiresAt) {
    if (x.expiresAt === null) return 1;
    if (y.expiresAt === null) return -1;
    return x.expiresAt - y.expiresAt;
  }
  return a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0;
}

/** The tenant's defined grants in burn order (cached until a definition changes). */
export function burnOrder(tenant: TenantState): readonly GrantState[] {
  if (tenant.burnOrder === null) {
    const defined: GrantState[] = [];
    for (const grant of tenant.grants.values()) if (grant.definition !== null) defined.push(grant);
    tenant.burnOrder = defined.sort(compareBurnOrder);
  }
  return tenant.burnOrder;
}

/** True when `grant` is defined and not expired at `now` (it may be burnt). */
export function isLive(grant: GrantState, now: number): boolean {
  const definition = grant.definition;
  return definition !== null && (definition.expiresAt === null || now < definition.expiresAt);
}

/** Where the revoke of `loser`'s definition of `grantId` stands; undefined before its first revoke. */
export function revokeStanding(
  tenant: TenantState,
  grantId: GrantId,
  loser: OriginId,
): RevokeStanding | undefined {
  const revokes = tenant.revokes?.get(revokeKey(grantId, loser));
  if (revokes === undefined || revokes.length === 0) return undefined;
  let charged = 0;
  for (const revoke of revokes) charged += revoke.amount;
  return { total: (revokes[0] as RevokeRecord).total, charged };
}
