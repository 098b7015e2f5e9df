/**
 * The soak: swarm seeds run in parallel worker threads (`allot simulate --swarm N --workers W`,
 * `npm run sim:soak`). Each worker runs whole seeds (soak-worker.ts), so the same seed gives the same
 * history as in a sequential swarm; the pool hands the next seed to whichever worker is free and
 * collects one entry per seed, in seed order at the end.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Scenario } from '@allot/sim';

/** Most worker threads of one soak: more than the cores only adds memory. */
export const SOAK_WORKERS_MAX = 64;

/** One seed of a swarm, as swarm.json keeps it. */
export interface SwarmSeed {
  readonly seed: number;
  readonly ok: boolean;
  /** The violated invariants. */
  readonly failed: readonly string[];
  /** Why the run broke (a replica or the harness), if it did. */
  readonly error?: string;
  readonly faults: readonly string[];
  readonly historyHash?: string;
  readonly simulatedSeconds?: number;
  readonly wallSeconds?: number;
  readonly replay: string;
}

/** What every worker of a soak needs: the scenario file (or none: whole scenarios drawn) and the output folder. */
export interface SoakJob {
  readonly file: string | undefined;
  readonly base: Scenario | undefined;
  readonly out: string;
}

/** The default number of workers: one per core. */
export function defaultWorkers(): number {
  return Math.max(1, Math.min(SOAK_WORKERS_MAX, availableParallelism()));
}

/**
 * Runs `seeds` on `workers` worker threads; `onSeed` sees each entry as it comes. A worker that dies
 * records its seed as broken and is replaced. Resolves to every entry, in seed order.
 */
export async function runSeedsInWorkers(
  job: SoakJob,
  seeds: readonly number[],
  workers: number,
  onSeed: (entry: SwarmSeed) => void,
): Promise<SwarmSeed[]> {
  const entries: SwarmSeed[] = [];
  let next = 0;
  const pool = Math.max(1, Math.min(workers, seeds.length));
  await new Promise<void>((resolve, reject) => {
    let running = 0;
    const finish = (entry: SwarmSeed) => {
      entries.push(entry);
      onSeed(entry);
    };
    const start = () => {
      if (next >= seeds.length) {
        if (running === 0) resolve();
        return;
      }
      running += 1;
      const worker = new Worker(new URL('./soak-worker.js', import.meta.url), { workerData: job });
      let current: number | null = null;
      const feed = () => {
        if (next >= seeds.length) {
          current = null;
          void worker.terminate();
          return;
        }
        current = seeds[next] as number;
        next += 1;
        worker.postMessage(current);
      };
      worker.on('message', (entry: SwarmSeed) => {
        finish(entry);
        feed();
      });
      worker.on('error', (error: Error) => {
        if (current !== null)
          finish({
            seed: current,
            ok: false,
            failed: [],
            error: `the worker died: ${error.message.split('\n')[0]}`,
            faults: [],
            replay: '',
          });
        current = null;
      });
      worker.on('exit', () => {
        running -= 1;
        if (current !== null) {
          // It exited while running a seed without an error event: record it as broken.
          finish({
            seed: current,
            ok: false,
            failed: [],
            error: 'the worker exited',
            faults: [],
            replay: '',
          });
          current = null;
        }
        try {
          if (next < seeds.length) start();
          else if (running === 0) resolve();
        } catch (error) {
          reject(error);
        }
      });
      feed();
    };
    for (let i = 0; i < pool; i++) start();
  });
  return entries.sort((a, b) => a.seed - b.seed);
}
