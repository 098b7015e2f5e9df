/**
 * Reading and writing the cells of the escrow counter (DESIGN.md §1) in a tenant's packed values:
 * per origin a grant's granted, debited, refunded and expired cells, moved and retired cells, the
 * tenant's own per-origin totals, the rights they add up to, and their sums over origins.
 */
import { AmountLimitError } from './amount.js';
import {
  GRANT_CELL_INDEX,
  type GrantCell,
  MOVED_KIND,
  RETIRED_KIND,
  TENANT_CELL_INDEX,
  TENANT_CELLS,
  type TenantCell,
} from './cell-codes.js';
import type { OriginId } from './ids.js';
import { AMOUNT_MAX } from './limits.js';
import {
  cellCode,
  codeA,
  codeB,
  codeKind,
  codeOfSlot,
  forEachInSlot,
  type Packed,
  readPacked,
  slotStart,
  writePacked,
} from './packed.js';
import type { GrantState, LedgerState, TenantState } from './state.js';

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

/** A grant's cells summed over origins, as one pass over its slot gives them (see `scanGrant`). */
export interface GrantTotals {
  readonly granted: number;
  readonly debited: number;
  readonly refunded: number;
  readonly expired: number;
}

/** scanGrant's scratch: one grant's rights per origin (grows to the largest origin count seen). */
let grantShare: number[] = [];

/**
 * One pass over `grant`'s slot for a balance read: adds `rightsAt(grant, i)` to `rights[i]` and sets
 * `touched[i]` when origin `i` wrote a non-zero cell of the grant or holds non-zero rights of it,
 * for every origin index below `rights.length`; returns the grant's cells summed over origins
 * (`grantCellTotal` of each kind). The same figures as those calls per origin, without a search
 * per origin and cell (a balance read was origins × grants × cells lookups).
 */
export function scanGrant(grant: GrantState, rights: number[], touched: Uint8Array): GrantTotals {
  const owner = grant.owner;
  const codes = owner.shape.codes;
  const values = owner.values;
  const end = codeOfSlot(grant.slot + 2);
  const origins = rights.length;
  // This grant's rights per origin, apart, so that each origin's sum runs in code order as in rightsAt.
  if (grantShare.length < origins) grantShare = new Array(origins).fill(0);
  const share = grantShare;
  share.fill(0, 0, origins);
  let granted = 0;
  let debited = 0;
  let refunded = 0;
  let expired = 0;
  for (let at = slotStart(owner, grant.slot + 1); at < codes.length; at++) {
    const code = codes[at] as number;
    if (code >= end) break;
    const kind = codeKind(code);
    const value = values[at] as number;
    if (kind === MOVED_KIND || kind === RETIRED_KIND) {
      const to = codeB(code);
      const from = codeA(code);
      if (to < origins) share[to] = (share[to] as number) + value;
      if (from < origins) share[from] = (share[from] as number) - value;
    } else if (kind < 4) {
      const index = codeA(code);
      if (kind === GRANT_CELL_INDEX.granted) granted += value;
      else if (kind === GRANT_CELL_INDEX.debited) debited += value;
      else if (kind === GRANT_CELL_INDEX.refunded) refunded += value;
      else expired += value;
      if (index < origins) {
        share[index] = (share[index] as number) + (kind === 0 || kind === 2 ? value : -value);
        if (value !== 0) touched[index] = 1;
      }
    }
  }
  for (let index = 0; index < origins; index++) {
    const value = share[index] as number;
    if (value === 0) continue;
    touched[index] = 1;
    rights[index] = (rights[index] as number) + value;
  }
  return { granted, debited, refunded, expired };
}

/** Sets `touched[i]` for every origin index `i` below its length that holds a non-zero cell of `tenant` itself. */
export function markTenantCells(tenant: TenantState, touched: Uint8Array): void {
  const codes = tenant.shape.codes;
  const values = tenant.values;
  const end = codeOfSlot(1);
  for (let at = 0; at < codes.length; at++) {
    const code = codes[at] as number;
    if (code >= end) break;
    const index = codeA(code);
    if ((values[at] as number) !== 0 && index < touched.length) touched[index] = 1;
  }
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
