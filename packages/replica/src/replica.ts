/**
 * One region's replica (DESIGN.md §2–3): it decides commands on its in-memory fold, appends what
 * it decides to its origin log, group-commits the log to the Store, and answers each command only
 * once its events are durable. One decision at a time (JavaScript runs one callback at a time, and
 * a decision never awaits), so per tenant the decisions are serial; the events of a batch are
 * applied in memory at once, so later decisions of the same batch see earlier ones.
 */
import {
  activeHolds,
  applyEvent,
  availableAt,
  createLedgerState,
  type DebitRecord,
  debitsOfKey,
  decideDebit,
  decideExpire,
  decideGrant,
  decideHold,
  decideHoldExpiries,
  decideMove,
  decideRefund,
  decideRepay,
  decideSettle,
  eventRecordId,
  forgetAllRecordsBefore,
  type GrantDefinition,
  grantCount,
  grantDefinition,
  grantDefinitions,
  type HoldRecord,
  holdsEndedOf,
  type LedgerEvent,
  type LedgerState,
  makeEvent,
  NOTHING_RECALLED,
  type OriginId,
  originId,
  overdraftInUseTotal,
  parseEventRecordId,
  type RefundRecord,
  type RetiredOrigin,
  refundableOf,
  regionOf,
  type TenantEventBody,
  tenantBalance,
  tenantFigures,
  tenantIds,
} from '@allot/core';
import { AntiEntropy } from './anti-entropy.js';
import type {
  BalanceView,
  DebitCommand,
  DebitDeclined,
  DebitOutcome,
  EventView,
  GrantCommand,
  GrantOutcome,
  GrantView,
  HoldCommand,
  HoldOutcome,
  NotReady,
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
import { type SnapshotAtRefusal, snapshotAt, tenantAsOf } from './as-of.js';
import { type Batch, newBatch, sealSegments, segmentFor } from './batch.js';
import { Borrowing, creditsKnown, declineReason } from './borrow.js';
import {
  type CheckpointOptions,
  CheckpointSchedule,
  checkpointOptionsProblem,
  newestSignedCheckpoint,
  writeCheckpoint,
} from './checkpoints.js';
import { type RecalledSet, recallRecords } from './cold-records.js';
import { ControlDocument, ControlRefused } from './control.js';
import { type GrantConflict, GrantConflicts, revokeDuplicates } from './duplicate-grants.js';
import { DurableReads } from './durable-reads.js';
import { EventFeed } from './event-feed.js';
import { OwnEventTimes, storedEventTime } from './event-time.js';
import { ExpirySchedule } from './expiry-schedule.js';
import { foldReceived } from './fold-received.js';
import type { ReplicationFrame, SegmentsFrame } from './frames.js';
import { HoldForwarding } from './hold-forwarding.js';
import { newIncarnation } from './incarnation.js';
import { HeardIncarnations } from './incarnations.js';
import {
  ARCHIVE_AFTER_MS_MAX,
  ASOF_SNAPSHOTS_MAX,
  BATCH_EVENTS_MAX,
  BORROW_WAIT_MS_DEFAULT,
  BORROW_WAIT_MS_MAX,
  CHECKPOINT_EVERY_EVENTS_DEFAULT,
  CHECKPOINT_EVERY_MS_DEFAULT,
  IDEMPOTENCY_RETENTION_MS_DEFAULT,
  KEY_INDEX_BUCKET_MS_MIN,
  KEY_INDEX_BUCKETS_PER_RETENTION,
  PENDING_EVENTS_MAX,
  RECORD_WINDOW_RECORDS_DEFAULT,
  RETENTION_SWEEP_MS,
  RETIRE_EVENTS_PER_COMMIT,
  RTT_MS_FLOOR,
  SUMMARY_INTERVAL_MS,
  TENANT_EVENTS_PAGE_MAX,
} from './limits.js';
import { toHex, ZERO_HASH } from './log.js';
import { LogConfirm } from './log-confirm.js';
import { ReplicaOpenError } from './open-error.js';
import { originProblem, versionVectorProblem } from './peer-input.js';
import { newPeerState, type PeerState } from './peers.js';
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
  TimerHandle,
  Transport,
} from './ports.js';
import { Rebalancing } from './rebalancing.js';
import { recoverStore } from './recovery.js';
import {
  countedVector,
  ownRetiredLine,
  planRetire,
  type RetirePlan,
  type RetireView,
  retiredPastThrough,
  retiredRunProblem,
} from './retire.js';
import { checkRun, runKey } from './run-check.js';
import { snapshotOf } from './snapshot-view.js';
import {
  debitRecordOf,
  grantView,
  holdView,
  refundRecordOf,
  type StrandedRights,
  strandedRights,
} from './views.js';

export { ReplicaOpenError } from './open-error.js';
export type { StrandedRights } from './views.js';

/** How a replica runs. */
export interface ReplicaOptions {
  readonly cluster: string;
  readonly region: string;
  /** `fsync` (default): a commit is acknowledged once on stable storage. `os`: once handed to the OS. */
  readonly durability?: 'fsync' | 'os';
  readonly batchEventsMax?: number;
  readonly idempotencyRetentionMs?: number;
  /** Full debit and refund records kept on the heap (issue 18); older ones are read back from the log. */
  readonly recordWindowRecords?: number;
  /** Ed25519 public keys (32 bytes) of the other regions, from config: they verify relayed logs. */
  readonly peerKeys?: Readonly<Record<string, Uint8Array>>;
  /**
   * `adaptive` (default): rights flow toward demand and new grants split across reachable regions.
   * `static`: rights stay where grants put them (the simulator compares the two).
   */
  readonly rebalancing?: 'adaptive' | 'static';
  /**
   * Take writes at once even though peers are configured and none has confirmed yet that this
   * node's log is whole (DESIGN.md §2): for a region that must go on alone. Logged at warn.
   */
  readonly allowLoneStart?: boolean;
  /**
   * How long a debit that this region cannot cover waits for rights asked from its peers (DESIGN.md
   * §3 "Borrowing"), ms: 0..BORROW_WAIT_MS_MAX, default BORROW_WAIT_MS_DEFAULT; 0 never waits.
   */
  readonly borrowWaitMs?: number;
  /**
   * Move segments every configured region has acknowledged to the archive once their newest event
   * is this old, ms (archiving.ts): 0..ARCHIVE_AFTER_MS_MAX. Left out (or null): never archive.
   */
  readonly archiveAfterMs?: number | null;
  /**
   * How often a checkpoint of the fold is written (issue 11): every `everyEvents` committed events
   * or `everyMs` (when any came in), within the CHECKPOINT_EVERY_* bounds; defaults
   * CHECKPOINT_EVERY_EVENTS_DEFAULT and CHECKPOINT_EVERY_MS_DEFAULT.
   */
  readonly checkpoint?: CheckpointOptions;
}

/** What a replica is plugged into. */
export interface ReplicaPorts {
  readonly store: Store;
  readonly clock: Clock;
  readonly rng: Rng;
  readonly crypto: Crypto;
  readonly logger: Logger;
  readonly observer?: ReplicaObserver;
}

const CLOSING: StoreFailure = { status: 'unavailable', reason: 'closing' };
const STORE_FAILED: StoreFailure = { status: 'unavailable', reason: 'store_failed' };
const OVERLOADED: StoreFailure = { status: 'unavailable', reason: 'overloaded' };
const INTERNAL: StoreFailure = { status: 'unavailable', reason: 'internal' };
const RETIRED: NotReady = { status: 'not_ready', reason: 'retired', waitingFor: [] };

/** Outcome of a retire command: what it did, why it did nothing, or a store failure. */
export type RetireOutcome =
  | { readonly status: 'accepted'; readonly retire: RetireView }
  | Exclude<RetirePlan, { readonly status: 'plan' }>
  | StoreFailure
  | NotReady;

