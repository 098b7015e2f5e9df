/**
 * The ledger state: per tenant, per grant, the escrow counter of DESIGN.md §1 with its grow-only
 * cells, plus the per-origin totals and the debit and refund records that refunds and idempotency
 * need. Every cell has exactly one writer (the origin it is indexed by), so merge is a per-cell max.
 *
 * Cells are kept in flat number arrays indexed by an origin's local index (interned per state), so
 * a tenant with one grant and three regions costs a few small arrays, not a tree of objects.
 * Local indices depend on arrival order and never leave this module's state: everything encoded or
 * compared uses origin ids.
 */
import { invariant } from './amount.js';
import type { Json, Part } from './events.js';
import type { DebitId, GrantId, OriginId, RefundId, TenantId } from './ids.js';
import { ORIGINS_MAX } from './limits.js';

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
/** Cells per origin in a tenant's cell array. */
const TENANT_STRIDE = 6;
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

/** One grant of a tenant: its terms (null until its grant event is known here) and its cells. */
export interface GrantState {
  readonly grantId: GrantId;
  definition: GrantDefinition | null;
  /** Losing definitions of the same grant id at other origins (compareRecords order); null: none. */
  others: GrantDefinition[] | null;
  /** `cells[index * 4 + k]` is cell GRANT_CELLS[k] of the origin with local index `index`. */
  cells: number[];
  /** `moved[from→to]`, keyed `from * ORIGINS_MAX + to` by local index; null while nothing moved. */
  moved: Map<number, number> | null;
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

/** Everything the ledger knows of one tenant. */
export interface TenantState {
  readonly tenant: TenantId;
  readonly grants: Map<GrantId, GrantState>;
  /** Defined grants in burn order; null when it must be recomputed. */
  burnOrder: GrantState[] | null;
  /** `cells[index * TENANT_STRIDE + k]` is cell TENANT_CELLS[k] of the origin with local index `index`. */
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
      grants: new Map(),
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
    grant = { grantId, definition: null, others: null, cells: [], moved: null };
    tenant.grants.set(grantId, grant);
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

function readCell(cells: readonly number[], at: number): number {
  return cells[at] ?? 0;
}

function writeCell(cells: number[], at: number, value: number): void {
  // Grow densely with zeros so the array stays packed (holey arrays are slower and larger).
  while (cells.length < at) cells.push(0);
  if (cells.length === at) cells.push(value);
  else cells[at] = value;
}

/** Cell `kind` of `origin` on `grant` (0 when the origin never wrote it). */
export function grantCell(state: LedgerState, grant: GrantState, origin: OriginId, kind: GrantCell): number {
  const index = state.originIndex.get(origin);
  return index === undefined ? 0 : readCell(grant.cells, index * 4 + GRANT_CELL_INDEX[kind]);
}

/** Sets cell `kind` of the origin with local index `index` on `grant`. */
export function setGrantCell(grant: GrantState, index: number, kind: GrantCell, value: number): void {
  writeCell(grant.cells, index * 4 + GRANT_CELL_INDEX[kind], value);
}

/** Cell `kind` of the origin with local index `index` on `grant`. */
export function grantCellAt(grant: GrantState, index: number, kind: GrantCell): number {
  return readCell(grant.cells, index * 4 + GRANT_CELL_INDEX[kind]);
}

/** Cell `kind` of `origin` on `tenant` (0 when the origin never wrote it). */
export function tenantCell(
  state: LedgerState,
  tenant: TenantState,
  origin: OriginId,
  kind: TenantCell,
): number {
  const index = state.originIndex.get(origin);
  return index === undefined ? 0 : readCell(tenant.cells, index * TENANT_STRIDE + TENANT_CELL_INDEX[kind]);
}

/** Cell `kind` of the origin with local index `index` on `tenant`. */
export function tenantCellAt(tenant: TenantState, index: number, kind: TenantCell): number {
  return readCell(tenant.cells, index * TENANT_STRIDE + TENANT_CELL_INDEX[kind]);
}

/** Sets cell `kind` of the origin with local index `index` on `tenant`. */
export function setTenantCell(tenant: TenantState, index: number, kind: TenantCell, value: number): void {
  writeCell(tenant.cells, index * TENANT_STRIDE + TENANT_CELL_INDEX[kind], value);
}

/** The key of moved[from→to] by local indices. */
export function movedKey(from: number, to: number): number {
  return from * ORIGINS_MAX + to;
}

/** `moved[from→to]` on `grant` by local indices. */
export function movedAt(grant: GrantState, from: number, to: number): number {
  return grant.moved?.get(movedKey(from, to)) ?? 0;
}

/** Sets `moved[from→to]` on `grant` by local indices. */
export function setMovedAt(grant: GrantState, from: number, to: number, value: number): void {
  if (grant.moved === null) grant.moved = new Map();
  grant.moved.set(movedKey(from, to), value);
}

/**
 * rights(r) = granted[r] + Σ_s moved[s→r] − Σ_s moved[r→s] − debited[r] + refunded[r] − expired[r]
 * for the origin with local index `index`. Seen from another replica it may be transiently
 * negative (it saw r spend rights that r received by a move it has not seen yet); at r itself it
 * never is.
 */
export function rightsAt(grant: GrantState, index: number): number {
  let rights =
    grantCellAt(grant, index, 'granted') -
    grantCellAt(grant, index, 'debited') +
    grantCellAt(grant, index, 'refunded') -
    grantCellAt(grant, index, 'expired');
  if (grant.moved !== null) {
    for (const [key, amount] of grant.moved) {
      const from = Math.floor(key / ORIGINS_MAX);
      const to = key - from * ORIGINS_MAX;
      if (to === index) rights += amount;
      if (from === index) rights -= amount;
    }
  }
  return rights;
}

/** rights(origin) on `grant`, by origin id. */
export function rightsOf(state: LedgerState, grant: GrantState, origin: OriginId): number {
  const index = state.originIndex.get(origin);
  return index === undefined ? 0 : rightsAt(grant, index);
}

/** Σ over origins of one grant cell. */
export function grantCellTotal(grant: GrantState, kind: GrantCell): number {
  const offset = GRANT_CELL_INDEX[kind];
  let total = 0;
  for (let at = offset; at < grant.cells.length; at += 4) total += grant.cells[at] as number;
  return total;
}

/** Σ over origins of one tenant cell. */
export function tenantCellTotal(tenant: TenantState, kind: TenantCell): number {
  const offset = TENANT_CELL_INDEX[kind];
  let total = 0;
  for (let at = offset; at < tenant.cells.length; at += TENANT_STRIDE) total += tenant.cells[at] as number;
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
