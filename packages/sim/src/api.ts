/**
 * The simulator's contract, what a scenario says (scenario.ts checks it). What a run returns and
 * the records of its history are in results.ts.
 */
import type { AlertRule } from '@allot/replica';

/** A link fault between two regions (both directions unless `oneWay`). */
export interface LinkFault {
  readonly from: string;
  readonly to: string;
  readonly oneWay?: boolean;
}

/** One fault of a scenario, active from `atS` for `forS` simulated seconds. */
export type Fault =
  | { readonly kind: 'isolate'; readonly region: string; readonly atS: number; readonly forS: number }
  | {
      readonly kind: 'halves';
      readonly groups: readonly (readonly string[])[];
      readonly atS: number;
      readonly forS: number;
    }
  | { readonly kind: 'ring'; readonly atS: number; readonly forS: number }
  | { readonly kind: 'bridge'; readonly bridge: string; readonly atS: number; readonly forS: number }
  | {
      readonly kind: 'one-way';
      readonly from: string;
      readonly to: string;
      readonly atS: number;
      readonly forS: number;
    }
  | {
      readonly kind: 'flapping';
      readonly from: string;
      readonly to: string;
      readonly periodS: number;
      readonly atS: number;
      readonly forS: number;
    }
  | { readonly kind: 'crash'; readonly region: string; readonly atS: number; readonly forS: number }
  | { readonly kind: 'disk-loss'; readonly region: string; readonly atS: number; readonly forS: number }
  | { readonly kind: 'pause'; readonly region: string; readonly atS: number; readonly forS: number }
  | {
      /**
       * Extension: the region's disk refuses writes (EIO, a full disk) for `forS`: every commit of
       * its log fails and the node undoes what the commit held, while the process keeps running.
       */
      readonly kind: 'write-errors';
      readonly region: string;
      readonly atS: number;
      readonly forS: number;
    }
  | { readonly kind: 'clock-step'; readonly region: string; readonly stepMs: number; readonly atS: number }
  | {
      readonly kind: 'clock-drift';
      readonly region: string;
      readonly ppm: number;
      readonly atS: number;
      readonly forS: number;
    }
  | {
      /**
       * Extension (issue 11): an operator restores the region's disk from a backup taken
       * `backupBeforeS` before `atS` (an older copy of its data directory, perhaps of an incarnation
       * lost since) and starts it; `forS` later the region runs on its own disk again.
       */
      readonly kind: 'restored-backup';
      readonly region: string;
      readonly backupBeforeS: number;
      readonly atS: number;
      readonly forS: number;
    }
  | {
      /**
       * Extension (issue 11): an operator retires, at the region's node, every earlier incarnation
       * of the region that it lost (POST /v1/cluster/incarnations/{origin}/retire).
       */
      readonly kind: 'retire';
      readonly region: string;
      readonly atS: number;
    }
  | {
      /** Extension (issue 15): the region crashes, its disk lies (`damage`), it restarts `forS` later. */
      readonly kind: 'storage';
      readonly region: string;
      readonly damage: StorageDamage;
      readonly atS: number;
      readonly forS: number;
    }
  | {
      /**
       * Extension (issue 15): what `from` sends (to `to` only, or to every peer) is tampered with for
       * `forS`: replayed, reordered beyond TCP, truncated, bit-flipped, re-labelled as another or an
       * unknown origin, or a control update with a value the API refuses.
       */
      readonly kind: 'hostile';
      readonly from: string;
      readonly to?: string;
      readonly atS: number;
      readonly forS: number;
    };

/** The ways a disk lies (memory-faults.ts in @allot/store). */
export type StorageDamage =
  | 'torn-tail'
  | 'lost-wal'
  | 'corrupt-middle'
  | 'corrupt-end'
  | 'misdirected-read'
  | 'stale-read'
  | 'old-backup';

/** Per-link network behaviour. */
export interface NetworkSpec {
  /** One-way delay, ms: a uniform draw in [min, max]. */
  readonly delayMs: { readonly min: number; readonly max: number };
  /** Probability that a frame is lost (the link then drops, as a TCP connection would). */
  readonly loss: number;
  /** Probability that a frame is delivered twice. */
  readonly duplicate: number;
  /** Probability that a frame overtakes the one before it. */
  readonly reorder: number;
}

