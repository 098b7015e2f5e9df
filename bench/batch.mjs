#!/usr/bin/env node
// npm run bench:batch — durable debits per second through POST /v1/debits/batch (8,190 debits a
// request, 4 requests in flight, durability fsync), next to the raw LevelDB rate for the same
// number of keyed records of similar size written in fsynced batches of 8,190, in the same run.
// Goal (issue 4): ≥ 300,000 durable debits/s per node on this 2-core machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import {
  childCpuSeconds,
  commitShape,
  commitsText,
  loadAverage,
  machine,
  post,
  startNode,
  TOKENS,
} from './support.mjs';

const BATCH = 8190;
const total = Number(process.env.DEBITS ?? 400_000);
const requests = Math.ceil(total / BATCH);
const inFlight = 4;
const tenants = 1000;

// Raw LevelDB: the same number of records, ~200 bytes each, keyed like log entries, fsynced batches.
const dir = mkdtempSync(join(tmpdir(), 'allot-bench-level-'));
const db = new Level(dir, { valueEncoding: 'view' });
await db.open();
const value = new Uint8Array(200).fill(7);
let started = process.hrtime.bigint();
for (let r = 0; r < requests; r++) {
  const ops = [];
  for (let i = 0; i < BATCH; i++)
    ops.push({ type: 'put', key: `v1/log/eu#bench/${String(r * BATCH + i).padStart(13, '0')}`, value });
  await db.batch(ops, { sync: true });
}
const levelRate = (requests * BATCH) / (Number(process.hrtime.bigint() - started) / 1e9);
await db.close();
rmSync(dir, { recursive: true, force: true });

const node = await startNode('fsync');
for (let t = 0; t < tenants; t++) {
  const granted = await post(node.url, TOKENS.admin, `/v1/tenants/t${t}/grants`, {
    grantId: 'bench',
    amount: 9_000_000_000,
  });
  if (granted.status !== 201) throw new Error(`grant failed: ${JSON.stringify(granted.body)}`);
}
// The bodies are encoded before the clock starts, so the client's own JSON work is not measured.
const bodies = Array.from({ length: requests }, (_, r) =>
  JSON.stringify({
    debits: Array.from({ length: BATCH }, (_, i) => ({
      tenant: `t${(r * BATCH + i) % tenants}`,
      amount: 1,
      idempotencyKey: `b-${r}-${i}`,
    })),
  }),
);
const STATUS = '"status":"';
const statuses = new Map();
/** How many results of a batch answer happened (accepted, or replayed after a lost answer),
 * counted in its text (no parse in the client); every status is tallied for the record. */
function doneIn(text) {
  let done = 0;
  for (let at = text.indexOf(STATUS); at !== -1; at = text.indexOf(STATUS, at + STATUS.length)) {
    const status = text.slice(at + STATUS.length, text.indexOf('"', at + STATUS.length));
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    if (status === 'accepted' || status === 'replayed') done++;
  }
  return done;
}
let sent = 0;
let accepted = 0;
let shed = 0;
const nodeCpuBefore = childCpuSeconds(node.child);
const clientCpuBefore = process.cpuUsage();
started = process.hrtime.bigint();
/** One batch, retried while the node sheds it (503: nothing happened), as a client would. */
async function send(body) {
  for (;;) {
    const response = await fetch(`${node.url}/v1/debits/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.service}`, 'content-type': 'application/json' },
      body,
    });
    const text = await response.text();
    if (response.status === 200) return text;
    if (response.status !== 503) throw new Error(`batch failed: ${text.slice(0, 300)}`);
    shed++;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
async function client() {
  while (sent < requests) {
    const text = await send(bodies[sent++]);
    accepted += doneIn(text);
  }
}
await Promise.all(Array.from({ length: inFlight }, client));
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
const nodeRate = accepted / seconds;
const nodeCpu = childCpuSeconds(node.child);
const clientCpu = process.cpuUsage(clientCpuBefore);
const commits = await commitShape(node.url, TOKENS.admin);
await node.stop();

console.log(
  `bench:batch — ${machine()}, ${requests} requests × ${BATCH} debits, ${inFlight} in flight, ${tenants} tenants`,
);
console.log(`raw LevelDB fsynced batches: ${Math.round(levelRate).toLocaleString('en')} records/s`);
console.log(
  `allot /v1/debits/batch:      ${Math.round(nodeRate).toLocaleString('en')} durable debits/s (${[...statuses].map(([status, n]) => `${n} ${status}`).join(', ')}; ${shed} requests shed and retried)`,
);
if (nodeCpu !== null && nodeCpuBefore !== null)
  console.log(
    `node CPU per debit: ${(((nodeCpu - nodeCpuBefore) * 1e6) / accepted).toFixed(1)} µs (${(((nodeCpu - nodeCpuBefore) / seconds) * 100).toFixed(0)} % of one core); client ${((clientCpu.user + clientCpu.system) / accepted).toFixed(1)} µs; load average ${loadAverage()}`,
  );
console.log(`node commits: ${commitsText(commits)}`);
console.log(
  `ratio allot / raw LevelDB: ${(nodeRate / levelRate).toFixed(3)}x   goal ≥ 300,000 debits/s → ${nodeRate >= 300_000 ? 'met' : 'not met'}`,
);
