/**
 * Ledger events: what an origin appends to its log. State is a deterministic fold of them.
 * Every event has an envelope (origin, seq, the origin's time, tenant) and the fields of its kind.
 */
import type { DebitId, GrantId, OriginId, TenantId } from './ids.js';

/** A JSON value, as kept in debit metadata. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Credits taken from (or given to) one grant. */
export interface Part {
  readonly grantId: GrantId;
  readonly amount: number;
}

/** Where an event sits: the origin that wrote it, its place in that origin's log, and when. */
export interface EventEnvelope {
  readonly origin: OriginId;
  readonly seq: number;
  /** The origin's clock when it decided, integer ms since the Unix epoch. */
  readonly at: number;
  readonly tenant: TenantId;
}

/** Credits created at the origin: `granted[origin] = amount` for a new grant. */
export interface GrantBody {
  readonly kind: 'grant';
  readonly grantId: GrantId;
  readonly amount: number;
  /** Lower burns first. */
  readonly priority: number;
  /** Integer ms since the epoch, or null for a grant that never expires. */
  readonly expiresAt: number | null;
}

/** Consumption decided at the origin from its own rights (`parts`) plus its overdraft. */
export interface DebitBody {
  readonly kind: 'debit';
  readonly amount: number;
  readonly idempotencyKey: string;
  /** What was burnt from which grant, in burn order. */
  readonly parts: readonly Part[];
  /** What was taken beyond the origin's rights, from its overdraft allowance. */
  readonly overdraft: number;
  readonly metadata: Json;
}

/** A debit given back, all or part; executed by the debit's region. */
export interface RefundBody {
  readonly kind: 'refund';
  readonly debitId: DebitId;
  readonly amount: number;
  readonly idempotencyKey: string;
  /** Credits returned to grants (rights of the refunding origin). */
  readonly parts: readonly Part[];
  /** Credits that clear the refunding origin's overdraft in use instead. */
  readonly overdraft: number;
}

/** Rights the origin hands to another origin: `moved[origin→to]` grows by each part. */
export interface MoveBody {
  readonly kind: 'move';
  readonly to: OriginId;
  readonly parts: readonly Part[];
}

/** What is left at the origin of a grant that expired (on the origin's clock) is gone. */
export interface ExpireBody {
  readonly kind: 'expire';
  readonly grantId: GrantId;
  readonly amount: number;
}

/** The origin pays back overdraft in use from rights it received: burns parts, clears `amount`. */
export interface RepayBody {
  readonly kind: 'repay';
  readonly amount: number;
  readonly parts: readonly Part[];
}

/**
 * A grant id defined at two origins (a top-up retried at another region across a partition): the
 * region of the losing definition (`loser`, by compareDefinitions) takes its credits back. `total`
 * is what it must take back in all: the loser's credits less what of the grant had expired when the
 * first revoke was decided (later revokes of the same definition repeat it). Each revoke charges
 * `amount` now, exactly like a debit at the bound: the origin's own rights in `parts` (the grant
 * itself first, then burn order), then its overdraft headroom as `overdraft`. What it cannot charge
 * within the bound stays owed and is charged by later revokes from rights the region receives.
 */
export interface RevokeBody {
  readonly kind: 'revoke';
  readonly grantId: GrantId;
  readonly loser: OriginId;
  readonly total: number;
  /** Σ parts + overdraft. */
  readonly amount: number;
  readonly parts: readonly Part[];
  readonly overdraft: number;
}

/**
 * Credits reserved at the origin now, settled later (DESIGN.md §3 "Holds"): burnt exactly like a
 * debit (`parts` from the origin's rights in burn order, then `overdraft`), counted as held until
 * the hold ends, once, by a `capture` or a `release` decided by an origin of the same region.
 */
export interface HoldBody {
  readonly kind: 'hold';
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly parts: readonly Part[];
  readonly overdraft: number;
  /** When the hold is released by itself, on the holding region's clock: integer ms since the epoch. */
  readonly expiresAt: number;
  readonly metadata: Json;
}

/**
 * A hold ends in a debit of `amount` (≤ the hold); the rest, `released` = hold − amount, goes back
 * to the settling origin's rights (`parts`) and clears its overdraft in use (`overdraft`).
 */
export interface CaptureBody {
  readonly kind: 'capture';
  readonly holdId: DebitId;
  readonly amount: number;
  readonly released: number;
  readonly parts: readonly Part[];
  readonly overdraft: number;
}

/**
 * A hold ends with nothing taken: voided by a client (`void`) or past its expiry (`expiry`). All of
 * it, `amount`, goes back to the settling origin's rights (`parts`) and overdraft (`overdraft`).
 */
export interface ReleaseBody {
  readonly kind: 'release';
  readonly holdId: DebitId;
  readonly amount: number;
  readonly cause: 'void' | 'expiry';
  readonly parts: readonly Part[];
  readonly overdraft: number;
}

/**
 * An operator retires a lost incarnation `retired` of the origin's own region (DESIGN.md §1): the
 * rights it held for this tenant (`parts`: per grant, its rights as folded here with its log through
 * seq `through`) go to the writing origin, the region's current incarnation, as grow-only cells
 * `retired[retired→origin]` that only the writer grows. From then on no node accepts an event of
 * `retired` past `through`, and its overdraft counts as what it had in use, not its whole allowance.
 */
export interface RetireBody {
  readonly kind: 'retire';
  readonly retired: OriginId;
  /** The highest seq of `retired` folded when it was retired. */
  readonly through: number;
  readonly parts: readonly Part[];
}

/** The fields of any event kind. */
export type EventBody =
  | GrantBody
  | DebitBody
  | RefundBody
  | MoveBody
  | ExpireBody
  | RepayBody
  | RevokeBody
  | HoldBody
  | CaptureBody
  | ReleaseBody
  | RetireBody;

/**
 * The kinds of event, in the order DESIGN.md lists them (and `revoke`, for duplicate grant ids;
 * `hold`, `capture`, `release` for holds, `retire` for lost incarnations).
 */
export const EVENT_KINDS = [
  'grant',
  'debit',
  'refund',
  'move',
  'expire',
  'repay',
  'revoke',
  'hold',
  'capture',
  'release',
  'retire',
] as const;

/** One event of an origin's log. */
export type LedgerEvent = EventEnvelope & EventBody;

/** A body decided for a tenant, before the log gives it a seq. */
export type TenantEventBody = EventBody & { readonly tenant: TenantId };

/** The event with envelope `envelope` and body `body`. */
export function makeEvent(envelope: Omit<EventEnvelope, 'tenant'>, body: TenantEventBody): LedgerEvent {
  if (body.kind === 'debit') {
    // The hot path (one per debit): a literal of one shape, where a spread of ten body shapes is
    // megamorphic and slow. A DebitBody's fields, in the order decideDebit writes them.
    return {
      kind: body.kind,
      tenant: body.tenant,
      amount: body.amount,
      idempotencyKey: body.idempotencyKey,
      parts: body.parts,
      overdraft: body.overdraft,
      metadata: body.metadata,
      origin: envelope.origin,
      seq: envelope.seq,
      at: envelope.at,
    };
  }
  return { ...body, origin: envelope.origin, seq: envelope.seq, at: envelope.at };
}

/** Sum of the amounts of `parts`. Parts are bounded by a tenant's rights, so this is exact. */
export function sumParts(parts: readonly Part[]): number {
  let total = 0;
  for (const part of parts) total += part.amount;
  return total;
}
