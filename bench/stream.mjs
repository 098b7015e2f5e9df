#!/usr/bin/env node
// npm run bench:stream — what idle GET /v1/stream consumers cost (default 1,000): heap and resident
// memory per consumer of a node's app (real replica on an in-memory store, real HTTP on loopback,
// the clients in the same process). Baseline, measured in the same run: the same number of idle
// keep-alive HTTP connections to the same app (each made one /healthz request) — what a connection
// costs before it is a stream. Prints bytes per consumer and the ratio to the baseline.
import { Agent, request } from 'node:http';
import { Replica } from '@allot/replica';
import { buildApp, createMetrics, Realtime } from '@allot/server';
import { generateRegionKey, MemoryStore, nodeCrypto, systemClock, systemRng } from '@allot/store';
import { machine } from './support.mjs';

const consumers = Number(process.env.CONSUMERS ?? 1_000);
const TOKEN = 'bench-audit-token';
if (typeof global.gc !== 'function') {
  console.error('run with node --expose-gc (npm run bench:stream does)');
  process.exit(2);
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const store = MemoryStore.empty();
const metrics = createMetrics({ defaultMetrics: false });
const replica = await Replica.open(
  { cluster: 'bench', region: 'eu' },
  { store, clock: systemClock, rng: systemRng(), crypto: nodeCrypto(generateRegionKey()), logger: quiet },
);
const realtime = await Realtime.open({
  replica,
  store,
  webhooks: [],
  registry: metrics.registry,
  logger: quiet,
  stream: { consumersMax: consumers },
});
const app = await buildApp({
  replica,
  tokens: [{ token: TOKEN, role: 'auditor' }],
  logger: false,
  metrics,
  realtime,
  http: {
    connectionsMax: consumers * 2 + 100,
    rateLimitTokenRequests: 1_000_000_000,
    rateLimitAnonymousRequests: 1_000_000_000,
    eventLoopDelayMsMax: 0,
  },
});
const base = await app.listen({ host: '127.0.0.1', port: 0 });

async function memory() {
  await new Promise((resolve) => setTimeout(resolve, 500));
  global.gc();
  global.gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heap: heapUsed, rss };
}

/** Opens `count` requests to `path`, keeps their sockets; resolves once each got its first bytes. */
async function open(count, path) {
  const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
  const responses = [];
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, count - i) },
        () =>
          new Promise((resolve, reject) => {
            const req = request(
              new URL(path, base),
              { agent, headers: { authorization: `Bearer ${TOKEN}` } },
              (res) => {
                if (res.statusCode !== 200) reject(new Error(`${path}: HTTP ${res.statusCode}`));
                responses.push(res);
                res.once('data', () => resolve(undefined));
              },
            );
            req.on('error', reject);
            req.end();
          }),
      ),
    );
  }
  return () => {
    for (const res of responses) res.destroy();
    agent.destroy();
  };
}

try {
  const idle = await memory();
  const closeBare = await open(consumers, '/healthz');
  const bare = await memory();
  closeBare();
  const before = await memory();
  const closeStreams = await open(consumers, '/v1/stream');
  const streams = await memory();
  if (realtime.hub.size !== consumers)
    throw new Error(`${realtime.hub.size} consumers connected, not ${consumers}`);
  closeStreams();
  const per = (after, start, field) => (after[field] - start[field]) / consumers;
  const bareHeap = per(bare, idle, 'heap');
  const streamHeap = per(streams, before, 'heap');
  const bareRss = per(bare, idle, 'rss');
  const streamRss = per(streams, before, 'rss');
  console.log(
    `allot stream bench — ${consumers} idle consumers, server and clients in one process — ${machine()}`,
  );
  console.log(
    `  idle keep-alive connection (baseline): ${Math.round(bareHeap)} B heap, ${Math.round(bareRss)} B RSS each`,
  );
  console.log(
    `  idle stream consumer:                  ${Math.round(streamHeap)} B heap, ${Math.round(streamRss)} B RSS each`,
  );
  console.log(`  ratio stream / connection (heap): ${(streamHeap / Math.max(1, bareHeap)).toFixed(2)}×`);
} finally {
  await app.close();
  await realtime.close();
  await replica.close();
}
