/**
 * What a simulation run returns: the records of its history (one JSON object per line in
 * history.jsonl), the verdicts of the checkers, the metrics and the final state of every region. The
 * engine fills these; the CLI writes them to run.json, history.jsonl and report.html. What a
 * scenario says is in api.ts.
 */
import type { Fault, Scenario, StorageDamage } from './api.js';

/**
 * A tenant's figures over every event made durable anywhere (the true ledger), at one instant.
 * Recorded with answers and samples so that the checkers need nothing but the history.
 */
export interface LedgerFigures {
  readonly granted: number;
  readonly debited: number;
  readonly refunded: number;
  readonly expired: number;
}

/** One record of history.jsonl. Times are simulated ms since the start. */
export type HistoryRecord =
  | {
      readonly type: 'debit';
      /** When the answer came (the request was issued `latencyMs` earlier). */
      readonly t: number;
      readonly region: string;
      readonly tenant: string;
      readonly key: string;
      readonly amount: number;
      readonly result: 'accepted' | 'replayed' | 'declined' | 'conflict' | 'unavailable';
      readonly falseDecline: boolean;
      readonly latencyMs: number;
      /** Extension: the debit's id (origin and seq) when accepted or replayed. */
      readonly debitId?: string;
      /** Extension: a retry of an earlier request with the same key, sent to another region. */
      readonly retry?: boolean;
      /** Extension: the same key as an earlier request with another amount, at the same region. */
      readonly conflicting?: boolean;
      /** Extension: the true ledger of the tenant when the answer was given (S1). */
      readonly ledger?: LedgerFigures;
      /** Extension: the debit waited for rights from peers (borrowing). */
      readonly waited?: boolean;
      /** Extension: why a decline for want of credits was given (API.md `details.reason`). */
      readonly declineReason?: 'insufficient' | 'unreachable' | 'timeout';
      /**
       * Extension: every node was up (and writable) and every link up and unpartitioned from the
       * request to its answer, and the live credits the answering region and its peers hold, as
       * known there, covered the amount when it was asked and when it answered
       * (Replica.reachableCredits), and the true ledger's live credits (no overdraft) covered it.
       */
      readonly healthyCovered?: boolean;
      /**
       * Extension (issue 12): on a `healthyCovered` decline, the true ledger's live rights of the
       * tenant at the regions' current incarnations when the answer was given (rights stranded at a
       * lost incarnation need a retire); F1 subtracts what debits then still in flight took.
       */
      readonly trueCredits?: number;
    }
  | {
      readonly type: 'grant';
      readonly t: number;
      readonly region: string;
      readonly tenant: string;
      readonly grantId: string;
      readonly amount: number;
      readonly result: string;
      /** Extension: when the grant expires, simulated ms since the start; null: never. */
      readonly expiresAt?: number | null;
      readonly priority?: number;
      /** Extension: the origin (incarnation) that defined the grant, when accepted or replayed. */
      readonly origin?: string;
    }
  | {
      readonly type: 'refund';
      readonly t: number;
      readonly region: string;
      readonly tenant: string;
      readonly debitId: string;
      readonly amount: number;
      readonly result: string;
      /** Extension: the refund's id (origin and seq) when accepted or replayed, and its key. */
      readonly refundId?: string;
      readonly key?: string;
      readonly latencyMs?: number;
    }
  | {
      /** Extension (issue 12): a hold request and its answer. */
      readonly type: 'hold';
      readonly t: number;
      readonly region: string;
      readonly tenant: string;
      readonly key: string;
      readonly amount: number;
      readonly result: 'accepted' | 'replayed' | 'declined' | 'conflict' | 'unavailable';
      readonly holdId?: string;
      readonly latencyMs: number;
    }
  | {
      /** Extension (issue 12): a capture or void and its answer, at `region` (the holder or not). */
      readonly type: 'settle';
      readonly t: number;
      readonly region: string;
      readonly tenant: string;
      readonly holdId: string;
      readonly action: 'capture' | 'void';
      readonly amount?: number;
      readonly result: string;
      readonly latencyMs: number;
    }
  | {
      readonly type: 'fault';
      readonly t: number;
      readonly kind: Fault['kind'];
      readonly phase: 'start' | 'end';
      readonly detail: string;
    }
  | {
      /**
       * Extension (issue 11): an operator's retire of a lost incarnation `origin` at `region`, and
       * what the node answered: `retired` with the seq it counts through, or why not.
       */
      readonly type: 'retire';
      readonly t: number;
      readonly region: string;
      readonly origin: string;
      readonly result: 'retired' | 'refused' | 'unavailable';
      readonly through?: number;
      readonly rights?: number;
      readonly detail: string;
    }
  | {
      readonly type: 'sample';
      readonly t: number;
      readonly tenant: string;
      /** The true balance: grants − debits + refunds − expired over every event written anywhere. */
      readonly truth: number;
      /** Each region's view of the tenant's balance, and the rights it holds. */
      readonly views: Readonly<Record<string, { readonly balance: number; readonly rights: number }>>;
      /** Extension: the true ledger's figures (truth = granted − debited + refunded − expired). */
      readonly ledger?: LedgerFigures;
      /** Extension: S1's bound, Σ over regions of the largest overdraft each was ever allowed. */
      readonly overdraftBound?: number;
      /**
       * Extension (S2): per origin that wrote for the tenant, over the true ledger since the last
       * sample: the least rights it held on any grant (never negative unless it spent rights it did
       * not have), and the most overdraft it had in use.
       */
      readonly origins?: Readonly<
        Record<
          string,
          { readonly region: string; readonly rightsMin: number; readonly overdraftInUseMax: number }
        >
      >;
    }
  | {
      /**
       * Extension (issue 15): a region restarted on a damaged disk (a `storage` fault). `refused`:
       * its replica would not open (it then starts on a new disk, as an operator would); `opened`:
       * it served what the disk held. `held`/`kept`: the seqs its disk held durably of each origin
       * before and after the damage; `elsewhere`: the most any other region held durably then.
       * Damage `disk-loss`, outcome `lost` (since 2026-12-02): a `disk-loss` fault took the disk,
       * recorded when it happens (kept: nothing): what only it held of any origin is gone with it.
       */
      readonly type: 'storage';
      readonly t: number;
      readonly region: string;
      readonly damage: StorageDamage | 'disk-loss';
      readonly outcome: 'refused' | 'opened' | 'untouched' | 'lost';
      readonly detail: string;
      /** Keys whose reads return bytes not theirs: a correct store must refuse them. */
      readonly damagedKeys: readonly string[];
      readonly held: Readonly<Record<string, number>>;
      readonly kept: Readonly<Record<string, number>>;
      readonly elsewhere: Readonly<Record<string, number>>;
      /**
       * The incarnations no node could write as any more once the node restarted: those whose disk
       * was lost or replaced, this disk's own when it was refused. Absent in histories written before
       * 2026-12-02 (read as none).
       */
      readonly lost?: readonly string[];
      /**
       * The grant events this fault destroyed (they left the true ledger's totals). Absent when none,
       * and in histories written before 2026-12-03. S1 still counts those that were acknowledged.
       */
      readonly destroyedGrants?: readonly { tenant: string; grantId: string; amount: number }[];
    }
  | {
      /** Extension: a region raised an alert (alert-watch.ts). */
      readonly type: 'alert';
      readonly t: number;
      readonly region: string;
      readonly tenant: string;
      /** The threshold's rule, as ruleKey names it (`below:500`, `belowPercent:10`). */
      readonly rule: string;
      readonly alertId: string;
      readonly balance: number;
    }
  | {
      readonly type: 'converged';
      readonly t: number;
      readonly afterHealMs: number;
      /** Extension: the heal this convergence follows (simulated ms), and whether it is S4's final one. */
      readonly healAt?: number;
      readonly final?: boolean;
    };