/** Longest single timer the replica sets; later deadlines are re-armed (host timers overflow at 2^31 ms). */
const TIMER_MS_MAX = 60 * 60 * 1000;

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

  /**
   * Own log: what is durable, where the next event goes (after the pending ones), and the hash of
   * the last own segment sealed (at a commit's start, or received back while recovering).
   */
  private durableSeq = 0;
  /** The times of own events: never before one already written (event-time.ts). */
  private ownTimes = new OwnEventTimes();
  /** Snapshots at a version vector being folded now (at most ASOF_SNAPSHOTS_MAX). */
  private snapshotsAt = 0;
  private nextSeq = 1;
  private lastHash: Uint8Array = ZERO_HASH;

  /** Closed batches waiting for the store, oldest first, then the open one. */
  private readonly queue: Batch[] = [];
  private open: Batch | null = null;
  private inFlight: Batch | null = null;
  private pendingEvents = 0;
  /** Overdraft in use at this origin over all tenants (own events only change it). */
  private overdraftInUse = 0;
  /** True while a commit is about to start (scheduleFlush): the current turn's events join it. */
  private flushQueued = false;
  private expiryTimer: TimerHandle | null = null;
  private retentionTimer: TimerHandle | null = null;
  /** The archive task, when archiving is on. */
  private readonly archiving: Archiving | null;
  /** When to write checkpoints (checkpoints.ts); set once open. */
  private checkpoints: CheckpointSchedule | null = null;
  /** While set, new commands wait for it (recovery, snapshot). */
  private gate: Promise<void> | null = null;
  private closing = false;
  private broken: Error | null = null;
  /** Set once this node's own incarnation is known retired: it takes no writes from then on. */
  private ownRetired: RetiredOrigin | null = null;

  /** Replication: the transport, what each peer has, the chain tip of every origin (pending included). */
  private transport: Transport | null = null;
  private readonly peers = new Map<string, PeerState>();
  private readonly tips = new Map<OriginId, { seq: number; hash: Uint8Array }>();
  private readonly rebalancing: Rebalancing;
  private readonly borrowing: Borrowing;
  private readonly forwarding: HoldForwarding;
  private readonly antiEntropy: AntiEntropy;
  private summaryTimer: TimerHandle | null = null;
  /** True while a new incarnation has not yet caught up with its peers: no overdraft then. */
  private overdraftWithheld = false;
  /** Incarnations heard of (issue 16): recorded, named in summaries, gating overdraft. */
  private readonly heard: HeardIncarnations;
  /** Regions whose summary showed nothing of this region's other incarnations missing here. */
  private readonly caughtUpWith = new Set<string>();
  /** The slowest peer's round trip, ms, refreshed every summary interval (for low-water marks). */
  private rttMs = RTT_MS_FLOOR;
  /**
   * False until every peer's summary shows that this node holds all that peer holds of its region's
   * origins (DESIGN.md §2, log-confirm.ts): until then it appends nothing to its own log, and
   * writes are not_ready.
   */
  private logConfirmed = true;
  private readonly logConfirm: LogConfirm;
  /** Own events fetched back from peers while recovering (for the line logged when done). */
  private fetchedBack = 0;
  /** Tenants (and debit keys) whose received events wait for writability to be acted on. */
  private readonly deferred = new Map<string, Set<string>>();
  /** Peers already reported as holding more of our own log than we made durable (one line each). */
  private readonly reportedFork = new Set<string>();
  /** Balance reads waiting for a tenant's pending events to become durable or be undone. */
  private readonly durableReads = new DurableReads<BalanceView | undefined>();
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
    this.options = {
      peerKeys: options.peerKeys ?? {},
      rebalancing: options.rebalancing ?? 'adaptive',
      allowLoneStart: options.allowLoneStart ?? false,
      borrowWaitMs: options.borrowWaitMs ?? BORROW_WAIT_MS_DEFAULT,
      archiveAfterMs: options.archiveAfterMs ?? null,
      durability: options.durability ?? 'fsync',
      batchEventsMax: options.batchEventsMax ?? BATCH_EVENTS_MAX,
      idempotencyRetentionMs: options.idempotencyRetentionMs ?? IDEMPOTENCY_RETENTION_MS_DEFAULT,
      recordWindowRecords: options.recordWindowRecords ?? RECORD_WINDOW_RECORDS_DEFAULT,
      checkpoint: options.checkpoint ?? {
        everyEvents: CHECKPOINT_EVERY_EVENTS_DEFAULT,
        everyMs: CHECKPOINT_EVERY_MS_DEFAULT,
      },
      cluster: options.cluster,
      region: options.region,
    };
    this.ports = ports;
    this.feed = new EventFeed(ports.logger);
    this.cluster = meta.cluster;
    this.region = meta.region;
    this.incarnation = meta.incarnation;
    this.origin = originId(meta.region, meta.incarnation);
    this.heard = new HeardIncarnations(this.origin);
    this.control = new ControlDocument(ports.rng.nextUint32());
    this.knownRegions = new Set([this.region, ...Object.keys(this.options.peerKeys)]);
    this.archiving =
      this.options.archiveAfterMs === null
        ? null
        : new Archiving(
            {
              store: ports.store,
              clock: ports.clock,
              logger: ports.logger,
              regions: () => this.otherRegions(),
              heads: () => this.heads,
            },
            this.options.archiveAfterMs,
          );
    this.antiEntropy = new AntiEntropy({
      origin: this.origin,
      logger: ports.logger,
      now: () => this.ports.clock.now(),
      attached: () => this.transport !== null,
      heads: () => this.heads,
      peers: () => this.peers,
      peer: (region) => this.peerState(region),
      readSegments: (origin, fromSeq, limit) => this.ports.store.readSegments(origin, fromSeq, limit),
      retired: () => this.state.retired,
      send: (region, frame) => this.send(region, frame),
      summary: () => ({
        versionVector: this.heard.summaryVector(this.durableVersionVector()),
        control: this.control.stateVector(),
      }),
    });
    this.rebalancing = new Rebalancing({
      origin: this.origin,
      region: this.region,
      adaptive: () => this.options.rebalancing === 'adaptive',
      attached: () => this.transport !== null,
      logConfirmed: () => this.logConfirmed,
      state: () => this.state,
      weights: (tenant) => this.control.policy(tenant).weights,
      rttMs: () => this.rttMs,
      now: () => this.ports.clock.now(),
      peers: () => this.peers,
      peer: (region) => this.peerState(region),
      send: (region, frame) => this.send(region, frame),
      waitingFor: (tenant) => this.borrowing.waitingFor(tenant),
      reachableCredits: (tenant) => this.reachableCredits(tenant),
      moveRights: (tenant, to, amount) => this.moveRights(tenant, to, amount),
    });
    this.borrowing = new Borrowing({
      origin: this.origin,
      borrowWaitMs: this.options.borrowWaitMs,
      attached: () => this.transport !== null,
      state: () => this.state,
      now: () => this.ports.clock.now(),
      setTimer: (ms, callback) => this.ports.clock.setTimer(ms, callback),
      peers: () => this.peers,
      send: (region, frame) => this.send(region, frame),
      waited: (ms, result) => this.ports.observer?.debitWaited?.(ms / 1000, result),
    });
    this.logConfirm = new LogConfirm({
      region: this.region,
      origin: this.origin,
      otherRegions: () => this.otherRegions(),
      peers: this.peers,
      held: (origin) => this.heads.get(origin)?.seq ?? 0,
      counted: (vector) => countedVector(this.state, vector),
      folded: (origin) => (origin === this.origin ? this.nextSeq - 1 : (this.tips.get(origin)?.seq ?? 0)),
      send: (region, frame) => this.send(region, frame),
      logger: ports.logger,
    });
    this.forwarding = new HoldForwarding({
      setTimer: (ms, callback) => this.ports.clock.setTimer(ms, callback),
      send: (region, frame) => this.send(region, frame),
      settleHere: (command) => this.settleHold(command, false),
    });
  }

  /**
   * Opens the replica on its store: a new data directory gets a new incarnation; an existing one
   * is recovered (every log's hash chain and own head signature verified, the fold rebuilt).
   * Rejects with a ReplicaOpenError naming what is wrong rather than serve a wrong balance.
   */
  static async open(options: ReplicaOptions, ports: ReplicaPorts): Promise<Replica> {
    const wait = options.borrowWaitMs;
    if (wait !== undefined && (!Number.isSafeInteger(wait) || wait < 0 || wait > BORROW_WAIT_MS_MAX))
      throw new ReplicaOpenError(
        `borrowWaitMs must be an integer from 0 to ${BORROW_WAIT_MS_MAX}, not ${wait}`,
      );
    const after = options.archiveAfterMs;
    if (
      after !== undefined &&
      after !== null &&
      (!Number.isSafeInteger(after) || after < 0 || after > ARCHIVE_AFTER_MS_MAX)
    )
      throw new ReplicaOpenError(
        `archiveAfterMs must be an integer from 0 to ${ARCHIVE_AFTER_MS_MAX}, not ${after}`,
      );
    const checkpointProblem =
      options.checkpoint === undefined ? null : checkpointOptionsProblem(options.checkpoint);
    if (checkpointProblem !== null) throw new ReplicaOpenError(checkpointProblem);
    let meta = await ports.store.readMeta();
    if (meta === null) {
      meta = {
        formatVersion: 1,
        cluster: options.cluster,
        region: options.region,
        incarnation: newIncarnation(ports.rng),
        createdAt: ports.clock.now(),
      };
      // The own origin is recorded with the directory: summaries name it from the start.
      const origins = [originId(meta.region, meta.incarnation)];
      await ports.store.commit({ segments: [], heads: [], meta, origins }, { sync: true });
      ports.logger.info(
        { origin: `${meta.region}#${meta.incarnation}` },
        'new data directory: new incarnation',
      );
    } else if (meta.cluster !== options.cluster || meta.region !== options.region) {
      throw new ReplicaOpenError(
        `data directory belongs to region ${meta.region} of cluster ${meta.cluster}, not region ${options.region} of cluster ${options.cluster}`,
      );
    }
    const replica = new Replica(options, ports, meta);
    // An incarnation may not know what an earlier incarnation of its region still owes: it takes no
    // overdraft until it has caught up with its peers (see checkCaughtUp). After every start, not
    // only a fresh one: a new incarnation restarted before it caught up knows no more than when it
    // was new (swarm seed 203419: ap's new incarnation crashed, restarted, overdrew past its region).
    replica.overdraftWithheld = replica.otherRegions().length > 0;
    replica.logConfirmed = replica.otherRegions().length === 0 || replica.options.allowLoneStart;
    if (replica.otherRegions().length > 0) {
      if (replica.options.allowLoneStart)
        ports.logger.warn(
          { origin: replica.origin },
          'allowLoneStart: taking writes before any peer confirmed that this node holds all of its own log',
        );
      else
        ports.logger.info(
          { origin: replica.origin, waitingFor: replica.logConfirm.waitingFor() },
          `reads served; writes wait until every peer (${replica.logConfirm.waitingFor().join(', ')}) confirms this node holds all of its own log`,
        );
    }
    await replica.recover();
    const retired = replica.state.retired.get(replica.origin);
    if (retired !== undefined) {
      await ports.store.close();
      throw new ReplicaOpenError(ownRetiredLine(replica.origin, retired));
    }
    replica.heard.load(await ports.store.readOrigins());
    await replica.recordHeard([replica.origin]); // a directory made before origins were recorded
    replica.reportLostIncarnations();
    replica.armRetention();
    replica.archiving?.start();
    replica.checkpoints = new CheckpointSchedule(replica.options.checkpoint, ports.clock, async () => {
      await replica.takeCheckpoint();
    });
    replica.checkpoints.start();
    ports.logger.info(
      { origin: replica.origin, events: replica.durableSeq, tenants: replica.state.tenants.size },
      'replica recovered',
    );
    return replica;
  }

  /** Rebuilds everything from the store: the fold of every stored log and the control document. */
  private async recover(): Promise<void> {
    const recordWindow = {
      records: this.options.recordWindowRecords,
      bucketMs: Math.max(
        KEY_INDEX_BUCKET_MS_MIN,
        Math.ceil(this.options.idempotencyRetentionMs / KEY_INDEX_BUCKETS_PER_RETENTION),
      ),
    };
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
    this.durableSeq = own?.seq ?? 0;
    this.nextSeq = this.durableSeq + 1;
    this.ownTimes = new OwnEventTimes();
    this.ownTimes.observe(await storedEventTime(this.ports.store, this.origin, this.durableSeq));
    this.lastHash = own?.hash ?? ZERO_HASH;
    this.expiries.clear();
    this.overdraftInUse = overdraftInUseTotal(state, this.origin);
    for (const tenant of tenantIds(state)) {
      for (const grant of grantDefinitions(state, tenant)) this.scheduleExpiry(tenant, grant.winner);
      for (const hold of activeHolds(state, tenant))
        if (regionOf(hold.origin) === this.region) this.expiries.add(hold.expiresAt, tenant);
      this.grantConflicts.observe(state, tenant);
    }
    this.ports.observer?.overdraftInUse?.(this.overdraftInUse);
    this.runExpiries();
    for (const tenant of tenantIds(state)) this.revokeDuplicates(tenant);
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  /** Creates a grant at this region. */
  async grant(command: GrantCommand): Promise<GrantOutcome> {
    const refused = await this.admitWrite(2);
    if (refused !== null) return refused;
    const decision = decideGrant(this.state, this.context(), command);
    switch (decision.status) {
      case 'accepted': {
        const event = this.append(decision.body);
        this.scheduleExpiry(command.tenant, this.definitionOf(command.tenant, command.grantId));
        this.repay(command.tenant);
        this.revokeDuplicates(command.tenant);
        this.rebalancing.splitGrant(command.tenant, command.amount);
        this.borrowing.wake(command.tenant);
        // Taken now: later batches may fail, and an answer must not show what they would undo.
        const balance = this.balanceOrFail(command.tenant);
        if (!(await this.durable(event.seq))) return STORE_FAILED;
        return { status: 'accepted', grant: this.grantView(command.tenant, command.grantId), balance };
      }
      case 'replayed': {
        const definition = decision.definition;
        if (definition.origin === this.origin && !(await this.durable(definition.seq))) return STORE_FAILED;
        return {
          status: 'replayed',
          grant: this.grantView(command.tenant, command.grantId),
          balance: this.balanceOrFail(command.tenant),
        };
      }
      case 'conflict':
        return {
          status: 'conflict',
          grant: decision.definition === null ? null : this.grantView(command.tenant, command.grantId),
        };
      default:
        return decision;
    }
  }

  /**
   * Retires `lost`, a lost incarnation of this region (planRetire says when it may not): appends the
   * retire events, RETIRE_EVENTS_PER_COMMIT at a time, and answers once all are durable.
   */
  async retire(lost: OriginId): Promise<RetireOutcome> {
    const refused = await this.admitWrite(1);
    if (refused !== null) return refused;
    const plan = planRetire(this.state, this.origin, lost, this.heard.knows(lost), this.peers);
    if (plan.status !== 'plan') return plan;
    let last = 0;
    for (let from = 0; from < plan.bodies.length; from += RETIRE_EVENTS_PER_COMMIT) {
      if (from > 0) {
        if (!(await this.durable(last))) return STORE_FAILED;
        const again = await this.admitWrite(RETIRE_EVENTS_PER_COMMIT);
        if (again !== null) return again;
      }
      for (const body of plan.bodies.slice(from, from + RETIRE_EVENTS_PER_COMMIT))
        last = this.append(body).seq;
    }
    if (!(await this.durable(last))) return STORE_FAILED;
    this.ports.logger.warn(
      { origin: lost, by: this.origin, through: plan.through, rights: plan.view.rights },
      'lost incarnation retired: its rights belong to this incarnation now',
    );
    // Rights that came in repay this origin's overdraft first (DESIGN.md §1).
    for (const tenant of new Set(plan.bodies.map((body) => body.tenant))) this.repay(tenant);
    return { status: 'accepted', retire: { ...plan.view, events: plan.bodies.length } };
  }

  /** Debits a tenant from this region's rights (plus its overdraft). */
  async debit(command: DebitCommand): Promise<DebitOutcome> {
    const refused = await this.admitWrite(1);
    if (refused !== null) return refused;
    return this.decideDebit(command);
  }

  /** Debits many tenants in one go: decided in order, committed together, one outcome per command. */
  async debitMany(commands: readonly DebitCommand[]): Promise<DebitOutcome[]> {
    const refused = await this.admitWrite(commands.length);
    if (refused !== null) return commands.map(() => refused);
    // Decide every command before awaiting any, so they share group commits. One command that
    // fails to be decided fails alone: the others of the batch are still answered as they are.
    const outcomes = commands.map((command) => {
      const seqBefore = this.nextSeq;
      try {
        return this.decideDebit(command);
      } catch (error) {
        // After an append the fold and the log would disagree: that is not one item's failure.
        if (this.nextSeq !== seqBefore) throw error;
        this.ports.logger.error(
          { err: error, tenant: command.tenant },
          'a debit of a batch failed to be decided',
        );
        return INTERNAL;
      }
    });
    return Promise.all(outcomes);
  }

  /**
   * Decides a debit; one this region cannot cover while its reachable peers can waits for rights
   * (borrowing, DESIGN.md §3) and is decided again as they arrive, at most borrowWaitMs.
   */
  private decideDebit(command: DebitCommand, recalled?: RecalledSet): Promise<DebitOutcome> | DebitOutcome {
    return this.withBorrowing<DebitOutcome>(command, () => this.decideDebitNow(command, recalled));
  }

  /**
   * Decides with `decideNow`; a decline for want of credits that the reachable peers could cover
   * waits for rights (borrowing, DESIGN.md §3) and is decided again as they arrive, at most
   * borrowWaitMs. Debits and holds both take this path.
   */
  private withBorrowing<O extends { readonly status: string }>(
    command: { readonly tenant: string; readonly amount: number },
    decideNow: () => Promise<O> | O,
  ): Promise<O> | O {
    const first = decideNow();
    if (first instanceof Promise || first.status !== 'declined') return first;
    const declined = first as unknown as DebitDeclined;
    if (declined.reason === 'blocked') {
      this.ports.observer?.debitDeclined?.('blocked');
      return first;
    }
    const shortfall = declined.requested - declined.available;
    this.rebalancing.maybeRequestRights(command.tenant, shortfall);
    if (!this.borrowing.worthWaiting(command.tenant, shortfall))
      return this.declined(command, declined) as unknown as O;
    type Decided = Promise<O> | O;
    const short = (outcome: Decided) =>
      !(outcome instanceof Promise) &&
      outcome.status === 'declined' &&
      (outcome as unknown as DebitDeclined).reason === 'insufficient_credits';
    return this.borrowing
      .wait<Decided>(
        command.tenant,
        command.amount,
        shortfall,
        () => {
          const again = decideNow();
          return short(again) ? null : again;
        },
        () => {
          const last = decideNow();
          return short(last)
            ? (this.declined(command, last as unknown as DebitDeclined) as unknown as O)
            : last;
        },
      )
      .then((settled): O => {
        // A promise resolved with a promise takes its value: what arrives here is never a promise.
        const outcome = settled as O;
        return outcome.status === 'accepted' || outcome.status === 'replayed' || outcome.status === 'declined'
          ? { ...outcome, waited: true }
          : outcome;
      });
  }

  /**
   * What this region could pay for the tenant now with the live rights it and its connected peers
   * hold as known here, plus its overdraft headroom: a debit up to this is never declined while the
   * cluster is whole (issue 12). For the simulator's false-decline check.
   */
  reachableCredits(tenant: string): number {
    const now = this.ports.clock.now();
    const policy = this.control.policy(tenant);
    const overdraftLimit = this.overdraftAllowed() ? (policy.overdraft[this.region] ?? 0) : 0;
    const headroom =
      availableAt(this.state, tenant, this.origin, now, overdraftLimit) -
      availableAt(this.state, tenant, this.origin, now, 0);
    return creditsKnown(this.state, tenant, this.origin, now, headroom, this.borrowing.reachableOrigins())
      .near;
  }

  /** A decline for want of credits, with its reason (insufficient, unreachable, timeout). */
  private declined(
    command: { readonly tenant: string; readonly amount: number },
    decision: DebitDeclined,
  ): DebitDeclined {
    const now = this.ports.clock.now();
    const rights = availableAt(this.state, command.tenant, this.origin, now, 0);
    const reason = declineReason(
      this.state,
      command.tenant,
      this.origin,
      now,
      command.amount,
      Math.max(0, decision.available - rights),
      this.borrowing.reachableOrigins(),
    );
    this.ports.observer?.debitDeclined?.(reason);
    return { ...decision, declineReason: reason };
  }

  /** One decision on the fold as it is now: accepted (appended), replayed, or why not. */
  private decideDebitNow(
    command: DebitCommand,
    recalled?: RecalledSet,
  ): Promise<DebitOutcome> | DebitOutcome {
    const policy = this.control.policy(command.tenant);
    const overdraftLimit = this.overdraftAllowed() ? (policy.overdraft[this.region] ?? 0) : 0;
    const now = this.ports.clock.now();
    if (policy.blocked) {
      const available = availableAt(this.state, command.tenant, this.origin, now, overdraftLimit);
      return { status: 'declined', reason: 'blocked', requested: command.amount, available };
    }
    const decision = decideDebit(this.state, { origin: this.origin, now, overdraftLimit }, command, recalled);
    if (decision.status === 'recall')
      // Cold records first; the decision then goes through borrowing like any other.
      return this.recallThen(decision.ids, recalled, (more) => this.decideDebit(command, more));
    switch (decision.status) {
      case 'accepted': {
        const event = this.append(decision.body);
        this.rebalancing.recordSpend(command.tenant, command.amount, now);
        this.rebalancing.maybeRequestRights(command.tenant, 0);
        if (this.borrowing.waiting > 0) this.borrowing.spent(command.tenant);
        const debit = this.debitRecord(command.tenant, event);
        const balance = {
          available: availableAt(this.state, command.tenant, this.origin, now, overdraftLimit),
          tenant: tenantBalance(this.state, command.tenant),
        };
        return this.durable(event.seq).then((durable) =>
          durable ? { status: 'accepted' as const, debit, balance } : STORE_FAILED,
        );
      }
      case 'replayed': {
        const debit = decision.debit;
        const balance = {
          available: availableAt(this.state, command.tenant, this.origin, now, overdraftLimit),
          tenant: tenantBalance(this.state, command.tenant),
        };
        if (debit.origin !== this.origin) return { status: 'replayed', debit, balance };
        return this.durable(debit.seq).then((durable) =>
          durable ? { status: 'replayed' as const, debit, balance } : STORE_FAILED,
        );
      }
      default:
        return decision;
    }
  }

  /** Holds credits of a tenant at this region (API.md Holds): decided like a debit, borrowing included. */
  async hold(command: HoldCommand): Promise<HoldOutcome> {
    const refused = await this.admitWrite(1);
    if (refused !== null) return refused;
    return this.withBorrowing<HoldOutcome>(command, () => this.decideHoldNow(command));
  }

  private decideHoldNow(command: HoldCommand): Promise<HoldOutcome> | HoldOutcome {
    const policy = this.control.policy(command.tenant);
    const overdraftLimit = this.overdraftAllowed() ? (policy.overdraft[this.region] ?? 0) : 0;
    const now = this.ports.clock.now();
    const balanceNow = () => ({
      available: availableAt(this.state, command.tenant, this.origin, now, overdraftLimit),
      tenant: tenantBalance(this.state, command.tenant),
    });
    if (policy.blocked) {
      const available = availableAt(this.state, command.tenant, this.origin, now, overdraftLimit);
      return { status: 'declined', reason: 'blocked', requested: command.amount, available };
    }
    const decision = decideHold(this.state, { origin: this.origin, now, overdraftLimit }, command);
    switch (decision.status) {
      case 'accepted': {
        const event = this.append(decision.body);
        this.rebalancing.recordSpend(command.tenant, command.amount, now);
        this.rebalancing.maybeRequestRights(command.tenant, 0);
        if (this.borrowing.waiting > 0) this.borrowing.spent(command.tenant);
        this.expiries.add(decision.body.expiresAt, command.tenant);
        this.armExpiry();
        const hold = holdView(this.holdRecordOf(command.tenant, eventRecordId(event.origin, event.seq)));
        const balance = balanceNow();
        return this.durable(event.seq).then((durable) =>
          durable ? { status: 'accepted' as const, hold, balance } : STORE_FAILED,
        );
      }
      case 'replayed': {
        const hold = decision.hold;
        const answer = { status: 'replayed' as const, hold: holdView(hold), balance: balanceNow() };
        if (hold.origin !== this.origin) return answer;
        return this.durable(hold.seq).then((durable) => (durable ? answer : STORE_FAILED));
      }
      case 'conflict':
        return { status: 'conflict', hold: holdView(decision.hold) };
      default:
        return decision;
    }
  }

  /**
   * Captures or voids a hold. The holding region decides; another region forwards the request to
   * it over the replication link, or answers region_unreachable. `forward` false: a request a peer
   * forwarded here, never forwarded again.
   */
  async settleHold(command: SettleCommand, forward = true): Promise<SettleOutcome> {
    const refused = await this.admitWrite(2 + this.grantCount(command.tenant));
    if (refused !== null) return refused;
    const parsed = parseEventRecordId(command.holdId);
    if (parsed === null) return { status: 'not_found' };
    const decision = decideSettle(this.state, this.context(), command);
    const holder = regionOf(parsed.origin);
    if (decision.status === 'wrong_region' || (decision.status === 'not_found' && holder !== this.region)) {
      if (!forward) return { status: 'not_found' };
      return this.forwarding.forward(holder, command);
    }
    switch (decision.status) {
      case 'not_found':
        return decision;
      case 'expired': {
        // Past its expiry on this region's clock: released now, and no longer to be settled.
        this.expireTenant(command.tenant);
        const record = this.holdRecordOf(command.tenant, decision.hold.holdId);
        if (record.end !== null && !(await this.durable(record.end.seq))) return STORE_FAILED;
        return { status: 'not_active', hold: holdView(record) };
      }
      case 'replayed':
      case 'not_active': {
        const end = decision.hold.end;
        if (end !== null && end.origin === this.origin && !(await this.durable(end.seq))) return STORE_FAILED;
        return { status: decision.status, hold: holdView(decision.hold) };
      }
      case 'accepted': {
        const event = this.append(decision.body);
        // Released credits may return to a grant that has expired meanwhile: they expire again.
        this.expireTenant(command.tenant);
        this.creditsReturned(command.tenant);
        const hold = holdView(this.holdRecordOf(command.tenant, decision.hold.holdId));
        if (!(await this.durable(event.seq))) return STORE_FAILED;
        return { status: 'accepted', hold };
      }
      default:
        return decision;
    }
  }

  private holdRecordOf(tenant: string, holdId: string): HoldRecord {
    const record = this.state.tenants.get(tenant)?.holds?.get(holdId);
    if (record === undefined) throw new Error(`hold ${holdId} of ${tenant} vanished`);
    return record;
  }

  /** Refunds a debit taken at this region. */
  async refund(command: RefundCommand): Promise<RefundOutcome> {
    const refused = await this.admitWrite(2 + this.grantCount(command.tenant));
    if (refused !== null) return refused;
    return this.decideRefund(command);
  }

  private async decideRefund(command: RefundCommand, recalled?: RecalledSet): Promise<RefundOutcome> {
    const decision = decideRefund(this.state, this.context(), command, recalled);
    switch (decision.status) {
      case 'recall':
        return this.recallThen(decision.ids, recalled, (more) => this.decideRefund(command, more));
      case 'accepted': {
        const event = this.append(decision.body);
        const refund = this.refundRecord(command.tenant, event);
        // A refund may return credits to a grant that has expired meanwhile: they expire again.
        this.expireTenant(command.tenant);
        this.creditsReturned(command.tenant);
        const balance = this.balanceOrFail(command.tenant); // now, as for a grant
        if (!(await this.durable(event.seq))) return STORE_FAILED;
        return { status: 'accepted', refund, balance };
      }
      case 'replayed': {
        const refund = decision.refund;
        if (refund.origin === this.origin && !(await this.durable(refund.seq))) return STORE_FAILED;
        return { status: 'replayed', refund, balance: this.balanceOrFail(command.tenant) };
      }
      case 'exceeds_debit':
        return { status: 'exceeds_debit', requested: decision.requested, refundable: decision.refundable };
      default:
        return decision;
    }
  }

  /** Sets a tenant's policy in the control document, durably. */
  async setPolicy(tenant: string, policy: TenantPolicy): Promise<TenantPolicy | StoreFailure> {
    const refused = await this.admit(0);
    if (refused !== null) return refused;
    const update = this.control.setPolicy(tenant, policy);
    const batch = this.openBatch();
    batch.control.push(update);
    this.scheduleFlush();
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
  async durablePolicy(tenant: string): Promise<TenantPolicy> {
    for (;;) {
      while (this.gate !== null) await this.gate;
      const pending = [this.inFlight, ...this.queue, this.open].find(
        (batch) => batch !== null && batch.control.length > 0,
      );
      if (pending === undefined || pending === null) return this.control.policy(tenant);
      await pending.done;
    }
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
    return this.balanceAt(tenant, this.versionVector());
  }

  /** Credits of the tenant's holds that have ended here (an alert id's inflow counts them). */
  holdsEnded(tenant: string): number {
    return holdsEndedOf(this.state, tenant);
  }

  /**
   * The tenant's balance as the store holds it: a read of a tenant with events not durable yet
   * waits until they are (or were undone), so it never shows an effect that is later undone.
   */
  async durableBalance(tenant: string): Promise<BalanceView | undefined> {
    while (this.gate !== null) await this.gate;
    if (!this.tenantPending(tenant)) return this.balanceAt(tenant, this.durableVersionVector());
    return this.durableReads.wait(tenant);
  }

  /** True when the tenant has events in a batch not committed yet. */
  private tenantPending(tenant: string): boolean {
    for (const batch of [this.inFlight, ...this.queue, this.open]) {
      if (batch?.tenants.has(tenant) === true) return true;
    }
    return false;
  }

  private balanceAt(
    tenant: string,
    versionVector: Readonly<Record<OriginId, number>>,
  ): BalanceView | undefined {
    if (grantCount(this.state, tenant) === 0) return undefined;
    return { ...this.balanceOrFail(tenant), versionVector };
  }

  /** True when this replica has folded at least `vector` of every origin it names. */
  private holdsAllOf(vector: Readonly<Record<OriginId, number>>): boolean {
    const folded = this.versionVector();
    return Object.entries(vector).every(([origin, seq]) => (folded[origin] ?? 0) >= seq);
  }

  /** The version vector of what this replica has folded (own events included once decided). */
  versionVector(): Readonly<Record<OriginId, number>> {
    return { ...this.state.versionVector };
  }

  /** A page of the tenant's durable events from every origin known here. */
  async tenantEvents(
    tenant: string,
    cursor: string | null,
    limit: number,
  ): Promise<{ events: EventView[]; next: string | null }> {
    const page = await this.ports.store.readTenantEvents(
      tenant,
      cursor,
      Math.min(limit, TENANT_EVENTS_PAGE_MAX),
    );
    return {
      // An event's identity is the hash of its record in its segment, computed when it is served.
      events: page.events.map((stored) => ({
        event: stored.event,
        hash: toHex(this.ports.crypto.hash(stored.record)),
      })),
      next: page.next,
    };
  }

  /**
   * Up to `limit` stored segments of `origin`'s log from the one that holds `fromSeq`, as they were
   * signed (the audit export reads every log through it); empty for an origin not known here.
   */
  async auditSegments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    const head = this.heads.get(origin);
    if (head === undefined || fromSeq > head.seq) return [];
    return this.ports.store.readSegments(origin, fromSeq, limit);
  }

  /** The Ed25519 public key (32 bytes) of every region this node knows: its own and its configured peers'. */
  regionKeys(): Record<string, Uint8Array> {
    return { ...this.options.peerKeys, [this.region]: this.ports.crypto.publicKey };
  }

  /**
   * A snapshot of every tenant at one version vector, with each origin's signed head. New commands
   * wait while it is taken, so the figures, the vector and the heads describe the same durable log.
   */
  async snapshot(): Promise<{ header: SnapshotHeader; tenants: SnapshotTenant[] }> {
    return this.exclusively(async () =>
      snapshotOf(this.state, this.heads.values(), {
        cluster: this.cluster,
        region: this.region,
        takenAt: this.ports.clock.now(),
      }),
    );
  }

  /**
   * Writes a checkpoint of the durable fold now (checkpoints.ts): encoded while new commands wait
   * (so it is one consistent state), then hashed, signed and stored while they run; the two
   * newest are kept. False when none was written (closing, broken, or the store failed: logged).
   */
  async takeCheckpoint(): Promise<boolean> {
    if (this.closing || this.broken !== null) return false;
    // Checkpoint format 1 carries no retired cells nor retired origins (issue 11): after a retire,
    // starts fold from the newest checkpoint taken before it (or the logs), which stays exact.
    if (this.state.retired.size > 0) return false;
    return writeCheckpoint(
      this.ports,
      this.cluster,
      (work) => this.exclusively(work),
      () => ({ state: this.state, heads: this.heads }),
    );
  }

  /** The newest stored checkpoint whose hash and signature (this node's) verify; null: none (audit). */
  newestCheckpoint(): Promise<StoredCheckpoint | null> {
    return newestSignedCheckpoint(this.ports, this.cluster);
  }

  /**
   * The tenant's durable balance as of `at` (integer ms): the fold of its events up to `at` by
   * as-of.ts's prefix rule, undefined when no grant of it is known by then. `asOf` is `at`.
   */
  async balanceAsOf(tenant: string, at: number): Promise<BalanceView | undefined> {
    const { overdraft } = await this.durablePolicy(tenant);
    const found = await tenantAsOf(this.ports.store, tenant, at, overdraft);
    if (found === undefined) return undefined;
    return { ...found.figures, region: this.region, versionVector: found.versionVector, asOf: at };
  }

  /**
   * A snapshot of exactly the durable log prefixes `vector` names (as-of.ts), or why there is
   * none; the header says this region and this clock's time.
   */
  async snapshotAt(
    vector: Readonly<Record<OriginId, number>>,
  ): Promise<{ header: SnapshotHeader; tenants: SnapshotTenant[] } | SnapshotAtRefusal> {
    if (this.snapshotsAt >= ASOF_SNAPSHOTS_MAX) return { status: 'busy', limit: ASOF_SNAPSHOTS_MAX };
    this.snapshotsAt += 1;
    try {
      const recordWindow = {
        records: this.options.recordWindowRecords,
        bucketMs: Math.max(
          KEY_INDEX_BUCKET_MS_MIN,
          Math.ceil(this.options.idempotencyRetentionMs / KEY_INDEX_BUCKETS_PER_RETENTION),
        ),
      };
      const meta = () => ({ cluster: this.cluster, region: this.region, takenAt: this.ports.clock.now() });
      const outcome = await snapshotAt(this.ports.store, vector, recordWindow, meta);
      if (outcome.status !== 'ok') return outcome;
      return { header: outcome.header, tenants: outcome.tenants };
    } finally {
      this.snapshotsAt -= 1;
    }
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
    return this.ready && this.logConfirmed;
  }

  /** The peers whose confirmation of this node's own log writes still wait for; empty once writable. */
  writesWaitingFor(): string[] {
    return this.logConfirmed ? [] : this.logConfirm.waitingFor();
  }

  /** Commits everything pending, stops timers, closes the store. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.borrowing.close();
    this.expiryTimer?.cancel();
    this.retentionTimer?.cancel();
    this.archiving?.stop();
    await this.checkpoints?.close();
    this.summaryTimer?.cancel();
    await this.drain();
    await this.ports.store.close();
    this.ports.logger.info({ origin: this.origin, seq: this.durableSeq }, 'replica closed');
  }

  // -------------------------------------------------------------------------------------------
  // The log and group commit

  /** Admits a command that appends to the own log: as `admit`, and not before the log is confirmed whole. */
  private async admitWrite(events: number): Promise<StoreFailure | NotReady | null> {
    const refused = await this.admit(events);
    if (refused !== null) return refused;
    if (this.ownRetired !== null) return RETIRED;
    return this.logConfirmed
      ? null
      : { status: 'not_ready', reason: 'recovering', waitingFor: this.logConfirm.waitingFor() };
  }

  /** Waits for a gate; refuses when closing, broken or overloaded. */
  private async admit(events: number): Promise<StoreFailure | null> {
    while (this.gate !== null) await this.gate;
    if (this.closing) return CLOSING;
    if (this.broken !== null) return STORE_FAILED;
    if (this.pendingEvents + events > PENDING_EVENTS_MAX) return OVERLOADED;
    return null;
  }

  private context(): { origin: OriginId; now: number } {
    return { origin: this.origin, now: this.ports.clock.now() };
  }

  private openBatch(): Batch {
    if (this.open === null) this.open = newBatch(this.nextSeq - 1);
    return this.open;
  }

  /** Appends an own event: folded in memory now, written into its batch's segment, durable with it. */
  private append(body: TenantEventBody): LedgerEvent {
    const at = this.ownTimes.next(this.ports.clock.now());
    const event = makeEvent({ origin: this.origin, seq: this.nextSeq, at }, body);
    const result = applyEvent(this.state, event);
    if (result !== 'applied') {
      throw new Error(`own event ${event.seq} was ${result}: the log and the fold disagree`);
    }
    if (event.kind === 'debit') this.overdraftInUse += event.overdraft;
    else if (event.kind === 'refund') this.overdraftInUse -= event.overdraft;
    else if (event.kind === 'repay') this.overdraftInUse -= event.amount;
    else if (event.kind === 'revoke' || event.kind === 'hold') this.overdraftInUse += event.overdraft;
    else if (event.kind === 'capture' || event.kind === 'release') this.overdraftInUse -= event.overdraft;
    let batch = this.openBatch();
    if (batch.eventCount >= this.options.batchEventsMax) {
      this.queue.push(batch);
      this.open = null;
      batch = this.openBatch();
    }
    const segment = segmentFor(batch, this.origin, event.seq);
    segment.writer.add(event);
    segment.tenants.push(event.tenant);
    batch.events.push(event);
    batch.eventCount += 1;
    batch.tenants.add(event.tenant);
    batch.ownFirstSeq ??= event.seq;
    batch.lastSeq = event.seq;
    this.nextSeq += 1;
    this.pendingEvents += 1;
    this.scheduleFlush();
    return event;
  }

  /** Resolves true once own event `seq` is durable, false if its batch failed. */
  private durable(seq: number): Promise<boolean> {
    if (seq <= this.durableSeq) return Promise.resolve(true);
    // Per own event: no array of the batches is made for the search.
    if (this.inFlight !== null && seq <= this.inFlight.lastSeq) return this.inFlight.done;
    for (const batch of this.queue) if (seq <= batch.lastSeq) return batch.done;
    if (this.open !== null && seq <= this.open.lastSeq) return this.open.done;
    throw new Error(`own event ${seq} is neither durable nor pending`);
  }

  /**
   * Natural group commit (DESIGN.md §2): a commit starts as soon as none is in flight; what arrives
   * while one is in flight is the next batch (at most batchEventsMax events each). No timer: the
   * commit starts after the current turn's synchronous work (a microtask), so the events one
   * command appends in a loop (debitMany) share one commit instead of the first going alone.
   */
  private scheduleFlush(): void {
    if (this.inFlight !== null || this.flushQueued) return; // a commit's end starts the next one
    this.flushQueued = true;
    void Promise.resolve().then(() => {
      this.flushQueued = false;
      return this.flush();
    });
  }

  /** Commits the oldest waiting batch; when it ends, the next one (group commit under load). */
  private async flush(): Promise<void> {
    if (this.inFlight !== null) return;
    const batch = this.queue.shift() ?? this.open;
    if (batch === null) return;
    if (batch === this.open) this.open = null;
    this.inFlight = batch;
    // Nothing else pending: the fold is exactly what this commit makes durable, so waiting reads
    // can take their figures now and get them once it is.
    if (this.queue.length === 0 && this.open === null && !this.durableReads.idle)
      batch.held.push(...this.durableReads.hold((tenant) => this.balanceAt(tenant, this.versionVector())));
    const { store, clock } = this.ports;
    const started = clock.now();
    // One encoding, one hash and one signature per segment of own events (DESIGN.md §2).
    const sealed = sealSegments(batch, this.ports.crypto, this.cluster, this.origin, this.lastHash);
    const own = sealed.segments;
    this.lastHash = sealed.lastHash;
    const last = own[own.length - 1];
    const head: LogHead | null =
      last === undefined
        ? null
        : { origin: this.origin, seq: last.lastSeq, hash: last.hash, signature: last.signature };
    // Own segments fetched back from peers (recovery) end before any own event appended after them.
    const remoteHeads = [...batch.remoteHeads.values()].filter(
      (remote) => head === null || remote.origin !== this.origin,
    );
    const heads = [...(head === null ? [] : [head]), ...remoteHeads];
    try {
      await store.commit(
        { segments: [...batch.received, ...own], heads, control: batch.control },
        { sync: this.options.durability === 'fsync' },
      );
    } catch (error) {
      await this.failCommit(batch, error);
      return;
    }
    this.inFlight = null;
    this.pendingEvents -= batch.eventCount; // own and received events both count
    if (head !== null) {
      this.durableSeq = head.seq;
      this.heads.set(this.origin, head);
    }
    for (const remote of remoteHeads) this.heads.set(remote.origin, remote);
    const fetched = head === null ? batch.remoteHeads.get(this.origin) : undefined;
    if (fetched !== undefined) this.durableSeq = fetched.seq;
    this.ports.observer?.batchCommitted(batch.eventCount, (clock.now() - started) / 1000);
    this.ports.observer?.overdraftInUse?.(this.overdraftInUse);
    batch.settle(true);
    this.checkpoints?.committed(batch.eventCount);
    this.feed.publishSegments([...batch.received, ...own]);
    for (const read of batch.held) for (const answer of read.answer) answer(read.view);
    if (!this.durableReads.idle)
      this.durableReads.answerSettled(
        (tenant) => this.tenantPending(tenant),
        (tenant) => this.balanceAt(tenant, this.durableVersionVector()),
      );
    for (const after of batch.afterDurable) after();
    if (batch.ownFirstSeq !== null)
      this.antiEntropy.pushLive({ ownFirstSeq: batch.ownFirstSeq, lastSeq: batch.lastSeq, segments: own });
    if (!this.logConfirmed) this.checkLogWhole();
    if (this.queue.length > 0 || this.open !== null) void this.flush();
  }

  /**
   * A failed write fails every request of its batch and of the batches chained after it, and
   * undoes their effects: the fold is rebuilt from what the store holds.
   */
  private async failCommit(batch: Batch, error: unknown): Promise<void> {
    this.ports.logger.error(
      { err: error, origin: this.origin, seq: batch.lastSeq },
      'commit failed; recovering from the store',
    );
    const failed = [batch, ...this.queue, ...(this.open === null ? [] : [this.open])];
    this.queue.length = 0;
    this.open = null;
    this.pendingEvents = 0;
    let release: () => void = () => {};
    this.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    for (const each of failed) {
      each.settle(false);
      this.durableReads.requeue(each.held);
    }
    try {
      await this.recover();
    } catch (recoveryError) {
      this.broken = recoveryError instanceof Error ? recoveryError : new Error(String(recoveryError));
      this.ports.logger.error(
        { err: recoveryError },
        'recovery after a failed commit failed: refusing all commands',
      );
    } finally {
      this.inFlight = null;
      this.gate = null;
      release();
      // Nothing is pending now: the waiting reads see the fold rebuilt from the store.
      this.durableReads.answerSettled(
        () => false,
        (tenant) => this.balanceAt(tenant, this.durableVersionVector()),
      );
    }
  }

  /**
   * Rebuilds the fold from the store once what is pending is durable: after a received segment
   * failed part-way through the fold, whose first events are in the fold but in no log.
   */
  private async refold(): Promise<void> {
    try {
      await this.exclusively(() => this.recover());
    } catch (error) {
      this.broken = error instanceof Error ? error : new Error(String(error));
      this.ports.logger.error(
        { err: error },
        'rebuilding the fold from the store failed: refusing all commands',
      );
    }
  }

  /**
   * Runs `work` alone: new commands wait at the gate while it runs, after the gate before it and
   * everything pending are done (snapshot, refold).
   */
  private async exclusively<T>(work: () => Promise<T>): Promise<T> {
    let release: () => void = () => {};
    const previous = this.gate;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.gate = gate;
    try {
      if (previous !== null) await previous;
      await this.drain();
      return await work();
    } finally {
      if (this.gate === gate) this.gate = null;
      release();
    }
  }

  /** Waits until nothing is pending or in flight. */
  private async drain(): Promise<void> {
    for (;;) {
      const last = this.open ?? this.queue[this.queue.length - 1] ?? this.inFlight;
      if (last === null) return;
      if (this.inFlight === null) void this.flush();
      await last.done;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Expiry, repay, retention

  private scheduleExpiry(tenant: string, definition: GrantDefinition | null): void {
    if (definition === null || definition.expiresAt === null) return;
    this.expiries.add(definition.expiresAt, tenant);
    this.armExpiry();
  }

  private armExpiry(): void {
    const next = this.expiries.peek();
    if (next === null || this.closing) return;
    this.expiryTimer?.cancel();
    const delay = Math.min(Math.max(0, next - this.ports.clock.now()), TIMER_MS_MAX);
    this.expiryTimer = this.ports.clock.setTimer(delay, () => {
      this.expiryTimer = null;
      this.runExpiries();
    });
  }

  /** Appends the expiry of what is left here of every grant that has expired by now. */
  private runExpiries(): void {
    if (!this.logConfirmed) return; // expiries are own events: run once writable (see becomeWritable)
    if (this.closing || this.broken !== null || this.gate !== null) {
      this.armExpiry();
      return;
    }
    for (const tenant of this.expiries.takeDue(this.ports.clock.now())) {
      this.expireTenant(tenant);
      this.creditsReturned(tenant); // released holds
    }
    this.armExpiry();
  }

  private expireTenant(tenant: string): void {
    // Holds of this region past their expiry on its clock are released, one decision at a time.
    for (let body = decideHoldExpiries(this.state, this.context(), tenant)[0]; body !== undefined; ) {
      this.append(body);
      body = decideHoldExpiries(this.state, this.context(), tenant)[0];
    }
    const decision = decideExpire(this.state, this.context(), tenant);
    for (const body of decision.bodies) this.append(body);
    for (const grantId of decision.limited) {
      this.ports.logger.error({ tenant, grantId }, 'expired cell at the amount limit: grant not expired');
    }
  }

  /**
   * Credits came back to this region's rights by its own event (a refund, a grant, a hold's end):
   * overdraft in use is repaid from them, then debits waiting here for the tenant's rights are
   * decided again (they would otherwise wait for a peer's events, or time out holding them).
   */
  private creditsReturned(tenant: string): void {
    if (!this.logConfirmed) return;
    this.repay(tenant);
    this.borrowing.wake(tenant);
  }

  /** Pays back overdraft in use from rights this region holds now. */
  private repay(tenant: string): void {
    const decision = decideRepay(this.state, this.context(), tenant);
    if (decision.status === 'accepted') this.append(decision.body);
  }

  private armRetention(): void {
    this.retentionTimer = this.ports.clock.setTimer(RETENTION_SWEEP_MS, () => {
      if (this.closing) return;
      const cutoff = this.ports.clock.now() - this.options.idempotencyRetentionMs;
      const forgotten = forgetAllRecordsBefore(this.state, cutoff);
      if (forgotten > 0)
        this.ports.logger.info({ forgotten }, 'forgot records past the idempotency retention');
      this.armRetention();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Replication (DESIGN.md §4): anti-entropy by version vectors, pushes of durable events,
  // verification of every received run, rebalancing of rights, the control document.

  /** Connects the replica to its peers; call once, after open. */
  attachTransport(transport: Transport): void {
    if (this.transport !== null) throw new Error('a transport is attached already');
    this.transport = transport;
    for (const link of transport.peers()) this.peerState(link.region);
    transport.attach({
      peerUp: (region, origin) => this.peerUp(region, origin),
      peerDown: (region) => this.peerDown(region),
      frame: (region, frame) => this.receiveFrame(region, frame),
    });
    this.armSummaries();
  }

  /** Peers, what they lack, the version vector, and rights stranded at lost incarnations. */
  clusterView(): {
    peers: {
      region: string;
      url: string;
      connected: boolean;
      lastHeardMs: number | null;
      lagEvents: number;
      rttMs: number | null;
    }[];
    stranded: StrandedRights[];
    versionVector: Readonly<Record<OriginId, number>>;
    grantConflicts: GrantConflict[];
  } {
    const durable = this.durableVersionVector();
    const peers = (this.transport?.peers() ?? []).map((link) => {
      const known = this.peers.get(link.region)?.versionVector ?? {};
      let lagEvents = 0;
      for (const [origin, seq] of Object.entries(durable))
        lagEvents += Math.max(0, seq - (known[origin] ?? 0));
      return { ...link, lagEvents };
    });
    return {
      peers,
      stranded: this.strandedRights(),
      versionVector: durable,
      grantConflicts: this.grantConflicts.list(),
    };
  }

  private peerState(region: string): PeerState {
    let peer = this.peers.get(region);
    if (peer === undefined) {
      peer = newPeerState();
      this.peers.set(region, peer);
    }
    return peer;
  }

  private peerUp(region: string, origin: OriginId): void {
    const peer = this.peerState(region);
    peer.origin = origin;
    peer.connected = true;
    peer.versionVector = {};
    peer.sent.clear();
    peer.upAt = this.ports.clock.now();
    peer.progress.clear();
    peer.summarized = false;
    this.ports.observer?.peerConnected?.(region, true);
    this.ports.logger.debug({ peer: region, origin }, 'peer connected');
    // The handshake authenticated the incarnation: remember it, and name it to its node once durable.
    if (regionOf(origin) === region && originProblem(origin, this.knownRegions) === null)
      void this.recordHeard([origin]).then(() => {
        if (this.peerState(region).connected && !this.closing) this.antiEntropy.sendSummary(region);
      });
    this.antiEntropy.sendSummary(region);
    this.send(region, { type: 'control', message: this.control.syncStep1() });
  }

  private peerDown(region: string): void {
    // A transport may close a duplicate connection after the kept one came up: trust its state.
    if (this.transport?.peers().find((link) => link.region === region)?.connected === true) return;
    const peer = this.peerState(region);
    peer.connected = false;
    peer.sent.clear();
    this.forwarding.peerDown(region);
    this.ports.observer?.peerConnected?.(region, false);
    this.ports.logger.debug({ peer: region }, 'peer disconnected');
  }

  private send(region: string, frame: ReplicationFrame): boolean {
    try {
      return this.transport?.send(region, frame) ?? false;
    } catch (error) {
      // A frame the transport cannot send (over its byte limit) is not sent; the peer stays
      // behind on that origin until the run fits (see the README's limits).
      this.ports.logger.error({ err: error, peer: region, frame: frame.type }, 'frame not sendable');
      return false;
    }
  }

  /** What this replica holds durably: the version vector of its stored heads. */
  private durableVersionVector(): Record<OriginId, number> {
    const vector: Record<OriginId, number> = {};
    for (const [origin, head] of this.heads) vector[origin] = head.seq;
    return vector;
  }

  private armSummaries(): void {
    this.summaryTimer = this.ports.clock.setTimer(SUMMARY_INTERVAL_MS, () => {
      if (this.closing) return;
      // The transport's view of its links is the truth; up/down callbacks can race a duplicate
      // connection's close, so the cached flags are re-read here.
      let rtt = RTT_MS_FLOOR;
      for (const link of this.transport?.peers() ?? []) {
        const peer = this.peerState(link.region);
        if (peer.connected !== link.connected) peer.sent.clear();
        peer.connected = link.connected;
        if (link.rttMs !== null) rtt = Math.max(rtt, link.rttMs);
      }
      this.rttMs = rtt;
      for (const [region, peer] of this.peers) if (peer.connected) this.antiEntropy.sendSummary(region);
      this.reportLag();
      this.armSummaries();
    });
  }

  private reportLag(): void {
    const report = this.ports.observer?.replicationLag;
    if (report === undefined) return;
    const known = new Map<OriginId, number>();
    for (const peer of this.peers.values()) {
      for (const [origin, seq] of Object.entries(peer.versionVector))
        known.set(origin, Math.max(known.get(origin) ?? 0, seq));
    }
    for (const [origin, seq] of known)
      report.call(this.ports.observer, origin, Math.max(0, seq - (this.heads.get(origin)?.seq ?? 0)));
  }

  private receiveFrame(region: string, frame: ReplicationFrame): void {
    if (this.closing || this.broken !== null || this.gate !== null) return; // the peer re-sends after its next summary
    const peer = this.peerState(region);
    peer.connected = true; // the transport delivers frames only from an authenticated, live link
    switch (frame.type) {
      case 'summary': {
        const refused = versionVectorProblem(frame.versionVector, this.knownRegions);
        if (refused !== null) {
          this.transport?.drop(region, refused);
          return;
        }
        const now = this.ports.clock.now();
        for (const [origin, seq] of Object.entries(frame.versionVector)) {
          const known = peer.progress.get(origin);
          if (known === undefined || seq > known.seq) peer.progress.set(origin, { seq, at: now });
        }
        peer.versionVector = { ...frame.versionVector };
        peer.summarized = true;
        this.archiving?.noteSummary(region, frame.versionVector);
        this.noteHeard(frame.versionVector);
        if (this.overdraftWithheld) this.checkCaughtUp(region, frame.versionVector);
        this.checkLogWhole();
        this.checkNoFork(region, frame.versionVector);
        // Shares of grants split while this region was cut off go to it once nothing it holds is
        // missing here (a duplicate grant id among them is then known, and revoked instead).
        if (this.holdsAllOf(frame.versionVector)) this.rebalancing.peerCaughtUp(region);
        for (const [origin, sent] of peer.sent)
          if ((peer.versionVector[origin] ?? 0) >= sent) peer.sent.delete(origin);
        let missing: Uint8Array | null;
        try {
          missing = this.control.syncStep2For(frame.control);
        } catch (error) {
          this.transport?.drop(region, (error as Error).message);
          return;
        }
        if (missing !== null) this.send(region, { type: 'control', message: missing });
        this.antiEntropy.pushMissingLogged(region);
        break;
      }
      case 'pull':
        if (originProblem(frame.origin, this.knownRegions) !== null) {
          this.transport?.drop(region, `pull of ${originProblem(frame.origin, this.knownRegions)}`);
          return;
        }
        peer.versionVector[frame.origin] = Math.min(peer.versionVector[frame.origin] ?? 0, frame.fromSeq - 1);
        peer.sent.delete(frame.origin);
        this.antiEntropy.pushMissingLogged(region);
        break;
      case 'segments':
        if (originProblem(frame.origin, this.knownRegions) !== null) {
          this.transport?.drop(region, `segments of ${originProblem(frame.origin, this.knownRegions)}`);
          return;
        }
        this.receiveRun(region, frame);
        break;
      case 'rights-request':
        this.rebalancing.donate(region, frame.tenant, frame.amount);
        break;
      case 'borrow':
        this.rebalancing.lend(region, frame.tenant, frame.amount);
        break;
      case 'hold-settle':
        this.forwarding.received(region, frame);
        break;
      case 'hold-settled':
        this.forwarding.answered(region, frame);
        break;
      case 'control':
        this.receiveControl(region, frame.message);
        break;
    }
  }

  /** While not writable: becomes writable once every peer confirmed this node's log whole (log-confirm.ts). */
  private checkLogWhole(): void {
    if (this.logConfirmed || this.ownRetired !== null) return;
    if (this.logConfirm.check()) this.becomeWritable();
  }

  /**
   * Once writable, no peer can hold more of our own log than we made durable (peers get only what
   * is durable). One that says it does saw a log we lost and then wrote past: say so, loudly, once.
   */
  private checkNoFork(region: string, theirs: Readonly<Record<OriginId, number>>): void {
    const claimed = theirs[this.origin] ?? 0;
    if (!this.logConfirmed || claimed <= this.durableSeq || this.reportedFork.has(region)) return;
    this.reportedFork.add(region);
    this.ports.logger.error(
      { origin: this.origin, seq: this.durableSeq, peer: region, peerHolds: claimed },
      'a peer holds more of our own log than was made durable here: the logs may have forked',
    );
  }

  /** The log is confirmed whole: take writes, and do the own work that waited for it. */
  private becomeWritable(): void {
    this.logConfirmed = true;
    this.ports.logger.info(
      { origin: this.origin, seq: this.durableSeq, fetchedBack: this.fetchedBack },
      this.fetchedBack > 0
        ? 'own log recovered from peers (fetchedBack events verified with this node key): taking writes'
        : "every peer's summary confirms this node holds all of its own log: taking writes",
    );
    this.overdraftInUse = overdraftInUseTotal(this.state, this.origin);
    this.ports.observer?.overdraftInUse?.(this.overdraftInUse);
    const deferred = [...this.deferred];
    this.deferred.clear();
    for (const [tenant, keys] of deferred) this.afterRemoteEvents(tenant, keys);
    this.runExpiries();
  }

  /**
   * A new incarnation takes overdraft again once every peer's summary shows nothing of this
   * region's earlier incarnations that is not durable here: what they owed counts against the
   * region's allowance (DESIGN.md §1). Debits an earlier incarnation acknowledged but never
   * replicated are the risk of a lost disk, reported with stranded rights.
   */
  private checkCaughtUp(region: string, theirs: Readonly<Record<OriginId, number>>): void {
    for (const [origin, seq] of Object.entries(countedVector(this.state, theirs))) {
      if (
        origin !== this.origin &&
        regionOf(origin) === this.region &&
        (this.heads.get(origin)?.seq ?? 0) < seq
      )
        return;
    }
    this.caughtUpWith.add(region);
    if (this.otherRegions().every((peer) => this.caughtUpWith.has(peer))) {
      this.overdraftWithheld = false;
      this.ports.logger.info({ origin: this.origin }, 'caught up with every peer: overdraft allowed');
      // Duplicate grants an earlier incarnation of this region accepted can be revoked now.
      for (const tenant of this.state.tenants.keys()) this.revokeDuplicates(tenant);
    }
  }

  /**
   * Whether this incarnation may use its region's overdraft now (DESIGN.md §1, issue 16): not
   * before it caught up with its peers, not before some peer's summary named it (a later
   * incarnation of its region could not hear of it), and never once another incarnation of its
   * region was heard of (it may have used the whole allowance on a disk that is lost; until it is
   * retired). Core's rule covers the incarnations whose events reached this node the same way.
   */
  private overdraftAllowed(): boolean {
    if (this.knownRegions.size <= 1) return true; // no peer: nobody else could hear of anything
    return (
      !this.overdraftWithheld &&
      this.heard.heardOfByPeer &&
      !this.heard.predecessorUnretired(this.state.retired)
    );
  }

  /** Durably records the `origins` not recorded yet; one that fails is recorded when heard again. */
  private async recordHeard(origins: Iterable<OriginId>): Promise<void> {
    const fresh = this.heard.toRecord(origins);
    if (fresh.length === 0) return;
    try {
      await this.ports.store.commit({ segments: [], heads: [], origins: fresh }, { sync: true });
    } catch (error) {
      this.heard.settled(fresh, false);
      if (!this.closing)
        this.ports.logger.warn({ err: error, origins: fresh }, 'recording heard-of incarnations failed');
      return;
    }
    this.heard.settled(fresh, true);
    this.reportLostIncarnations();
  }

  /** A peer's checked summary: every incarnation it names is heard of here too. */
  private noteHeard(vector: Readonly<Record<OriginId, number>>): void {
    this.heard.noteSummary(vector);
    this.reportLostIncarnations();
    void this.recordHeard(Object.keys(vector));
  }

  /** Says once per lost incarnation of this region that its whole overdraft allowance counts as used. */
  private reportLostIncarnations(): void {
    for (const origin of this.heard.unreportedLost())
      this.ports.logger.warn(
        { origin: this.origin, lost: origin },
        'an earlier incarnation of this region was heard of: its overdraft allowance counts as used until it is retired',
      );
  }

  /** The other regions this replica knows keys for (its peers). */
  private otherRegions(): string[] {
    return Object.keys(this.options.peerKeys).filter((region) => region !== this.region);
  }

  /**
   * Checks a received run (per segment: chain continuity from what is known here, the origin's
   * signature, its events' shape), then folds it and persists its segments as they are with the
   * next commit. A run that does not verify drops the peer and changes nothing; a gap is pulled;
   * what is known already is ignored.
   */
  private receiveRun(region: string, frame: SegmentsFrame): void {
    const { origin, segments } = frame;
    const own = origin === this.origin;
    // Our own log: we are its only writer; peers give it back only while we recover (DESIGN.md §2).
    if (own && this.logConfirmed) return;
    const key = runKey(
      origin,
      { origin: this.origin, region: this.region, publicKey: this.ports.crypto.publicKey },
      this.options.peerKeys,
    );
    if (key === undefined) {
      this.transport?.drop(region, `segments of ${origin}, a region without a configured key`);
      return;
    }
    const tip = own
      ? { seq: this.nextSeq - 1, hash: this.lastHash }
      : (this.tips.get(origin) ?? { seq: 0, hash: ZERO_HASH });
    const verdict = checkRun(this.ports.crypto, this.cluster, origin, segments, tip, key);
    if (verdict.kind === 'stale') return;
    if (verdict.kind === 'gap') {
      this.send(region, { type: 'pull', origin, fromSeq: verdict.fromSeq });
      return;
    }
    if (verdict.kind === 'refused') {
      this.transport?.drop(region, verdict.reason);
      return;
    }
    const lastSeq = verdict.segments[verdict.segments.length - 1]?.wire.lastSeq ?? 0;
    const retiredPast = retiredRunProblem(this.state, origin, lastSeq);
    if (retiredPast !== null) {
      // No node accepts a retired origin's events past its retired seq: like any bad frame, the link
      // closes and nothing changes. What the peer lacks goes first (the retire among it), so that a
      // node restored from the retired incarnation's backup learns it instead of pushing again.
      void this.antiEntropy
        .pushMissing(region)
        .catch(() => undefined)
        .finally(() => this.transport?.drop(region, retiredPast));
      return;
    }
    const folded = foldReceived(this.state, origin, verdict.segments);
    if (folded.refused !== null) {
      // A signed event that breaks a ledger invariant is a bug at its origin: keep what came before.
      const { seq, error, partial } = folded.refused;
      this.ports.logger.error(
        { err: error, origin, seq, peer: region },
        'received event refused by the fold',
      );
      this.transport?.drop(region, `segments of ${origin}: seq ${seq} refused by the fold`);
      if (partial) void this.refold();
    }
    const applied = folded.last;
    if (applied === null) return;
    if (origin === this.origin) {
      // Own events fetched back from a peer: the next ones are not dated before them.
      for (const { decoded } of verdict.segments.slice(0, folded.writes.length))
        for (const event of decoded.events) this.ownTimes.observe(event.at);
    }
    const batch = this.openBatch();
    batch.received.push(...folded.writes);
    for (const { decoded } of verdict.segments.slice(0, folded.writes.length))
      batch.events.push(...decoded.events);
    batch.eventCount += folded.events;
    this.pendingEvents += folded.events;
    for (const tenant of folded.touched.keys()) batch.tenants.add(tenant);
    for (const { tenant, grantId } of folded.grants) {
      this.scheduleExpiry(tenant, this.definitionOf(tenant, grantId));
      this.grantConflicts.observe(this.state, tenant);
    }
    if (regionOf(origin) === this.region) {
      // Holds of an earlier incarnation of this region: this one releases them at their expiry.
      for (const { tenant, expiresAt } of folded.holds) this.expiries.add(expiresAt, tenant);
      if (folded.holds.length > 0) this.armExpiry();
    }
    this.tips.set(origin, { seq: applied.seq, hash: applied.hash });
    if (own) {
      this.fetchedBack += applied.seq - tip.seq;
      this.nextSeq = applied.seq + 1;
      this.lastHash = applied.hash;
    }
    batch.remoteHeads.set(origin, { origin, ...applied });
    batch.afterDurable.push(() => this.antiEntropy.sendSummary(region));
    if (retiredPastThrough(this.state).size > 0) {
      // This node folded a retired incarnation's events past its retired seq before the retire came.
      this.ports.logger.warn({ origin }, 'a retire cut a log this node had folded further: folding again');
      void this.refold();
    }
    const retiredOwn = this.state.retired.get(this.origin);
    if (retiredOwn !== undefined && this.ownRetired === null) {
      this.ownRetired = retiredOwn;
      this.logConfirmed = false;
      this.ports.logger.error(
        { origin: this.origin, ...retiredOwn },
        ownRetiredLine(this.origin, retiredOwn),
      );
    }
    for (const [tenant, keys] of folded.touched) this.afterRemoteEvents(tenant, keys);
    // Rights may have arrived (a donor's move): debits waiting for them are decided again.
    if (this.logConfirmed) for (const tenant of folded.touched.keys()) this.borrowing.wake(tenant);
    this.scheduleFlush();
  }

  /** What a tenant's new remote events make this region do: repay, expire, refund duplicates. */
  private afterRemoteEvents(tenant: string, keys: ReadonlySet<string>): void {
    if (!this.logConfirmed) {
      // Repay, expiry and duplicate refunds are own events: they wait until the log is whole.
      const waiting = this.deferred.get(tenant) ?? new Set<string>();
      for (const key of keys) waiting.add(key);
      this.deferred.set(tenant, waiting);
      return;
    }
    this.repay(tenant);
    this.expireTenant(tenant);
    this.refundDuplicates(tenant, keys);
    this.revokeDuplicates(tenant);
  }

  /**
   * Duplicate grant ids (DESIGN.md §3, issue 17): takes back the losing definitions this region
   * accepted; what cannot be taken within the bound yet is owed, and rights are asked for it.
   */
  private revokeDuplicates(tenant: string): void {
    const overdraft = this.control.policy(tenant).overdraft[this.region] ?? 0;
    const owed = revokeDuplicates(
      this.state,
      {
        origin: this.origin,
        now: this.ports.clock.now(),
        overdraftLimit: this.overdraftAllowed() ? overdraft : 0,
        earlierIncarnations: !this.overdraftWithheld,
      },
      tenant,
      (body) => {
        this.append(body);
        this.ports.logger.info(
          { tenant, grantId: 'grantId' in body ? body.grantId : null },
          'revoked a duplicate grant',
        );
      },
    );
    if (owed > 0) this.rebalancing.maybeRequestRights(tenant, owed);
  }

  /**
   * Cross-region idempotency (DESIGN.md §3): a key accepted at two regions while they were cut
   * off is charged once. Every replica orders the debits of a key the same way; the region that
   * took a later one refunds it, with a refund key derived from the debit (so it happens once).
   */
  private refundDuplicates(tenant: string, keys: ReadonlySet<string>, recalled?: RecalledSet): void {
    const ledger = this.state.tenants.get(tenant);
    if (ledger === undefined) return;
    for (const key of keys) {
      // Earlier debits of the key may be off the heap (issue 18): read back, then checked again.
      const found = debitsOfKey(ledger, key, recalled ?? NOTHING_RECALLED);
      if (found.recall.length > 0) {
        void this.recallThen(found.recall, recalled, (more) =>
          this.refundDuplicates(tenant, new Set([key]), more),
        );
        continue;
      }
      const [, ...later] = found.records;
      for (const duplicate of later) {
        if (regionOf(duplicate.origin) !== this.region || refundableOf(ledger, duplicate) === 0) continue;
        const request = {
          tenant,
          debitId: duplicate.debitId,
          idempotencyKey: `duplicate-of:${duplicate.debitId}`,
        };
        const decision = decideRefund(this.state, this.context(), request, recalled);
        if (decision.status === 'recall') {
          void this.recallThen(decision.ids, recalled, (more) =>
            this.refundDuplicates(tenant, new Set([key]), more),
          );
          continue;
        }
        if (decision.status === 'accepted') {
          this.append(decision.body);
          this.ports.logger.info(
            { tenant, debitId: duplicate.debitId, key: duplicate.idempotencyKey },
            'refunded a cross-region duplicate debit',
          );
        }
      }
    }
  }

  /**
   * Reads records off the heap back from the log (cold-records.ts), waits for the replica to take
   * commands again (a failed commit may have rebuilt the fold meanwhile), then decides again.
   */
  private async recallThen<T>(
    ids: readonly string[],
    recalled: RecalledSet | undefined,
    again: (more: RecalledSet) => T | Promise<T>,
  ): Promise<T | StoreFailure> {
    let more: RecalledSet | null;
    try {
      more = await recallRecords(
        { store: this.ports.store, pending: () => [this.inFlight, ...this.queue, this.open] },
        ids,
        recalled,
      );
    } catch (error) {
      if (this.closing) return CLOSING;
      this.ports.logger.error({ err: error, ids }, 'reading records back from the log failed');
      return STORE_FAILED;
    }
    if (more === null) {
      this.ports.logger.error({ ids }, 'records read back from the log kept changing: decision given up');
      return INTERNAL;
    }
    const refused = await this.admit(0);
    if (refused !== null) return refused;
    return again(more);
  }

  private receiveControl(region: string, message: Uint8Array): void {
    let received: { updates: Uint8Array[]; reply: Uint8Array | null };
    try {
      received = this.control.receive(message);
    } catch (error) {
      if (!(error instanceof ControlRefused)) throw error;
      this.ports.logger.warn(
        { peer: region, problem: error.message },
        'control message refused: peer dropped',
      );
      this.transport?.drop(region, error.message);
      return;
    }
    if (received.updates.length > 0) {
      const batch = this.openBatch();
      batch.control.push(...received.updates);
      for (const [other, peer] of this.peers) {
        if (other !== region && peer.connected) {
          for (const update of received.updates)
            this.send(other, { type: 'control', message: ControlDocument.updateMessage(update) });
        }
      }
      this.scheduleFlush();
    }
    if (received.reply !== null) this.send(region, { type: 'control', message: received.reply });
  }

  /** Moves rights of the tenant to `to` if the ledger accepts it (rebalancing's one write). */
  private moveRights(tenant: string, to: OriginId, amount: number): void {
    const decision = decideMove(this.state, this.context(), { tenant, to, amount });
    if (decision.status !== 'accepted') return;
    this.append(decision.body);
    this.ports.observer?.rightsMoved?.(amount);
  }

  /** Rights held by incarnations that are no longer any region's current one. */
  private strandedRights(): StrandedRights[] {
    const current = new Map<string, OriginId>([[this.region, this.origin]]);
    for (const [region, peer] of this.peers) if (peer.origin !== null) current.set(region, peer.origin);
    return strandedRights(this.state, current);
  }

  // -------------------------------------------------------------------------------------------
  // Views

  private grantCount(tenant: string): number {
    return grantCount(this.state, tenant);
  }

  private definitionOf(tenant: string, grantId: string): GrantDefinition | null {
    return grantDefinition(this.state, tenant, grantId);
  }

  private grantView(tenant: string, grantId: string): GrantView {
    return grantView(this.state, tenant, grantId);
  }

  private debitRecord(tenant: string, event: LedgerEvent): DebitRecord {
    // The record the fold just made for it (the newest of the record window): no second copy.
    const recorded = this.state.tenants.get(tenant)?.debits?.get(eventRecordId(event.origin, event.seq));
    return recorded !== undefined && recorded.seq === event.seq && recorded.origin === event.origin
      ? recorded
      : debitRecordOf(tenant, event);
  }

  private refundRecord(tenant: string, event: LedgerEvent): RefundRecord {
    return refundRecordOf(tenant, event);
  }

  private balanceOrFail(tenant: string): BalanceView {
    const now = this.ports.clock.now();
    const figures = tenantFigures(this.state, tenant, {
      now,
      overdraft: this.control.policy(tenant).overdraft,
      regions: [this.region],
    });
    if (figures === undefined) throw new Error(`tenant ${tenant} vanished`);
    return { ...figures, region: this.region, versionVector: this.versionVector(), asOf: now };
  }
}
