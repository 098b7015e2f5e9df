/**
 * The replica's own log and its group commit (DESIGN.md §2): own events are folded in memory and
 * written into the open batch's segment as they are decided, then committed to the Store a batch
 * at a time; a command is answered once its batch is durable. A failed commit fails every batch
 * after it and rebuilds the fold from the store. The replica reaches it through `GroupCommitHost`.
 */
import {
  applyEvent,
  type LedgerEvent,
  type LedgerState,
  makeEvent,
  type OriginId,
  type TenantEventBody,
} from '@allot/core';
import type { BalanceView, ReplicaObserver, StoreFailure } from './api.js';
import { type Batch, newBatch, sealSegments, segmentFor } from './batch.js';
import { DurableReads } from './durable-reads.js';
import { OwnEventTimes } from './event-time.js';
import { COMMIT_RETRY_MS_MAX, COMMIT_RETRY_MS_MIN, PENDING_EVENTS_MAX } from './limits.js';
import { ZERO_HASH } from './log.js';
import type { Clock, Crypto, Logger, LogHead, SegmentWrite, Store, TimerHandle } from './ports.js';
import { CLOSING, OVERLOADED, STORE_FAILED } from './refusals.js';

/** What the group commit needs of its replica. */
export interface GroupCommitHost {
  readonly cluster: string;
  readonly origin: OriginId;
  readonly store: Store;
  readonly clock: Clock;
  readonly crypto: Crypto;
  readonly logger: Logger;
  readonly observer: ReplicaObserver | undefined;
  /** Commit with a sync to stable storage (durability `fsync`). */
  readonly sync: boolean;
  readonly batchEventsMax: number;
  /** The fold (replaced when it is rebuilt). */
  state(): LedgerState;
  /** The stored head of every origin (replaced when the fold is rebuilt). */
  heads(): Map<OriginId, LogHead>;
  closing(): boolean;
  broken(): boolean;
  /** Refuses every command from now on: the fold could not be rebuilt. */
  break(error: Error): void;
  /** Rebuilds the fold from the store (resets this log's position too). */
  recover(): Promise<void>;
  /** The tenant's balance in the fold (pending events included). */
  balanceFolded(tenant: string): BalanceView | undefined;
  /** The tenant's balance at the durable version vector. */
  balanceDurable(tenant: string): BalanceView | undefined;
  /**
   * A batch is durable: count it for checkpoints and publish its segments and the tenants they
   * touched (before reads are answered).
   */
  committed(eventCount: number, segments: readonly SegmentWrite[], tenants: ReadonlySet<string>): void;
  /** A batch is durable and its waiters answered: push its own segments live, check the log whole. */
  afterCommit(batch: Batch, own: readonly SegmentWrite[]): void;
}

/** The own log's position, the batches waiting for the store, and the commit of them. */
export class GroupCommit {
  /** Own log: what is durable, where the next event goes (after the pending ones). */
  durableSeq = 0;
  nextSeq = 1;
  /** The hash of the last own segment sealed (at a commit's start, or received back while recovering). */
  lastHash: Uint8Array = ZERO_HASH;
  /** The times of own events: never before one already written (event-time.ts). */
  ownTimes = new OwnEventTimes();
  /** Closed batches waiting for the store, oldest first, then the open one. */
  readonly queue: Batch[] = [];
  open: Batch | null = null;
  inFlight: Batch | null = null;
  pendingEvents = 0;
  /** Overdraft in use at this origin over all tenants (own events only change it). */
  overdraftInUse = 0;
  /** While set, new commands wait for it (recovery, snapshot). */
  gate: Promise<void> | null = null;
  /** Balance reads waiting for a tenant's pending events to become durable or be undone. */
  readonly durableReads = new DurableReads<BalanceView | undefined>();
  /** True while a commit is about to start (scheduleFlush): the current turn's events join it. */
  private flushQueued = false;
  /** Commits that failed in a row (0 once one succeeds). */
  private failuresInARow = 0;
  /** While set, no commit starts: the wait after a failed commit (COMMIT_RETRY_MS_MIN); its end starts one. */
  private retryTimer: TimerHandle | null = null;

  constructor(private readonly host: GroupCommitHost) {}

  /** Waits for a gate; refuses when closing, broken or overloaded. */
  async admit(events: number): Promise<StoreFailure | null> {
    while (this.gate !== null) await this.gate;
    if (this.host.closing()) return CLOSING;
    if (this.host.broken()) return STORE_FAILED;
    if (this.pendingEvents + events > PENDING_EVENTS_MAX) return OVERLOADED;
    return null;
  }

