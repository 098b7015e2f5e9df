/**
 * What the replica shows of its fold (API.md's views): a grant, a debit or refund record, and the
 * rights stranded at incarnations that no longer exist. Pure reads of the ledger state.
 */
import {
  type DebitRecord,
  debitRecordFromEvent,
  grantDefinition,
  type HoldRecord,
  heldByOrigin,
  type LedgerEvent,
  type LedgerState,
  type OriginId,
  type RefundRecord,
  refundRecordFromEvent,
  regionOf,
  rightsHeldBy,
} from '@allot/core';
import type { GrantView, HoldView } from './api.js';

/** One stranded holding: rights of an incarnation that no longer exists. */
export interface StrandedRights {
  readonly origin: OriginId;
  readonly region: string;
  /** Σ rights over every tenant and grant the lost incarnation still holds. */
  readonly rights: number;
  readonly tenants: number;
  /**
   * Σ credits of its holds still active: its lost disk may have captured or voided them, so no
   * one settles or releases them until it is retired (core `holdStranded`).
   */
  readonly held: number;
}

/** A grant as the API shows it; throws if the fold has no definition for it (a replica bug). */
export function grantView(state: LedgerState, tenant: string, grantId: string): GrantView {
  const definition = grantDefinition(state, tenant, grantId);
  if (definition === null) throw new Error(`grant ${grantId} of ${tenant} has no definition`);
  return {
    tenant,
    grantId,
    amount: definition.amount,
    priority: definition.priority,
    expiresAt: definition.expiresAt,
    origin: definition.origin,
    region: regionOf(definition.origin),
    at: definition.at,
  };
}

/**
 * The debit record a folded debit event made, from the event itself: with a record window the
 * fold may have evicted it from the heap already (issue 18). Throws for another kind (a replica bug).
 */
export function debitRecordOf(tenant: string, event: LedgerEvent): DebitRecord {
  if (event.kind !== 'debit' || event.tenant !== tenant)
    throw new Error(`event ${event.origin}/${event.seq} is no debit of ${tenant}`);
  return debitRecordFromEvent(event);
}

/** The refund record a folded refund event made, from the event itself (see debitRecordOf). */
export function refundRecordOf(tenant: string, event: LedgerEvent): RefundRecord {
  if (event.kind !== 'refund' || event.tenant !== tenant)
    throw new Error(`event ${event.origin}/${event.seq} is no refund of ${tenant}`);
  return refundRecordFromEvent(event);
}

/**
 * Rights and active holds of incarnations that are no longer any region's current one: `current`
 * maps each region to its current incarnation as this replica knows it.
 */
export function strandedRights(state: LedgerState, current: ReadonlyMap<string, OriginId>): StrandedRights[] {
  const stranded: StrandedRights[] = [];
  state.origins.forEach((origin) => {
    const region = regionOf(origin);
    const now = current.get(region);
    if (now === undefined || now === origin) return;
    const { rights, tenants } = rightsHeldBy(state, origin);
    const held = state.retired.has(origin) ? 0 : heldByOrigin(state, origin);
    if (rights > 0 || held > 0) stranded.push({ origin, region, rights, tenants, held });
  });
  return stranded;
}

/** A hold as the API shows it. */
export function holdView(hold: HoldRecord): HoldView {
  const end = hold.end;
  const status =
    end === null
      ? 'active'
      : end.cause === 'capture'
        ? 'captured'
        : end.cause === 'void'
          ? 'voided'
          : 'expired';
  return {
    holdId: hold.holdId,
    tenant: hold.tenant,
    amount: hold.amount,
    region: regionOf(hold.origin),
    expiresAt: hold.expiresAt,
    at: hold.at,
    status,
    captured: end !== null && end.cause === 'capture' ? end.captured : null,
  };
}
