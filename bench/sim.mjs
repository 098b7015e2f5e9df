#!/usr/bin/env node
// npm run bench:sim — the deterministic simulator's speed (packages/sim, built: npm run build).
// 1. Throughput: 3 regions at 1,000 debits/s in all (333 + 333 + 334, steady), no faults, for
//    SIM_S simulated seconds (default 30): simulated seconds per wall second. Goal (issue 6): ≥ 500.
//    Baseline measured in the same run: one bare replica (ManualClock, MemoryStore, no network,
//    no replication) deciding and committing debits one per millisecond, i.e. what the production
//    replica costs per debit before the simulator adds anything; its ratio at 1,000 debits/s is
//    the ceiling of any simulator that runs this replica on one core.
// 2. Swarm: SWARM (default 100) swarm seeds (randomScenario: 3 regions, 10–30 s, 1–5 faults),
//    one after the other: wall time. Goal: under 60 s.
// Prints figures and ratios; never asserts.
import { createHash } from 'node:crypto';
import { ManualClock, Replica, SeededRng } from '@allot/replica';
import { runSimulation, runSwarm, validateScenario } from '@allot/sim';
import { MemoryStore } from '@allot/store';
import { machine } from './support.mjs';

const simulatedSeconds = Number(process.env.SIM_S ?? 30);
const swarmSeeds = Number(process.env.SWARM ?? 100);
const fixed = (value, digits = 1) => value.toFixed(digits);

/** Debits per wall second of one bare replica, one debit per simulated millisecond. */
async function bareReplica(debits) {
  const sha256 = (bytes) => new Uint8Array(createHash('sha256').update(bytes).digest());
  const publicKey = sha256(new Uint8Array([1]));
  // The simulator's signatures (a keyed SHA-256), so both sides pay the same for crypto.
  const sign = (bytes) => {
    const signature = new Uint8Array(64);
    signature.set(sha256(Buffer.concat([publicKey, bytes])));
    return signature;
  };
  const crypto = { publicKey, hash: sha256, sign, verify: () => true };
  const logger = { debug() {}, info() {}, warn() {}, error() {} };
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  const replica = await Replica.open(
    { cluster: 'bench', region: 'eu' },
    { store: MemoryStore.empty(), clock, rng: new SeededRng(1), crypto, logger },
  );
  const tick = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(1);
  };
  const granted = replica.grant({
    tenant: 'acme',
    grantId: 'g1',
    amount: 1e12,
    priority: 100,
    expiresAt: null,
  });
  for (let i = 0; i < 5; i++) await tick();
  await granted;
  const started = performance.now();
  for (let i = 0; i < debits; i++) {
    const answer = replica.debit({ tenant: 'acme', amount: 1, idempotencyKey: `k${i}`, metadata: null });
    await tick();
    await tick();
    await answer;
  }
  return debits / ((performance.now() - started) / 1000);
}

async function throughput() {
  const scenario = validateScenario({
    name: 'bench-throughput',
    regions: ['eu', 'us', 'ap'],
    durationS: simulatedSeconds,
    quietS: 2,
    tenants: [
      {
        tenant: 'acme',
        grants: [{ grantId: 'g1', amount: 1_000_000_000, region: 'eu', atS: 0 }],
        rates: [
          { region: 'eu', perSecond: 333 },
          { region: 'us', perSecond: 333 },
          { region: 'ap', perSecond: 334 },
        ],
        debitAmount: { min: 1, max: 10 },
      },
    ],
  });
  const started = performance.now();
  const result = await runSimulation(scenario, 1);
  const wall = (performance.now() - started) / 1000;
  const accepted = Object.values(result.metrics.perRegion).reduce((sum, region) => sum + region.accepted, 0);
  return { result, wall, accepted };
}

console.log(`bench:sim on ${machine()}`);

const bare = await bareReplica(5_000);
console.log(
  `baseline: one bare replica decides and commits ${fixed(bare, 0)} debits/s (no network, no replication): ` +
    `at 1,000 debits/s that is at most ${fixed(bare / 1_000)} simulated s per wall s`,
);

const { result, wall, accepted } = await throughput();
const ratio = result.metrics.simulatedSeconds / wall;
console.log(
  `throughput: ${result.metrics.simulatedSeconds} simulated s (3 regions, 1,000 debits/s, ${accepted} accepted) in ${fixed(wall, 2)} wall s ` +
    `= ${fixed(ratio)} simulated s per wall s (goal ≥ 500: ${fixed(ratio / 500, 3)}× of it; ` +
    `${fixed(accepted / wall, 0)} debits/s with replication = ${fixed(accepted / wall / bare, 2)}× the bare replica's rate)`,
);
console.log(
  `  per debit: ${fixed(result.metrics.messagesPerDebit, 2)} messages, ${fixed(result.metrics.bytesPerDebit, 0)} bytes; all invariants hold: ${result.ok}`,
);

const swarmStarted = performance.now();
let failures = 0;
const summary = await runSwarm(swarmSeeds, 1, (_seed, outcome) => {
  if (outcome instanceof Error || !outcome.ok) failures += 1;
});
const swarmWall = (performance.now() - swarmStarted) / 1000;
console.log(
  `swarm: ${summary.runs} seeds (${fixed(summary.simulatedSeconds, 0)} simulated s) in ${fixed(swarmWall, 1)} wall s ` +
    `(goal < 60 s: ${fixed(swarmWall / 60, 2)}× of it; ${fixed(summary.simulatedSeconds / swarmWall)} simulated s per wall s); ` +
    `${failures} failed`,
);
for (const failure of summary.failures) {
  const what =
    failure.error ??
    failure.verdicts.map((verdict) => `${verdict.invariant}: ${verdict.first?.detail ?? ''}`).join('; ');
  console.log(`  seed ${failure.seed}: ${what}\n    replay: ${failure.replay}`);
}