  /** The batch the next events join. */
  openBatch(): Batch {
    if (this.open === null) this.open = newBatch(this.nextSeq - 1);
    return this.open;
  }

  /** Queues the open batch (if it holds anything) and opens a new one: the next commit's. */
  nextBatch(): Batch {
    if (this.open !== null && this.open.eventCount > 0) {
      this.queue.push(this.open);
      this.open = null;
    }
    return this.openBatch();
  }

  /** Appends an own event: folded in memory now, written into its batch's segment, durable with it. */
  append(body: TenantEventBody): LedgerEvent {
    const { host } = this;
    const at = this.ownTimes.next(host.clock.now());
    const event = makeEvent({ origin: host.origin, seq: this.nextSeq, at }, body);
    const result = applyEvent(host.state(), event);
    if (result !== 'applied') {
      throw new Error(`own event ${event.seq} was ${result}: the log and the fold disagree`);
    }
    if (event.kind === 'debit') this.overdraftInUse += event.overdraft;
    else if (event.kind === 'refund') this.overdraftInUse -= event.overdraft;
    else if (event.kind === 'repay') this.overdraftInUse -= event.amount;
    else if (event.kind === 'revoke' || event.kind === 'hold') this.overdraftInUse += event.overdraft;
    else if (event.kind === 'capture' || event.kind === 'release') this.overdraftInUse -= event.overdraft;
    let batch = this.openBatch();
    if (batch.eventCount >= host.batchEventsMax) {
      this.queue.push(batch);
      this.open = null;
      batch = this.openBatch();
    }
    const segment = segmentFor(batch, host.origin, event.seq);
    segment.writer.add(event);
    segment.tenants.push(event.tenant);
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
  durable(seq: number): Promise<boolean> {
    if (seq <= this.durableSeq) return Promise.resolve(true);
    // Per own event: no array of the batches is made for the search.
    if (this.inFlight !== null && seq <= this.inFlight.lastSeq) return this.inFlight.done;
    for (const batch of this.queue) if (seq <= batch.lastSeq) return batch.done;
    if (this.open !== null && seq <= this.open.lastSeq) return this.open.done;
    throw new Error(`own event ${seq} is neither durable nor pending`);
  }

  /** True when the tenant has events in a batch not committed yet. */
  tenantPending(tenant: string): boolean {
    for (const batch of [this.inFlight, ...this.queue, this.open]) {
      if (batch?.tenants.has(tenant) === true) return true;
    }
    return false;
  }

  /**
   * Natural group commit (DESIGN.md §2): a commit starts as soon as none is in flight; what arrives
   * while one is in flight is the next batch (at most batchEventsMax events each). No timer: the
   * commit starts after the current turn's synchronous work (a microtask), so the events one
   * command appends in a loop (debitMany) share one commit instead of the first going alone.
   */
  scheduleFlush(): void {
    if (this.inFlight !== null || this.flushQueued) return; // a commit's end starts the next one
    this.flushQueued = true;
    void Promise.resolve().then(() => {
      this.flushQueued = false;
      return this.flush();
    });
  }

  /** True while commits wait after failed ones (COMMIT_RETRY_MS_MIN); what is decided meanwhile waits too. */
  get commitsPaused(): boolean {
    return this.retryTimer !== null;
  }

  /**
   * Commits the oldest waiting batch; when it ends, the next one (group commit under load). After
   * a failed commit it waits for the retry timer, unless `now` (drain: a snapshot, a refold, a close).
   */
  private async flush(now = false): Promise<void> {
    if (this.inFlight !== null || (!now && this.retryTimer !== null)) return;
    const batch = this.queue.shift() ?? this.open;
    if (batch === null) return;
    if (batch === this.open) this.open = null;
    this.inFlight = batch;
    const { host } = this;
    // Nothing else pending: the fold is exactly what this commit makes durable, so waiting reads
    // can take their figures now and get them once it is.
    if (this.queue.length === 0 && this.open === null && !this.durableReads.idle)
      batch.held.push(...this.durableReads.hold((tenant) => host.balanceFolded(tenant)));
    const { store, clock } = host;
    const started = clock.now();
    // One encoding, one hash and one signature per segment of own events (DESIGN.md §2).
    const sealed = sealSegments(batch, host.crypto, host.cluster, host.origin, this.lastHash);
    const own = sealed.segments;
    this.lastHash = sealed.lastHash;
    const last = own[own.length - 1];
    const head: LogHead | null =
      last === undefined
        ? null
        : { origin: host.origin, seq: last.lastSeq, hash: last.hash, signature: last.signature };
    // Own segments fetched back from peers (recovery) end before any own event appended after them.
    const remoteHeads = [...batch.remoteHeads.values()].filter(
      (remote) => head === null || remote.origin !== host.origin,
    );
    const heads = [...(head === null ? [] : [head]), ...remoteHeads];
    try {
      await store.commit(
        { segments: [...batch.received, ...own], heads, control: batch.control },
        { sync: host.sync },
      );
    } catch (error) {
      await this.failCommit(batch, error);
      return;
    }
    this.inFlight = null;
    this.failuresInARow = 0;
    this.pendingEvents -= batch.eventCount; // own and received events both count
    const stored = host.heads();
    if (head !== null) {
      this.durableSeq = head.seq;
      stored.set(host.origin, head);
    }
    for (const remote of remoteHeads) stored.set(remote.origin, remote);
    const fetched = head === null ? batch.remoteHeads.get(host.origin) : undefined;
    if (fetched !== undefined) this.durableSeq = fetched.seq;
    host.observer?.batchCommitted(batch.eventCount, (clock.now() - started) / 1000);
    host.observer?.overdraftInUse?.(this.overdraftInUse);
    batch.settle(true);
    host.committed(batch.eventCount, [...batch.received, ...own], batch.tenants);
    for (const read of batch.held) for (const answer of read.answer) answer(read.view);
    if (!this.durableReads.idle)
      this.durableReads.answerSettled(
        (tenant) => this.tenantPending(tenant),
        (tenant) => host.balanceDurable(tenant),
      );
    for (const after of batch.afterDurable) after();
    host.afterCommit(batch, own);
    if (this.queue.length > 0 || this.open !== null) void this.flush();
  }

  /**
   * A failed write fails every request of its batch and of the batches chained after it, and
   * undoes their effects: the fold is rebuilt from what the store holds.
   */
  private async failCommit(batch: Batch, error: unknown): Promise<void> {
    const { host } = this;
    this.failuresInARow += 1;
    const waitMs = Math.min(
      COMMIT_RETRY_MS_MAX,
      COMMIT_RETRY_MS_MIN * 2 ** Math.min(this.failuresInARow - 1, 30),
    );
    this.retryTimer?.cancel();
    this.retryTimer = host.clock.setTimer(waitMs, () => {
      this.retryTimer = null;
      if (!host.closing() && this.inFlight === null && (this.queue.length > 0 || this.open !== null))
        void this.flush();
    });
    host.logger.error(
      {
        err: error,
        origin: host.origin,
        seq: batch.lastSeq,
        failuresInARow: this.failuresInARow,
        retryInMs: waitMs,
      },
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
      await host.recover();
    } catch (recoveryError) {
      host.break(recoveryError instanceof Error ? recoveryError : new Error(String(recoveryError)));
      host.logger.error(
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
        (tenant) => host.balanceDurable(tenant),
      );
      // What the recovery appended (duplicate refunds, repays, expiries done again) found the failed
      // batch still in flight, so nothing started its commit: start it now, or it waits for the
      // next write (swarm seed 10738: us's refunds of duplicates waited 20 s, past the run's end).
      // A broken replica (the recovery failed) commits nothing more.
      if ((this.queue.length > 0 || this.open !== null) && !host.broken()) void this.flush();
    }
  }

  /**
   * Rebuilds the fold from the store once what is pending is durable: after a received segment
   * failed part-way through the fold, whose first events are in the fold but in no log.
   */
  async refold(): Promise<void> {
    const { host } = this;
    try {
      await this.exclusively(() => host.recover());
    } catch (error) {
      host.break(error instanceof Error ? error : new Error(String(error)));
      host.logger.error({ err: error }, 'rebuilding the fold from the store failed: refusing all commands');
    }
  }

  /**
   * Runs `work` alone: new commands wait at the gate while it runs, after the gate before it and
   * everything pending are done (snapshot, refold).
   */
  async exclusively<T>(work: () => Promise<T>): Promise<T> {
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
  async drain(): Promise<void> {
    for (;;) {
      const last = this.open ?? this.queue[this.queue.length - 1] ?? this.inFlight;
      if (last === null) return;
      if (this.inFlight === null) void this.flush(true);
      await last.done;
      // A failed commit settles its batch before failCommit has read the store back: awaiting the
      // settled batch again would spin without ever yielding to that I/O. Give it a clock turn.
      if (last === this.inFlight) await new Promise<void>((resolve) => this.host.clock.setTimer(0, resolve));
    }
  }
}
