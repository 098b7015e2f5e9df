/**
 * One region's replica (DESIGN.md §2–3): it decides commands on its in-memory fold, appends what
 * it decides to its origin log, group-commits the log to the Store, and answers each command only
 * once its events are durable. One decision at a time (JavaScript runs one callback at a time, and
 * a decision never awaits), so per tenant the decisions are serial; the events of a batch are
 * applied in memory at once, so later decisions of the same batch see earlier ones.
 */
import {
  applyEvent,
  availableAt,
  createLedgerState,
  type DebitRecord,
  decideDebit,
  decideExpire,
  decideGrant,
  decideRefund,
  decideRepay,
  eventProblem,
  eventRecordId,
  forgetRecordsBefore,
  type GrantDefinition,
  type LedgerEvent,
  type LedgerState,
  makeEvent,
  type OriginId,
  originId,
  overdraftInUseAt,
  type RefundRecord,
  regionOf,
  type TenantEventBody,
  tenantBalance,
  tenantFigures,
  tenantTotals,
} from '@allot/core';
import type {
  BalanceView,
  DebitCommand,
  DebitOutcome,
  EventView,
  GrantCommand,
  GrantOutcome,
  GrantView,
  HeadView,
  RefundCommand,
  RefundOutcome,
  ReplicaObserver,
  SnapshotHeader,
  SnapshotTenant,
  StoreFailure,
  TenantPolicy,
} from './api.js';
import { ControlDocument } from './control.js';
import { ExpirySchedule } from './expiry-schedule.js';
import { newIncarnation } from './incarnation.js';
import {
  BATCH_DELAY_MS_DEFAULT,
  BATCH_EVENTS_MAX,
  IDEMPOTENCY_RETENTION_MS_DEFAULT,
  PENDING_EVENTS_MAX,
  RECOVERY_PAGE_EVENTS,
  RETENTION_SWEEP_MS,
  TENANT_EVENTS_PAGE_MAX,
} from './limits.js';
import { chainHash, headSigningBytes, sameBytes, toHex, ZERO_HASH } from './log.js';
import type {
  Clock,
  Crypto,
  Logger,
  LogHead,
  NodeMeta,
  Rng,
  Store,
  StoredEvent,
  TimerHandle,
} from './ports.js';

/** How a replica runs. */
export interface ReplicaOptions {
  readonly cluster: string;
  readonly region: string;
  /** `fsync` (default): a commit is acknowledged once on stable storage. `os`: once handed to the OS. */
  readonly durability?: 'fsync' | 'os';
  readonly batchEventsMax?: number;
  readonly batchDelayMs?: number;
  readonly idempotencyRetentionMs?: number;
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

/** The replica cannot start on this data: one line that says why. Nothing was served. */
export class ReplicaOpenError extends Error {
  override readonly name = 'ReplicaOpenError';
}

/** A group of events (and control updates) committed in one store write. */
interface Batch {
  readonly events: StoredEvent[];
  readonly control: Uint8Array[];
  lastSeq: number;
  lastHash: Uint8Array;
  /** Resolves true once durable, false if the write failed (nothing of it happened). */
  readonly done: Promise<boolean>;
  readonly settle: (durable: boolean) => void;
}

const CLOSING: StoreFailure = { status: 'unavailable', reason: 'closing' };
const STORE_FAILED: StoreFailure = { status: 'unavailable', reason: 'store_failed' };
const OVERLOADED: StoreFailure = { status: 'unavailable', reason: 'overloaded' };

/** Longest single timer the replica sets; later deadlines are re-armed (host timers overflow at 2^31 ms). */
const TIMER_MS_MAX = 60 * 60 * 1000;

function newBatch(lastSeq: number, lastHash: Uint8Array): Batch {
  let settle: (durable: boolean) => void = () => {};
  const done = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  return { events: [], control: [], lastSeq, lastHash, done, settle };
}

/** One region's replica of the ledger. */
export class Replica {
  readonly cluster: string;
  readonly region: string;
  readonly incarnation: string;
  readonly origin: OriginId;

  private readonly options: Required<ReplicaOptions>;
  private readonly ports: ReplicaPorts;
  private state: LedgerState = createLedgerState();
  private control: ControlDocument;
  private readonly expiries = new ExpirySchedule();
  private heads = new Map<OriginId, LogHead>();

