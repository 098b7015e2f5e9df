/**
 * Where each number of a tenant lives in its packed values (packed.ts): which code kind and slot
 * holds a grant cell, a tenant cell, a moved or retired cell, or a field of a grant's winning terms.
 * The one place that knows the layout; state, cells and terms read and write through it.
 */
import { cellCode } from './packed.js';

/** Cells of a grant, per origin. */
export const GRANT_CELLS = ['granted', 'debited', 'refunded', 'expired'] as const;
/** One of the per-origin cells of a grant. */
export type GrantCell = (typeof GRANT_CELLS)[number];
export const GRANT_CELL_INDEX: Record<GrantCell, number> = {
  granted: 0,
  debited: 1,
  refunded: 2,
  expired: 3,
};

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
export const TENANT_CELL_INDEX: Record<TenantCell, number> = {
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
export const MOVED_KIND = 6;
/**
 * Code kind of retired[lost→current]: rights of a retired incarnation `a` taken over by the current
 * incarnation `b` of its region. Unlike moved, its one writer is `b` (the retire event's origin).
 */
export const RETIRED_KIND = 4;
/** Code kind of a grant's winning terms; `a` is the field (TERM_*). */
export const TERMS_KIND = 7;
/** Terms field: (origin local index + 1) · 2^20 + priority (PRIORITY_MAX < 2^20). */
export const TERM_ORIGIN_PRIORITY = 0;
/** Terms field: the defining event's seq. */
export const TERM_SEQ = 1;
/** Terms field: the defining event's time + 1. */
export const TERM_AT = 2;
/** Terms field: expiresAt + 1; absent (0) for a grant that never expires. */
export const TERM_EXPIRES = 3;
/** Terms field TERM_ORIGIN_PRIORITY's radix: priorities below it, origin index + 1 above. */
export const PRIORITY_RANGE = 2 ** 20;

/** The code of terms field `field` (TERM_*) of the grant in `slot`. */
export function termCode(slot: number, field: number): number {
  return cellCode(slot + 1, field, 0, TERMS_KIND);
}
