/**
 * One region's replica (DESIGN.md §2–3): it decides commands on its in-memory fold, appends what
 * it decides to its origin log, group-commits the log to the Store, and answers each command only
 * once its events are durable. One decision at a time (JavaScript runs one callback at a time, and
 * a decision never awaits), so per tenant the decisions are serial; the events of a batch are
 * applied in memory at once, so later decisions of the same batch see earlier ones.
 */
import {
  activeHolds,
  createLedgerState,
  decideMove,
  grantDefinitions,
  holdsEndedOf,
  type LedgerState,
  type OriginId,
  originId,
  overdraftInUseTotal,
  type RetiredOrigin,
  regionOf,
  tenantIds,
} from '@allot/core';
import { AntiEntropy } from './anti-entropy.js';
import type {
  BalanceView,
  DebitCommand,
  DebitOutcome,
  EventView,
  GrantCommand,
  GrantOutcome,
  HoldCommand,
  HoldOutcome,
  RefundCommand,
  RefundOutcome,
  ReplicaObserver,
  SettleCommand,
  SettleOutcome,
  SnapshotHeader,
  SnapshotTenant,
  StoreFailure,
  TenantPolicy,
} from './api.js';
import { Archiving } from './archiving.js';
import type { SnapshotAtRefusal } from './as-of.js';
import { Borrowing } from './borrow.js';
import { CheckpointSchedule, newestSignedCheckpoint } from './checkpoints.js';
import { Commands } from './commands.js';
import { ControlDocument } from './control.js';
import { Deadlines } from './deadlines.js';
import { GrantConflicts } from './duplicate-grants.js';
import { EventFeed } from './event-feed.js';
import { OwnEventTimes, storedEventTime } from './event-time.js';
import { ExpirySchedule } from './expiry-schedule.js';
import { Grants, type RetireOutcome } from './grants.js';
import { GroupCommit } from './group-commit.js';
import { HoldForwarding } from './hold-forwarding.js';
import { HeardIncarnations } from './incarnations.js';
import { Joiner } from './join.js';
import { Joining } from './joining.js';
import { type KeyIndexUse, KeySpill, keyIndexUse } from './key-spill.js';
import { KEY_INDEX_BUCKET_MS_MIN, KEY_INDEX_BUCKETS_PER_RETENTION } from './limits.js';
import { ZERO_HASH } from './log.js';
import { LogConfirm } from './log-confirm.js';
import { ReplicaOpenError } from './open-error.js';
import { openMeta } from './opening.js';
import { checkOptions, type ReplicaOptions, resolveOptions } from './options.js';
import { PeerLink } from './peer-link.js';
import type { PeerState } from './peers.js';
import type {
  Clock,
  Crypto,
  Logger,
  LogHead,
  NodeMeta,
  Rng,
  Store,
  StoredCheckpoint,
  StoredSegment,
  Transport,
} from './ports.js';
import { type ClusterView, Reads } from './reads.js';
import { Rebalancing } from './rebalancing.js';
import { recoverStore } from './recovery.js';
import { STORE_FAILED } from './refusals.js';
import { RemoteEvents } from './remote-events.js';
import { countedVector, ownRetiredLine, retiredPastThrough } from './retire.js';
import { SuccessorWatch } from './successors.js';
import { Writability } from './writability.js';

export type { RetireOutcome } from './grants.js';
export { ReplicaOpenError } from './open-error.js';
export type { ReplicaOptions } from './options.js';
export type { StrandedRights } from './views.js';

/** What a replica is plugged into. */
export interface ReplicaPorts {
  readonly store: Store;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly crypto: Crypto;
  readonly logger: Logger;
  readonly observer?: ReplicaObserver;
}

/** One region's replica of the ledger. */
export class Replica {
  readonly cluster: string;
  readonly region: string;
  readonly incarnation: string;
  readonly origin: OriginId;
  /** Every event once durable here, in fold order (event-feed.ts): the stream, alerts, webhooks. */
  readonly feed: EventFeed;

  private readonly options: Required<ReplicaOptions>;
  private readonly ports: ReplicaPorts;
  private state: LedgerState = createLedgerState();
  private control: ControlDocument;
  private readonly expiries = new ExpirySchedule();
  private heads = new Map<OriginId, LogHead>();