/** A tenant of the workload. */
export interface TenantSpec {
  readonly tenant: string;
  readonly grants: readonly {
    readonly grantId: string;
    readonly amount: number;
    readonly region: string;
    readonly atS: number;
    readonly priority?: number;
    /** Seconds after the grant is made. */
    readonly expiresInS?: number;
    /**
     * The admin's client times out and sends the same grant (same id and body) to `region`
     * `afterS` seconds later, as a client with failover does (issue 17): across a partition both
     * regions accept it, and the grant id must still count once.
     */
    readonly retry?: { readonly region: string; readonly afterS: number };
  }[];
  /** Overdraft per region (policy). */
  readonly overdraft?: Readonly<Record<string, number>>;
  /** Alert thresholds (policy `alerts`, extension): checked by A1 (alert-check.ts). */
  readonly alerts?: readonly AlertRule[];
  /** Debits per second per region, over time. */
  readonly rates: readonly {
    readonly region: string;
    readonly perSecond: number;
    readonly shape: 'steady' | 'bursty' | 'diurnal';
    readonly fromS?: number;
    readonly toS?: number;
  }[];
  readonly debitAmount: { readonly min: number; readonly max: number };
  /** Probability that a client retries a debit (same key) at another region. */
  readonly retryElsewhere?: number;
  /** Probability that an accepted debit is later refunded. */
  readonly refund?: number;
  /**
   * Extension: probability that a client sends a debit's key again at the same region soon after,
   * with another amount (a client bug, or two clients sharing keys): answered conflict while the
   * first debit holds the key, accepted where it never did.
   */
  readonly conflicting?: number;
  /**
   * LLM-style holds (extension, issue 12): at `region`, `perSecond` times a client reserves
   * `maxAmount` for `ttlS` seconds, then after a moment captures what it used (1..maxAmount), or
   * voids it (`void`), or never settles it (`never`: it expires); `elsewhere` of the settles are
   * sent to another region (forwarded to the holder, or refused across a partition).
   */
  readonly holds?: {
    readonly region: string;
    readonly perSecond: number;
    readonly maxAmount: number;
    readonly ttlS: number;
    readonly void?: number;
    readonly never?: number;
    readonly elsewhere?: number;
  };
  /**
   * Policy changes during the run (extension): at `atS`, an admin at `region` sets the tenant's
   * overdraft to `overdraft`. S1's bound uses, per region, the largest overdraft ever allowed.
   */
  readonly policyChanges?: readonly {
    readonly atS: number;
    readonly region: string;
    readonly overdraft: Readonly<Record<string, number>>;
  }[];
}

/** A scenario file (simulations/*.yaml), after validation. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly regions: readonly string[];
  readonly durationS: number;
  /**
   * Quiet time after the last fault heals, for convergence (S4). The engine starts it once nothing
   * more is due: the workload's end, the last heal, and the last grant expiry (as the slowest clock
   * sees it), whichever is last.
   */
  readonly quietS: number;
  readonly rebalancing: 'adaptive' | 'static';
  readonly network: NetworkSpec;
  readonly tenants: readonly TenantSpec[];
  readonly faults: readonly Fault[];
  /**
   * The Crypto port's signatures (extension; default `simulated`): `simulated` signs with a
   * SHA-512 keyed by a secret only the run's keyring holds (64 bytes, verified exactly like Ed25519
   * is, ~30× cheaper); `ed25519` runs node:crypto Ed25519 with keys derived from the seed. Hashes
   * are SHA-256 either way.
   */
  readonly signatures?: 'simulated' | 'ed25519';
  /**
   * How long a debit waits for rights from peers, ms (extension; the node's `borrowWaitMs`). When
   * absent: the node default, or longer where the scenario's links are slower (`borrowWaitOf`).
   */
  readonly borrowWaitMs?: number;
  /**
   * Extension (issue 15): with `--swarm`, the share of seeds that draw a storage fault and the
   * share that draw a hostile wire (defaults: the sim's SWARM_STORAGE_RATE, SWARM_HOSTILE_RATE), and
   * (issue 11) the share that draw a lost disk whose incarnation an operator retires, and maybe
   * restores from a backup after (default SWARM_RETIRE_RATE); (issue 12) the share of seeds whose
   * drawn workload takes LLM-style holds at one tenant (default SWARM_HOLDS_RATE; a swarm over a
   * file keeps the file's workload, holds or none); the share that draw write errors at a region
   * (default SWARM_WRITE_ERRORS_RATE) and the share whose drawn workload sends conflicting keys
   * (default SWARM_CONFLICTING_RATE; drawn workloads only).
   */
  readonly faultRates?: {
    readonly storage?: number;
    readonly hostile?: number;
    readonly retire?: number;
    readonly holds?: number;
    readonly writeErrors?: number;
    readonly conflicting?: number;
  };
}
