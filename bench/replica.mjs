#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
// npm run bench:replica — the replica alone (packages built: npm run build), issue 10.
// 1. Throughput: one replica on MemoryStore with the system clock and real Ed25519 (nodeCrypto),
//    1,000 tenants each granted once, then ROUNDS (default 20) calls of `debitMany` with 8,190
//    debits spread over the tenants, one after the other: debits/s. Goal (issue 10): ≥ 1,000,000.
//    Also the process CPU time per debit (all threads): comparable on a machine shared with others.
// 2. Per-event costs in the same run, each as ns/event and as a ratio to the replica's cost per
//    debit. Segments (issue 10): encoding a commit's debits into one segment, decoding it, and one
//    SHA-256 of the segment, per event; beside what layout v2 paid per event (canonical JSON +
//    SHA-256 of one event, msgpackr pack of one event: the baseline of the same run), applyEvent
//    of one debit, and raw node:crypto SHA-256 of 100 bytes and Ed25519 sign of 100 bytes as the
//    floor of what hashing and signing cost on this machine.
// 3. Latency-bound: 1 and 64 clients that each debit only after their last debit was answered
//    (durable): debits/s; a fixed delay before each commit shows here, not in (1).
// 4. The record window: (1) again with 100,000 records kept on the heap (the default before
//    2026-12-03; now none), and replays on LevelStore of keys whose records are read back from the
//    log against keys on the heap: one at a time, and a retried batch of 5,000.
// Prints a table; never asserts.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  applyEvent,
  createLedgerState,
  decodeSegment,
  encodeSegment,
  eventCanonicalBytes,
  makeEvent,
} from '@allot/core';
import {
  BATCH_EVENTS_MAX,
  MSGPACKR_OPTIONS,
  Replica,
  SeededRng,
  segmentHash,
  ZERO_HASH,
} from '@allot/replica';
import { generateRegionKey, LevelStore, MemoryStore, nodeCrypto, systemClock } from '@allot/store';
import { Packr } from 'msgpackr';
import { machine } from './support.mjs';

const TENANTS = 1_000;
const ROUNDS = Number(process.env.ROUNDS ?? 20);
const logger = { debug() {}, info() {}, warn() {}, error() {} };

/** CPU ns per debit of the last replicaThroughput run (process CPU time, not wall-clock). */
let cpuNsPerDebit = 0;

/**
 * Debits per second of `debitMany` of BATCH_EVENTS_MAX debits over TENANTS tenants, with
 * `recordWindowRecords` as given (the default when undefined).
 */