  /** Expiries, repay and the retention sweep (deadlines.ts). */
  private readonly deadlines: Deadlines;
  /** The archive task, when archiving is on. */
  private readonly archiving: Archiving | null;
  /** When to write checkpoints (checkpoints.ts); set once open. */
  private checkpoints: CheckpointSchedule | null = null;
  /** Joining by checkpoint: set at open when nothing is stored; inactive once decided (join.ts). */
  private joiner: Joiner | null = null;
  /** Serving joiners and this node's joiner's wiring (joining.ts). */
  private readonly joining: Joining;
  /** The key indexes' closed buckets on disk (issue 18). */
  private readonly keySpill: KeySpill;
  /** The own log and its group commit (group-commit.ts). */
  private readonly ownLog: GroupCommit;
  private closing = false;
  private broken: Error | null = null;
  /** Set once this node's own incarnation is known retired: it takes no writes from then on. */
  private ownRetired: RetiredOrigin | null = null;

  /** Replication: the transport, what each peer has, the chain tip of every origin (pending included). */
  private readonly peers = new Map<string, PeerState>();
  private readonly tips = new Map<OriginId, { seq: number; hash: Uint8Array }>();
  private readonly rebalancing: Rebalancing;
  private readonly borrowing: Borrowing;
  private readonly forwarding: HoldForwarding;
  /** Debits, holds, settles and refunds (commands.ts). */
  private readonly commands: Commands;
  private readonly antiEntropy: AntiEntropy;
  /** Received runs and the own events they call for (remote-events.ts). */
  private readonly remote: RemoteEvents;
  /** The transport, the peers' summaries and every received frame (peer-link.ts). */
  private readonly link: PeerLink;
  /** Incarnations heard of (issue 16): recorded, named in summaries, gating overdraft. */
  private readonly heard: HeardIncarnations;
  /** Older and newer incarnations of this region (successors.ts): a newer one stops writes here. */
  private readonly successors: SuccessorWatch;
  private readonly logConfirm: LogConfirm;
  /** Whether writes and overdraft are taken, and the incarnations that gate them (writability.ts). */
  private readonly writability: Writability;
  /** Balances, policies, pages, snapshots, checkpoints and the cluster view (reads.ts). */
  private readonly reads: Reads;
  /** Grants and retires (grants.ts). */
  private readonly grants: Grants;
  /** Regions this node knows: itself and its configured peers; a peer may name no other. */
  private readonly knownRegions: ReadonlySet<string>;
  /** Grant ids defined with different terms at two origins (issue 17). */
  private readonly grantConflicts = new GrantConflicts((conflict) => {
    this.ports.observer?.grantConflict?.();
    this.ports.logger.warn(
      { ...conflict },
      'grant id defined with different terms at two regions: the later is revoked',
    );
  });

