/**
 * A replica's state and its parts, wired (STYLE.md "One owner, one home"): the fold, the stored
 * heads, the control document and the flags every part reads, and the parts themselves, each made
 * with the host part-hosts.ts builds for it, in an order where a part handed another directly finds
 * it made (ReplicaNode, replica-node.ts, is what they see of it). The Replica (replica.ts) is the facade of commands and reads over it; opening.ts opens
 * and recovers it.
 */
import {
  createLedgerState,
  decideMove,
  type LedgerState,
  type OriginId,
  originId,
  type RetiredOrigin,
  regionOf,
} from '@allot/core';
import { AntiEntropy } from './anti-entropy.js';
import { Archiving } from './archiving.js';
import { Borrowing } from './borrow.js';
import type { CheckpointSchedule } from './checkpoints.js';
import { Commands } from './commands.js';
import { ControlDocument } from './control.js';
import { Deadlines } from './deadlines.js';
import { GrantConflicts } from './duplicate-grants.js';
import { EventFeed } from './event-feed.js';
import { ExpirySchedule } from './expiry-schedule.js';
import { Grants } from './grants.js';
import { GroupCommit } from './group-commit.js';
import { HoldForwarding } from './hold-forwarding.js';
import { HeardIncarnations } from './incarnations.js';
import type { Joiner } from './join.js';
import { Joining } from './joining.js';
import { KeySpill } from './key-spill.js';
import { KEY_INDEX_BUCKET_MS_MIN, KEY_INDEX_BUCKETS_PER_RETENTION } from './limits.js';
import { LogConfirm } from './log-confirm.js';
import { recoverParts } from './opening.js';
import { type ReplicaOptions, resolveOptions } from './options.js';
import {
  antiEntropyHost,
  archivingPorts,
  borrowingHost,
  commandsHost,
  deadlinesHost,
  forwardingHost,
  grantsHost,
  joiningHost,
  linkHost,
  logConfirmHost,
  ownLogHost,
  readsHost,
  rebalancingHost,
  remoteHost,
  writabilityHost,
} from './part-hosts.js';
import { PeerLink } from './peer-link.js';
import type { PeerState } from './peers.js';
import type { LogHead, NodeMeta } from './ports.js';
import { Reads } from './reads.js';
import { Rebalancing } from './rebalancing.js';
import { RemoteEvents } from './remote-events.js';
import type { ReplicaNode, ReplicaPorts } from './replica-node.js';
import { SuccessorWatch } from './successors.js';
import { Writability } from './writability.js';

/** One replica's state and parts (see the file's doc). */
export class ReplicaParts implements ReplicaNode {
  readonly cluster: string;
  readonly region: string;
  readonly incarnation: string;
  readonly origin: OriginId;
  /** Every event once durable here, in fold order (event-feed.ts): the stream, alerts, webhooks. */
  readonly feed: EventFeed;

  readonly options: Required<ReplicaOptions>;
  readonly ports: ReplicaPorts;
  state: LedgerState = createLedgerState();
  control: ControlDocument;
  readonly expiries = new ExpirySchedule();
  heads = new Map<OriginId, LogHead>();

  /** Expiries, repay and the retention sweep (deadlines.ts). */
  readonly deadlines: Deadlines;
  /** The archive task, when archiving is on. */
  readonly archiving: Archiving | null;
  /** When to write checkpoints (checkpoints.ts); set once open. */
  checkpoints: CheckpointSchedule | null = null;
  /** Joining by checkpoint: set at open when nothing is stored; inactive once decided (join.ts). */
  joiner: Joiner | null = null;
  /** Serving joiners and this node's joiner's wiring (joining.ts). */
  readonly joining: Joining;
  /** The key indexes' closed buckets on disk (issue 18). */
  readonly keySpill: KeySpill;
  /** The own log and its group commit (group-commit.ts). */
  readonly ownLog: GroupCommit;
  closing = false;
  broken: Error | null = null;
  /** Set once this node's own incarnation is known retired: it takes no writes from then on. */
  ownRetired: RetiredOrigin | null = null;

