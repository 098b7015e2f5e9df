#!/usr/bin/env node
// npm run bench:replication — three real nodes (eu, us, ap) on loopback, every directed link
// through a relay (bench/relay.mjs).
// 1. Visibility: with ~10k debits/s at eu (POST /v1/debits/batch, 100 debits every 10 ms), a
//    probe grant at eu every 50 ms; how long from eu's acknowledgement until us and ap serve it
//    (p50/p99), next to the WebSocket round trip on loopback measured in the same run (a ws echo).
//    Goal (issue 5): p99 ≤ 50 ms.
// 2. Convergence: 5k debits/s at each region while every region is cut off for PARTITION_S
//    (default 60) seconds; after the heal, how long until all three serve the same version vector.
//    Goal: ≤ 2 s. Also each node's CPU while it caught up, per event it received (what bounds it).
//    Before the cut, WARM_S (default 10) seconds of the same load with every link up, as a cluster
//    in service has: each node's receive path is then compiled by V8 before the catch-up. Without
//    it (WARM_S=0) a cold node spent ~1 s of CPU of its catch-up in TurboFan compiling that path
//    (perf, and --trace-opt: ~50 compiles after the heal), a third of its CPU after a 20 s cut.
// PHASES=visibility or PHASES=convergence runs only that part (default: both).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRegionKey, rawPublicKey } from '@allot/store';
import { WebSocket, WebSocketServer } from 'ws';
import { stringify } from 'yaml';
import { portOutsideEphemeral, Relay } from './relay.mjs';
import {
  childCpuSeconds,
  commitShape,
  commitsBetween,
  commitsText,
  loadAverage,
  machine,
  nodeArgs,
  post,
  TOKENS,
} from './support.mjs';

const REGIONS = ['eu', 'us', 'ap'];
const CLI = process.env.BENCH_CLI ?? new URL('../packages/cli/bin/allot.js', import.meta.url).pathname;
const partitionSeconds = Number(process.env.PARTITION_S ?? 60);
const phases = new Set((process.env.PHASES ?? 'visibility,convergence').split(','));
const warmSeconds = Number(process.env.WARM_S ?? 10);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

