/**
 * One region's replica (DESIGN.md §2–3): it decides commands on its in-memory fold, appends what
 * it decides to its origin log, group-commits the log to the Store, and answers each command only
 * once its events are durable. One decision at a time (JavaScript runs one callback at a time, and
 * a decision never awaits), so per tenant the decisions are serial; the events of a batch are
 * applied in memory at once, so later decisions of the same batch see earlier ones.
 *
 * The Replica is the facade of commands and reads over its state and parts (replica-parts.ts, wired
 * by part-hosts.ts); opening.ts opens and recovers it.
 */
import { holdsEndedOf, type OriginId } from '@allot/core';
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
  SettleCommand,
  SettleOutcome,
  SnapshotHeader,
  SnapshotTenant,
  StoreFailure,
  TenantPolicy,
} from './api.js';
import type { SnapshotAtRefusal } from './as-of.js';
import { newestCanonicalCheckpoint } from './checkpoints.js';
import type { EventFeed } from './event-feed.js';
import type { RetireOutcome } from './grants.js';
import { type KeyIndexUse, keyIndexUse } from './key-spill.js';
import { openMeta, openParts } from './opening.js';
import { checkOptions, type ReplicaOptions } from './options.js';
import type { StoredCheckpoint, StoredSegment, Transport } from './ports.js';
import type { ClusterView } from './reads.js';
import { STORE_FAILED } from './refusals.js';
import type { ReplicaPorts } from './replica-node.js';
import { ReplicaParts } from './replica-parts.js';

export type { RetireOutcome } from './grants.js';
export { ReplicaOpenError } from './open-error.js';
export type { ReplicaOptions } from './options.js';
export type { ReplicaPorts } from './replica-node.js';
export type { StrandedRights } from './views.js';

/** One region's replica of the ledger. */
export class Replica {
  readonly cluster: string;
  readonly region: string;
  readonly incarnation: string;
  readonly origin: OriginId;
  /** Every event once durable here, in fold order (event-feed.ts): the stream, alerts, webhooks. */
  readonly feed: EventFeed;

  private constructor(private readonly parts: ReplicaParts) {
    this.cluster = parts.cluster;
    this.region = parts.region;
    this.incarnation = parts.incarnation;
    this.origin = parts.origin;
    this.feed = parts.feed;
  }

