/**
 * The world of the join tests (issue 11): three running regions (ap, eu, us) on memory stores with a
 * fourth (sa) in every config, started later; a manual clock and an in-memory network; helpers to
 * run the clock until a condition holds, to debit in batches and to compare balances.
 */
import { generateKeyPairSync } from 'node:crypto';
import {
  ManualClock,
  Replica,
  type ReplicaOptions,
  type ReplicationFrame,
  SeededRng,
  type Transport,
  type TransportHandlers,
} from '@allot/replica';
import { MemoryStore, nodeCrypto, rawPublicKey, sha256 } from '@allot/store';
import { expect } from 'vitest';
import { MemoryNetwork } from './memory-network.js';
import { memoryLogger, START_MS } from './support.js';

export const REGIONS = ['ap', 'eu', 'us', 'sa'] as const;
export const TENANTS = ['t0', 't1', 't2', 't3'];

/** Rewrites a frame `from` a peer before the replica sees it. */
export type Tamper = (from: string, frame: ReplicationFrame) => ReplicationFrame;

/** Wraps the handlers a replica attaches to its transport (to delay, drop or cut what it receives). */
export type Intercept = (handlers: TransportHandlers, transport: Transport) => TransportHandlers;

/** Three running regions (ap, eu, us) with a fourth (sa) in every config, started later. */
export async function world(options: Partial<ReplicaOptions> = {}) {
  const clock = new ManualClock(START_MS);
  const network = new MemoryNetwork();
  const keys = new Map<string, unknown>(
    REGIONS.map((region) => [region, generateKeyPairSync('ed25519').privateKey]),
  );
  const peerKeys = Object.fromEntries(
    REGIONS.map((region) => [region, rawPublicKey(keys.get(region) as never)]),
  );
  const replicas = new Map<string, Replica>();
  const stores = new Map<string, MemoryStore>();
  const logs = new Map<string, ReturnType<typeof memoryLogger>>();
  let seed = 1;
  const base: ReplicaOptions = {
    cluster: 'test',
    region: 'x',
    peerKeys,
    checkpoint: { everyEvents: 100_000, everyMs: 24 * 3_600_000 },
    join: { thresholdEvents: 1_000, agree: 'all' },
    ...options,
  };
  const open = async (region: string, store: MemoryStore, tamper?: Tamper, intercept?: Intercept) => {
    const logger = memoryLogger();
    logs.set(region, logger);
    const replica = await Replica.open(
      { ...base, region },
      { store, clock, rng: new SeededRng(seed++), crypto: nodeCrypto(keys.get(region) as never), logger },
    );
    const transport = network.transport(
      region,
      replica.origin,
      [...REGIONS].filter((other) => other !== region),
    );
    const tampered: Transport =
      tamper === undefined
        ? transport
        : {
            ...transport,
            attach: (handlers) =>
              transport.attach({
                ...handlers,
                frame: (from, frame) => handlers.frame(from, tamper(from, frame)),
              }),
          };
    const wrapped: Transport =
      intercept === undefined
        ? tampered
        : { ...tampered, attach: (handlers) => tampered.attach(intercept(handlers, transport)) };
    replica.attachTransport(wrapped);
    replicas.set(region, replica);
    stores.set(region, store);
    network.connectAll();
    return replica;
  };
  const step = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(1);
  };
  const until = async (condition: () => boolean, maxMs = 30_000) => {
    for (let i = 0; i < maxMs && !condition(); i++) await step();
    if (!condition()) {
      if (process.env.JOIN_DEBUG)
        for (const [region, replica] of replicas)
          console.log(region, JSON.stringify(replica.versionVector()), logs.get(region)?.lines.slice(-15));
      throw new Error(`condition not reached within ${maxMs} simulated ms`);
    }
  };
  const node = (region: string) => replicas.get(region) as Replica;
  const settle = async <T>(promise: Promise<T>): Promise<T> => {
    let done = false;
    const tracked = promise.finally(() => {
      done = true;
    });
    await until(() => done);
    return tracked;
  };
  const total = (region: string) =>
    Object.values(node(region).versionVector()).reduce((sum, seq) => sum + seq, 0);
  const vectorText = (region: string) => JSON.stringify(Object.entries(node(region).versionVector()).sort());
  const converged = (regions: readonly string[]) =>
    regions.every((region) => vectorText(region) === vectorText(regions[0] as string));
  /** `count` debits of 1 at `region`, spread over the tenants, in batches. */
  const debits = async (region: string, count: number, tag: string) => {
    for (let done = 0; done < count; done += 100) {
      const batch = Array.from({ length: Math.min(100, count - done) }, (_, i) => ({
        tenant: TENANTS[(done + i) % TENANTS.length] as string,
        amount: 1,
        idempotencyKey: `${tag}-${done + i}`,
        metadata: null,
      }));
      const outcomes = await settle(node(region).debitMany(batch));
      expect(outcomes.every((outcome) => outcome.status === 'accepted')).toBe(true);
    }
  };
  const balances = (region: string) => TENANTS.map((tenant) => node(region).balance(tenant)?.balance ?? null);
  return {
    clock,
    network,
    replicas,
    stores,
    logs,
    open,
    until,
    node,
    settle,
    total,
    converged,
    debits,
    balances,
  };
}

