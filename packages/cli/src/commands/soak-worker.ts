/**
 * A soak worker thread: runs each seed the pool posts (soak.ts) exactly as a sequential swarm does
 * (`runSwarmSeed`), writes a failing seed's output itself, and posts back its entry.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runSwarmSeed } from './simulate.js';
import type { SoakJob } from './soak.js';

const job = workerData as SoakJob;
parentPort?.on('message', (seed: number) => {
  runSwarmSeed(job, seed).then(
    (entry) => parentPort?.postMessage(entry),
    (error: unknown) => {
      throw error;
    },
  );
});
