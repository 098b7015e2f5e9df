/**
 * One region of a run: its wall clock, its disk (a MemoryStore), and the process that runs the
 * production Replica on them. A process can crash (its timers and requests die with it, and the
 * disk keeps only what was committed), lose its disk (the next process is a new incarnation), be
 * paused (its timers, deliveries and requests wait), and be started again.
 */
import type { OriginId } from '@allot/core';
import {
  type Clock,
  type Crypto,
  type Logger,
  Replica,
  type ReplicaObserver,
  type TimerHandle,
} from '@allot/replica';
import { type DamageReport, MemoryStore, type MemoryStoreBackup, type StorageDamage } from '@allot/store';
import type { RegionClock } from './clock.js';
import type { CommitLatency } from './commit-latency.js';
import { SUPERVISOR_RESTART_MS } from './limits.js';
import type { SimNetwork } from './network.js';
import type { RandomStream } from './rng.js';
import { type Scheduler, SimulationFailure, type Task } from './scheduler.js';
import { observedStore, type TrueLedger } from './truth.js';

/** One running (or dead) process of a region. */
interface Process {
  readonly id: number;
  alive: boolean;
}

/** A client request in flight at a process: answered 'unavailable' if the process dies first. */
interface InFlight {
  settled: boolean;
  readonly unavailable: () => void;
}

/** What every region of a run shares. */
export interface RegionContext {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly truth: TrueLedger;
  readonly cluster: string;
  readonly rebalancing: 'adaptive' | 'static';
  /** How long a debit waits for rights from peers, ms. */
  readonly borrowWaitMs: number;
  readonly peerKeys: Readonly<Record<string, Uint8Array>>;
  /** Error and warning lines of every replica, by message. */
  readonly replicaLog: Record<string, number>;
  /** Rights moved by every replica, in credits. */
  rightsMoved: number;
  /** Called with each replica once it has opened (alert-watch.ts listens to it). */
  readonly opened?: (region: string, replica: Replica, alive: () => boolean) => void;
  /**
   * A region restarted on a damaged disk: whether its replica opened on it (issue 15); `untouched`
   * when the disk was damaged again, or lost, before any start opened it.
   */
  storageOpened?(
    region: string,
    damage: PendingDamage,
    outcome: 'refused' | 'opened' | 'untouched',
    detail: string,
  ): void;
  /** A region's disk was lost; it held `held` durably of each origin (issue 15, swarm seed 22486). */
  diskLost?(region: string, held: Readonly<Record<string, number>>): void;
}

/** A storage fault done to a region's disk, waiting for the restart that meets it. */
export interface PendingDamage {
  readonly report: DamageReport;
  /** Seqs of each origin the disk held durably before and after the damage. */
  readonly held: Readonly<Record<string, number>>;
  readonly kept: Readonly<Record<string, number>>;
  /** The incarnation whose disk it was. */
  readonly origin: OriginId | null;
}

/** One region: clock, disk, and the process running its replica. */
export class RegionNode {
  /** `up`: serving; `starting`: opening its store; `down`: crashed, or its disk is being replaced. */
  status: 'up' | 'starting' | 'down' = 'down';
  replica: Replica | null = null;
  /** Incarnations whose disk this region lost. */
  readonly lostOrigins: OriginId[] = [];
  private store: MemoryStore;
  private process: Process = { id: 0, alive: false };
  private pausedUntil = -1;
  /** Simulated time until which every commit fails (a write-errors fault). */
  private writesRefusedUntil = -1;
  /** The supervisor's restart after a start failed on a disk that refused writes, until it runs. */
  private supervisorRestart: Task | null = null;
  private readonly inFlight = new Set<InFlight>();
  /** The damage the next start meets (issue 15), until its replica opened or refused. */
  private damaged: PendingDamage | null = null;
  /** A copy of the disk taken earlier (issue 11), for a restored-backup fault. */
  private backup: MemoryStoreBackup | null = null;
  /** While a restored backup runs: the region's own disk, set aside, and what a refused start does. */
  private restoring: { readonly own: MemoryStore; readonly refused: (message: string) => void } | null = null;

