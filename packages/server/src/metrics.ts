/**
 * Prometheus metrics of a node (API.md "Operations", DESIGN.md §7) on prom-client, in a registry of
 * their own (never the global one), so that one process can build many apps (tests, the simulator).
 * The replica reports what it does through a ReplicaObserver; `metricsObserver` turns that into
 * these metrics.
 */
import type { ReplicaObserver } from '@allot/replica';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { createNodeStateMetrics, type NodeStateMetrics } from './node-state-metrics.js';

/**
 * Debit latency buckets, in seconds: a debit waits for one group commit (~1 ms plus an fsync), so
 * the interesting range is 0.1 ms to 50 ms; the last buckets catch a stalled disk.
 */
const DEBIT_SECONDS_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25,
];

/**
 * Borrow waits, in seconds: a round trip to a donor plus its commit, from loopback (~1 ms) to the
 * longest configurable wait (BORROW_WAIT_MS_MAX, 1 s).
 */
const WAIT_SECONDS_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1];

/** Group-commit sizes, in events: powers of two up to the batch limit of 8,190. */
const BATCH_EVENTS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8190];

/** Group-commit durations, in seconds (an fsync of a LevelDB batch). */
const COMMIT_SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

/**
 * prom-client's default gauges whose names end in `_total`, which `promtool check metrics` refuses
 * (only counters end in `_total`). Each is the sum of the labelled gauge of the same name without
 * the suffix (`sum(nodejs_active_handles)`), so nothing is lost by leaving them out.
 */
const DEFAULT_GAUGES_NAMED_AS_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/** What the replica (and, later, replication) reports, beyond the replica's observer. */
export interface MetricsObserver extends ReplicaObserver {
  /** `count` (default 1) debits decided with `result`, each answered after `seconds`. */
  debitDecided(result: Parameters<ReplicaObserver['debitDecided']>[0], seconds: number, count?: number): void;
  /** Events of `origin` known to exist but not folded here yet. */
  replicationLag(origin: string, events: number): void;
  /** Whether the connection to `peer` (a region) is up. */
  peerConnected(peer: string, connected: boolean): void;
  /** Rights this node handed to another region (a `move` event), in credits. */
  rightsMoved(amount: number): void;
  /** Overdraft in use at this region over all tenants, in credits. */
  overdraftInUse(amount: number): void;
}

/** The metrics of one node and the registry that exposes them. */
export interface Metrics {
  readonly registry: Registry;
  readonly debitsTotal: Counter<'result'>;
  readonly debitDurationSeconds: Histogram;
  readonly commitBatchSize: Histogram;
  readonly commitDurationSeconds: Histogram;
  readonly replicationLagEvents: Gauge<'origin'>;
  readonly peerConnected: Gauge<'peer'>;
  readonly rightsMovedTotal: Counter;
  readonly grantConflictsTotal: Counter;
  readonly overdraftInUse: Gauge;
  readonly debitsWaitedTotal: Counter<'result'>;
  readonly debitWaitSeconds: Histogram;
  readonly debitDeclinesTotal: Counter<'reason'>;
  /** The node's state, read from the replica at each scrape, and store failures. */
  readonly nodeState: NodeStateMetrics;
  /** Feeds these metrics from a replica's observations. */
  readonly observer: MetricsObserver;
}

/** Options of `createMetrics`. */
export interface MetricsOptions {
  /** The registry to register in; a new one when absent. */
  readonly registry?: Registry;
  /** Also collect prom-client's default process metrics (default true). */
  readonly defaultMetrics?: boolean;
}

