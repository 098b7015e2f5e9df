/** Test support: a real replica, its real-time side and app, listening on a loopback port. */
import { type Crypto, Replica, SeededRng } from '@allot/replica';
import { MemoryStore } from '@allot/store';
import type { FastifyInstance } from 'fastify';
import { buildApp, createMetrics, type Metrics, Realtime, type RealtimeOptions } from '../../src/index.js';
import { TestClock, TOKEN_CONFIG, TOKENS, testCrypto } from '../support.js';

/** A listening node with real time. */
export interface RealtimeNode {
  readonly app: FastifyInstance;
  readonly replica: Replica;
  readonly realtime: Realtime;
  readonly store: MemoryStore;
  readonly clock: TestClock;
  readonly metrics: Metrics;
  readonly base: string;
  /** The region's key: a restart on the same store needs it. */
  readonly crypto: Crypto;
  /** Stops app, real time and replica (the store stays as it is, for a restart). */
  close(): Promise<void>;
}

const quiet = { warn() {}, error() {} };

/** Starts a node on `store` (a new one by default) with real-time `options`. */
export async function realtimeNode(
  options: Partial<Pick<RealtimeOptions, 'webhooks' | 'stream' | 'delivery'>> & {
    store?: MemoryStore;
    crypto?: Crypto;
  } = {},
): Promise<RealtimeNode> {
  const clock = new TestClock();
  const store = options.store ?? MemoryStore.empty();
  const metrics = createMetrics({ defaultMetrics: false });
  const crypto = options.crypto ?? testCrypto();
  const replica = await Replica.open(
    { cluster: 'test', region: 'eu' },
    {
      store,
      clock,
      rng: new SeededRng(7),
      crypto,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      observer: metrics.observer,
    },
  );
  const realtime = await Realtime.open({
    replica,
    store,
    webhooks: options.webhooks ?? [],
    registry: metrics.registry,
    logger: quiet,
    ...(options.stream === undefined ? {} : { stream: options.stream }),
    ...(options.delivery === undefined ? {} : { delivery: options.delivery }),
  });
  const app = await buildApp({
    replica,
    tokens: TOKEN_CONFIG,
    logger: false,
    metrics,
    realtime,
    http: { eventLoopDelayMsMax: 0 },
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    replica,
    realtime,
    store,
    clock,
    metrics,
    base,
    crypto,
    async close() {
      await app.close();
      await realtime.close();
      await replica.close();
    },
  };
}

/** The Authorization header of a test token. */
export function auth(who: keyof typeof TOKENS): Record<string, string> {
  return { authorization: `Bearer ${TOKENS[who]}` };
}