  constructor(
    readonly region: string,
    readonly clock: RegionClock,
    private readonly crypto: Crypto,
    private readonly rng: RandomStream,
    private readonly context: RegionContext,
    /** The disk's latency per commit (a seeded distribution, not a constant). */
    private readonly commitLatency: CommitLatency,
  ) {
    this.store = MemoryStore.empty(this.storeOptions());
  }

  private storeOptions() {
    return {
      commitLatency: async () => {
        await this.sleep(this.commitLatency.nextMs());
        // A write error fails the commit before anything of it is written (a write-errors fault).
        if (this.writesRefused) throw new WriteRefused();
      },
    };
  }

  /** Until `untilMs` (simulated), every commit to this region's disk fails (a write-errors fault). */
  refuseWrites(untilMs: number): void {
    this.writesRefusedUntil = Math.max(this.writesRefusedUntil, untilMs);
  }

  /** The current incarnation, once the process has opened its store. */
  get origin(): OriginId | null {
    return this.replica?.origin ?? null;
  }

  /** True while paused. */
  get paused(): boolean {
    return this.context.scheduler.now < this.pausedUntil;
  }

  /** True while its disk refuses writes (a write-errors fault). */
  get writesRefused(): boolean {
    return this.context.scheduler.now < this.writesRefusedUntil;
  }

  /** Starts a process on the disk as it is: opens the replica (recovering it) and attaches the network. */
  start(): void {
    if (this.status !== 'down') throw new Error(`${this.region} is ${this.status}, not down`);
    this.cancelSupervisorRestart();
    const process: Process = { id: this.process.id + 1, alive: true };
    this.process = process;
    this.status = 'starting';
    const { scheduler } = this.context;
    let opened: Replica | null = null;
    const ports = {
      store: observedStore(this.store, () => opened?.origin ?? null, this.context.truth),
      clock: this.processClock(process),
      rng: this.rng,
      crypto: this.crypto,
      logger: this.logger(),
      observer: this.observer(),
    };
    Replica.open(
      {
        cluster: this.context.cluster,
        region: this.region,
        peerKeys: this.context.peerKeys,
        rebalancing: this.context.rebalancing,
        borrowWaitMs: this.context.borrowWaitMs,
      },
      ports,
    ).then(
      (replica) => {
        if (!process.alive) return; // crashed while opening
        opened = replica;
        this.replica = replica;
        this.status = 'up';
        const damaged = this.damaged;
        if (damaged !== null) {
          this.damaged = null;
          this.store.healReads();
          // A backup from before the node's first compaction holds no metadata: a new incarnation.
          if (damaged.origin !== null && damaged.origin !== replica.origin)
            this.lostOrigins.push(damaged.origin);
          this.context.storageOpened?.(this.region, damaged, 'opened', `opened as ${replica.origin}`);
        }
        const endpoint = {
          region: this.region,
          origin: replica.origin,
          run: (fn: () => void) => this.runIn(process, fn),
          alive: () => process.alive,
          paused: () => this.paused,
        };
        replica.attachTransport(this.context.network.transport(endpoint));
        this.context.opened?.(this.region, replica, () => process.alive);
      },
      (error: unknown) => {
        if (!process.alive) return;
        if (refusedWrite(error)) {
          // The process exits on the failed commit, nothing of it written; its supervisor starts
          // it again. What the start met (a damaged disk, a restored backup) waits for that start.
          this.kill();
          this.store = this.store.crash();
          this.supervisorRestart = scheduler.after(SUPERVISOR_RESTART_MS, () => {
            this.supervisorRestart = null;
            this.start();
          });
          return;
        }
        if (this.restoring !== null) {
          // A restored disk whose incarnation was retired refuses to start: the region stays down
          // until the operator puts its own disk back (returnToOwnDisk).
          this.restoring.refused((error as Error).message);
          this.kill();
          return;
        }
        const damaged = this.damaged;
        if (damaged !== null) {
          // The node refuses to serve a damaged disk, as it must; the operator gives it a new one.
          // Its incarnation is lost before the fault is recorded: the record names it (`lost`).
          this.damaged = null;
          if (damaged.origin !== null) this.lostOrigins.push(damaged.origin);
          this.context.storageOpened?.(this.region, damaged, 'refused', (error as Error).message);
          this.kill();
          this.store = this.store.loseDisk();
          this.start();
          return;
        }
        scheduler.fail(
          new SimulationFailure(
            `${this.region} could not open its replica: ${(error as Error).message}`,
            scheduler.now,
            { cause: error },
          ),
        );
      },
    );
  }

