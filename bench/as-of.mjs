#!/usr/bin/env node
// npm run bench:as-of — the cost of GET /v1/tenants/{t}/balance?at= (Replica.balanceAsOf) on a
// tenant with EVENTS events (default 100,000) in a LevelDB store: one grant, then debits of 1 in
// commits of BATCH (default 500), the clock one second on per commit. A checkpoint is taken once
// CHECKPOINT_AT of the history is written (default 0.9), as a node writes one. Then, REPS times in
// turn (default 5), the balance as of the end (a checkpoint folds nothing later: issue 11 folds
// only the tail after it) and as of just before the checkpoint (no checkpoint is that old: the fold
// from the first event), each timed in CPU (user + system) and wall ms. Prints; never asserts.
// TENANTS=N spreads the debits over N tenants (acme, the one read, gets 1/N): the checkpoint then
// holds the others too, and decoding it may cost more than folding acme alone.
// Runs against any checkout with Replica.balanceAsOf and takeCheckpoint, for A/B.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Replica, SeededRng } from '@allot/replica';
import { generateRegionKey, LevelStore, nodeCrypto } from '@allot/store';
import { loadAverage, machine } from './support.mjs';

const EVENTS = Number(process.env.EVENTS ?? 100_000);
const BATCH = Number(process.env.BATCH ?? 500);
const CHECKPOINT_AT = Number(process.env.CHECKPOINT_AT ?? 0.9);
const REPS = Number(process.env.REPS ?? 5);
/** TENANTS > 1: the debits go round the tenants; acme, the one read, has EVENTS / TENANTS of them. */
const TENANTS = Number(process.env.TENANTS ?? 1);
const tenantOf = (i) => (i % TENANTS === 0 ? 'acme' : `t${i % TENANTS}`);
const T0 = Date.UTC(2026, 10, 1);

const clock = {
  time: T0,
  now() {
    return this.time;
  },
  setTimer(delayMs, callback) {
    const timer = setTimeout(callback, Math.max(0, Math.min(delayMs, 60_000)));
    return { cancel: () => clearTimeout(timer) };
  },
};
const logger = { debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(join(tmpdir(), 'allot-bench-as-of-'));
const crypto = nodeCrypto(generateRegionKey());

/** CPU and wall ms of `work`. */
async function timed(work) {
  const cpu = process.cpuUsage();
  const wall = process.hrtime.bigint();
  const result = await work();
  const used = process.cpuUsage(cpu);
  return {
    result,
    cpuMs: (used.user + used.system) / 1e3,
    wallMs: Number(process.hrtime.bigint() - wall) / 1e6,
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

try {
  console.log(`bench:as-of — ${machine()}, load ${loadAverage()}`);
  const store = await LevelStore.open(dir, { crypto });
  const replica = await Replica.open(
    { cluster: 'bench', region: 'eu', allowLoneStart: true },
    { store, clock, rng: new SeededRng(1), crypto, logger },
  );
  for (let i = 0; i < TENANTS; i++)
    await replica.grant({
      tenant: tenantOf(i),
      grantId: 'g',
      amount: EVENTS * 2,
      priority: 0,
      expiresAt: null,
    });
  let written = TENANTS;
  let checkpointTime = null;
  const built = await timed(async () => {
    let batch = 0;
    while (written < EVENTS) {
      clock.time += 1_000;
      const size = Math.min(BATCH, EVENTS - written);
      const commands = Array.from({ length: size }, (_, i) => ({
        tenant: tenantOf(written + i),
        amount: 1,
        idempotencyKey: `k${batch}-${i}`,
        metadata: null,
      }));
      const outcomes = await replica.debitMany(commands);
      if (outcomes.some((outcome) => outcome.status !== 'accepted'))
        throw new Error(`a debit failed: ${JSON.stringify(outcomes.find((o) => o.status !== 'accepted'))}`);
      written += size;
      batch += 1;
      if (checkpointTime === null && written >= EVENTS * CHECKPOINT_AT) {
        if (!(await replica.takeCheckpoint())) throw new Error('the checkpoint was not written');
        checkpointTime = clock.time;
      }
    }
  });
  console.log(
    `history: ${written} events in ${(built.wallMs / 1e3).toFixed(1)} s; checkpoint after ${Math.round(EVENTS * CHECKPOINT_AT)}`,
  );
  const cases = {
    'as of the end (checkpoint + tail)': clock.time,
    'as of before the checkpoint (whole)': checkpointTime - 1,
  };
  const runs = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
  const answers = {};
  for (let rep = 0; rep < REPS; rep++) {
    for (const [name, at] of Object.entries(cases)) {
      const run = await timed(() => replica.balanceAsOf('acme', at));
      runs[name].push(run);
      answers[name] = run.result;
    }
  }
  for (const [name, list] of Object.entries(runs)) {
    const { balance, versionVector } = answers[name];
    console.log(
      `${name}: median CPU ${median(list.map((r) => r.cpuMs)).toFixed(0)} ms, wall ${median(list.map((r) => r.wallMs)).toFixed(0)} ms (balance ${balance}, vector ${JSON.stringify(versionVector)})`,
    );
  }
  await replica.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
// The replica's timers (none are unref'd here, so that waits on them hold the process) end with it.
process.exit(0);
