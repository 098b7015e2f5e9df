/**
 * @allot/sim — the deterministic simulator of Allot (DESIGN.md §6). One process runs N regions of
 * the production replica (@allot/replica) on simulated time, a simulated network (delay, loss,
 * duplication, reordering, partitions), simulated clocks (skew, drift, steps) and in-memory disks
 * with crash semantics (@allot/store's MemoryStore), driven by a scenario's workload and fault
 * schedule, everything determined by one seed. `runSimulation` returns the history, metrics and
 * the verdicts of the checkers S1–S6 and S8–S11, which are pure functions over what was recorded.
 * `validateScenario` checks a scenario document; `randomScenario` and `runSwarm` draw fault mixes
 * per seed. The CLI (`allot simulate`) writes run.json, history.jsonl and report.html from these.
 */

export * from './alert-check.js';
export * from './api.js';
export * from './bounds.js';
export * from './checkers.js';
export * from './checkers-faults.js';
export * from './checks-issue12.js';
export { RegionClock } from './clock.js';
export { CommitLatency } from './commit-latency.js';
export { regionCrypto, SimKeyring } from './crypto.js';
export { blockedPairs, scheduleFaults } from './faults.js';
export { cloneFrame, frameBytes } from './frames.js';
export * from './hostile.js';
export * from './limits.js';
export type { Endpoint, NetworkCounters } from './links.js';
export { SimNetwork } from './network.js';
export { RegionNode } from './region.js';
export * from './results.js';
export { RandomStream, streamOf } from './rng.js';
export { historyHash, type RunOptions, replayCommand, runSimulation, SimulationError } from './run.js';
export { ScenarioError, validateScenario } from './scenario.js';
export { SCENARIO_SCHEMA } from './scenario-schema.js';
export { Scheduler, SimulationFailure, type Task } from './scheduler.js';
export { randomScenario, runSwarm, type SwarmFailure, type SwarmSummary, swarmReplay } from './swarm.js';
export * from './timeline.js';
export { observedStore, SegmentEvents, TrueLedger } from './truth.js';
export { Workload } from './workload.js';