/** The metrics of a node, registered in their own registry. */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = options.registry ?? new Registry();
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
    for (const name of DEFAULT_GAUGES_NAMED_AS_COUNTERS) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const debitsTotal = new Counter({
    name: 'allot_debits_total',
    help: 'Debits answered, by result (accepted, replayed, declined, conflict, rejected, invalid, unavailable).',
    labelNames: ['result'] as const,
    registers,
  });
  const debitDurationSeconds = new Histogram({
    name: 'allot_debit_duration_seconds',
    help: 'Time from a debit request to its answer (durable or declined), in seconds.',
    buckets: DEBIT_SECONDS_BUCKETS,
    registers,
  });
  const commitBatchSize = new Histogram({
    name: 'allot_commit_batch_size',
    help: 'Events written by one group commit.',
    buckets: BATCH_EVENTS_BUCKETS,
    registers,
  });
  const commitDurationSeconds = new Histogram({
    name: 'allot_commit_duration_seconds',
    help: 'Time one group commit took to become durable, in seconds.',
    buckets: COMMIT_SECONDS_BUCKETS,
    registers,
  });
  const replicationLagEvents = new Gauge({
    name: 'allot_replication_lag_events',
    help: 'Events of an origin known to exist but not yet folded here.',
    labelNames: ['origin'] as const,
    registers,
  });
  const peerConnected = new Gauge({
    name: 'allot_peer_connected',
    help: '1 while the replication connection to a peer region is up, else 0.',
    labelNames: ['peer'] as const,
    registers,
  });
  const rightsMovedTotal = new Counter({
    name: 'allot_rights_moved_total',
    help: 'Credits of rights this node handed to other regions.',
    registers,
  });
  const grantConflictsTotal = new Counter({
    name: 'allot_grant_conflicts_total',
    help: 'Grant ids seen defined with different terms at two regions (the later is revoked; see GET /v1/cluster).',
    registers,
  });
  const overdraftInUse = new Gauge({
    name: 'allot_overdraft_in_use',
    help: 'Overdraft in use at this region over all tenants, in credits.',
    registers,
  });
  const debitsWaitedTotal = new Counter({
    name: 'allot_debits_waited_total',
    help: 'Debits (and holds) that waited for rights from peers (borrowing), by how they ended (accepted, declined).',
    labelNames: ['result'] as const,
    registers,
  });
  const debitWaitSeconds = new Histogram({
    name: 'allot_debit_wait_seconds',
    help: 'Time a debit (or hold) waited for rights from peers, in seconds (at most borrowWaitMs).',
    buckets: WAIT_SECONDS_BUCKETS,
    registers,
  });
  const debitDeclinesTotal = new Counter({
    name: 'allot_debit_declines_total',
    help: 'Debits (and holds) declined for want of credits, by reason (insufficient, unreachable, timeout, blocked).',
    labelNames: ['reason'] as const,
    registers,
  });
  const observer: MetricsObserver = {
    debitWaited(seconds, result) {
      debitsWaitedTotal.inc({ result });
      debitWaitSeconds.observe(seconds);
    },
    debitDeclined(reason) {
      debitDeclinesTotal.inc({ reason });
    },
    debitDecided(result, seconds, count = 1) {
      debitsTotal.inc({ result }, count);
      for (let i = 0; i < count; i++) debitDurationSeconds.observe(seconds);
    },
    batchCommitted(events, seconds) {
      commitBatchSize.observe(events);
      commitDurationSeconds.observe(seconds);
    },
    replicationLag(origin, events) {
      replicationLagEvents.set({ origin }, events);
    },
    peerConnected(peer, connected) {
      peerConnected.set({ peer }, connected ? 1 : 0);
    },
    rightsMoved(amount) {
      rightsMovedTotal.inc(amount);
    },
    overdraftInUse(amount) {
      overdraftInUse.set(amount);
    },
    grantConflict() {
      grantConflictsTotal.inc();
    },
  };
  return {
    registry,
    debitsTotal,
    debitDurationSeconds,
    commitBatchSize,
    commitDurationSeconds,
    replicationLagEvents,
    peerConnected,
    rightsMovedTotal,
    grantConflictsTotal,
    overdraftInUse,
    debitsWaitedTotal,
    debitWaitSeconds,
    debitDeclinesTotal,
    nodeState: createNodeStateMetrics(registry),
    observer,
  };
}