/** The verdict of one invariant. */
export interface Verdict {
  /** S1–S7 (DESIGN.md §6 and holds), A1 (alerts), F1: no false declines while the cluster is whole (issue 12), S8–S11 (issue 15). */
  readonly invariant:
    | 'S1'
    | 'S2'
    | 'S3'
    | 'S4'
    | 'S5'
    | 'S6'
    | 'S7'
    | 'A1'
    | 'F1'
    | 'S8'
    | 'S9'
    | 'S10'
    | 'S11';
  readonly name: string;
  readonly holds: boolean;
  readonly violations: number;
  /** The first and the worst violation, if any (time and what). */
  readonly first?: { readonly t: number; readonly detail: string };
  readonly worst?: { readonly t: number; readonly detail: string };
  /** Extension: what was checked, or why something is excused (e.g. debits lost with a disk). */
  readonly note?: string;
}

/** What a run measured. */
export interface RunMetrics {
  readonly perRegion: Readonly<
    Record<
      string,
      {
        readonly accepted: number;
        readonly declined: number;
        readonly falseDeclined: number;
        readonly latencyMsP50: number;
        readonly latencyMsP99: number;
      }
    >
  >;
  /** Time to converge after each heal, ms. */
  readonly convergenceMs: readonly number[];
  readonly messages: number;
  readonly bytes: number;
  readonly messagesPerDebit: number;
  readonly bytesPerDebit: number;
  /** Share of rights spent before the run ended, per tenant. */
  readonly rightsUtilisation: Readonly<Record<string, number>>;
  readonly simulatedSeconds: number;
  readonly wallSeconds: number;
  /** Extension: what the simulated network did to frames, and link events. */
  readonly network?: {
    readonly lost: number;
    readonly duplicated: number;
    readonly reordered: number;
    readonly resets: number;
    readonly timeouts: number;
    readonly connects: number;
    /** Links a replica closed because a frame did not verify, by reason: any is a finding. */
    readonly drops: Readonly<Record<string, number>>;
  };
  /** Extension: rights handed between regions (moves), in credits. */
  readonly rightsMoved?: number;
  /**
   * Extension: borrowing. Answered debits, how many waited for rights from peers, and the p99
   * latency of those that waited next to that of the rest.
   */
  readonly borrowing?: {
    readonly debits: number;
    readonly waited: number;
    readonly waitedShare: number;
    readonly waitedLatencyMsP99: number;
    readonly otherLatencyMsP99: number;
  };
  /** Extension: error and warning lines the replicas logged, by message. */
  readonly replicaLog?: Readonly<Record<string, number>>;
}

