/**
 * What a replica offers the HTTP server: commands that resolve once their events are durable,
 * and reads of the folded state. Outcomes are values (STYLE.md); only a broken invariant or a
 * failed store throws.
 */
import type {
  BalanceFigures,
  DebitRecord,
  Json,
  LedgerEvent,
  OriginId,
  RefundRecord,
  TenantId,
} from '@allot/core';

/** A grant as the API shows it. */
export interface GrantView {
  readonly tenant: TenantId;
  readonly grantId: string;
  readonly amount: number;
  readonly priority: number;
  /** Integer ms since the epoch, or null. */
  readonly expiresAt: number | null;
  readonly origin: OriginId;
  readonly region: string;
  /** When the defining origin created it, integer ms since the epoch. */
  readonly at: number;
}

/** What a successful debit answers besides the debit: what this region can still spend, and the merged balance. */
export interface DebitBalance {
  readonly available: number;
  readonly tenant: number;
}

/** A tenant's balance at this replica: the figures plus this replica's version vector and clock. */
export interface BalanceView extends BalanceFigures {
  /** The region answering. */
  readonly region: string;
  readonly versionVector: Readonly<Record<OriginId, number>>;
  /** This replica's clock when the figures were taken, integer ms. */
  readonly asOf: number;
}

/** A request to create a grant. */
export interface GrantCommand {
  readonly tenant: TenantId;
  readonly grantId: string;
  readonly amount: number;
  readonly priority: number;
  readonly expiresAt: number | null;
}

/** A request to debit a tenant. */
export interface DebitCommand {
  readonly tenant: TenantId;
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly metadata: Json;
}

/** A request to refund a debit (all of what is left when `amount` is absent). */
export interface RefundCommand {
  readonly tenant: TenantId;
  readonly debitId: string;
  readonly amount?: number | undefined;
  readonly idempotencyKey: string;
}

/** A tenant's policy, kept in the replicated control document. */
export interface TenantPolicy {
  /** Overdraft each region may take below its rights. */
  readonly overdraft: Readonly<Record<string, number>>;
  /** Relative share of new grants per region (default: equal). */
  readonly weights: Readonly<Record<string, number>>;
  /** A blocked tenant is declined every debit. */
  readonly blocked: boolean;
  /** Balance thresholds that raise an alert when the merged balance crosses them downwards. */
  readonly alerts?: readonly AlertRule[];
}

/** One alert threshold of a policy: an absolute balance, or a percent of what was granted. */
export type AlertRule = { readonly below: number } | { readonly belowPercent: number };

/**
 * The command was not taken: nothing of it happened. `internal`: deciding it failed (a bug, logged)
 * before anything was appended; the other commands of its batch went on.
 */
export interface StoreFailure {
  readonly status: 'unavailable';
  readonly reason: 'store_failed' | 'closing' | 'overloaded' | 'internal';
}

/**
 * The replica takes no writes yet: not every peer has confirmed that its own log is whole
 * (DESIGN.md §2). Nothing happened; reads are served; retry later.
 */
export interface NotReady {
  readonly status: 'not_ready';
  /**
   * `retired`: this node's own incarnation was retired (a data directory restored from a backup);
   * `superseded`: a newer incarnation of its region exists (a backup restored before any retire);
   * `joining`: it started with nothing stored and is receiving a checkpoint (issue 11).
   */
  readonly reason: 'recovering' | 'retired' | 'superseded' | 'joining';
  /** The configured peers whose confirmation is still awaited (not heard since the start, or holding more); empty when retired, superseded or joining. */
  readonly waitingFor: readonly string[];
}

/** Outcome of a grant command. */
export type GrantOutcome =
  | { readonly status: 'accepted' | 'replayed'; readonly grant: GrantView; readonly balance: BalanceView }
  | { readonly status: 'conflict'; readonly grant: GrantView | null }
  | {
      readonly status: 'invalid';
      readonly reason: 'expires_in_past' | 'invalid_request';
      readonly detail?: string;
    }
  | { readonly status: 'rejected'; readonly reason: 'grant_limit' | 'amount_limit'; readonly limit: number }
  | StoreFailure
  | NotReady;

/**
 * Why a debit was declined for want of credits (API.md `details.reason`): the reachable cluster
 * cannot cover it (`insufficient`), the credits are at regions cut off from this one
 * (`unreachable`), or the rights asked for did not arrive within borrowWaitMs (`timeout`).
 */
export type DeclineReason = 'insufficient' | 'unreachable' | 'timeout';

/** A debit (or hold) declined: nothing happened. */
export interface DebitDeclined {
  readonly status: 'declined';
  readonly reason: 'insufficient_credits' | 'blocked';
  readonly requested: number;
  readonly available: number;
  /** For `insufficient_credits`: why the cluster could not pay it here. */
  readonly declineReason?: DeclineReason;
  /** It waited for rights from peers first (borrowing). */
  readonly waited?: boolean;
}

/** Outcome of a debit command. */
export type DebitOutcome =
  | {
      readonly status: 'accepted' | 'replayed';
      readonly debit: DebitRecord;
      readonly balance: DebitBalance;
      /** It waited for rights from peers first (borrowing). */
      readonly waited?: boolean;
    }
  | { readonly status: 'conflict'; readonly debit: DebitRecord }
  | DebitDeclined
  | { readonly status: 'rejected'; readonly reason: 'amount_limit'; readonly limit: number }
  | { readonly status: 'invalid'; readonly reason: 'invalid_request'; readonly detail: string }
  | StoreFailure
  | NotReady;