  private constructor(options: ReplicaOptions, ports: ReplicaPorts, meta: NodeMeta) {
    this.options = resolveOptions(options);
    this.ports = ports;
    this.keySpill = new KeySpill(ports.store, ports.logger, this.options.keyIndexMemoryBytes);
    this.feed = new EventFeed(ports.logger);
    this.cluster = meta.cluster;
    this.region = meta.region;
    this.incarnation = meta.incarnation;
    this.origin = originId(meta.region, meta.incarnation);
    this.heard = new HeardIncarnations(this.origin);
    this.successors = new SuccessorWatch(this.origin);
    this.knownRegions = new Set([this.region, ...Object.keys(this.options.peerKeys)]);
    this.writability = new Writability({
      origin: this.origin,
      region: this.region,
      store: ports.store,
      logger: ports.logger,
      observer: ports.observer,
      peerKeys: this.options.peerKeys,
      knownRegions: this.knownRegions,
      peers: this.peers,
      heard: this.heard,
      successors: this.successors,
      ownLog: () => this.ownLog,
      logConfirm: () => this.logConfirm,
      remote: () => this.remote,
      deadlines: () => this.deadlines,
      state: () => this.state,
      heads: () => this.heads,
      closing: () => this.closing,
      ownRetired: () => this.ownRetired,
      joining: () => this.joiner?.refusesWrites === true,
    });
    this.deadlines = new Deadlines({
      origin: this.origin,
      clock: ports.clock,
      logger: ports.logger,
      expiries: this.expiries,
      idempotencyRetentionMs: this.options.idempotencyRetentionMs,
      ownLog: () => this.ownLog,
      state: () => this.state,
      closing: () => this.closing,
      broken: () => this.broken !== null,
      logConfirmed: () => this.writability.logConfirmed,
      wake: (tenant) => this.borrowing.wake(tenant),
    });
    this.ownLog = new GroupCommit({
      cluster: this.cluster,
      origin: this.origin,
      store: ports.store,
      clock: ports.clock,
      crypto: ports.crypto,
      logger: ports.logger,
      observer: ports.observer,
      sync: this.options.durability === 'fsync',
      batchEventsMax: this.options.batchEventsMax,
      state: () => this.state,
      heads: () => this.heads,
      closing: () => this.closing,
      broken: () => this.broken !== null,
      break: (error) => {
        this.broken = error;
      },
      recover: () => this.recover(),
      balanceFolded: (tenant) => this.reads.balanceAt(tenant, this.reads.versionVector()),
      balanceDurable: (tenant) => this.reads.balanceAt(tenant, this.reads.durableVersionVector()),
      committed: (eventCount, segments, tenants) => {
        this.checkpoints?.committed(eventCount);
        this.spillClosedKeys();
        this.feed.publishSegments(segments, tenants);
      },
      afterCommit: (batch, own) => {
        if (batch.ownFirstSeq !== null)
          this.antiEntropy.pushLive({
            ownFirstSeq: batch.ownFirstSeq,
            lastSeq: batch.lastSeq,
            segments: own,
          });
        if (!this.writability.logConfirmed) this.writability.checkLogWhole();
      },
    });
    this.control = new ControlDocument(ports.rng.nextUint32());
    this.reads = new Reads({
      cluster: this.cluster,
      region: this.region,
      origin: this.origin,
      store: ports.store,
      clock: ports.clock,
      crypto: ports.crypto,
      logger: ports.logger,
      idempotencyRetentionMs: this.options.idempotencyRetentionMs,
      ownLog: this.ownLog,
      keySpill: this.keySpill,
      peers: this.peers,
      grantConflicts: this.grantConflicts,
      link: () => this.link,
      state: () => this.state,
      heads: () => this.heads,
      control: () => this.control,
      recordWindow: () => this.recordWindow(),
      closing: () => this.closing,
      broken: () => this.broken !== null,
    });
    this.archiving =
      this.options.archiveAfterMs === null
        ? null
        : new Archiving(
            {
              store: ports.store,
              clock: ports.clock,
              logger: ports.logger,
              regions: () => this.writability.otherRegions(),
              heads: () => this.heads,
            },
            this.options.archiveAfterMs,
          );
    this.antiEntropy = new AntiEntropy({
      origin: this.origin,
      logger: ports.logger,
      now: () => this.ports.clock.now(),
      attached: () => this.link.transport !== null,
      heads: () => this.heads,
      peers: () => this.peers,
      peer: (region) => this.link.peer(region),
      readSegments: (origin, fromSeq, limit) => this.ports.store.readSegments(origin, fromSeq, limit),
      retired: () => this.state.retired,
      send: (region, frame) => this.link.send(region, frame),
      summary: () => ({
        versionVector: this.heard.summaryVector(this.reads.durableVersionVector()),
        control: this.control.stateVector(),
      }),
    });
    this.rebalancing = new Rebalancing({
      origin: this.origin,
      region: this.region,
      adaptive: () => this.options.rebalancing === 'adaptive',
      attached: () => this.link.transport !== null,
      logConfirmed: () => this.writability.logConfirmed,
      state: () => this.state,
      weights: (tenant) => this.control.policy(tenant).weights,
      rttMs: () => this.link.rttMs,
      now: () => this.ports.clock.now(),
      peers: () => this.peers,
      peer: (region) => this.link.peer(region),
      send: (region, frame) => this.link.send(region, frame),
      waitingFor: (tenant) => this.borrowing.waitingFor(tenant),
      reachableCredits: (tenant) => this.reachableCredits(tenant),
      moveRights: (tenant, to, amount) => this.moveRights(tenant, to, amount),
    });
    this.borrowing = new Borrowing({
      origin: this.origin,
      borrowWaitMs: this.options.borrowWaitMs,
      attached: () => this.link.transport !== null,
      state: () => this.state,
      now: () => this.ports.clock.now(),
      setTimer: (ms, callback) => this.ports.clock.setTimer(ms, callback),
      peers: () => this.peers,
      send: (region, frame) => this.link.send(region, frame),
      waited: (ms, result) => this.ports.observer?.debitWaited?.(ms / 1000, result),
    });
    this.logConfirm = new LogConfirm({
      region: this.region,
      origin: this.origin,
      otherRegions: () => this.writability.regionsToConfirm(),
      peers: this.peers,
      held: (origin) => this.heads.get(origin)?.seq ?? 0,
      counted: (vector) => countedVector(this.state, vector),
      folded: (origin) =>
        origin === this.origin ? this.ownLog.nextSeq - 1 : (this.tips.get(origin)?.seq ?? 0),
      send: (region, frame) => this.link.send(region, frame),
      logger: ports.logger,
    });
    this.joining = new Joining({
      cluster: this.cluster,
      origin: this.origin,
      store: ports.store,
      crypto: ports.crypto,
      clock: ports.clock,
      logger: ports.logger,
      observer: ports.observer,
      peerKeys: this.options.peerKeys,
      retentionMs: this.options.idempotencyRetentionMs,
      peers: this.peers,
      ownLog: this.ownLog,
      link: () => this.link,
      antiEntropy: () => this.antiEntropy,
      heads: () => this.heads,
      durableVersionVector: () => this.reads.durableVersionVector(),
      recordWindow: () => this.recordWindow(),
      recover: () => this.recover(),
      joiner: () => this.joiner,
      holds: (vector) => this.reads.holdsAllOf(countedVector(this.state, vector)),
    });
    this.grants = new Grants({
      origin: this.origin,
      clock: ports.clock,
      logger: ports.logger,
      ownLog: this.ownLog,
      heard: this.heard,
      peers: this.peers,
      deadlines: () => this.deadlines,
      remote: () => this.remote,
      rebalancing: () => this.rebalancing,
      borrowing: () => this.borrowing,
      state: () => this.state,
      admitWrite: (events) => this.writability.admitWrite(events),
      balanceOrFail: (tenant) => this.reads.balanceOrFail(tenant),
    });
    this.forwarding = new HoldForwarding({
      setTimer: (ms, callback) => this.ports.clock.setTimer(ms, callback),
      send: (region, frame) => this.link.send(region, frame),
      settleHere: (command) => this.settleHold(command, false),
    });
    this.commands = new Commands({
      origin: this.origin,
      region: this.region,
      store: ports.store,
      clock: ports.clock,
      logger: ports.logger,
      observer: ports.observer,
      ownLog: this.ownLog,
      rebalancing: this.rebalancing,
      borrowing: this.borrowing,
      forwarding: this.forwarding,
      expiries: this.expiries,
      keySpill: this.keySpill,
      state: () => this.state,
      policy: (tenant) => this.control.policy(tenant),
      overdraftAllowed: () => this.writability.overdraftAllowed(),
      closing: () => this.closing,
      admitWrite: (events) => this.writability.admitWrite(events),
      expireTenant: (tenant) => this.deadlines.expireTenant(tenant),
      creditsReturned: (tenant) => this.deadlines.creditsReturned(tenant),
      armExpiry: () => this.deadlines.armExpiry(),
      balanceOrFail: (tenant) => this.reads.balanceOrFail(tenant),
    });
    this.link = new PeerLink({
      origin: this.origin,
      knownRegions: this.knownRegions,
      peers: this.peers,
      clock: ports.clock,
      logger: ports.logger,
      observer: ports.observer,
      ownLog: this.ownLog,
      antiEntropy: this.antiEntropy,
      rebalancing: this.rebalancing,
      forwarding: this.forwarding,
      archiving: this.archiving,
      control: () => this.control,
      heads: () => this.heads,
      closing: () => this.closing,
      broken: () => this.broken !== null,
      logConfirmed: () => this.writability.logConfirmed,
      overdraftWithheld: () => this.writability.overdraftWithheld,
      recordHeard: (origins) => this.writability.recordHeard(origins),
      noteHeard: (vector) => this.writability.noteHeard(vector),
      checkCaughtUp: (region, theirs) => this.writability.checkCaughtUp(region, theirs),
      checkLogWhole: () => this.writability.checkLogWhole(),
      holdsAllOf: (vector) => this.reads.holdsAllOf(vector),
      receiveRun: (region, frame) => this.remote.receiveRun(region, frame),
      joinFrame: (region, frame) => this.joining.received(region, frame),
      joinSummary: (region, vector) =>
        this.joiner?.summary(region, vector, new Map([...this.tips].map(([at, tip]) => [at, tip.seq]))),
      joining: () => this.joiner?.joining === true,
      joinPeerDown: (region) => this.joiner?.peerDown(region),
    });
    this.remote = new RemoteEvents({
      cluster: this.cluster,
      region: this.region,
      origin: this.origin,
      peerKeys: this.options.peerKeys,
      clock: ports.clock,
      crypto: ports.crypto,
      logger: ports.logger,
      ownLog: this.ownLog,
      link: this.link,
      antiEntropy: this.antiEntropy,
      borrowing: this.borrowing,
      rebalancing: this.rebalancing,
      commands: this.commands,
      expiries: this.expiries,
      grantConflicts: this.grantConflicts,
      tips: this.tips,
      state: () => this.state,
      policy: (tenant) => this.control.policy(tenant),
      logConfirmed: () => this.writability.logConfirmed,
      overdraftAllowed: () => this.writability.overdraftAllowed(),
      overdraftWithheld: () => this.writability.overdraftWithheld,
      ownRetiredHeard: (retired) => {
        if (this.ownRetired !== null) return;
        this.ownRetired = retired;
        this.writability.logConfirmed = false;
        this.ports.logger.error({ origin: this.origin, ...retired }, ownRetiredLine(this.origin, retired));
      },
      ownRegionFolded: (origin) => {
        this.writability.noteSuccessor(this.successors.noteFolded(origin));
        void this.writability.recordHeard([origin]); // an elder heard while newborn (recordHeard skips the rest)
      },
      scheduleExpiry: (tenant, definition) => this.deadlines.scheduleExpiry(tenant, definition),
      armExpiry: () => this.deadlines.armExpiry(),
      repay: (tenant) => this.deadlines.repay(tenant),
      expireTenant: (tenant) => this.deadlines.expireTenant(tenant),
    });
  }

