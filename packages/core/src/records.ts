/**
 * What the ledger records of debits, refunds and revokes beside the cells: the fields of their
 * events with their ids. Debit and refund records answer replays and bound refunds within the
 * idempotency retention (retention.ts forgets them after); revokes are kept.
 */
import type { Json, LedgerEvent, Part } from './events.js';
import {
  type DebitId,
  eventRecordId,
  type GrantId,
  type OriginId,
  type RefundId,
  type TenantId,
} from './ids.js';

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

/** How a hold ended: captured (with what was released), or released whole (void or expiry). */
export interface HoldEnd {
  readonly kind: 'capture' | 'release';
  readonly cause: 'capture' | 'void' | 'expiry';
  readonly captured: number;
  readonly released: number;
  /** The settling event. */
  readonly origin: OriginId;
  readonly seq: number;
  readonly at: number;
}

/** A hold as recorded in the ledger: the fields of its event, its id, and how it ended (null: active). */
export interface HoldRecord {
  readonly holdId: DebitId;
  readonly tenant: TenantId;
  readonly origin: OriginId;
  readonly seq: number;
  readonly at: number;
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly parts: readonly Part[];
  readonly overdraft: number;
  readonly expiresAt: number;
  readonly metadata: Json;
  readonly end: HoldEnd | null;
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

/** The record a debit event makes. */
export function debitRecordFromEvent(event: LedgerEvent & { kind: 'debit' }): DebitRecord {
  return {
    debitId: eventRecordId(event.origin, event.seq),
    tenant: event.tenant,
    origin: event.origin,
    seq: event.seq,
    at: event.at,
    amount: event.amount,
    idempotencyKey: event.idempotencyKey,
    parts: event.parts,
    overdraft: event.overdraft,
    metadata: event.metadata,
  };
}

/** The record a refund event makes. */
export function refundRecordFromEvent(event: LedgerEvent & { kind: 'refund' }): RefundRecord {
  return {
    refundId: eventRecordId(event.origin, event.seq),
    tenant: event.tenant,
    origin: event.origin,
    seq: event.seq,
    at: event.at,
    debitId: event.debitId,
    amount: event.amount,
    idempotencyKey: event.idempotencyKey,
    parts: event.parts,
    overdraft: event.overdraft,
  };
}

/** The debit or refund record an event read back from a log makes; null for any other event. */
export function recordFromEvent(event: LedgerEvent): DebitRecord | RefundRecord | null {
  if (event.kind === 'debit') return debitRecordFromEvent(event);
  if (event.kind === 'refund') return refundRecordFromEvent(event);
  return null;
}