/** A request to hold credits of a tenant for `ttlMs` (API.md Holds). */
export interface HoldCommand {
  readonly tenant: TenantId;
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly ttlMs: number;
  readonly metadata: Json;
}

/** A hold as the API shows it. */
export interface HoldView {
  readonly holdId: string;
  readonly tenant: TenantId;
  readonly amount: number;
  /** The holding region: the only one that decides how the hold ends. */
  readonly region: string;
  /** Integer ms since the epoch, on the holding region's clock. */
  readonly expiresAt: number;
  readonly at: number;
  readonly status: 'active' | 'captured' | 'voided' | 'expired';
  /** What a capture debited; null unless captured. */
  readonly captured: number | null;
}

/** Outcome of a hold command: as a debit's, with the hold instead of the debit. */
export type HoldOutcome =
  | {
      readonly status: 'accepted' | 'replayed';
      readonly hold: HoldView;
      readonly balance: DebitBalance;
      readonly waited?: boolean;
    }
  | { readonly status: 'conflict'; readonly hold: HoldView }
  | DebitDeclined
  | { readonly status: 'rejected'; readonly reason: 'amount_limit'; readonly limit: number }
  | { readonly status: 'invalid'; readonly reason: 'invalid_request'; readonly detail: string }
  | StoreFailure
  | NotReady;

/** A request to end a hold: capture `amount` of it (≤ the hold), or void it. */
export interface SettleCommand {
  readonly tenant: TenantId;
  readonly holdId: string;
  readonly action: 'capture' | 'void';
  readonly amount?: number;
}

/** Outcome of a capture or void, decided by the holding region (forwarded there if need be). */
export type SettleOutcome =
  | { readonly status: 'accepted' | 'replayed'; readonly hold: HoldView }
  | { readonly status: 'not_found' }
  | { readonly status: 'not_active'; readonly hold: HoldView }
  /** Taken by a lost incarnation of the holding region, not retired yet: held until a retire (core holdStranded). */
  | { readonly status: 'stranded'; readonly hold: HoldView }
  | { readonly status: 'exceeds_hold'; readonly requested: number; readonly held: number }
  | { readonly status: 'region_unreachable'; readonly region: string }
  | { readonly status: 'invalid'; readonly reason: 'invalid_request'; readonly detail: string }
  | StoreFailure
  | NotReady;

/** Outcome of a refund command. */
export type RefundOutcome =
  | { readonly status: 'accepted' | 'replayed'; readonly refund: RefundRecord; readonly balance: BalanceView }
  | { readonly status: 'conflict'; readonly refund: RefundRecord }
  | { readonly status: 'not_found' }
  | { readonly status: 'wrong_region'; readonly region: string }
  | { readonly status: 'exceeds_debit'; readonly requested: number; readonly refundable: number }
  | { readonly status: 'rejected'; readonly reason: 'amount_limit' | 'nothing_to_credit' }
  | { readonly status: 'invalid'; readonly reason: 'invalid_request'; readonly detail: string }
  | StoreFailure
  | NotReady;

/** One event as the events API shows it: the event, its chain hash (hex). */
export interface EventView {
  readonly event: LedgerEvent;
  readonly hash: string;
}

/** The head of one origin's log, as a snapshot carries it (hex strings). */
export interface HeadView {
  readonly seq: number;
  readonly hash: string;
  readonly signature: string | null;
}

/** The first part of a snapshot: who, when, at which version vector, with which heads. */
export interface SnapshotHeader {
  readonly cluster: string;
  readonly region: string;
  readonly takenAt: number;
  readonly versionVector: Readonly<Record<OriginId, number>>;
  readonly heads: Readonly<Record<OriginId, HeadView>>;
}

/** One tenant's line in a snapshot. */
export interface SnapshotTenant {
  readonly tenant: TenantId;
  readonly balance: number;
  readonly granted: number;
  readonly debited: number;
  readonly refunded: number;
  readonly expired: number;
  /** Credits reserved by active holds: balance = granted − debited + refunded − expired − held. */
  readonly held: number;
}

/** Observations of a node at work, turned into metrics by the server. */
export interface ReplicaObserver {
  /** A debit was answered: its result and how long from request to answer, in seconds (the server times it). */
  debitDecided(result: DebitOutcome['status'] | 'invalid', seconds: number): void;
  /** A group commit finished with `events` events. */
  batchCommitted(events: number, seconds: number): void;
  /** Overdraft in use at this region over all tenants, in credits (after each commit and recovery). */
  overdraftInUse?(amount: number): void;
  /** Events of `origin` that a peer has and this replica has not persisted yet. */
  replicationLag?(origin: string, events: number): void;
  /** Whether the connection to `peer` (a region) is up. */
  peerConnected?(peer: string, connected: boolean): void;
  /** Rights this node handed to another region (a `move` event), in credits. */
  rightsMoved?(amount: number): void;
  /** A debit (or hold) waited for rights from peers for `seconds`, then was accepted or declined. */
  debitWaited?(seconds: number, result: 'accepted' | 'declined'): void;
  /** A debit (or hold) was declined for want of credits, and why. */
  debitDeclined?(reason: DeclineReason | 'blocked'): void;
  /** A grant id defined with different terms at two origins was seen (once per conflict per process). */
  grantConflict?(): void;
  /** This node joined by checkpoint (issue 11): the checkpoint's bytes received, and seconds from start to installed. */
  joinedByCheckpoint?(bytes: number, seconds: number): void;
}