  /**
   * Opens the replica on its store: a new data directory gets a new incarnation; an existing one
   * is recovered (every log's hash chain and own head signature verified, the fold rebuilt).
   * Rejects with a ReplicaOpenError naming what is wrong rather than serve a wrong balance.
   */
  static async open(options: ReplicaOptions, ports: ReplicaPorts): Promise<Replica> {
    checkOptions(options);
    const meta = await openMeta(options, ports);
    const replica = new Replica(options, ports, meta);
    replica.writability.started(replica.options.allowLoneStart);
    await replica.recover();
    const retired = replica.state.retired.get(replica.origin);
    if (retired !== undefined) {
      await ports.store.close();
      throw new ReplicaOpenError(ownRetiredLine(replica.origin, retired));
    }
    const recordedOrigins = await ports.store.readOrigins();
    replica.heard.load(recordedOrigins);
    replica.successors.load(recordedOrigins, replica.ownLog.durableSeq === 0);
    if (replica.options.allowLoneStart && replica.writability.otherRegions().length > 0)
      replica.successors.waive();
    await replica.writability.recordHeard([replica.origin]); // a directory made before origins were recorded
    replica.writability.reportLostIncarnations();
    replica.deadlines.armRetention();
    replica.archiving?.start();
    replica.checkpoints = new CheckpointSchedule(replica.options.checkpoint, ports.clock, async () => {
      await replica.takeCheckpoint();
    });
    replica.checkpoints.start();
    // Peers to ask: the first peer summary decides whether to join by checkpoint (nothing stored, or far behind).
    if (replica.writability.otherRegions().length > 0 && !replica.options.allowLoneStart)
      replica.joiner = new Joiner(replica.joining.joinHost(), replica.options.join);
    ports.logger.info(
      { origin: replica.origin, events: replica.ownLog.durableSeq, tenants: replica.state.tenants.size },
      'replica recovered',
    );
    return replica;
  }

