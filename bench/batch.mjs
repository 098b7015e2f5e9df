#!/usr/bin/env node
// npm run bench:batch — durable debits per second through POST /v1/debits/batch (8,190 debits a
// request, 4 requests in flight, durability fsync), next to the raw LevelDB rate for the same
// number of keyed records of similar size written in fsynced batches of 8,190, in the same run.
// Goal (issue 4): ≥ 300,000 durable debits/s per node on this 2-core machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { machine, post, startNode, TOKENS } from './support.mjs';

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
let sent = 0;
let accepted = 0;
started = process.hrtime.bigint();
async function client() {
  while (sent < requests) {
    const r = sent++;
    const debits = Array.from({ length: BATCH }, (_, i) => ({
      tenant: `t${(r * BATCH + i) % tenants}`,
      amount: 1,
      idempotencyKey: `b-${r}-${i}`,
    }));
    const answer = await post(node.url, TOKENS.service, '/v1/debits/batch', { debits });
    if (answer.status !== 200) throw new Error(`batch failed: ${JSON.stringify(answer.body).slice(0, 300)}`);
    accepted += answer.body.results.filter((result) => result.status === 'accepted').length;
  }
}
await Promise.all(Array.from({ length: inFlight }, client));
const nodeRate = accepted / (Number(process.hrtime.bigint() - started) / 1e9);
await node.stop();

console.log(
  `bench:batch — ${machine()}, ${requests} requests × ${BATCH} debits, ${inFlight} in flight, ${tenants} tenants`,
);
console.log(`raw LevelDB fsynced batches: ${Math.round(levelRate).toLocaleString('en')} records/s`);
console.log(
  `allot /v1/debits/batch:      ${Math.round(nodeRate).toLocaleString('en')} durable debits/s (${accepted} accepted)`,
);
console.log(
  `ratio allot / raw LevelDB: ${(nodeRate / levelRate).toFixed(3)}x   goal ≥ 300,000 debits/s → ${nodeRate >= 300_000 ? 'met' : 'not met'}`,
);