  /** Own log: what is durable, and where the next event goes (after the pending ones). */
  private durableSeq = 0;
  private nextSeq = 1;
  private lastHash: Uint8Array = ZERO_HASH;

  /** Closed batches waiting for the store, oldest first, then the open one. */
  private readonly queue: Batch[] = [];
  private open: Batch | null = null;
  private inFlight: Batch | null = null;
  private pendingEvents = 0;
  /** Overdraft in use at this origin over all tenants (own events only change it). */
  private overdraftInUse = 0;
  private flushTimer: TimerHandle | null = null;
  private expiryTimer: TimerHandle | null = null;
  private retentionTimer: TimerHandle | null = null;
  /** While set, new commands wait for it (recovery, snapshot). */
  private gate: Promise<void> | null = null;
  private closing = false;
  private broken: Error | null = null;

  private constructor(options: ReplicaOptions, ports: ReplicaPorts, meta: NodeMeta) {
    this.options = {
      durability: options.durability ?? 'fsync',
      batchEventsMax: options.batchEventsMax ?? BATCH_EVENTS_MAX,
      batchDelayMs: options.batchDelayMs ?? BATCH_DELAY_MS_DEFAULT,
      idempotencyRetentionMs: options.idempotencyRetentionMs ?? IDEMPOTENCY_RETENTION_MS_DEFAULT,
      cluster: options.cluster,
      region: options.region,
    };
    this.ports = ports;
    this.cluster = meta.cluster;
    this.region = meta.region;
    this.incarnation = meta.incarnation;
    this.origin = originId(meta.region, meta.incarnation);
    this.control = new ControlDocument(ports.rng.nextUint32());
  }

