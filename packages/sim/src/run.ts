/**
 * One simulation run: the scenario's regions, each the production Replica on a MemoryStore, a
 * simulated clock and the simulated network, driven by the fault schedule and the workload on
 * simulated time, fully determined by the seed. The run boots the cluster (time 0 of the scenario
 * is when every link is up), runs `durationS` of workload, then a quiet period after the last heal,
 * samples truth and views every 100 ms, times convergence after every heal, takes the nodes' final
 * snapshots and ledgers, and checks S1–S6 over what it recorded.
 */
import { createHash } from 'node:crypto';
import { balanceOf } from '@allot/core';
import type { Replica } from '@allot/replica';
import { checkA1 } from './alert-check.js';
import { watchAlerts } from './alert-watch.js';
import type { Scenario } from './api.js';
import { overdraftBound } from './bounds.js';
import { checkAll } from './checkers.js';
import { destroyedRanges, lostSpans } from './checkers-faults.js';
import { RegionClock } from './clock.js';
import { CommitLatency } from './commit-latency.js';
import { regionCrypto, SimKeyring } from './crypto.js';
import { scheduleFaults } from './faults.js';
import { readFinalState } from './final-state.js';
import {
  BOOT_MS_MAX,
  CLOCK_SKEW_MS_MAX,
  CONVERGENCE_PROBE_MS,
  HEALTHY_CLOCK_OFFSET_MS,
  HISTORY_RECORDS_MAX,
  SAMPLE_INTERVAL_MS,
} from './limits.js';
import { SimNetwork } from './network.js';
import { type RegionContext, RegionNode } from './region.js';
import type { FinalState, HistoryRecord, SimulationResult } from './results.js';
import { streamOf } from './rng.js';
import { runMetrics } from './run-metrics.js';
import { borrowWaitOf } from './scenario.js';
import { Scheduler, SimulationFailure } from './scheduler.js';
import { lastHealMs, msOf, quietStartMs } from './timeline.js';
import { type DestroyedGrant, TrueLedger } from './truth.js';
import { sameVector } from './vectors.js';
import { Workload } from './workload.js';

/** How a run reports and names itself. */
export interface RunOptions {
  /** Called about every simulated second with the scenario time reached, s. */
  readonly onProgress?: (simulatedS: number) => void;
  /** The scenario file, for the replay command (default `simulations/<name>.yaml`). */
  readonly scenarioPath?: string;
  /** The whole replay command, when the caller knows better (the swarm does). */
  readonly replay?: string;
}

