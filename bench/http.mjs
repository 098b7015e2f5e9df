#!/usr/bin/env node
// npm run bench:http — autocannon (50 connections, pipelining 1) against (1) a bare fastify route
// doing the same JSON parse and an in-memory decrement and (2) the node's debit route with
// durability fsync, in the same run, one after the other. Prints throughput and p99 and their
// ratios. Goal (issue 4): throughput ≥ 0.8× and p99 ≤ 1.5× the bare route.
import autocannon from 'autocannon';
import {
  childCpuSeconds,
  commitShape,
  commitsText,
  loadAverage,
  machine,
  post,
  spawnServer,
  startNode,
  TOKENS,
} from './support.mjs';

const seconds = Number(process.env.DURATION ?? 10);
const connections = 50;

function run(url, token) {
  let counter = 0;
  return autocannon({
    url,
    connections,
    pipelining: 1,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        path: '/v1/tenants/acme/debits',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ amount: 1, idempotencyKey: `bench-${process.pid}-${counter++}` }),
        }),
      },
    ],
  });
}

const bare = await spawnServer(
  process.execPath,
  [new URL('./bare-server.mjs', import.meta.url).pathname],
  /listening (http:\/\/\S+)/,
);
/** Runs the load against `server`; also the server's CPU µs per request (all its threads). */
async function measure(server, token) {
  const before = childCpuSeconds(server.child);
  const result = await run(server.url, token);
  const after = childCpuSeconds(server.child);
  const cpuUs = before === null || after === null ? null : ((after - before) * 1e6) / result.requests.total;
  return { result, cpuUs };
}

const baseline = await measure(bare, 'none');
await bare.stop();

const node = await startNode('fsync');
const granted = await post(node.url, TOKENS.admin, '/v1/tenants/acme/grants', {
  grantId: 'bench',
  amount: 9_000_000_000_000,
});
if (granted.status !== 201) throw new Error(`grant failed: ${JSON.stringify(granted.body)}`);
const measured = await measure(node, TOKENS.service);
const commits = await commitShape(node.url, TOKENS.admin);
await node.stop();

const row = (name, { result, cpuUs }) =>
  `${name.padEnd(28)} ${String(Math.round(result.requests.average)).padStart(8)} req/s   p99 ${String(result.latency.p99).padStart(4)} ms   non-2xx ${result.non2xx}   server CPU ${cpuUs === null ? '?' : cpuUs.toFixed(0)} µs/request`;
console.log(
  `bench:http — ${machine()}, ${connections} connections, pipelining 1, ${seconds} s each, load average ${loadAverage()}`,
);
console.log(row('bare fastify route', baseline));
console.log(row('allot debit (fsync)', measured));
console.log(`node commits: ${commitsText(commits)}`);
const throughput = measured.result.requests.average / baseline.result.requests.average;
const p99 = measured.result.latency.p99 / Math.max(1, baseline.result.latency.p99);
console.log(
  `throughput ratio ${throughput.toFixed(2)}x (goal ≥ 0.80)   p99 ratio ${p99.toFixed(2)}x (goal ≤ 1.50)`,
);
