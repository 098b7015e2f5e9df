/** Several replicas on memory stores, one manual clock, joined by a MemoryNetwork. */
import { generateKeyPairSync } from 'node:crypto';
import { ManualClock, Replica, type ReplicaObserver, type ReplicaOptions, SeededRng } from '@allot/replica';
import { MemoryStore, nodeCrypto, rawPublicKey, sha256 } from '@allot/store';
import { MemoryNetwork } from './memory-network.js';
import { memoryLogger, START_MS, tick } from './support.js';

/** A test cluster. */
export interface Cluster {
  readonly clock: ManualClock;
  readonly network: MemoryNetwork;
  readonly replicas: Map<string, Replica>;
  readonly stores: Map<string, MemoryStore>;
  /** The log lines of each region's current replica. */
  readonly logs: Map<string, ReturnType<typeof memoryLogger>>;
  node(region: string): Replica;
  /** Lets time pass (ms) while frames and commits flow. */
  run(ms: number): Promise<void>;
  /** Runs until `condition` holds (or fails after `maxMs` of simulated time). */
  until(condition: () => boolean, maxMs?: number): Promise<void>;
  /** Restarts a region on what its store kept after a crash. */
  crash(region: string): Promise<Replica>;
  /** Restarts a region on an empty disk: a new incarnation. */
  loseDisk(region: string): Promise<Replica>;
  /** Stops a region's node and starts it on `store` (a data directory restored from a backup). */
  restore(region: string, store: MemoryStore): Promise<Replica>;
}

/** Opens replicas of `regions`, connected to each other. */
export async function cluster(
  regions: readonly string[],
  options: Partial<ReplicaOptions> = {},
  observers: Readonly<Record<string, ReplicaObserver>> = {},
): Promise<Cluster> {
  const clock = new ManualClock(START_MS);
  const network = new MemoryNetwork();
  const keys = new Map(regions.map((region) => [region, generateKeyPairSync('ed25519').privateKey]));
  const peerKeys = Object.fromEntries(
    regions.map((region) => [region, rawPublicKey(keys.get(region) as never)]),
  );
  const replicas = new Map<string, Replica>();
  const stores = new Map<string, MemoryStore>();
  const logs = new Map<string, ReturnType<typeof memoryLogger>>();
  let seed = 1;
  const open = async (region: string, store: MemoryStore) => {
    const logger = memoryLogger();
    logs.set(region, logger);
    const replica = await Replica.open(
      { cluster: 'test', region, peerKeys, ...options },
      {
        store,
        clock,
        rng: new SeededRng(seed++),
        crypto: nodeCrypto(keys.get(region) as never),
        logger,
        ...(observers[region] === undefined ? {} : { observer: observers[region] }),
      },
    );
    replica.attachTransport(
      network.transport(
        region,
        replica.origin,
        regions.filter((other) => other !== region),
      ),
    );
    replicas.set(region, replica);
    stores.set(region, store);
    return replica;
  };
  for (const region of regions) await open(region, MemoryStore.empty({ archiveHash: sha256 }));
  network.connectAll();
  const step = () => tick(clock);
  const c: Cluster = {
    clock,
    network,
    replicas,
    stores,
    logs,
    node: (region) => replicas.get(region) as Replica,
    async run(ms) {
      for (let i = 0; i < ms; i++) await step();
    },
    async until(condition, maxMs = 20_000) {
      for (let i = 0; i < maxMs; i++) {
        if (condition()) return;
        await step();
      }
      if (!condition()) throw new Error(`condition not reached within ${maxMs} simulated ms`);
    },
    async crash(region) {
      const store = (stores.get(region) as MemoryStore).crash();
      const replica = await open(region, store);
      network.connectAll();
      return replica;
    },
    async restore(region, store) {
      await (replicas.get(region) as Replica).close();
      const replica = await open(region, store);
      network.connectAll();
      return replica;
    },
    async loseDisk(region) {
      const store = (stores.get(region) as MemoryStore).loseDisk();
      const replica = await open(region, store);
      network.connectAll();
      return replica;
    },
  };
  return c;
}