  /** The record window of this replica's fold (and of every fold it makes for others). */
  private recordWindow(): { records: number; bucketMs: number } {
    return {
      records: this.options.recordWindowRecords,
      bucketMs: Math.max(
        KEY_INDEX_BUCKET_MS_MIN,
        Math.ceil(this.options.idempotencyRetentionMs / KEY_INDEX_BUCKETS_PER_RETENTION),
      ),
    };
  }

  /** Rebuilds everything from the store: the fold of every stored log and the control document. */
  private async recover(): Promise<void> {
    const window = this.recordWindow();
    const recordWindow = { ...window, spilled: await this.keySpill.load(window.bucketMs) };
    let recovered = await recoverStore(this.ports, this.cluster, this.origin, recordWindow);
    const cut = retiredPastThrough(recovered.state);
    // Events of a retired incarnation past its retired seq, stored before the retire came: the
    // fold is made again without them, as every node that never took them folds it.
    if (cut.size > 0)
      recovered = await recoverStore(this.ports, this.cluster, this.origin, recordWindow, cut);
    const { state, heads, control } = recovered;
    this.state = state;
    this.heads = heads;
    this.control = control;
    this.tips.clear();
    for (const [origin, head] of heads) this.tips.set(origin, { seq: head.seq, hash: head.hash });
    const own = heads.get(this.origin);
    this.ownLog.durableSeq = own?.seq ?? 0;
    this.ownLog.nextSeq = this.ownLog.durableSeq + 1;
    this.ownLog.ownTimes = new OwnEventTimes();
    this.ownLog.ownTimes.observe(
      await storedEventTime(this.ports.store, this.origin, this.ownLog.durableSeq),
    );
    this.ownLog.lastHash = own?.hash ?? ZERO_HASH;
    this.expiries.clear();
    this.ownLog.overdraftInUse = overdraftInUseTotal(state, this.origin);
    for (const tenant of tenantIds(state)) {
      for (const grant of grantDefinitions(state, tenant))
        this.deadlines.scheduleExpiry(tenant, grant.winner);
      for (const hold of activeHolds(state, tenant))
        if (regionOf(hold.origin) === this.region) this.expiries.add(hold.expiresAt, tenant);
      this.grantConflicts.observe(state, tenant);
    }
    this.ports.observer?.overdraftInUse?.(this.ownLog.overdraftInUse);
    this.deadlines.runExpiries();
    for (const tenant of tenantIds(state)) this.remote.revokeDuplicates(tenant);
    this.spillClosedKeys();
  }