async function wsRoundTrip() {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', (socket) => socket.on('message', (data) => socket.send(data)));
  const client = new WebSocket(`ws://127.0.0.1:${server.address().port}`);
  await new Promise((resolve) => client.once('open', resolve));
  const times = [];
  for (let i = 0; i < 500; i++) {
    const started = process.hrtime.bigint();
    await new Promise((resolve) => {
      client.once('message', resolve);
      client.send(Buffer.alloc(200));
    });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  client.close();
  server.close();
  return times;
}

async function startCluster() {
  const dir = mkdtempSync(join(tmpdir(), 'allot-bench-repl-'));
  // Below the kernel's ephemeral range: a probed ephemeral port could be taken by a relay's or a
  // client's socket before the node binds it (a node exiting with EADDRINUSE left this bench
  // waiting for it forever).
  const base = await portOutsideEphemeral(REGIONS.length);
  const ports = Object.fromEntries(REGIONS.map((region, i) => [region, base + i]));
  const keys = {};
  for (const region of REGIONS) {
    const key = generateRegionKey();
    writeFileSync(join(dir, `${region}.key`), key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    keys[region] = Buffer.from(rawPublicKey(key)).toString('base64');
  }
  const relays = [];
  const urls = {};
  const children = [];
  const exited = {};
  for (const region of REGIONS) {
    const peers = [];
    for (const peer of REGIONS.filter((other) => other !== region)) {
      const relay = new Relay(ports[peer]);
      await relay.listen();
      relays.push(relay);
      peers.push({ region: peer, url: `ws://127.0.0.1:${relay.port}/v1/replication`, publicKey: keys[peer] });
    }
    const config = {
      cluster: 'bench',
      region,
      listen: { host: '127.0.0.1', port: ports[region] },
      dataDir: join(dir, region),
      keyFile: join(dir, `${region}.key`),
      peers,
      tokens: [
        { token: TOKENS.service, role: 'service' },
        { token: TOKENS.admin, role: 'admin' },
      ],
      durability: 'fsync',
      logLevel: 'warn',
      bodyLimitBytes: 1024 * 1024,
    };
    writeFileSync(join(dir, `${region}.yaml`), stringify(config));
    const child = spawn(
      process.execPath,
      [...nodeArgs(), CLI, 'node', '--config', join(dir, `${region}.yaml`)],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    // The last of what it printed to stderr, to say why if it stops before it is ready.
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-2000);
    });
    child.once('exit', (code, signal) => {
      exited[region] = `${region}'s node exited (${signal ?? code}): ${stderr.trim() || 'nothing on stderr'}`;
    });
    children.push(child);
    urls[region] = `http://127.0.0.1:${ports[region]}`;
  }
  for (const region of REGIONS) {
    for (;;) {
      if (exited[region] !== undefined) {
        for (const child of children) child.kill('SIGTERM');
        await Promise.all(relays.map((relay) => relay.close()));
        throw new Error(exited[region]);
      }
      try {
        const cluster = await (
          await fetch(`${urls[region]}/v1/cluster`, { headers: { authorization: `Bearer ${TOKENS.admin}` } })
        ).json();
        if (cluster.peers?.every((peer) => peer.connected)) break;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
  }
  return {
    urls,
    relays,
    children,
    async stop() {
      await Promise.all(
        children.map(
          (child) =>
            new Promise((resolve) => {
              if (child.exitCode !== null || child.signalCode !== null) return resolve();
              child.once('exit', resolve);
              child.kill('SIGTERM');
            }),
        ),
      );
      await Promise.all(relays.map((relay) => relay.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Sends `perSecond` debits/s at `url` in batches every 10 ms until `stop()`; counts accepted. */
function load(url, tenant, perSecond, tag) {
  let running = true;
  let accepted = 0;
  let n = 0;
  const perTick = Math.max(1, Math.round(perSecond / 100));
  const done = (async () => {
    let next = Date.now();
    while (running) {
      const debits = Array.from({ length: perTick }, () => ({
        tenant,
        amount: 1,
        idempotencyKey: `${tag}-${n++}`,
      }));
      const answer = await post(url, TOKENS.service, '/v1/debits/batch', { debits });
      if (answer.status === 200)
        accepted += answer.body.results.filter((r) => r.status === 'accepted').length;
      next += 10;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return accepted;
    },
  };
}

/** Resolves once all three regions serve the same version vector. */
async function converged() {
  for (;;) {
    const vectors = await Promise.all(
      REGIONS.map(async (region) => {
        const view = await (
          await fetch(`${urls[region]}/v1/cluster`, { headers: { authorization: `Bearer ${TOKENS.admin}` } })
        ).json();
        return JSON.stringify(Object.entries(view.versionVector).sort());
      }),
    );
    if (new Set(vectors).size === 1) return;
    await sleep(10);
  }
}

async function visible(url, tenant) {
  const response = await fetch(`${url}/v1/tenants/${tenant}/balance`, {
    headers: { authorization: `Bearer ${TOKENS.admin}` },
  });
  await response.arrayBuffer();
  return response.status === 200;
}

const rtt = await wsRoundTrip();
const cluster = await startCluster();
const { urls } = cluster;
for (const region of REGIONS) {
  const granted = await post(urls.eu, TOKENS.admin, `/v1/tenants/load-${region}/grants`, {
    grantId: 'g',
    amount: 9_000_000_000,
  });
  if (granted.status !== 201) throw new Error(`grant failed: ${JSON.stringify(granted.body)}`);
}
await sleep(1000);

// 1. Visibility under 10k debits/s at eu.
const euLoad = phases.has('visibility') ? load(urls.eu, 'load-eu', 10_000, 'vis') : null;
const latencies = [];
for (let i = 0; i < (euLoad === null ? 0 : 100); i++) {
  const tenant = `probe-${i}`;
  const answer = await post(urls.eu, TOKENS.admin, `/v1/tenants/${tenant}/grants`, {
    grantId: 'p',
    amount: 1,
  });
  const acknowledged = performance.now();
  if (answer.status !== 201) throw new Error(`probe failed: ${JSON.stringify(answer.body)}`);
  const seen = await Promise.all(
    ['us', 'ap'].map(async (region) => {
      while (!(await visible(urls[region], tenant))) await sleep(1);
      return performance.now() - acknowledged;
    }),
  );
  latencies.push(...seen);
  await sleep(50);
}
const visAccepted = euLoad === null ? 0 : await euLoad.stop();

// 2. Convergence after a partition at 5k debits/s per region.
const converging = phases.has('convergence');
const partitionRate = Number(process.env.PARTITION_RATE ?? 5_000);
if (converging && warmSeconds > 0) {
  const warming = REGIONS.map((region) =>
    load(urls[region], `load-${region}`, partitionRate, `warm-${region}`),
  );
  await sleep(warmSeconds * 1000);
  await Promise.all(warming.map((each) => each.stop()));
  await converged();
}
if (converging) for (const relay of cluster.relays) relay.cut();
const loads = converging
  ? REGIONS.map((region) => load(urls[region], `load-${region}`, partitionRate, `part-${region}`))
  : [];
if (converging) await sleep(partitionSeconds * 1000);
const partAccepted = (await Promise.all(loads.map((each) => each.stop()))).reduce((a, b) => a + b, 0);
const cpuBefore = cluster.children.map(childCpuSeconds);
const commitsBefore = converging
  ? await Promise.all(REGIONS.map((region) => commitShape(urls[region], TOKENS.admin)))
  : [];
const healed = performance.now();
for (const relay of cluster.relays) relay.heal();
await converged();
const convergeMs = performance.now() - healed;
const cpuUsed = cluster.children.map((child, i) => (childCpuSeconds(child) ?? 0) - (cpuBefore[i] ?? 0));
const catchUpCommits = converging
  ? await Promise.all(
      REGIONS.map(async (region, i) =>
        commitsBetween(commitsBefore[i] ?? null, await commitShape(urls[region], TOKENS.admin)),
      ),
    )
  : [];
await cluster.stop();

console.log(`bench:replication — ${machine()}, load average ${loadAverage()}`);
console.log(
  `WebSocket round trip (loopback echo):  p50 ${percentile(rtt, 50).toFixed(2)} ms  p99 ${percentile(rtt, 99).toFixed(2)} ms`,
);
if (latencies.length > 0) {
  console.log(
    `visibility at us/ap under load at eu:  p50 ${percentile(latencies, 50).toFixed(1)} ms  p99 ${percentile(latencies, 99).toFixed(1)} ms  (${visAccepted} debits accepted meanwhile)`,
  );
  console.log(
    `ratio visibility p99 / ws round-trip p99: ${(percentile(latencies, 99) / percentile(rtt, 99)).toFixed(1)}x   goal p99 ≤ 50 ms → ${percentile(latencies, 99) <= 50 ? 'met' : 'not met'}`,
  );
}
if (converging) {
  // Each node receives the other two regions' debits.
  const received = (partAccepted * 2) / 3;
  console.log(
    `partition ${partitionSeconds} s at ${partitionRate.toLocaleString('en')} debits/s per region (${partAccepted} accepted; ${warmSeconds} s of that load before, every link up): converged ${convergeMs.toFixed(0)} ms after heal (${Math.round(received / (convergeMs / 1000)).toLocaleString('en')} events/s caught up per node)   goal ≤ 2000 ms → ${convergeMs <= 2000 ? 'met' : 'not met'}`,
  );
  console.log(
    `node CPU while catching up (all threads): ${cpuUsed.map((cpu, i) => `${REGIONS[i]} ${cpu.toFixed(2)} s`).join(', ')}; ${((Math.max(...cpuUsed) * 1e6) / received).toFixed(1)} µs per received event at the busiest`,
  );
  console.log(
    `commits while catching up: ${catchUpCommits.map((shape, i) => `${REGIONS[i]} ${commitsText(shape)}`).join(', ')}`,
  );
}