/** A run could not finish: a replica or the harness broke. The message carries the seed and the replay. */
export class SimulationError extends Error {
  override readonly name = 'SimulationError';
  constructor(
    message: string,
    readonly seed: number,
    readonly replay: string,
    /** Scenario time of the failure, ms. */
    readonly atMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The replay command of a run. */
export function replayCommand(scenario: Scenario, seed: number, options: RunOptions = {}): string {
  return (
    options.replay ??
    `npx allot simulate ${options.scenarioPath ?? `simulations/${scenario.name}.yaml`} --seed ${seed}`
  );
}

/** Whether `vector` has at least every seq of `target`. */
function covers(vector: Readonly<Record<string, number>>, target: Readonly<Record<string, number>>): boolean {
  for (const [origin, seq] of Object.entries(target)) if ((vector[origin] ?? 0) < seq) return false;
  return true;
}

/** SHA-256 of the history, one JSON line per record. */
export function historyHash(history: readonly HistoryRecord[]): string {
  const hash = createHash('sha256');
  for (const record of history) hash.update(`${JSON.stringify(record)}\n`);
  return hash.digest('hex');
}

/** The wiring of one run. */
class Simulation {
  readonly scheduler = new Scheduler();
  readonly truth = new TrueLedger();
  readonly network: SimNetwork;
  readonly nodes = new Map<string, RegionNode>();
  readonly history: HistoryRecord[] = [];
  /** Fault records so far (starts and ends): part of the health token. */
  private faultEdges = 0;
  readonly context: RegionContext;
  readonly convergenceMs: number[] = [];
  /** Simulated time of the scenario's time 0 (after boot). */
  startMs = 0;

  constructor(
    readonly scenario: Scenario,
    readonly seed: number,
  ) {
    this.network = new SimNetwork(this.scheduler, scenario.regions, scenario.network, seed);
    const kind = scenario.signatures ?? 'simulated';
    const keyring = new SimKeyring();
    const cryptos = new Map(
      scenario.regions.map((region) => [
        region,
        regionCrypto(kind, streamOf(seed, `keys:${region}`), keyring),
      ]),
    );
    const peerKeys = Object.fromEntries([...cryptos].map(([region, crypto]) => [region, crypto.publicKey]));
    this.context = {
      scheduler: this.scheduler,
      network: this.network,
      truth: this.truth,
      cluster: 'sim',
      rebalancing: scenario.rebalancing,
      borrowWaitMs: borrowWaitOf(scenario),
      peerKeys,
      replicaLog: {},
      rightsMoved: 0,
      storageOpened: (region, damaged, outcome, detail) =>
        this.destroyed({
          type: 'storage',
          t: this.now,
          region,
          damage: damaged.report.damage,
          outcome,
          detail: `${damaged.report.detail}; ${detail}`,
          damagedKeys: damaged.report.damagedKeys,
          held: damaged.held,
          kept: damaged.kept,
          ...this.copiesBeside(region),
        }),
      diskLost: (region, held) =>
        this.destroyed({
          type: 'storage',
          t: this.now,
          region,
          damage: 'disk-loss',
          outcome: 'lost',
          detail: 'the disk is lost: what only it held is gone',
          damagedKeys: [],
          held,
          kept: {},
          ...this.copiesBeside(region),
        }),
      opened: (region, replica, alive) =>
        watchAlerts(region, replica, {
          hash: (bytes) => (cryptos.get(region) as ReturnType<typeof regionCrypto>).hash(bytes),
          alive,
          now: () => this.now,
          record: (record) => this.record(record),
        }),
    };
    const clocks = streamOf(seed, 'clocks');
    for (const region of scenario.regions) {
      const clock = new RegionClock(this.scheduler, clocks.int(-CLOCK_SKEW_MS_MAX, CLOCK_SKEW_MS_MAX));
      this.nodes.set(
        region,
        new RegionNode(
          region,
          clock,
          cryptos.get(region) as ReturnType<typeof regionCrypto>,
          streamOf(seed, `replica:${region}`),
          this.context,
          new CommitLatency(streamOf(seed, `disk:${region}`)),
        ),
      );
    }
  }

  get now(): number {
    return this.scheduler.now - this.startMs;
  }

  record(record: HistoryRecord): void {
    if (this.history.length >= HISTORY_RECORDS_MAX) {
      this.scheduler.fail(
        new SimulationFailure(
          `more than ${HISTORY_RECORDS_MAX} history records: shorten the scenario or lower its rates`,
          this.scheduler.now,
        ),
      );
      return;
    }
    this.history.push(record);
    if (record.type === 'fault') this.faultEdges += 1;
  }

  /**
   * What the other nodes hold durably of each origin (`elsewhere`), and the incarnations no node
   * can write as again (`lost`; one a restored backup runs as can): what a storage record needs
   * beside the damaged or lost disk of `region`.
   */
  private copiesBeside(region: string): { elsewhere: Record<string, number>; lost: string[] } {
    const elsewhere: Record<string, number> = {};
    for (const [other, node] of this.nodes) {
      if (other === region) continue;
      for (const [origin, seq] of Object.entries(node.durableSeqs()))
        elsewhere[origin] = Math.max(elsewhere[origin] ?? 0, seq);
    }
    const running = new Set([...this.nodes.values()].map((node) => node.origin));
    const lost = [...new Set([...this.nodes.values()].flatMap((node) => node.lostOrigins))]
      .filter((origin) => !running.has(origin))
      .sort();
    return { elsewhere, lost };
  }

  /**
   * Records a disk damaged or lost. Before its origins can write again (a node waits for every
   * peer): the truth's totals leave out what it destroyed, and count what is written again under
   * those seqs; what lost incarnations moved that no node holds can never be received.
   */
  private destroyed(storage: Extract<HistoryRecord, { type: 'storage' }>): void {
    const grants: DestroyedGrant[] = [];
    for (const [origin, ranges] of destroyedRanges([storage]))
      for (const [from, to] of ranges) grants.push(...this.truth.forget(origin, from, to));
    this.record(grants.length === 0 ? storage : { ...storage, destroyedGrants: grants });
    for (const [origin, from, held] of lostSpans(storage)) this.truth.unreceivable(origin, from, held);
  }

  /** Opens every replica and waits until every link is up; that instant is the scenario's time 0. */
  async boot(): Promise<void> {
    for (const node of this.nodes.values()) node.start();
    const deadline = Math.max(BOOT_MS_MAX, 4 * this.scenario.network.delayMs.max + BOOT_MS_MAX);
    while (![...this.nodes.values()].every((node) => node.status === 'up') || !this.network.allUp()) {
      if (this.scheduler.now >= deadline)
        throw new SimulationFailure(
          `the cluster did not boot within ${deadline} simulated ms`,
          this.scheduler.now,
        );
      await this.scheduler.runUntil(this.scheduler.now + 1);
    }
    this.startMs = this.scheduler.now;
  }

  private at(ms: number, run: () => void): void {
    this.scheduler.at(this.startMs + ms, run);
  }

  private running(): Replica[] {
    const replicas: Replica[] = [];
    for (const node of this.nodes.values())
      if (node.status === 'up' && node.replica !== null) replicas.push(node.replica);
    return replicas;
  }

  /** Every SAMPLE_INTERVAL_MS, per tenant: the truth, each running region's view, S2's observations. */
  private sample(endMs: number): void {
    const bounds = new Map(this.scenario.tenants.map((spec) => [spec.tenant, overdraftBound(spec)]));
    const tick = (ms: number) => {
      if (this.truth.problem !== null)
        this.scheduler.fail(new SimulationFailure(this.truth.problem, this.scheduler.now));
      for (const spec of this.scenario.tenants) {
        const ledger = this.truth.figures(spec.tenant);
        const views: Record<string, { balance: number; rights: number }> = {};
        for (const [region, node] of this.nodes) {
          if (node.status !== 'up' || node.replica === null) continue;
          const view = node.replica.balance(spec.tenant);
          views[region] = { balance: view?.balance ?? 0, rights: view?.regions[region]?.rights ?? 0 };
        }
        this.record({
          type: 'sample',
          t: this.now,
          tenant: spec.tenant,
          truth: balanceOf(ledger),
          views,
          ledger,
          overdraftBound: bounds.get(spec.tenant) ?? 0,
          origins: this.truth.takeOrigins(spec.tenant),
        });
      }
      if (ms + SAMPLE_INTERVAL_MS <= endMs)
        this.at(ms + SAMPLE_INTERVAL_MS, () => tick(ms + SAMPLE_INTERVAL_MS));
    };
    this.at(0, () => tick(0));
  }

  /** Times convergence after each heal: every region has folded all any region had at the heal. */
  healed(atMs: number): void {
    const target: Record<string, number> = {};
    for (const replica of this.running())
      for (const [origin, seq] of Object.entries(replica.versionVector()))
        target[origin] = Math.max(target[origin] ?? 0, seq);
    this.pendingHeals.push({ atMs, target });
    if (!this.probing) {
      this.probing = true;
      this.scheduler.after(CONVERGENCE_PROBE_MS, () => this.probeHeals());
    }
  }

  private readonly pendingHeals: { atMs: number; target: Record<string, number> }[] = [];
  private probing = false;

  private probeHeals(): void {
    const replicas = this.running();
    if (replicas.length === this.nodes.size) {
      const vectors = replicas.map((replica) => replica.versionVector());
      for (let i = 0; i < this.pendingHeals.length; ) {
        const heal = this.pendingHeals[i] as (typeof this.pendingHeals)[number];
        if (vectors.every((vector) => covers(vector, heal.target))) {
          this.convergenceMs.push(this.now - heal.atMs);
          this.record({
            type: 'converged',
            t: this.now,
            afterHealMs: this.now - heal.atMs,
            healAt: heal.atMs,
          });
          this.pendingHeals.splice(i, 1);
        } else i += 1;
      }
    }
    if (this.pendingHeals.length > 0) this.scheduler.after(CONVERGENCE_PROBE_MS, () => this.probeHeals());
    else this.probing = false;
  }

  /** From `fromMs` on: since when have all regions held the same version vector (S4's time)? */
  private watchFinal(fromMs: number, endMs: number): () => { since: number; index: number } | null {
    let since: { since: number; index: number } | null = null;
    const probe = (ms: number) => {
      const replicas = this.running();
      const first = replicas[0]?.versionVector() ?? {};
      const same =
        replicas.length === this.nodes.size &&
        replicas.every((replica, i) => i === 0 || sameVector(replica.versionVector(), first));
      if (!same) since = null;
      else since ??= { since: this.now, index: this.history.length };
      if (ms + CONVERGENCE_PROBE_MS <= endMs)
        this.at(ms + CONVERGENCE_PROBE_MS, () => probe(ms + CONVERGENCE_PROBE_MS));
    };
    this.at(fromMs, () => probe(fromMs));
    return () => since;
  }

  /** Runs the scenario; returns the history, the final state and the convergence after the last heal. */
  async run(onProgress: ((simulatedS: number) => void) | undefined): Promise<FinalState> {
    const { scenario } = this;
    await this.boot();
    const lastHeal = lastHealMs(scenario);
    const quietFrom = quietStartMs(scenario);
    const endMs = quietFrom + msOf(scenario.quietS);
    scheduleFaults(scenario, {
      scheduler: this.scheduler,
      network: this.network,
      nodes: this.nodes,
      startMs: this.startMs,
      record: (record) => this.record(record),
      healed: (atMs) => this.healed(atMs),
      seed: this.seed,
    });
    new Workload(scenario, {
      scheduler: this.scheduler,
      nodes: this.nodes,
      truth: this.truth,
      startMs: this.startMs,
      seed: this.seed,
      record: (record) => this.record(record),
      health: () => this.health(),
    }).start();
    this.sample(endMs);
    const settledSince = this.watchFinal(quietFrom, endMs);
    for (let second = 1000; second <= endMs; second += 1000) {
      await this.scheduler.runUntil(this.startMs + second);
      onProgress?.(second / 1000);
    }
    await this.scheduler.runUntil(this.startMs + endMs);
    const final = await readFinalState(this);
    const since = settledSince();
    if (since !== null && final.down.length === 0) {
      const converged: HistoryRecord = {
        type: 'converged',
        t: since.since,
        afterHealMs: Math.max(0, since.since - lastHeal),
        healAt: lastHeal,
        final: true,
      };
      this.history.splice(since.index, 0, converged);
    }
    return final;
  }

  /**
   * Null unless every node is up, unpaused and its disk taking writes (its commits not waiting
   * after failed ones), with its clock within
   * HEALTHY_CLOCK_OFFSET_MS of true time and every link is up, unpartitioned and honest (no
   * `hostile` fault: a wire that rewrites every frame's origin loses the sender's events without
   * closing the link, swarm seed 1178); else
   * a token that changes whenever a link is (re)established, a partition begins or ends or a wire
   * turns hostile or honest, or any fault starts or ends (a node paused and resumed between a
   * request and its answer was not whole in between: swarm hold seed 3605, a pause of us that ended
   * as its debits' waits did), so equal tokens at a request and its answer say the cluster stayed
   * whole in between.
   */
  health(): number | null {
    if (!this.network.allUp() || this.network.anyHostile()) return null;
    for (const node of this.nodes.values())
      if (
        node.status !== 'up' ||
        node.paused ||
        node.writesRefused ||
        node.replica?.writable !== true ||
        node.replica.commitsPaused ||
        Math.abs(node.clock.offsetMs()) > HEALTHY_CLOCK_OFFSET_MS
      )
        return null;
    for (const from of this.scenario.regions)
      for (const to of this.scenario.regions)
        if (from !== to && this.network.isBlocked(from, to)) return null;
    // Both only grow: equal sums mean no link was re-established and no partition began or ended
    // in between (a flapping link's down phase inside a borrow wait is not whole).
    return (
      this.network.counters.connects +
      this.network.partitionChanges +
      this.network.hostileChanges +
      this.faultEdges
    );
  }
}

/**
 * Runs `scenario` (validated) under `seed`. The same scenario and seed give the same history
 * (and `historyHash`). Rejects with a SimulationError, naming the seed and the replay command, when
 * a replica or the harness breaks; a violated invariant is a verdict, not a rejection.
 */
export async function runSimulation(
  scenario: Scenario,
  seed: number,
  options: RunOptions = {},
): Promise<SimulationResult> {
  const replay = replayCommand(scenario, seed, options);
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new SimulationError(`seed ${seed} is not a non-negative safe integer`, seed, replay, 0);
  const wallStart = performance.now();
  const simulation = new Simulation(scenario, seed);
  let final: FinalState;
  try {
    final = await simulation.run(options.onProgress);
  } catch (error) {
    const atMs = error instanceof SimulationFailure ? error.atMs - simulation.startMs : simulation.now;
    throw new SimulationError(
      `simulation failed at ${atMs} ms (seed ${seed}): ${(error as Error).message}\nreplay: ${replay}`,
      seed,
      replay,
      atMs,
      { cause: error },
    );
  }
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const input = { scenario, history: simulation.history, final };
  // A1 joins S1–S6 when the scenario sets alerts.
  const alerting = scenario.tenants.some((spec) => (spec.alerts?.length ?? 0) > 0);
  const verdicts = [...checkAll(input), ...(alerting ? [checkA1(input)] : [])];
  return {
    scenario,
    seed,
    replay,
    verdicts,
    ok: verdicts.every((verdict) => verdict.holds),
    metrics: runMetrics(
      {
        scenario,
        history: simulation.history,
        network: simulation.network,
        truth: simulation.truth,
        convergenceMs: simulation.convergenceMs,
        rightsMoved: simulation.context.rightsMoved,
        replicaLog: simulation.context.replicaLog,
      },
      wallSeconds,
      final,
    ),
    history: simulation.history,
    historyHash: historyHash(simulation.history),
    final,
  };
}