  /** Writes the key indexes' closed buckets to disk when a newer one began (key-spill.ts). */
  private spillClosedKeys(): void {
    // A part covers an origin up to what is both durable and folded (so in the index).
    const state = this.state;
    this.keySpill.poke(state.recordWindow, (origin) =>
      Math.min(this.heads.get(origin)?.seq ?? 0, state.versionVector[origin] ?? 0),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  /** Creates a grant at this region. */
  grant(command: GrantCommand): Promise<GrantOutcome> {
    return this.grants.grant(command);
  }

  /**
   * Retires `lost`, a lost incarnation of this region (planRetire says when it may not): appends the
   * retire events, RETIRE_EVENTS_PER_COMMIT at a time, and answers once all are durable.
   */
  retire(lost: OriginId): Promise<RetireOutcome> {
    return this.grants.retire(lost);
  }

  /** Debits a tenant from this region's rights (plus its overdraft). */
  debit(command: DebitCommand): Promise<DebitOutcome> {
    return this.commands.debit(command);
  }

  /** Debits many tenants in one go: decided in order, committed together, one outcome per command. */
  debitMany(commands: readonly DebitCommand[]): Promise<DebitOutcome[]> {
    return this.commands.debitMany(commands);
  }

  /**
   * What this region could pay for the tenant now with the live rights it and its connected peers
   * hold as known here, plus its overdraft headroom: a debit up to this is never declined while the
   * cluster is whole (issue 12). For the simulator's false-decline check.
   */
  reachableCredits(tenant: string): number {
    return this.commands.reachableCredits(tenant);
  }

  /** Holds credits of a tenant at this region (API.md Holds): decided like a debit, borrowing included. */
  hold(command: HoldCommand): Promise<HoldOutcome> {
    return this.commands.hold(command);
  }

  /**
   * Captures or voids a hold. The holding region decides; another region forwards the request to
   * it over the replication link, or answers region_unreachable. `forward` false: a request a peer
   * forwarded here, never forwarded again.
   */
  settleHold(command: SettleCommand, forward = true): Promise<SettleOutcome> {
    return this.commands.settleHold(command, forward);
  }

  /** Refunds a debit taken at this region. */
  refund(command: RefundCommand): Promise<RefundOutcome> {
    return this.commands.refund(command);
  }

  /** Sets a tenant's policy in the control document, durably. */
  async setPolicy(tenant: string, policy: TenantPolicy): Promise<TenantPolicy | StoreFailure> {
    const refused = await this.ownLog.admit(0);
    if (refused !== null) return refused;
    const update = this.control.setPolicy(tenant, policy);
    const batch = this.ownLog.openBatch();
    batch.control.push(update);
    this.ownLog.scheduleFlush();
    if (!(await batch.done)) return STORE_FAILED;
    return this.control.policy(tenant);
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  /** The replica's clock (integer ms since the epoch). */
  now(): number {
    return this.ports.clock.now();
  }

  /**
   * The tenant's policy (the default when none was set), including a change whose commit is still
   * pending: for deciding, and for merging a PUT. What the API serves is `durablePolicy`.
   */
  policy(tenant: string): TenantPolicy {
    return this.control.policy(tenant);
  }

  /**
   * The tenant's policy as the store holds it: while a control-document change waits for its
   * commit (which may fail and be undone), the read waits for it, as `durableBalance` does.
   */
  durablePolicy(tenant: string): Promise<TenantPolicy> {
    return this.reads.durablePolicy(tenant);
  }

  /**
   * True when a policy of the tenant was written (at any region) and is in the control document.
   * Read after `durablePolicy`, it says whether the policy served was written or the default.
   */
  hasPolicy(tenant: string): boolean {
    return this.control.hasPolicy(tenant);
  }

  /**
   * The tenant's balance in the fold, or undefined for a tenant never granted anything known here.
   * It includes events decided or received but not durable yet (a failed commit undoes them): for
   * tests and the simulator's sampling. What the API serves is `durableBalance`.
   */
  balance(tenant: string): BalanceView | undefined {
    return this.reads.balanceAt(tenant, this.reads.versionVector());
  }

  /** Credits of the tenant's holds that have ended here (an alert id's inflow counts them). */
  holdsEnded(tenant: string): number {
    return holdsEndedOf(this.state, tenant);
  }

  /**
   * The tenant's balance as the store holds it: a read of a tenant with events not durable yet
   * waits until they are (or were undone), so it never shows an effect that is later undone.
   */
  durableBalance(tenant: string): Promise<BalanceView | undefined> {
    return this.reads.durableBalance(tenant);
  }

  /** The version vector of what this replica has folded (own events included once decided). */
  versionVector(): Readonly<Record<OriginId, number>> {
    return this.reads.versionVector();
  }

  /** A page of the tenant's durable events from every origin known here. */
  tenantEvents(
    tenant: string,
    cursor: string | null,
    limit: number,
  ): Promise<{ events: EventView[]; next: string | null }> {
    return this.reads.tenantEvents(tenant, cursor, limit);
  }

  /**
   * Up to `limit` stored segments of `origin`'s log from the one that holds `fromSeq`, as they were
   * signed (the audit export reads every log through it); empty for an origin not known here.
   */
  auditSegments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    return this.reads.auditSegments(origin, fromSeq, limit);
  }

  /** The Ed25519 public key (32 bytes) of every region this node knows: its own and its configured peers'. */
  regionKeys(): Record<string, Uint8Array> {
    return { ...this.options.peerKeys, [this.region]: this.ports.crypto.publicKey };
  }

  /**
   * A snapshot of every tenant at one version vector, with each origin's signed head. New commands
   * wait while it is taken, so the figures, the vector and the heads describe the same durable log.
   */
  snapshot(): Promise<{ header: SnapshotHeader; tenants: SnapshotTenant[] }> {
    return this.reads.snapshot();
  }

  /**
   * Writes a checkpoint of the durable fold now (checkpoints.ts): encoded while new commands wait
   * (so it is one consistent state), then hashed, signed and stored while they run; the two
   * newest are kept. False when none was written (closing, broken, or the store failed: logged).
   */
  takeCheckpoint(): Promise<boolean> {
    return this.reads.takeCheckpoint();
  }

  /** The key indexes' memory and disk use (issue 18; bench:soak and tests read it). */
  keyIndexUse(): KeyIndexUse {
    return keyIndexUse(this.state.recordWindow, this.options.keyIndexMemoryBytes);
  }

  /** Resolves once the closed key-index buckets being written to disk (if any) are. */
  keyIndexSettled(): Promise<void> {
    return this.keySpill.idle();
  }

  /** The newest stored checkpoint whose hash and signature (this node's) verify; null: none (audit). */
  newestCheckpoint(): Promise<StoredCheckpoint | null> {
    return newestSignedCheckpoint(this.ports, this.cluster);
  }

  /**
   * The tenant's durable balance as of `at` (integer ms): the fold of its events up to `at` by
   * as-of.ts's prefix rule, undefined when no grant of it is known by then. `asOf` is `at`.
   */
  balanceAsOf(tenant: string, at: number): Promise<BalanceView | undefined> {
    return this.reads.balanceAsOf(tenant, at);
  }

  /**
   * A snapshot of exactly the durable log prefixes `vector` names (as-of.ts), or why there is
   * none; the header says this region and this clock's time.
   */
  snapshotAt(
    vector: Readonly<Record<OriginId, number>>,
  ): Promise<{ header: SnapshotHeader; tenants: SnapshotTenant[] } | SnapshotAtRefusal> {
    return this.reads.snapshotAt(vector);
  }

  /** True while the replica serves (open, recovered, not broken, not closing). */
  get ready(): boolean {
    return !this.closing && this.broken === null;
  }

  /**
   * True once the replica takes writes: a peer confirmed that it holds all of its own log (or it
   * has no peers, or was started with allowLoneStart). Until then writes answer not_ready.
   */
  get writable(): boolean {
    return this.ready && this.writability.logConfirmed;
  }

  /** The peers whose confirmation of this node's own log writes still wait for; empty once writable. */
  writesWaitingFor(): string[] {
    return this.writability.logConfirmed ? [] : this.logConfirm.waitingFor();
  }

  /** Commits everything pending, stops timers, closes the store. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.borrowing.close();
    this.deadlines.close();
    this.archiving?.stop();
    this.joiner?.close();
    await this.checkpoints?.close();
    this.link.close();
    await this.ownLog.drain();
    await this.ports.store.close();
    this.ports.logger.info({ origin: this.origin, seq: this.ownLog.durableSeq }, 'replica closed');
  }

  // -------------------------------------------------------------------------------------------
  // The log and group commit

  private context(): { origin: OriginId; now: number } {
    return { origin: this.origin, now: this.ports.clock.now() };
  }

  // -------------------------------------------------------------------------------------------
  // Replication (DESIGN.md §4): anti-entropy by version vectors, pushes of durable events,
  // verification of every received run, rebalancing of rights, the control document.

  /** Connects the replica to its peers; call once, after open. */
  attachTransport(transport: Transport): void {
    this.link.attach(transport);
  }

  /** Peers, what they lack, the version vector, and rights stranded at lost incarnations. */
  clusterView(): ClusterView {
    return this.reads.clusterView();
  }

  /** Moves rights of the tenant to `to` if the ledger accepts it (rebalancing's one write). */
  private moveRights(tenant: string, to: OriginId, amount: number): void {
    const decision = decideMove(this.state, this.context(), { tenant, to, amount });
    if (decision.status !== 'accepted') return;
    this.ownLog.append(decision.body);
    this.ports.observer?.rightsMoved?.(amount);
  }
}