  /**
   * Opens the replica on its store: a new data directory gets a new incarnation; an existing one
   * is recovered (every log's hash chain and own head signature verified, the fold rebuilt).
   * Rejects with a ReplicaOpenError naming what is wrong rather than serve a wrong balance.
   */
  static async open(options: ReplicaOptions, ports: ReplicaPorts): Promise<Replica> {
    let meta = await ports.store.readMeta();
    if (meta === null) {
      meta = {
        formatVersion: 1,
        cluster: options.cluster,
        region: options.region,
        incarnation: newIncarnation(ports.rng),
        createdAt: ports.clock.now(),
      };
      await ports.store.commit({ events: [], heads: [], meta }, { sync: true });
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
    await replica.recover();
    replica.armRetention();
    ports.logger.info(
      { origin: replica.origin, events: replica.durableSeq, tenants: replica.state.tenants.size },
      'replica recovered',
    );
    return replica;
  }

  /** Rebuilds everything from the store: the fold of every stored log and the control document. */
  private async recover(): Promise<void> {
    const { store, crypto } = this.ports;
    const state = createLedgerState();
    const heads = new Map<OriginId, LogHead>();
    for (const head of await store.heads()) {
      let previous = ZERO_HASH;
      let seq = 0;
      while (seq < head.seq) {
        const page = await store.readLog(head.origin, seq + 1, RECOVERY_PAGE_EVENTS);
        if (page.length === 0) break;
        for (const stored of page) {
          const { event } = stored;
          const where = `log ${head.origin} seq ${seq + 1}`;
          if (event.origin !== head.origin || event.seq !== seq + 1) {
            throw new ReplicaOpenError(`${where}: found ${event.origin} seq ${event.seq} instead`);
          }
          const problem = eventProblem(event);
          if (problem !== null) throw new ReplicaOpenError(`${where}: malformed event: ${problem}`);
          const hash = chainHash(crypto, previous, event);
          if (!sameBytes(hash, stored.hash)) throw new ReplicaOpenError(`${where}: hash chain broken`);
          if (applyEvent(state, event) !== 'applied') throw new ReplicaOpenError(`${where}: not applicable`);
          previous = hash;
          seq = event.seq;
        }
      }
      if (seq !== head.seq || !sameBytes(previous, head.hash)) {
        throw new ReplicaOpenError(`log ${head.origin}: ends at seq ${seq}, its head says ${head.seq}`);
      }
      if (head.origin === this.origin) {
        const signed =
          head.signature !== null &&
          crypto.verify(
            crypto.publicKey,
            headSigningBytes(this.cluster, head.origin, head.seq, head.hash),
            head.signature,
          );
        if (!signed)
          throw new ReplicaOpenError(
            `log ${head.origin}: head signature does not verify with this node's key`,
          );
      }
      heads.set(head.origin, head);
    }
    const control = new ControlDocument(this.ports.rng.nextUint32());
    for (const update of await store.readControl()) control.applyUpdate(update);

    this.state = state;
    this.heads = heads;
    this.control = control;
    const own = heads.get(this.origin);
    this.durableSeq = own?.seq ?? 0;
    this.nextSeq = this.durableSeq + 1;
    this.lastHash = own?.hash ?? ZERO_HASH;
    this.expiries.clear();
    const ownIndex = state.originIndex.get(this.origin);
    this.overdraftInUse = 0;
    for (const [tenant, ledger] of state.tenants) {
      for (const grant of ledger.grants.values()) this.scheduleExpiry(tenant, grant.definition);
      if (ownIndex !== undefined) this.overdraftInUse += overdraftInUseAt(ledger, ownIndex);
    }
    this.ports.observer?.overdraftInUse?.(this.overdraftInUse);
    this.runExpiries();
  }

  // -------------------------------------------------------------------------------------------
  // Commands

  /** Creates a grant at this region. */
  async grant(command: GrantCommand): Promise<GrantOutcome> {
    const refused = await this.admit(2);
    if (refused !== null) return refused;
    const decision = decideGrant(this.state, this.context(), command);
    switch (decision.status) {
      case 'accepted': {
        const event = this.append(decision.body);
        this.scheduleExpiry(command.tenant, this.definitionOf(command.tenant, command.grantId));
        this.repay(command.tenant);
        if (!(await this.durable(event.seq))) return STORE_FAILED;
        return {
          status: 'accepted',
          grant: this.grantView(command.tenant, command.grantId),
          balance: this.balanceOrFail(command.tenant),
        };
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

  /** Debits a tenant from this region's rights (plus its overdraft). */
  async debit(command: DebitCommand): Promise<DebitOutcome> {
    const refused = await this.admit(1);
    if (refused !== null) return refused;
    return this.decideDebit(command);
  }

  /** Debits many tenants in one go: decided in order, committed together, one outcome per command. */
  async debitMany(commands: readonly DebitCommand[]): Promise<DebitOutcome[]> {
    const refused = await this.admit(commands.length);
    if (refused !== null) return commands.map(() => refused);
    // Decide every command before awaiting any, so they share group commits.
    const outcomes = commands.map((command) => this.decideDebit(command));
    return Promise.all(outcomes);
  }

  private decideDebit(command: DebitCommand): Promise<DebitOutcome> | DebitOutcome {
    const policy = this.control.policy(command.tenant);
    const overdraftLimit = policy.overdraft[this.region] ?? 0;
    const now = this.ports.clock.now();
    if (policy.blocked) {
      const available = availableAt(this.state, command.tenant, this.origin, now, overdraftLimit);
      return { status: 'declined', reason: 'blocked', requested: command.amount, available };
    }
    const decision = decideDebit(this.state, { origin: this.origin, now, overdraftLimit }, command);
    switch (decision.status) {
      case 'accepted': {
        const event = this.append(decision.body);
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

  /** Refunds a debit taken at this region. */
  async refund(command: RefundCommand): Promise<RefundOutcome> {
    const refused = await this.admit(2 + this.grantCount(command.tenant));
    if (refused !== null) return refused;
    const decision = decideRefund(this.state, this.context(), command);
    switch (decision.status) {
      case 'accepted': {
        const event = this.append(decision.body);
        const refund = this.refundRecord(command.tenant, event);
        // A refund may return credits to a grant that has expired meanwhile: they expire again.
        this.expireTenant(command.tenant);
        if (!(await this.durable(event.seq))) return STORE_FAILED;
        return { status: 'accepted', refund, balance: this.balanceOrFail(command.tenant) };
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

  /** The tenant's policy (the default when none was set). */
  policy(tenant: string): TenantPolicy {
    return this.control.policy(tenant);
  }

  /** The tenant's balance as known here, or undefined for a tenant never granted anything known here. */
  balance(tenant: string): BalanceView | undefined {
    const known = this.state.tenants.get(tenant);
    if (known === undefined || known.grants.size === 0) return undefined;
    return this.balanceOrFail(tenant);
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
      events: page.events.map((stored) => ({ event: stored.event, hash: toHex(stored.hash) })),
      next: page.next,
    };
  }

  /**
   * A snapshot of every tenant at one version vector, with each origin's signed head. New commands
   * wait while it is taken, so the figures, the vector and the heads describe the same durable log.
   */
  async snapshot(): Promise<{ header: SnapshotHeader; tenants: SnapshotTenant[] }> {
    let release: () => void = () => {};
    const previous = this.gate;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.gate = gate;
    try {
      if (previous !== null) await previous;
      await this.drain();
      const heads: Record<OriginId, HeadView> = {};
      for (const [origin, head] of [...this.heads].sort(([a], [b]) => (a < b ? -1 : 1))) {
        heads[origin] = {
          seq: head.seq,
          hash: toHex(head.hash),
          signature: head.signature === null ? null : toHex(head.signature),
        };
      }
      const tenants: SnapshotTenant[] = [];
      for (const tenant of [...this.state.tenants.keys()].sort()) {
        const ledger = this.state.tenants.get(tenant);
        if (ledger === undefined) continue;
        const totals = tenantTotals(ledger);
        tenants.push({
          tenant,
          balance: totals.granted - totals.debited + totals.refunded - totals.expired,
          ...totals,
        });
      }
      const header: SnapshotHeader = {
        cluster: this.cluster,
        region: this.region,
        takenAt: this.ports.clock.now(),
        versionVector: this.versionVector(),
        heads,
      };
      return { header, tenants };
    } finally {
      if (this.gate === gate) this.gate = null;
      release();
    }
  }

  /** True while the replica serves (open, recovered, not broken, not closing). */
  get ready(): boolean {
    return !this.closing && this.broken === null;
  }

  /** Commits everything pending, stops timers, closes the store. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.flushTimer?.cancel();
    this.expiryTimer?.cancel();
    this.retentionTimer?.cancel();
    await this.drain();
    await this.ports.store.close();
    this.ports.logger.info({ origin: this.origin, seq: this.durableSeq }, 'replica closed');
  }

  // -------------------------------------------------------------------------------------------
  // The log and group commit

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
    if (this.open === null) this.open = newBatch(this.nextSeq - 1, this.lastHash);
    return this.open;
  }

  /** Appends an own event: chained, folded in memory now, durable with its batch. */
  private append(body: TenantEventBody): LedgerEvent {
    const event = makeEvent({ origin: this.origin, seq: this.nextSeq, at: this.ports.clock.now() }, body);
    const hash = chainHash(this.ports.crypto, this.lastHash, event);
    const result = applyEvent(this.state, event);
    if (result !== 'applied') {
      throw new Error(`own event ${event.seq} was ${result}: the log and the fold disagree`);
    }
    if (event.kind === 'debit') this.overdraftInUse += event.overdraft;
    else if (event.kind === 'refund') this.overdraftInUse -= event.overdraft;
    else if (event.kind === 'repay') this.overdraftInUse -= event.amount;
    let batch = this.openBatch();
    if (batch.events.length >= this.options.batchEventsMax) {
      this.queue.push(batch);
      this.open = null;
      batch = this.openBatch();
    }
    batch.events.push({ event, hash });
    batch.lastSeq = event.seq;
    batch.lastHash = hash;
    this.nextSeq += 1;
    this.lastHash = hash;
    this.pendingEvents += 1;
    this.scheduleFlush();
    return event;
  }

  /** Resolves true once own event `seq` is durable, false if its batch failed. */
  private durable(seq: number): Promise<boolean> {
    if (seq <= this.durableSeq) return Promise.resolve(true);
    for (const batch of [this.inFlight, ...this.queue, this.open]) {
      if (batch !== null && seq <= batch.lastSeq) return batch.done;
    }
    throw new Error(`own event ${seq} is neither durable nor pending`);
  }

  private scheduleFlush(): void {
    if (this.inFlight !== null) return; // the commit in flight starts the next one when it ends
    if (
      this.queue.length > 0 ||
      (this.open !== null && this.open.events.length >= this.options.batchEventsMax)
    ) {
      void this.flush();
      return;
    }
    if (this.flushTimer === null) {
      this.flushTimer = this.ports.clock.setTimer(this.options.batchDelayMs, () => {
        this.flushTimer = null;
        void this.flush();
      });
    }
  }

  /** Commits the oldest waiting batch; when it ends, the next one (group commit under load). */
  private async flush(): Promise<void> {
    if (this.inFlight !== null) return;
    this.flushTimer?.cancel();
    this.flushTimer = null;
    const batch = this.queue.shift() ?? this.open;
    if (batch === null) return;
    if (batch === this.open) this.open = null;
    this.inFlight = batch;
    const { crypto, store, clock } = this.ports;
    const started = clock.now();
    const head: LogHead | null =
      batch.events.length === 0
        ? null
        : {
            origin: this.origin,
            seq: batch.lastSeq,
            hash: batch.lastHash,
            signature: crypto.sign(
              headSigningBytes(this.cluster, this.origin, batch.lastSeq, batch.lastHash),
            ),
          };
    try {
      await store.commit(
        { events: batch.events, heads: head === null ? [] : [head], control: batch.control },
        { sync: this.options.durability === 'fsync' },
      );
    } catch (error) {
      await this.failCommit(batch, error);
      return;
    }
    this.inFlight = null;
    this.pendingEvents -= batch.events.length;
    if (head !== null) {
      this.durableSeq = head.seq;
      this.heads.set(this.origin, head);
    }
    this.ports.observer?.batchCommitted(batch.events.length, (clock.now() - started) / 1000);
    this.ports.observer?.overdraftInUse?.(this.overdraftInUse);
    batch.settle(true);
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
    for (const each of failed) each.settle(false);
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
    if (this.closing || this.broken !== null || this.gate !== null) {
      this.armExpiry();
      return;
    }
    for (const tenant of this.expiries.takeDue(this.ports.clock.now())) this.expireTenant(tenant);
    this.armExpiry();
  }

  private expireTenant(tenant: string): void {
    const decision = decideExpire(this.state, this.context(), tenant);
    for (const body of decision.bodies) this.append(body);
    for (const grantId of decision.limited) {
      this.ports.logger.error({ tenant, grantId }, 'expired cell at the amount limit: grant not expired');
    }
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
      let forgotten = 0;
      for (const tenant of this.state.tenants.values()) forgotten += forgetRecordsBefore(tenant, cutoff);
      if (forgotten > 0)
        this.ports.logger.info({ forgotten }, 'forgot records past the idempotency retention');
      this.armRetention();
    });
  }

  // -------------------------------------------------------------------------------------------
  // Views

  private grantCount(tenant: string): number {
    return this.state.tenants.get(tenant)?.grants.size ?? 0;
  }

  private definitionOf(tenant: string, grantId: string): GrantDefinition | null {
    return this.state.tenants.get(tenant)?.grants.get(grantId)?.definition ?? null;
  }

  private grantView(tenant: string, grantId: string): GrantView {
    const definition = this.definitionOf(tenant, grantId);
    if (definition === null) throw new Error(`grant ${grantId} of ${tenant} has no definition`);
    return {
      tenant,
      grantId,
      amount: definition.amount,
      priority: definition.priority,
      expiresAt: definition.expiresAt,
      origin: definition.origin,
      region: regionOf(definition.origin),
      at: definition.at,
    };
  }

  private debitRecord(tenant: string, event: LedgerEvent): DebitRecord {
    const found = this.state.tenants.get(tenant)?.debits?.get(eventRecordId(event.origin, event.seq));
    if (found === undefined) throw new Error(`debit ${event.origin}/${event.seq} not recorded`);
    return found;
  }

  private refundRecord(tenant: string, event: LedgerEvent): RefundRecord {
    const found = this.state.tenants.get(tenant)?.refunds?.get(eventRecordId(event.origin, event.seq));
    if (found === undefined) throw new Error(`refund ${event.origin}/${event.seq} not recorded`);
    return found;
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