  /** Replication: the transport, what each peer has, the chain tip of every origin (pending included). */
  readonly peers = new Map<string, PeerState>();
  readonly tips = new Map<OriginId, { seq: number; hash: Uint8Array }>();
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
  readonly grantConflicts = new GrantConflicts((conflict) => {
    this.ports.observer?.grantConflict?.();
    this.ports.logger.warn(
      { ...conflict },
      'grant id defined with different terms at two regions: the later is revoked',
    );
  });

  constructor(options: ReplicaOptions, ports: ReplicaPorts, meta: NodeMeta) {
    this.options = resolveOptions(options);
    this.ports = ports;
    this.keySpill = new KeySpill(ports.store, ports.logger, this.options.keyIndexMemoryBytes, ports.crypto);
    this.feed = new EventFeed(ports.logger);
    this.cluster = meta.cluster;
    this.region = meta.region;
    this.incarnation = meta.incarnation;
    this.origin = originId(meta.region, meta.incarnation);
    this.heard = new HeardIncarnations(this.origin);
    this.successors = new SuccessorWatch(this.origin);
    this.knownRegions = new Set([this.region, ...Object.keys(this.options.peerKeys)]);
    this.writability = new Writability(writabilityHost(this));
    this.deadlines = new Deadlines(deadlinesHost(this));
    this.ownLog = new GroupCommit(ownLogHost(this));
    this.control = new ControlDocument(ports.rng.nextUint32());
    this.reads = new Reads(readsHost(this));
    this.archiving =
      this.options.archiveAfterMs === null
        ? null
        : new Archiving(archivingPorts(this), this.options.archiveAfterMs);
    this.antiEntropy = new AntiEntropy(antiEntropyHost(this));
    this.rebalancing = new Rebalancing(rebalancingHost(this));
    this.borrowing = new Borrowing(borrowingHost(this));
    this.logConfirm = new LogConfirm(logConfirmHost(this));
    this.joining = new Joining(joiningHost(this));
    this.grants = new Grants(grantsHost(this));
    this.forwarding = new HoldForwarding(forwardingHost(this));
    this.commands = new Commands(commandsHost(this));
    this.link = new PeerLink(linkHost(this));
    this.remote = new RemoteEvents(remoteHost(this));
  }

  /**
   * The record window of this replica's fold (and of every fold it makes for others): up to
   * `records` of its own region's debits and refunds on the heap; its peers' debits are indexed only.
   */
  recordWindow(): { records: number; bucketMs: number; onHeap: (origin: string) => boolean } {
    return {
      records: this.options.recordWindowRecords,
      onHeap: (origin) => regionOf(origin) === this.region,
      bucketMs: Math.max(
        KEY_INDEX_BUCKET_MS_MIN,
        Math.ceil(this.options.idempotencyRetentionMs / KEY_INDEX_BUCKETS_PER_RETENTION),
      ),
    };
  }

  /** Rebuilds everything from the store: the fold of every stored log and the control document. */
  recover(): Promise<void> {
    return recoverParts(this);
  }

  /** Writes the key indexes' closed buckets to disk when a newer one began (key-spill.ts). */
  spillClosedKeys(): void {
    // A part covers an origin up to what is both durable and folded (so in the index).
    const state = this.state;
    this.keySpill.poke(state.recordWindow, (origin) =>
      Math.min(this.heads.get(origin)?.seq ?? 0, state.versionVector[origin] ?? 0),
    );
  }

  /** Moves rights of the tenant to `to` if the ledger accepts it (rebalancing's one write): whether it did. */
  moveRights(tenant: string, to: OriginId, amount: number): boolean {
    const decision = decideMove(this.state, this.context(), { tenant, to, amount });
    if (decision.status !== 'accepted') return false;
    this.ownLog.append(decision.body);
    this.ports.observer?.rightsMoved?.(amount);
    return true;
  }

  private context(): { origin: OriginId; now: number } {
    return { origin: this.origin, now: this.ports.clock.now() };
  }
}