/** One region's state at the end of a run (after the quiet period). */
export interface FinalRegion {
  readonly origin: string;
  readonly versionVector: Readonly<Record<string, number>>;
  /** SHA-256 of the canonical JSON of the snapshot's version vector, heads and tenant lines. */
  readonly snapshotSha256: string;
  readonly tenants: readonly {
    readonly tenant: string;
    readonly balance: number;
    readonly granted: number;
    readonly debited: number;
    readonly refunded: number;
    readonly expired: number;
    /** Extension (issue 12): credits held by active holds. */
    readonly held?: number;
  }[];
}

/** What the nodes hold at the end: the input of S3–S6 besides the history. */
export interface FinalState {
  /** Simulated ms when it was taken. */
  readonly t: number;
  /** Extension (issue 12): the true clock then, integer ms since the epoch (hold expiries are on it). */
  readonly wallClockMs?: number;
  /** Origins (incarnations) whose disk was lost: what they never replicated is gone by design. */
  readonly lostOrigins: readonly string[];
  /**
   * Extension (issue 15, S8): every event any store committed (own or received), per origin: at
   * index seq − 1, the distinct chain hashes (hex, 16 digits) stored under that seq anywhere.
   */
  readonly written?: Readonly<Record<string, readonly (readonly string[])[]>>;
  /**
   * Extension (issue 15, S11): what hostile frames tried, per region that received them: frames
   * tampered with, refused (link dropped or frame ignored), and the policy values the forged
   * control updates carried; and each region's final policies, by tenant (JSON of the policy).
   */
  readonly hostile?: {
    readonly tampered: number;
    readonly forgedPolicies: readonly string[];
    readonly policies: Readonly<Record<string, Readonly<Record<string, string | null>>>>;
  };
  /** Regions not running at the end (none, unless a restart failed). */
  readonly down: readonly string[];
  readonly regions: Readonly<Record<string, FinalRegion>>;
  /** Per tenant, every grant, debit and refund the running nodes hold (union over them). */
  readonly ledger: Readonly<
    Record<
      string,
      {
        readonly grants: Readonly<Record<string, number>>;
        readonly debits: Readonly<Record<string, { readonly key: string; readonly amount: number }>>;
        readonly refunds: Readonly<
          Record<string, { readonly debitId: string; readonly amount: number; readonly key: string }>
        >;
        /** Extension (issue 17): every definition of each grant id (more than one: a duplicate). */
        readonly definitions?: Readonly<
          Record<
            string,
            readonly {
              readonly origin: string;
              readonly seq: number;
              readonly at: number;
              readonly amount: number;
            }[]
          >
        >;
        /** Extension (issue 17): the revokes of duplicate definitions. */
        readonly revokes?: readonly {
          readonly grantId: string;
          readonly loser: string;
          readonly total: number;
          readonly amount: number;
        }[];
        /** Extension (issue 12): every hold, with every event that ended it (S7: exactly one). */
        readonly holds?: Readonly<Record<string, FinalHold>>;
      }
    >
  >;
}

/** A hold as the nodes hold it at the end: its amount, expiry, and the events that ended it. */
export interface FinalHold {
  readonly amount: number;
  /** Integer ms on the holding origin's clock. */
  readonly expiresAt: number;
  readonly ends: readonly {
    readonly kind: 'capture' | 'release';
    readonly captured: number;
    readonly released: number;
  }[];
}

/** The result of one run: run.json, plus the history records. */
export interface SimulationResult {
  readonly scenario: Scenario;
  readonly seed: number;
  /** How to replay this run exactly. */
  readonly replay: string;
  readonly verdicts: readonly Verdict[];
  readonly ok: boolean;
  readonly metrics: RunMetrics;
  readonly history: readonly HistoryRecord[];
  /** SHA-256 over the history, hex: the same seed gives the same hash. */
  readonly historyHash: string;
  /** Extension: the nodes' final state that S3–S6 were checked against. */
  readonly final?: FinalState;
}
