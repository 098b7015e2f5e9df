/**
 * A replica's state and its parts as its parts' hosts (part-hosts.ts) and its opening (opening.ts)
 * see them; ReplicaParts (replica-parts.ts) is the one implementation. An interface of its own so
 * that the files which wire and open the parts do not import the file that makes them.
 */
import type { LedgerState, OriginId, RetiredOrigin } from '@allot/core';
import type { AntiEntropy } from './anti-entropy.js';
import type { ReplicaObserver } from './api.js';
import type { Archiving } from './archiving.js';
import type { Borrowing } from './borrow.js';
import type { CheckpointSchedule } from './checkpoints.js';
import type { Commands } from './commands.js';
import type { ControlDocument } from './control.js';
import type { Deadlines } from './deadlines.js';
import type { GrantConflicts } from './duplicate-grants.js';
import type { EventFeed } from './event-feed.js';
import type { ExpirySchedule } from './expiry-schedule.js';
import type { Grants } from './grants.js';
import type { GroupCommit } from './group-commit.js';
import type { HoldForwarding } from './hold-forwarding.js';
import type { HeardIncarnations } from './incarnations.js';
import type { Joiner } from './join.js';
import type { Joining } from './joining.js';
import type { KeySpill } from './key-spill.js';
import type { LogConfirm } from './log-confirm.js';
import type { ReplicaOptions } from './options.js';
import type { PeerLink } from './peer-link.js';
import type { PeerState } from './peers.js';
import type { Clock, Crypto, Logger, LogHead, Rng, Store } from './ports.js';
import type { Reads } from './reads.js';
import type { Rebalancing } from './rebalancing.js';
import type { RemoteEvents } from './remote-events.js';
import type { SuccessorWatch } from './successors.js';
import type { Writability } from './writability.js';

/** What a replica is plugged into. */
export interface ReplicaPorts {
  readonly store: Store;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly crypto: Crypto;
  readonly logger: Logger;
  readonly observer?: ReplicaObserver;
}

/** A replica's state and parts (see the file's doc). */
export interface ReplicaNode {
  readonly cluster: string;
  readonly region: string;
  readonly incarnation: string;
  readonly origin: OriginId;
  /** Every event once durable here, in fold order (event-feed.ts): the stream, alerts, webhooks. */
  readonly feed: EventFeed;

  readonly options: Required<ReplicaOptions>;
  readonly ports: ReplicaPorts;
  state: LedgerState;
  control: ControlDocument;
  readonly expiries: ExpirySchedule;
  heads: Map<OriginId, LogHead>;

  /** Expiries, repay and the retention sweep (deadlines.ts). */
  readonly deadlines: Deadlines;
  /** The archive task, when archiving is on. */
  readonly archiving: Archiving | null;
  /** When to write checkpoints (checkpoints.ts); set once open. */
  checkpoints: CheckpointSchedule | null;
  /** Joining by checkpoint: set at open when nothing is stored; inactive once decided (join.ts). */
  joiner: Joiner | null;
  /** Serving joiners and this node's joiner's wiring (joining.ts). */
  readonly joining: Joining;
  /** The key indexes' closed buckets on disk (issue 18). */
  readonly keySpill: KeySpill;
  /** The own log and its group commit (group-commit.ts). */
  readonly ownLog: GroupCommit;
  closing: boolean;
  broken: Error | null;
  /** Set once this node's own incarnation is known retired: it takes no writes from then on. */
  ownRetired: RetiredOrigin | null;

  /** Replication: the transport, what each peer has, the chain tip of every origin (pending included). */
  readonly peers: Map<string, PeerState>;
  readonly tips: Map<OriginId, { seq: number; hash: Uint8Array }>;
  readonly rebalancing: Rebalancing;
  readonly borrowing: Borrowing;
  readonly forwarding: HoldForwarding;
  /** Debits, holds, settles and refunds (commands.ts). */
  readonly commands: Commands;
  readonly antiEntropy: AntiEntropy;
  /** Received runs and the own events they call for (remote-events.ts). */
  readonly remote: RemoteEvents;
  /** The transport, the peers' summaries and every received frame (peer-link.ts). */
  readonly link: PeerLink;
  /** Incarnations heard of (issue 16): recorded, named in summaries, gating overdraft. */
  readonly heard: HeardIncarnations;
  /** Older and newer incarnations of this region (successors.ts): a newer one stops writes here. */
  readonly successors: SuccessorWatch;
  readonly logConfirm: LogConfirm;
  /** Whether writes and overdraft are taken, and the incarnations that gate them (writability.ts). */
  readonly writability: Writability;
  /** Balances, policies, pages, snapshots, checkpoints and the cluster view (reads.ts). */
  readonly reads: Reads;
  /** Grants and retires (grants.ts). */
  readonly grants: Grants;
  /** Regions this node knows: itself and its configured peers; a peer may name no other. */
  readonly knownRegions: ReadonlySet<string>;
  /** Grant ids defined with different terms at two origins (issue 17). */
  /** Grant ids defined with different terms at two origins (issue 17). */
  readonly grantConflicts: GrantConflicts;
  /** The record window of this replica's fold (and of every fold it makes for others). */
  recordWindow(): { records: number; bucketMs: number };
  /** Rebuilds everything from the store: the fold of every stored log and the control document. */
  recover(): Promise<void>;
  /** Writes the key indexes' closed buckets to disk when a newer one began (key-spill.ts). */
  spillClosedKeys(): void;
  /** Moves rights of the tenant to `to` if the ledger accepts it (rebalancing's one write): whether it did. */
  moveRights(tenant: string, to: OriginId, amount: number): boolean;
}