  /** The process dies: what was not committed is lost; requests in flight fail. */
  crash(): void {
    this.kill();
    this.store = this.store.crash();
  }

  /** The process dies and the disk is lost: the next start is a new incarnation. */
  loseDisk(): void {
    const origin = this.origin;
    const held = this.store.durableSeqs();
    this.kill();
    this.settleUntouched('the disk was lost before a start opened it');
    if (origin !== null) this.lostOrigins.push(origin);
    this.store = this.store.loseDisk();
    this.context.diskLost?.(this.region, held);
  }

  /**
   * The process dies and its disk lies (`damage`, drawn with `pick`): the next start meets it. Null
   * (and a plain crash) when the disk holds nothing the damage can reach.
   */
  damageDisk(damage: StorageDamage, pick: (n: number) => number): PendingDamage | null {
    const origin = this.origin;
    const held = this.store.durableSeqs();
    this.kill();
    this.settleUntouched('the disk was damaged again before a start opened it');
    const damaged = this.store.crashDamaged(damage, pick);
    if (damaged === null) {
      this.store = this.store.crash();
      return null;
    }
    this.store = damaged.store;
    this.damaged = { report: damaged.report, held, kept: this.store.durableSeqs(), origin };
    return this.damaged;
  }

  /**
   * A damage no start has met yet is recorded now, as `untouched`, before another fault to the disk:
   * what it destroyed stays destroyed, and the next record's `held` starts from what it kept. Before,
   * the next damage replaced it unrecorded (swarm seed 13590: us lost its write-ahead log, with
   * seqs 154–156 of its own log that no peer held yet, and crashed on a misdirected read at the
   * instant it restarted; only the second damage was recorded, so S3, S5 and S9 counted the
   * debits the lost log took as lost by the cluster).
   */
  private settleUntouched(detail: string): void {
    const earlier = this.damaged;
    if (earlier === null) return;
    this.damaged = null;
    this.context.storageOpened?.(this.region, earlier, 'untouched', detail);
  }

  /** Takes a copy of what the disk holds durably now (a backup of the data directory). */
  takeBackup(): void {
    this.backup = this.store.backup();
  }

  /**
   * The process dies and starts on the backup taken earlier (an older copy of its data directory):
   * false, and nothing happens, without a backup. The region's own disk is set aside until
   * `returnToOwnDisk`; a start the restored disk refuses calls `refused` with the node's line.
   */
  restoreBackup(refused: (message: string) => void): boolean {
    if (this.backup === null || this.status === 'down' || this.restoring !== null) return false;
    this.kill();
    this.restoring = { own: this.store.crash(), refused };
    this.store = MemoryStore.restored(this.backup, this.storeOptions());
    this.start();
    return true;
  }

  /** Ends a restored backup: its process dies, its disk is dropped, the region starts on its own. */
  returnToOwnDisk(): void {
    const restoring = this.restoring;
    if (restoring === null) return;
    this.kill();
    this.restoring = null;
    this.store.crash(); // the restored disk is dropped: nothing more reaches it
    this.store = restoring.own;
    this.start();
  }

  /** How many events of each origin this region's disk holds durably now. */
  durableSeqs(): Record<string, number> {
    return this.store.durableSeqs();
  }