export type World = Awaited<ReturnType<typeof world>>;

/** ap, eu, us running with ~1,700 events; us's checkpoint the newest, eu's an older one, ap none. */
export async function running(options: Partial<ReplicaOptions> = {}): Promise<World> {
  const w = await world(options);
  for (const region of ['ap', 'eu', 'us']) await w.open(region, MemoryStore.empty({ archiveHash: sha256 }));
  // sa is in every config but never started: nobody waits for it.
  await w
    .until(() => ['ap', 'eu', 'us'].every((region) => w.node(region).writesWaitingFor().length === 0))
    .catch((e) => {
      console.log(
        ['ap', 'eu', 'us'].map((r) => w.node(r).writesWaitingFor()),
        w.logs.get('eu')?.lines,
      );
      throw e;
    });
  for (const tenant of TENANTS) {
    const granted = await w.settle(
      w.node('eu').grant({ tenant, grantId: 'g1', amount: 1_000_000, priority: 100, expiresAt: null }),
    );
    expect(granted.status).toBe('accepted');
  }
  await w.until(() => w.converged(['ap', 'eu', 'us']) && w.node('us').balance('t0') !== undefined);
  for (const region of ['ap', 'eu', 'us']) await w.debits(region, 500, `${region}-a`);
  await w.until(() => w.converged(['ap', 'eu', 'us']));
  expect(await w.settle(w.node('eu').takeCheckpoint())).toBe(true);
  await w.debits('us', 200, 'us-b');
  await w.until(() => w.converged(['ap', 'eu', 'us']));
  expect(await w.settle(w.node('us').takeCheckpoint())).toBe(true);
  await w.debits('ap', 100, 'ap-c'); // a tail after the newest checkpoint
  await w.until(() => w.converged(['ap', 'eu', 'us']));
  return w;
}

/** Events of every log the store of `region` holds (below a log base it holds none). */
export async function storedEvents(w: World, region: string): Promise<number> {
  const store = w.stores.get(region) as MemoryStore;
  let count = 0;
  for (const head of await store.heads()) {
    for (let from = 1; ; ) {
      const page = await store.readLog(head.origin, from, 1_000);
      if (page.length === 0) break;
      count += page.length;
      from = (page[page.length - 1]?.event.seq ?? from) + 1;
    }
  }
  return count;
}

export const infos = (w: World, region: string) =>
  (w.logs.get(region)?.lines ?? []).filter((line) => line.level === 'info').map((line) => line.message);
export const warns = (w: World, region: string) =>
  (w.logs.get(region)?.lines ?? []).filter((line) => line.level === 'warn').map((line) => line.message);

/**
 * All four regions ran; sa debited (some of it while cut off: events no peer has), then was closed;
 * the others went on past the join threshold and us wrote a checkpoint. sa's store stays in
 * `stores`, the links are healed: reopening sa on it (crash()) finds it far behind, not empty.
 */
export async function farBehind(options: Partial<ReplicaOptions> = {}): Promise<World> {
  const w = await world(options);
  const all = ['ap', 'eu', 'us', 'sa'];
  for (const region of all) await w.open(region, MemoryStore.empty({ archiveHash: sha256 }));
  await w.until(() => all.every((region) => w.node(region).writesWaitingFor().length === 0));
  for (const tenant of TENANTS)
    await w.settle(
      w.node('eu').grant({ tenant, grantId: 'g1', amount: 1_000_000, priority: 100, expiresAt: null }),
    );
  await w.until(() => w.converged(all) && w.node('sa').balance('t3') !== undefined);
  await w.debits('sa', 20, 'sa-old');
  await w.until(() => w.converged(all));
  for (const peer of ['ap', 'eu', 'us']) w.network.cutLink('sa', peer);
  await w.debits('sa', 5, 'sa-off');
  await w.node('sa').close();
  for (const region of ['ap', 'eu', 'us']) await w.debits(region, 500, `${region}-a`);
  await w.until(() => w.converged(['ap', 'eu', 'us']));
  expect(await w.settle(w.node('us').takeCheckpoint())).toBe(true);
  await w.debits('ap', 50, 'ap-c');
  await w.until(() => w.converged(['ap', 'eu', 'us']));
  w.network.healAll();
  return w;
}
