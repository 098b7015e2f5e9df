/**
 * Opening a replica (DESIGN.md §1): the data directory's meta, read, or written with a new
 * incarnation when the directory is new, and refused when it belongs to another region or cluster;
 * then the fold recovered from the store into the replica's parts (recovery.ts verifies every log),
 * and the steps before it serves: the incarnations heard of, the timers, joining by checkpoint.
 */
import {
  activeHolds,
  grantDefinitions,
  type OriginId,
  originId,
  overdraftInUseTotal,
  regionOf,
  tenantIds,
} from '@allot/core';
import { CheckpointSchedule } from './checkpoints.js';
import { OwnEventTimes, storedEventTime } from './event-time.js';
import { newIncarnation } from './incarnation.js';
import { Joiner } from './join.js';
import { ZERO_HASH } from './log.js';
import { ReplicaOpenError } from './open-error.js';
import type { Clock, Logger, NodeMeta, Rng, Store } from './ports.js';
import { recoverStore } from './recovery.js';
import type { ReplicaNode } from './replica-node.js';
import { ownRetiredLine, retiredPastThrough } from './retire.js';

/**
 * The directory's meta: a new directory gets a new incarnation, its own origin recorded with it.
 * Rejects with a ReplicaOpenError when the directory belongs to another region or cluster.
 */
export async function openMeta(
  options: { readonly cluster: string; readonly region: string },
  ports: { readonly store: Store; readonly rng: Rng; readonly clock: Clock; readonly logger: Logger },
): Promise<NodeMeta> {
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
  return meta;
}

/**
 * Recovers `replica` from its store and readies it to serve: its incarnations heard of, its
 * successors, its timers, and a joiner when nothing is stored and peers may hold it. Rejects with a
 * ReplicaOpenError (the store closed) when its own incarnation is retired.
 */
export async function openParts(replica: ReplicaNode): Promise<void> {
  const { ports } = replica;
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
  const stored = [...replica.heads.values()].filter((head) => head.seq > 0).map((head) => head.origin);
  replica.writability.noteSuccessor(replica.successors.noteStored(stored));
  await replica.writability.recordHeard([replica.origin]); // a directory made before origins were recorded
  replica.writability.reportLostIncarnations();
  replica.deadlines.armRetention();
  replica.archiving?.start();
  replica.checkpoints = new CheckpointSchedule(replica.options.checkpoint, ports.clock, async () => {
    await replica.reads.takeCheckpoint();
  });
  replica.checkpoints.start();
  // Peers to ask: the first peer summary decides whether to join by checkpoint (nothing stored, or far behind).
  if (replica.writability.otherRegions().length > 0 && !replica.options.allowLoneStart)
    replica.joiner = new Joiner(replica.joining.joinHost(), replica.options.join);
  ports.logger.info(
    { origin: replica.origin, events: replica.ownLog.durableSeq, tenants: replica.state.tenants.size },
    'replica recovered',
  );
}

/** Rebuilds everything from the store: the fold of every stored log and the control document. */
export async function recoverParts(replica: ReplicaNode): Promise<void> {
  const { ports, ownLog } = replica;
  const window = replica.recordWindow();
  const recordWindow = { ...window, spilled: await replica.keySpill.load(window.bucketMs) };
  let recovered = await recoverStore(ports, replica.cluster, replica.origin, recordWindow);
  const cut = retiredPastThrough(recovered.state);
  // Events of a retired incarnation past its retired seq, stored before the retire came: the
  // fold is made again without them, as every node that never took them folds it.
  if (cut.size > 0) recovered = await recoverStore(ports, replica.cluster, replica.origin, recordWindow, cut);
  const { state, heads, control } = recovered;
  replica.keySpill.hold(recovered.checkpointParts);
  replica.state = state;
  replica.heads = heads;
  replica.control = control;
  // Received events folded past what the store holds were undone with the fold: pulled again.
  const undone: OriginId[] = [];
  for (const [origin, tip] of replica.tips)
    if (origin !== replica.origin && tip.seq > (heads.get(origin)?.seq ?? 0)) undone.push(origin);
  replica.tips.clear();
  for (const [origin, head] of heads) replica.tips.set(origin, { seq: head.seq, hash: head.hash });
  const own = heads.get(replica.origin);
  ownLog.durableSeq = own?.seq ?? 0;
  ownLog.nextSeq = ownLog.durableSeq + 1;
  ownLog.ownTimes = new OwnEventTimes();
  ownLog.ownTimes.observe(await storedEventTime(ports.store, replica.origin, ownLog.durableSeq));
  ownLog.lastHash = own?.hash ?? ZERO_HASH;
  replica.expiries.clear();
  ownLog.overdraftInUse = overdraftInUseTotal(state, replica.origin);
  for (const tenant of tenantIds(state)) {
    for (const grant of grantDefinitions(state, tenant))
      replica.deadlines.scheduleExpiry(tenant, grant.winner);
    for (const hold of activeHolds(state, tenant))
      if (regionOf(hold.origin) === replica.region) replica.expiries.add(hold.expiresAt, tenant);
    replica.grantConflicts.observe(state, tenant);
  }
  ports.observer?.overdraftInUse?.(ownLog.overdraftInUse);
  replica.deadlines.runExpiries();
  for (const tenant of tenantIds(state)) replica.remote.revokeDuplicates(tenant);
  replica.remote.recovered(recovered.duplicateKeys);
  replica.spillClosedKeys();
  replica.link.pullUndone(undone);
}
