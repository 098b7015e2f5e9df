/**
 * The frames replicas exchange over the Transport (DESIGN.md §4), after the transport's own
 * handshake (hello, mutual Ed25519 challenge) and pings. The transport encodes them (msgpackr,
 * bounded size) and checks their shape with `frameProblem`; the replica verifies their content
 * (hash chains, signatures) and asks the transport to drop a peer whose frame does not verify.
 */
import type { OriginId, TenantId } from '@allot/core';
import type { HoldView } from './api.js';
import type { JoinFrame } from './join-frames.js';

/**
 * One segment of a log as sent: its bytes as stored (core's segment codec), its seqs (which its
 * header must repeat), and its origin's signature over (cluster, origin, lastSeq, hash), or
 * NO_SIGNATURE where the sender did not keep it (log.ts; a run always ends at a signed segment).
 * The hash is not sent: the receiver computes it from the tip it holds, so a segment verifies only
 * where it joins on.
 */
export interface WireSegment {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly bytes: Uint8Array;
  readonly signature: Uint8Array;
}

/** What the sender has folded (its version vector) and its control document's state vector. Also the acknowledgement of received runs. */
export interface SummaryFrame {
  readonly type: 'summary';
  readonly versionVector: Readonly<Record<OriginId, number>>;
  readonly control: Uint8Array;
}

/** A contiguous run of one origin's log, in segments, each signed by the origin. */
export interface SegmentsFrame {
  readonly type: 'segments';
  readonly origin: OriginId;
  readonly segments: readonly WireSegment[];
}

/** Asks for the events of `origin` from `fromSeq` on (the receiver found a gap). */
export interface PullFrame {
  readonly type: 'pull';
  readonly origin: OriginId;
  readonly fromSeq: number;
}

/** Asks the receiver for rights of `tenant`: the sender is below its low-water mark. */
export interface RightsRequestFrame {
  readonly type: 'rights-request';
  readonly tenant: TenantId;
  readonly amount: number;
}

/**
 * Asks the receiver for `amount` of `tenant`'s rights now: a debit at the sender waits for them
 * (borrowing, DESIGN.md §3). The receiver gives what it holds, up to `amount`, as a `move`.
 */
export interface BorrowFrame {
  readonly type: 'borrow';
  readonly tenant: TenantId;
  readonly amount: number;
  /**
   * The sender's own log head when it asked (the last seq of its incarnation, 0 before any): its
   * `move`s up to it were written before the ask. The receiver drops a kept ask on folding a move of
   * the sender only when the move is past this head (swarm seed 4002: an ask that overtook the move
   * before it was dropped as stale).
   */
  readonly head: number;
  /**
   * The asker's claim on the tenant's rights: when its oldest waiting debit that the credits it can
   * reach would pay began waiting (its clock), or null when none of its waiting debits could be
   * paid (`Borrowing.claim`). A lender with waiting debits of its own keeps what they need only
   * when its own claim comes first (`claimPrecedes`).
   */
  readonly since: number | null;
  /**
   * The smallest of the asker's waiting debits of the tenant. Two regions neither of which can pay
   * a debit with what it sees have no claim; a lender that can pay none of its own waiting debits
   * with what it holds lends when its rights would pay this one (swarm seed 7286: us kept a refund
   * of 10 for its own debit of 20, which it could not pay, while eu's 9 timed out).
   */
  readonly least: number;
  /**
   * How long, in ms from when the ask was sent, the newest of the asker's waiting debits it asks for
   * will still wait (0..BORROW_WAIT_MS_MAX). A lender keeps the part it cannot give now only that
   * long, and serves it after fresher asks once rights it sends would likely arrive too late
   * (`Rebalancing.rightsArrived`): a kept ask outlived its debits and took the last credits from
   * debits still waiting (swarm seed 13058).
   */
  readonly waitsMs: number;
}

/**
 * A capture or void of a hold, forwarded to the holding region (DESIGN.md §3 "Holds"): it decides
 * and answers with a `hold-settled` frame of the same `id`.
 */
export interface HoldSettleFrame {
  readonly type: 'hold-settle';
  readonly id: number;
  readonly tenant: TenantId;
  readonly holdId: string;
  readonly action: 'capture' | 'void';
  /** For a capture: what to debit; null for a void. */
  readonly amount: number | null;
}

/** How the holding region settled a forwarded `hold-settle` (its `id`): the outcome and the hold. */
export interface HoldSettledFrame {
  readonly type: 'hold-settled';
  readonly id: number;
  readonly status:
    | 'accepted'
    | 'replayed'
    | 'not_found'
    | 'not_active'
    | 'stranded'
    | 'exceeds_hold'
    | 'invalid'
    | 'unavailable';
  readonly hold: HoldView | null;
  /** For `exceeds_hold`: the held amount; else null. */
  readonly held: number | null;
}

/** A Yjs sync message for the control document (y-protocols sync step 1, step 2, or update). */
export interface ControlFrame {
  readonly type: 'control';
  readonly message: Uint8Array;
}

/** Any frame the replica sends or receives. */
export type ReplicationFrame =
  | SummaryFrame
  | SegmentsFrame
  | PullFrame
  | RightsRequestFrame
  | BorrowFrame
  | HoldSettleFrame
  | HoldSettledFrame
  | ControlFrame
  | JoinFrame;

/** The frame types, for the transport's shape check. */
export const FRAME_TYPES = [
  'summary',
  'segments',
  'pull',
  'rights-request',
  'borrow',
  'hold-settle',
  'hold-settled',
  'control',
  'join-offer-ask',
  'join-offer',
  'join-hash-ask',
  'join-hash',
  'join-chunk-ask',
  'join-chunk',
] as const;
