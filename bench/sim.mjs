#!/usr/bin/env node
// npm run bench:sim — the deterministic simulator's speed (packages/sim, built: npm run build).
// 1. Throughput: 3 regions at 1,000 debits/s in all (333 + 333 + 334, steady), no faults, for
//    SIM_S simulated seconds (default 30): simulated seconds per wall second, and per CPU second
//    of this process (what a shared machine does not distort). Goal (issue 10): ≥ 100.
//    Baseline measured in the same run: one bare replica (ManualClock, MemoryStore, no network,
//    no replication, the simulator's Crypto port) deciding and committing debits one per
//    millisecond, i.e. what the production replica costs per debit before the simulator adds
//    anything; its ratio at 1,000 debits/s is the ceiling of any simulator that runs this replica
//    on one core.
// 2. Swarm: SWARM (default 100) swarm seeds (randomScenario: 3 regions, 10–30 s, 1–5 faults),
//    one after the other in this process: wall and CPU time, and what 1,000 seeds would take on
//    two workers at that pace. Goal (issue 10): 1,000 seeds on two workers ≤ 60 s.
// Prints figures, ratios and the load average seen (other work on the machine slows every figure);
// never asserts.
import { loadavg } from 'node:os';
import { ManualClock, Replica, SeededRng } from '@allot/replica';
import { regionCrypto, runSimulation, runSwarm, SimKeyring, streamOf, validateScenario } from '@allot/sim';
import { MemoryStore } from '@allot/store';
import { machine } from './support.mjs';

const simulatedSeconds = Number(process.env.SIM_S ?? 30);
const swarmSeeds = Number(process.env.SWARM ?? 100);
const fixed = (value, digits = 1) => value.toFixed(digits);
/** CPU seconds of this process since `from` (process.cpuUsage). */
const cpuSince = (from) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
};
const load = () =>
  loadavg()
    .map((value) => fixed(value, 2))
    .join(', ');

/** Debits per wall second of one bare replica, one debit per simulated millisecond. */
async function bareReplica(debits) {
  // The simulator's own Crypto port, so both sides pay the same for crypto.
  const crypto = regionCrypto('simulated', streamOf(1, 'keys:eu'), new SimKeyring());
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
  const cpuFrom = process.cpuUsage();
  const result = await runSimulation(scenario, 1);
  const wall = (performance.now() - started) / 1000;
  const cpu = cpuSince(cpuFrom);
  const accepted = Object.values(result.metrics.perRegion).reduce((sum, region) => sum + region.accepted, 0);
  return { result, wall, cpu, accepted };
}

console.log(`bench:sim on ${machine()}; load average ${load()}`);

const bare = await bareReplica(5_000);
console.log(
  `baseline: one bare replica decides and commits ${fixed(bare, 0)} debits/s (no network, no replication): ` +
    `at 1,000 debits/s that is at most ${fixed(bare / 1_000)} simulated s per wall s`,
);

const { result, wall, cpu, accepted } = await throughput();
const ratio = result.metrics.simulatedSeconds / wall;
console.log(
  `throughput: ${result.metrics.simulatedSeconds} simulated s (3 regions, 1,000 debits/s, ${accepted} accepted) in ${fixed(wall, 2)} wall s, ${fixed(cpu, 2)} CPU s ` +
    `= ${fixed(ratio)} simulated s per wall s, ${fixed(result.metrics.simulatedSeconds / cpu)} per CPU s (goal ≥ 100: ${fixed(ratio / 100, 3)}× of it; ` +
    `${fixed(accepted / wall, 0)} debits/s with replication = ${fixed(accepted / wall / bare, 2)}× the bare replica's rate)`,
);
console.log(
  `  per debit: ${fixed(result.metrics.messagesPerDebit, 2)} messages, ${fixed(result.metrics.bytesPerDebit, 0)} bytes; all invariants hold: ${result.ok}`,
);

const swarmStarted = performance.now();
const swarmCpuFrom = process.cpuUsage();
let failures = 0;
const summary = await runSwarm(swarmSeeds, 1, (_seed, outcome) => {
  if (outcome instanceof Error || !outcome.ok) failures += 1;
});
const swarmWall = (performance.now() - swarmStarted) / 1000;
const swarmCpu = cpuSince(swarmCpuFrom);
// Two workers each run half the seeds at this pace (the machine's two cores, nothing else on them).
const thousandOnTwo = ((swarmWall / summary.runs) * 1000) / 2;
console.log(
  `swarm: ${summary.runs} seeds (${fixed(summary.simulatedSeconds, 0)} simulated s) in ${fixed(swarmWall, 1)} wall s, ${fixed(swarmCpu, 1)} CPU s ` +
    `(${fixed(summary.simulatedSeconds / swarmWall)} simulated s per wall s, ${fixed(summary.simulatedSeconds / swarmCpu)} per CPU s); ` +
    `1,000 seeds on two workers at this pace: ~${fixed(thousandOnTwo, 0)} s (goal ≤ 60 s: ${fixed(thousandOnTwo / 60, 2)}× of it); ` +
    `${failures} failed; load average now ${load()}`,
);
for (const failure of summary.failures) {
  const what =
    failure.error ??
    failure.verdicts.map((verdict) => `${verdict.invariant}: ${verdict.first?.detail ?? ''}`).join('; ');
  console.log(`  seed ${failure.seed}: ${what}\n    replay: ${failure.replay}`);
}
