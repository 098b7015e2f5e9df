/**
 * Several real node processes on loopback, every directed link through a Relay the test controls:
 * node A reaches node B at relay(A→B), which forwards to B's port.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateRegionKey, rawPublicKey } from '@allot/store';
import { afterAll, beforeAll } from 'vitest';
import { Relay } from '../../bench/relay.mjs';
import { type NodeProcess, removeDir, startNodeProcess, tempDir } from './node-process.js';

/** A running multi-region cluster of processes. */
export interface ProcessCluster {
  readonly regions: readonly string[];
  readonly nodes: Map<string, NodeProcess>;
  readonly dirs: Map<string, string>;
  /** The relay that carries `from`'s connections to `to`. */
  relay(from: string, to: string): Relay;
  /** Cuts every link of `region`, both directions. */
  isolate(region: string): void;
  /** Heals every relay. */
  heal(): void;
  /** Starts a region again on its data directory (after a kill). */
  restart(region: string): Promise<NodeProcess>;
  /** Stops every node (SIGTERM) and relay. */
  stop(): Promise<void>;
}

/** How a process cluster starts beyond its regions. */
export interface ProcessClusterOptions {
  /** Regions in every config (keys, peers, relays) but not started: `restart` starts them later. */
  readonly later?: readonly string[];
  /** Config fields every node gets. */
  readonly extra?: Record<string, unknown>;
}

/** Starts `regions` as processes of one cluster, connected through relays. */
export async function startProcessCluster(
  regions: readonly string[],
  options: ProcessClusterOptions = {},
): Promise<ProcessCluster> {
  // Each node's port: 0 until it first serves (the OS picks one as it binds, so no other process
  // can take it between a probe and the bind, as one did with a probed port: EADDRINUSE), then
  // kept for its restarts. The relays to it follow (retarget).
  const ports = new Map<string, number>();
  const keys = new Map<string, string>();
  const dirs = new Map<string, string>();
  for (const region of regions) {
    const dir = tempDir(`cluster-${region}`);
    dirs.set(region, dir);
    const key = generateRegionKey();
    writeFileSync(join(dir, 'region.key'), key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    keys.set(region, Buffer.from(rawPublicKey(key)).toString('base64'));
  }
  const relays = new Map<string, Relay>();
  for (const from of regions) {
    for (const to of regions) {
      if (from === to) continue;
      const relay = new Relay(0);
      await relay.listen();
      relays.set(`${from}>${to}`, relay);
    }
  }
  const start = async (region: string) => {
    const node = await startNodeProcess({
      region,
      dataDir: dirs.get(region),
      extra: {
        ...options.extra,
        listen: { host: '127.0.0.1', port: ports.get(region) ?? 0 },
        peers: regions
          .filter((peer) => peer !== region)
          .map((peer) => ({
            region: peer,
            url: `ws://127.0.0.1:${relays.get(`${region}>${peer}`)?.port}/v1/replication`,
            publicKey: keys.get(peer),
          })),
      },
    });
    const port = Number(new URL(node.url).port);
    ports.set(region, port);
    for (const from of regions)
      if (from !== region) (relays.get(`${from}>${region}`) as Relay).targetPort = port;
    return node;
  };
  const nodes = new Map<string, NodeProcess>();
  const now = regions.filter((region) => !(options.later ?? []).includes(region));
  await Promise.all(now.map(async (region) => nodes.set(region, await start(region))));
  const relay = (from: string, to: string) => relays.get(`${from}>${to}`) as Relay;
  return {
    regions,
    nodes,
    dirs,
    relay,
    isolate(region) {
      for (const other of regions) {
        if (other === region) continue;
        relay(region, other).cut();
        relay(other, region).cut();
      }
    },
    heal() {
      for (const each of relays.values()) each.heal();
    },
    async restart(region) {
      const node = await start(region);
      nodes.set(region, node);
      return node;
    },
    async stop() {
      await Promise.all(
        [...nodes.values()].map(async (node) => {
          if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGTERM');
          await node.exited;
        }),
      );
      await Promise.all([...relays.values()].map((each) => each.close()));
    },
  };
}

/**
 * The process cluster of one test file: started before its tests, stopped (its folders removed)
 * after them. `cluster()` is the running cluster; `url(region)` a region's base URL.
 */
export function useProcessCluster(regions: readonly string[]): {
  cluster(): ProcessCluster;
  url(region: string): string;
} {
  let started: ProcessCluster | undefined;
  beforeAll(async () => {
    started = await startProcessCluster(regions);
  });
  afterAll(async () => {
    await started?.stop();
    for (const dir of started?.dirs.values() ?? []) removeDir(dir);
  });
  const cluster = (): ProcessCluster => {
    if (started === undefined) throw new Error('the process cluster has not started yet');
    return started;
  };
  return { cluster, url: (region) => cluster().nodes.get(region)?.url as string };
}