  /** Holds the process's timers, deliveries and requests until `untilMs` (simulated). */
  pause(untilMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, untilMs);
  }

  /**
   * A client request to this region: `issue` runs against the replica when the process can take it
   * (at once, or after a pause); `answer` gets its outcome, or 'unavailable' when the region is down
   * or its process dies before answering.
   */
  request<T>(issue: (replica: Replica) => Promise<T>, answer: (outcome: T | 'unavailable') => void): void {
    if (this.status !== 'up' || this.replica === null) {
      answer('unavailable');
      return;
    }
    this.runIn(this.process, () => {
      const replica = this.replica;
      if (this.status !== 'up' || replica === null) {
        answer('unavailable');
        return;
      }
      const flight: InFlight = { settled: false, unavailable: () => answer('unavailable') };
      this.inFlight.add(flight);
      const { scheduler } = this.context;
      issue(replica).then(
        (outcome) => {
          if (flight.settled) return;
          flight.settled = true;
          this.inFlight.delete(flight);
          answer(outcome);
        },
        (error: unknown) => {
          if (flight.settled) return;
          scheduler.fail(
            new SimulationFailure(
              `a request to ${this.region} rejected: ${(error as Error).message}`,
              scheduler.now,
              { cause: error },
            ),
          );
        },
      );
    });
  }

  private kill(): void {
    // A fault that stops the process takes over from a pending supervisor restart.
    this.cancelSupervisorRestart();
    this.process.alive = false;
    this.status = 'down';
    this.replica = null;
    this.pausedUntil = -1;
    this.context.network.detach(this.region);
    const failed = [...this.inFlight];
    this.inFlight.clear();
    for (const flight of failed) {
      flight.settled = true;
      flight.unavailable();
    }
  }

  private cancelSupervisorRestart(): void {
    if (this.supervisorRestart === null) return;
    this.context.scheduler.cancel(this.supervisorRestart);
    this.supervisorRestart = null;
  }

  /** Runs `fn` in `process`: now, or when the region's pause ends; never once the process died. */
  private runIn(process: Process, fn: () => void): void {
    if (!process.alive) return;
    if (this.paused) {
      this.context.scheduler.at(this.pausedUntil, () => this.runIn(process, fn));
      return;
    }
    fn();
  }

  /** A promise resolved `ms` simulated ms from now, in the current process (the disk's latency). */
  private sleep(ms: number): Promise<void> {
    const process = this.process;
    return new Promise((resolve) => {
      this.context.scheduler.after(ms, () => this.runIn(process, resolve));
    });
  }

  /** The Clock port of one process: the region's wall clock, timers that die with the process. */
  private processClock(process: Process): Clock {
    const { scheduler } = this.context;
    return {
      now: () => this.clock.now(),
      setTimer: (delayMs: number, callback: () => void): TimerHandle => {
        let cancelled = false;
        const task = scheduler.after(this.clock.timerDelay(delayMs), () =>
          this.runIn(process, () => {
            if (!cancelled) callback();
          }),
        );
        return {
          cancel: () => {
            cancelled = true;
            scheduler.cancel(task);
          },
        };
      },
    };
  }

  private logger(): Logger {
    const count = (level: string) => (_fields: Record<string, unknown>, message: string) => {
      const key = `${level}: ${message}`;
      this.context.replicaLog[key] = (this.context.replicaLog[key] ?? 0) + 1;
    };
    const quiet = () => {};
    return { debug: quiet, info: quiet, warn: count('warn'), error: count('error') };
  }

  private observer(): ReplicaObserver {
    return {
      debitDecided: () => {},
      batchCommitted: () => {},
      rightsMoved: (amount) => {
        this.context.rightsMoved += amount;
      },
    };
  }
}

/** The error of a commit to a disk that refuses writes (a write-errors fault). */
class WriteRefused extends Error {
  readonly code = 'EIO';
  constructor() {
    super('EIO: i/o error (the disk refuses writes)');
    this.name = 'WriteRefused';
  }
}

/** Whether `error`, or an error it was caused by, is a WriteRefused. */
function refusedWrite(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 8; cause = cause.cause, depth++)
    if (cause instanceof WriteRefused) return true;
  return false;
}