async function replicaThroughput(recordWindowRecords) {
  const crypto = nodeCrypto(generateRegionKey());
  const replica = await Replica.open(
    {
      cluster: 'bench',
      region: 'eu',
      allowLoneStart: true,
      ...(recordWindowRecords === undefined ? {} : { recordWindowRecords }),
    },
    { store: MemoryStore.empty(), clock: systemClock, rng: new SeededRng(1), crypto, logger },
  );
  const tenants = Array.from({ length: TENANTS }, (_, i) => `tenant-${i}`);
  await Promise.all(
    tenants.map((tenant) =>
      replica.grant({ tenant, grantId: 'g1', amount: 1e12, priority: 100, expiresAt: null }),
    ),
  );
  let key = 0;
  const batch = () =>
    Array.from({ length: BATCH_EVENTS_MAX }, (_, i) => ({
      tenant: tenants[i % TENANTS],
      amount: 1,
      idempotencyKey: `k${key++}`,
      metadata: null,
    }));
  await replica.debitMany(batch()); // warm-up
  const batches = Array.from({ length: ROUNDS }, batch);
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  let accepted = 0;
  for (const commands of batches) {
    const outcomes = await replica.debitMany(commands);
    for (const outcome of outcomes) if (outcome.status === 'accepted') accepted += 1;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  await replica.close();
  if (accepted !== ROUNDS * BATCH_EVENTS_MAX) throw new Error(`only ${accepted} debits accepted`);
  // CPU time (all threads, GC helpers included) per debit: comparable across runs on a shared machine.
  cpuNsPerDebit = ((cpu.user + cpu.system) * 1000) / accepted;
  return accepted / seconds;
}

/**
 * Debits per second of `clients` clients that each send a debit only once their last one was
 * answered (durable): what a commit's start delay costs a latency-bound caller.
 */
async function closedLoop(clients, debitsPerClient) {
  // The system clock's timers are unref'd (a node's server keeps it alive): hold the process here.
  const keepAlive = setInterval(() => {}, 1_000);
  const replica = await Replica.open(
    { cluster: 'bench', region: 'eu', allowLoneStart: true },
    {
      store: MemoryStore.empty(),
      clock: systemClock,
      rng: new SeededRng(2),
      crypto: nodeCrypto(generateRegionKey()),
      logger,
    },
  );
  const tenants = Array.from({ length: clients }, (_, i) => `tenant-${i}`);
  await Promise.all(
    tenants.map((tenant) =>
      replica.grant({ tenant, grantId: 'g1', amount: 1e12, priority: 100, expiresAt: null }),
    ),
  );
  const started = process.hrtime.bigint();
  await Promise.all(
    tenants.map(async (tenant) => {
      for (let i = 0; i < debitsPerClient; i++) {
        const outcome = await replica.debit({ tenant, amount: 1, idempotencyKey: `c${i}`, metadata: null });
        if (outcome.status !== 'accepted') throw new Error(`a closed-loop debit was ${outcome.status}`);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(keepAlive);
  await replica.close();
  return (clients * debitsPerClient) / seconds;
}

/**
 * Replays on LevelStore (fsync) with `recordWindowRecords`: µs of wall and CPU time a replay, one
 * at a time, of the newest and of older keys, and of a retried batch of 5,000 keys.
 */
async function replays(recordWindowRecords) {
  const dir = mkdtempSync(join(tmpdir(), 'allot-bench-replays-'));
  const keepAlive = setInterval(() => {}, 1_000);
  const replica = await Replica.open(
    { cluster: 'bench', region: 'eu', allowLoneStart: true, recordWindowRecords },
    {
      store: await LevelStore.open(dir),
      clock: systemClock,
      rng: new SeededRng(3),
      crypto: nodeCrypto(generateRegionKey()),
      logger,
    },
  );
  const tenants = Array.from({ length: 100 }, (_, i) => `tenant-${i}`);
  await Promise.all(
    tenants.map((tenant) =>
      replica.grant({ tenant, grantId: 'g1', amount: 1e12, priority: 100, expiresAt: null }),
    ),
  );
  const command = (k) => ({ tenant: tenants[k % 100], amount: 1, idempotencyKey: `k${k}`, metadata: { k } });
  const total = 50_000;
  for (let from = 0; from < total; from += 5_000)
    await replica.debitMany(Array.from({ length: 5_000 }, (_, i) => command(from + i)));
  const measure = async (keys, run) => {
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    await run(keys);
    const used = process.cpuUsage(cpu);
    return {
      wall: Number(process.hrtime.bigint() - started) / 1_000 / keys.length,
      cpu: (used.user + used.system) / keys.length,
    };
  };
  const oneByOne = async (keys) => {
    for (const k of keys) {
      const outcome = await replica.debit(command(k));
      if (outcome.status !== 'replayed') throw new Error(`a replay was ${outcome.status}`);
    }
  };
  const batch = async (keys) => {
    const outcomes = await replica.debitMany(keys.map(command));
    if (outcomes.some((outcome) => outcome.status !== 'replayed'))
      throw new Error('a batch replay was not replayed');
  };
  const range = (from, count, step = 1) => Array.from({ length: count }, (_, i) => from + i * step);
  // Warm-up: the replay path's first calls compile it (not measured).
  await oneByOne(range(total - 5_000, 2_000));
  const result = {
    newest: await measure(range(total - 1_000, 1_000), oneByOne),
    older: await measure(range(0, 1_000, 7), oneByOne),
    batch: await measure(range(5_000, 5_000), batch),
  };
  await replica.close();
  clearInterval(keepAlive);
  rmSync(dir, { recursive: true, force: true });
  return result;
}

/** Nanoseconds per call of `run(i)`, over `count` calls after a warm-up. */
function nsPer(count, run) {
  for (let i = 0; i < Math.min(count, 2_000); i++) run(i);
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) run(i);
  return Number(process.hrtime.bigint() - started) / count;
}

function perEventCosts() {
  const crypto = nodeCrypto(generateRegionKey());
  const origin = 'eu#aaaaaaaaaaaaaaaa';
  const at = Date.UTC(2030, 0, 1);
  // One origin's log: a grant to each tenant (seq 1..TENANTS), then debits spread over them.
  const grants = Array.from({ length: TENANTS }, (_, i) =>
    makeEvent(
      { origin, seq: i + 1, at },
      { kind: 'grant', tenant: `tenant-${i}`, grantId: 'g1', amount: 1e12, priority: 100, expiresAt: null },
    ),
  );
  const events = Array.from({ length: 20_000 }, (_, i) =>
    makeEvent(
      { origin, seq: TENANTS + i + 1, at: at + i },
      {
        kind: 'debit',
        tenant: `tenant-${i % TENANTS}`,
        amount: 1,
        overdraft: 0,
        idempotencyKey: `k${i}`,
        parts: [{ grantId: 'g1', amount: 1 }],
        metadata: null,
      },
    ),
  );
  const packr = new Packr(MSGPACKR_OPTIONS);
  const bytes100 = new Uint8Array(100).fill(7);
  const { privateKey } = generateKeyPairSync('ed25519');
  let state = createLedgerState();
  let folded = 0;
  const fold = () => {
    // A fresh state every block of events, so the idempotency index does not grow without end.
    if (folded === 0) {
      state = createLedgerState();
      for (const grant of grants) applyEvent(state, grant);
    }
    if (applyEvent(state, events[folded]) !== 'applied') throw new Error('the fold refused a debit');
    folded = (folded + 1) % events.length;
  };
  // A commit's worth of debits as one segment, as the replica writes it.
  const commit = events.slice(0, BATCH_EVENTS_MAX);
  const segment = encodeSegment(commit);
  const perCommit = (run) => nsPer(20, run) / commit.length;
  return [
    [
      `segment: encode a commit of ${commit.length} debits, per event`,
      perCommit(() => encodeSegment(commit)),
    ],
    [
      `segment: decode it, per event (${(segment.length / commit.length).toFixed(1)} B/event)`,
      perCommit(() => decodeSegment(segment)),
    ],
    ['segment: one SHA-256 of it, per event', perCommit(() => segmentHash(crypto, ZERO_HASH, segment))],
    [
      'v2 baseline: canonical JSON + SHA-256 of one event',
      nsPer(20_000, (i) =>
        createHash('sha256').update(ZERO_HASH).update(eventCanonicalBytes(events[i])).digest(),
      ),
    ],
    ['v2 baseline: msgpackr pack of one event (store options)', nsPer(20_000, (i) => packr.pack(events[i]))],
    ['applyEvent of one debit', nsPer(20_000, fold)],
    ['raw node:crypto SHA-256 of 100 B', nsPer(20_000, () => createHash('sha256').update(bytes100).digest())],
    ['raw Ed25519 sign of 100 B', nsPer(5_000, () => sign(null, bytes100, privateKey))],
  ];
}

if (process.argv[2] === '--window') {
  const rate = await replicaThroughput(Number(process.argv[3]));
  console.log(JSON.stringify({ rate, cpuNs: cpuNsPerDebit }));
  process.exit(0);
}
console.log(`bench:replica — ${machine()}`);
const debitsPerSecond = await replicaThroughput(undefined);
const perDebit = 1e9 / debitsPerSecond;
console.log(
  `replica alone, MemoryStore, ${TENANTS} tenants, debitMany of ${BATCH_EVENTS_MAX} × ${ROUNDS}: ` +
    `${Math.round(debitsPerSecond).toLocaleString('en-US')} debits/s (${perDebit.toFixed(0)} ns/debit; goal ≥ 1,000,000)`,
);
console.log(`  process CPU per debit (all threads, GC included): ${cpuNsPerDebit.toFixed(0)} ns`);
for (const clients of [1, 64]) {
  const rate = await closedLoop(clients, clients === 1 ? 500 : 50);
  console.log(
    `replica alone, ${clients} client(s) each debiting after its last answer: ${Math.round(rate).toLocaleString('en-US')} debits/s`,
  );
}
console.log('');
console.log('| per event | ns/event | share of one replica debit |');
console.log('| --- | ---: | ---: |');
console.log(`| replica debit (debitMany, above) | ${perDebit.toFixed(0)} | 1.00 |`);
for (const [what, ns] of perEventCosts()) {
  console.log(`| ${what} | ${ns.toFixed(0)} | ${(ns / perDebit).toFixed(2)} |`);
}

const WINDOW = 100_000;
// Each window in fresh processes, alternating (a heap left by one run, or a process's first run
// warming the JIT, would favour one side): debits/s and process CPU per debit of each.
const windowRun = (records) => {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--window', String(records)], {
    env: { ...process.env, ROUNDS: String(Math.max(ROUNDS, 30)) },
    encoding: 'utf8',
  });
  return JSON.parse(out);
};
const runs = { 0: [], [WINDOW]: [] };
for (let i = 0; i < 2; i++) for (const records of [0, WINDOW]) runs[records].push(windowRun(records));
const best = (list) => list.reduce((a, b) => (b.cpuNs < a.cpuNs ? b : a));
const none = best(runs[0]);
const held = best(runs[WINDOW]);
console.log('');
console.log(
  'record window, two fresh processes each, alternating, best: none (the default) ' +
    `${Math.round(none.rate).toLocaleString('en-US')} debits/s, ${none.cpuNs.toFixed(0)} ns of process CPU per debit; ` +
    `${WINDOW.toLocaleString('en-US')} records (the default before 2026-12-03) ` +
    `${Math.round(held.rate).toLocaleString('en-US')} debits/s, ${held.cpuNs.toFixed(0)} ns ` +
    `(${(held.cpuNs / none.cpuNs).toFixed(2)}× the CPU)`,
);
console.log('');
console.log(
  '| replays on LevelStore, µs a key (wall / CPU) | default window (records read back) | window of 100,000 |',
);
console.log('| --- | ---: | ---: |');
const cold = await replays(0);
const warm = await replays(WINDOW);
const cell = ({ wall, cpu }) => `${wall.toFixed(1)} / ${cpu.toFixed(1)}`;
for (const [what, key] of [
  ['the newest 1,000 keys, one at a time', 'newest'],
  ['1,000 older keys, one at a time', 'older'],
  ['a retried batch of 5,000 keys', 'batch'],
])
  console.log(`| ${what} | ${cell(cold[key])} | ${cell(warm[key])} |`);
