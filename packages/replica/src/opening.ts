/**
 * The first step of opening a replica: the data directory's meta, read, or written with a new
 * incarnation when the directory is new (DESIGN.md §1), and refused when it belongs to another
 * region or cluster. The fold is recovered afterwards by the replica (recovery.ts).
 */
import { originId } from '@allot/core';
import { newIncarnation } from './incarnation.js';
import { ReplicaOpenError } from './open-error.js';
import type { Clock, Logger, NodeMeta, Rng, Store } from './ports.js';

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