  /**
   * Opens the replica on its store: a new data directory gets a new incarnation; an existing one
   * is recovered (every log's hash chain and own head signature verified, the fold rebuilt).
   * Rejects with a ReplicaOpenError naming what is wrong rather than serve a wrong balance.
   */
  static async open(options: ReplicaOptions, ports: ReplicaPorts): Promise<Replica> {
    checkOptions(options);
    const meta = await openMeta(options, ports);
    const parts = new ReplicaParts(options, ports, meta);
    await openParts(parts);
    return new Replica(parts);
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  /** Creates a grant at this region. */
  grant(command: GrantCommand): Promise<GrantOutcome> {
    return this.parts.grants.grant(command);
  }

  /**
   * Retires `lost`, a lost incarnation of this region (planRetire says when it may not): appends the
   * retire events, RETIRE_EVENTS_PER_COMMIT at a time, and answers once all are durable.
   */
  retire(lost: OriginId): Promise<RetireOutcome> {
    return this.parts.grants.retire(lost);
  }

  /** Debits a tenant from this region's rights (plus its overdraft). */
  debit(command: DebitCommand): Promise<DebitOutcome> {
    return this.parts.commands.debit(command);
  }

  /** Debits many tenants in one go: decided in order, committed together, one outcome per command. */
  debitMany(commands: readonly DebitCommand[]): Promise<DebitOutcome[]> {
    return this.parts.commands.debitMany(commands);
  }

  /**
   * What this region could pay for the tenant now with the live rights it and its connected peers
   * hold as known here, plus its overdraft headroom: a debit up to this is never declined while the
   * cluster is whole (issue 12). For the simulator's false-decline check.
   */
  reachableCredits(tenant: string): number {
    return this.parts.commands.reachableCredits(tenant);
  }

  /** Holds credits of a tenant at this region (API.md Holds): decided like a debit, borrowing included. */
  hold(command: HoldCommand): Promise<HoldOutcome> {
    return this.parts.commands.hold(command);
  }

  /**
   * Captures or voids a hold. The holding region decides; another region forwards the request to
   * it over the replication link, or answers region_unreachable. `forward` false: a request a peer
   * forwarded here, never forwarded again.
   */
  settleHold(command: SettleCommand, forward = true): Promise<SettleOutcome> {
    return this.parts.commands.settleHold(command, forward);
  }

  /** Refunds a debit taken at this region. */
  refund(command: RefundCommand): Promise<RefundOutcome> {
    return this.parts.commands.refund(command);
  }

  /** Sets a tenant's policy in the control document, durably. */
  async setPolicy(tenant: string, policy: TenantPolicy): Promise<TenantPolicy | StoreFailure> {
    const refused = await this.parts.ownLog.admit(0);
    if (refused !== null) return refused;
    const update = this.parts.control.setPolicy(tenant, policy);
    const batch = this.parts.ownLog.openBatch();
    batch.control.push(update);
    this.parts.ownLog.scheduleFlush();
    if (!(await batch.done)) return STORE_FAILED;
    return this.parts.control.policy(tenant);
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  /** The replica's clock (integer ms since the epoch). */
  now(): number {
    return this.parts.ports.clock.now();
  }

  /**
   * The tenant's policy (the default when none was set), including a change whose commit is still
   * pending: for deciding, and for merging a PUT. What the API serves is `durablePolicy`.
   */
  policy(tenant: string): TenantPolicy {
    return this.parts.control.policy(tenant);
  }

  /**
   * The tenant's policy as the store holds it: while a control-document change waits for its
   * commit (which may fail and be undone), the read waits for it, as `durableBalance` does.
   */
  durablePolicy(tenant: string): Promise<TenantPolicy> {
    return this.parts.reads.durablePolicy(tenant);
  }

  /**
   * True when a policy of the tenant was written (at any region) and is in the control document.
   * Read after `durablePolicy`, it says whether the policy served was written or the default.
   */
  hasPolicy(tenant: string): boolean {
    return this.parts.control.hasPolicy(tenant);
  }

  /**
   * The tenant's balance in the fold, or undefined for a tenant never granted anything known here.
   * It includes events decided or received but not durable yet (a failed commit undoes them): for
   * tests and the simulator's sampling. What the API serves is `durableBalance`.
   */
  balance(tenant: string): BalanceView | undefined {
    return this.parts.reads.balanceAt(tenant, this.parts.reads.versionVector());
  }

  /** Credits of the tenant's holds that have ended here (an alert id's inflow counts them). */
  holdsEnded(tenant: string): number {
    return holdsEndedOf(this.parts.state, tenant);
  }

  /**
   * The tenant's balance as the store holds it: a read of a tenant with events not durable yet
   * waits until they are (or were undone), so it never shows an effect that is later undone.
   */
  durableBalance(tenant: string): Promise<BalanceView | undefined> {
    return this.parts.reads.durableBalance(tenant);
  }

  /** The version vector of what this replica has folded (own events included once decided). */
  versionVector(): Readonly<Record<OriginId, number>> {
    return this.parts.reads.versionVector();
  }

  /** A page of the tenant's durable events from every origin known here. */
  tenantEvents(
    tenant: string,
    cursor: string | null,
    limit: number,
  ): Promise<{ events: EventView[]; next: string | null }> {
    return this.parts.reads.tenantEvents(tenant, cursor, limit);
  }

  /**
   * Up to `limit` stored segments of `origin`'s log from the one that holds `fromSeq`, as they were
   * signed (the audit export reads every log through it); empty for an origin not known here.
   */
  auditSegments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    return this.parts.reads.auditSegments(origin, fromSeq, limit);
  }

  /** The Ed25519 public key (32 bytes) of every region this node knows: its own and its configured peers'. */
  regionKeys(): Record<string, Uint8Array> {
    return { ...this.parts.options.peerKeys, [this.region]: this.parts.ports.crypto.publicKey };
  }

  /**
   * A snapshot of every tenant at one version vector, with each origin's signed head. New commands
   * wait while it is taken, so the figures, the vector and the heads describe the same durable log.
   */
  snapshot(): Promise<{ header: SnapshotHeader; tenants: SnapshotTenant[] }> {
    return this.parts.reads.snapshot();
  }

  /**
   * Writes a checkpoint of the durable fold now (checkpoints.ts): encoded while new commands wait
   * (so it is one consistent state), then hashed, signed and stored while they run; the two
   * newest are kept. False when none was written (closing, broken, or the store failed: logged).
   */
  takeCheckpoint(): Promise<boolean> {
    return this.parts.reads.takeCheckpoint();
  }

  /** The key indexes' memory and disk use (issue 18; bench:soak and tests read it). */
  keyIndexUse(): KeyIndexUse {
    return keyIndexUse(this.parts.state.recordWindow, this.parts.options.keyIndexMemoryBytes);
  }

  /** Resolves once the closed key-index buckets being written to disk (if any) are. */
  keyIndexSettled(): Promise<void> {
    return this.parts.keySpill.idle();
  }

  /** The newest stored checkpoint whose hash and signature (this node's) verify; null: none (audit). */
  newestCheckpoint(): Promise<StoredCheckpoint | null> {
    return newestCanonicalCheckpoint(this.parts.ports, this.cluster, this.parts.recordWindow());
  }

  /**
   * The tenant's durable balance as of `at` (integer ms): the fold of its events up to `at` by
   * as-of.ts's prefix rule, undefined when no grant of it is known by then. `asOf` is `at`.
   */
  balanceAsOf(tenant: string, at: number): Promise<BalanceView | undefined> {
    return this.parts.reads.balanceAsOf(tenant, at);
  }

  /**
   * A snapshot of exactly the durable log prefixes `vector` names (as-of.ts), or why there is
   * none; the header says this region and this clock's time.
   */
  snapshotAt(
    vector: Readonly<Record<OriginId, number>>,
  ): Promise<{ header: SnapshotHeader; tenants: SnapshotTenant[] } | SnapshotAtRefusal> {
    return this.parts.reads.snapshotAt(vector);
  }

  /** True while the replica serves (open, recovered, not broken, not closing). */
  get ready(): boolean {
    return !this.parts.closing && this.parts.broken === null;
  }

  /**
   * True once the replica takes writes: a peer confirmed that it holds all of its own log (or it
   * has no peers, or was started with allowLoneStart). Until then writes answer not_ready.
   */
  get writable(): boolean {
    return this.ready && this.parts.writability.logConfirmed;
  }

  /**
   * True while commits wait after failed ones (COMMIT_RETRY_MS_MIN, doubling up to
   * COMMIT_RETRY_MS_MAX): commands are decided and answered once the next commit succeeds.
   */
  get commitsPaused(): boolean {
    return this.parts.ownLog.commitsPaused;
  }

  /** The peers whose confirmation of this node's own log writes still wait for; empty once writable. */
  writesWaitingFor(): string[] {
    return this.parts.writability.logConfirmed ? [] : this.parts.logConfirm.waitingFor();
  }

  /** Commits everything pending, stops timers, closes the store. */
  async close(): Promise<void> {
    if (this.parts.closing) return;
    this.parts.closing = true;
    this.parts.borrowing.close();
    this.parts.deadlines.close();
    this.parts.archiving?.stop();
    this.parts.joiner?.close();
    await this.parts.checkpoints?.close();
    this.parts.link.close();
    await this.parts.ownLog.drain();
    await this.parts.ports.store.close();
    this.parts.ports.logger.info(
      { origin: this.origin, seq: this.parts.ownLog.durableSeq },
      'replica closed',
    );
  }

  // -------------------------------------------------------------------------------------------
  // Replication (DESIGN.md §4): anti-entropy by version vectors, pushes of durable events,
  // verification of every received run, rebalancing of rights, the control document.

  /** Connects the replica to its peers; call once, after open. */
  attachTransport(transport: Transport): void {
    this.parts.link.attach(transport);
  }

  /** Peers, what they lack, the version vector, and rights stranded at lost incarnations. */
  clusterView(): ClusterView {
    return this.parts.reads.clusterView();
  }
}
