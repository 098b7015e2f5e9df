/**
 * Metrics of a node's state, read from the replica when Prometheus scrapes (not pushed by it): ready
 * and writable (and, until writable, the peers it waits for), which origin the node writes as, how many events of each origin it has folded (the
 * alert on a log shorter than peers' compares them across regions), stranded rights, and each
 * peer's round trip and silence. Plus the count of commands the store failed to make durable.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ServedReplica } from './served-replica.js';

/** The state metrics of one node. */
export interface NodeStateMetrics {
  /** Reads the replica's state into the gauges; undefined while the node has no replica yet. */
  sample(replica: ServedReplica | undefined): void;
  /** Counts one command refused because the store failed to make it durable. */
  storeFailed(): void;
}

/** The state metrics, registered in `registry`. */
export function createNodeStateMetrics(registry: Registry): NodeStateMetrics {
  const registers = [registry];
  const ready = new Gauge({
    name: 'allot_ready',
    help: '1 once the store is open, the logs recovered and the control document loaded (GET /readyz), else 0.',
    registers,
  });
  const writable = new Gauge({
    name: 'allot_writable',
    help: '1 while the node takes writes (its own log confirmed whole), else 0.',
    registers,
  });
  const waitingFor = new Gauge({
    name: 'allot_writes_waiting_for_peer',
    help: '1 for each peer whose summary must still confirm that this node holds all of its own log before it takes writes (after a start; absent once writable).',
    labelNames: ['peer'] as const,
    registers,
  });
  const info = new Gauge({
    name: 'allot_node_info',
    // No `region` label: scrape configs put one on every target (deploy/prometheus.yml); the origin
    // names the region anyway (region#incarnation).
    help: 'Always 1: the origin (region#incarnation) this node writes as.',
    labelNames: ['origin'] as const,
    registers,
  });
  const logEvents = new Gauge({
    name: 'allot_log_events',
    help: 'Events of each origin folded here (the version vector); a peer that knows more of an origin than the origin itself means its log is shorter than its peers’.',
    labelNames: ['origin'] as const,
    registers,
  });
  const stranded = new Gauge({
    name: 'allot_stranded_rights',
    help: 'Credits of rights held by a lost incarnation (an origin whose region now writes as another), until it is retired.',
    labelNames: ['origin'] as const,
    registers,
  });
  const rttSeconds = new Gauge({
    name: 'allot_peer_rtt_seconds',
    help: 'Round-trip time of the last ping to a peer region, in seconds (absent until measured).',
    labelNames: ['peer'] as const,
    registers,
  });
  const silentSeconds = new Gauge({
    name: 'allot_peer_silence_seconds',
    help: 'Seconds since anything was heard from a peer region (absent if never).',
    labelNames: ['peer'] as const,
    registers,
  });
  const storeFailures = new Counter({
    name: 'allot_store_failures_total',
    help: 'Commands refused (503 unavailable, reason store_failed) because the store failed to make them durable.',
    registers,
  });
  return {
    sample(replica) {
      ready.set(replica?.ready === true ? 1 : 0);
      writable.set(replica?.ready === true && replica.writable ? 1 : 0);
      // Reset the labelled gauges so that a series that is gone (a retired origin) disappears.
      for (const gauge of [info, logEvents, stranded, rttSeconds, silentSeconds, waitingFor]) gauge.reset();
      if (replica === undefined || !replica.ready) return;
      info.set({ origin: replica.origin }, 1);
      for (const peer of replica.writesWaitingFor?.() ?? []) waitingFor.set({ peer }, 1);
      const view = replica.clusterView?.();
      const versionVector = view?.versionVector ?? replica.versionVector();
      for (const [origin, events] of Object.entries(versionVector)) logEvents.set({ origin }, events);
      for (const rights of view?.stranded ?? []) {
        stranded.inc({ origin: rights.origin }, rights.rights);
      }
      for (const peer of view?.peers ?? []) {
        if (peer.rttMs !== null) rttSeconds.set({ peer: peer.region }, peer.rttMs / 1000);
        if (peer.lastHeardMs !== null) silentSeconds.set({ peer: peer.region }, peer.lastHeardMs / 1000);
      }
    },
    storeFailed() {
      storeFailures.inc();
    },
  };
}
