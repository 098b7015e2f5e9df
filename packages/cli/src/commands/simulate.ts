/**
 * `allot simulate <scenario.yaml> [--seed N] [--out DIR] [--swarm N] [--quiet]`: runs a scenario on
 * simulated time with the deterministic simulator and writes run.json, history.jsonl and a
 * self-contained report.html; prints the verdicts, the measurements and the replay command.
 * Exit code 0 when every invariant holds, 1 otherwise. `--swarm N` runs N seeds, each drawing its
 * own fault mix, and lists the failing seeds with their replay commands.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  randomScenario,
  runSimulation,
  type Scenario,
  ScenarioError,
  SimulationError,
  type SimulationResult,
  swarmReplay,
  validateScenario,
} from '@allot/sim';
import { SingleBar } from 'cli-progress';
import { InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { renderReport } from '../report/report.js';
import { summarise } from './run-summary.js';
import { runSeedsInWorkers, SOAK_WORKERS_MAX, type SoakJob, type SwarmSeed } from './soak.js';
import { replayCommand, swarmScenario } from './swarm-scenario.js';

export { summarise } from './run-summary.js';
export { replayCommand, swarmScenario } from './swarm-scenario.js';

/** Seed when `--seed` is not given. */
export const SIMULATE_SEED = 1;
/** Folder of a run's output when `--out` is not given: `<this>/<scenario>-<seed>/`. */
export const SIMULATE_OUT = 'sim-out';
/**
 * Most seeds of one `--swarm`. A seed of a modest scenario takes about a second; a million would
 * be a week of one core, so past this it is a mistake, not a plan.
 */
export const SWARM_RUNS_MAX = 100_000;
/** Seeds are unsigned 32-bit integers: what a seeded PRNG takes, and short to type in a replay. */
export const SEED_MAX = 0xffff_ffff;
/** No progress bar for runs shorter than this (wall ms): it would only flicker. */
const PROGRESS_DELAY_MS = 300;
/** history.jsonl is written in chunks of about this many characters: one syscall per chunk. */
const HISTORY_CHUNK_CHARS = 1 << 20;

/** Options of `allot simulate`, as the command line gives them. */
export interface SimulateOptions {
  readonly seed: number;
  readonly out?: string;
  readonly swarm?: number;
  /** Worker threads that run the swarm's seeds in parallel (the soak); default 1: one after the other. */
  readonly workers?: number;
  readonly quiet: boolean;
}

/** Where a command writes: stdout for results, stderr for problems and the progress bar. */
export interface SimulatePorts {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WriteStream | NodeJS.WritableStream;
}

/** A scenario file that cannot be used, with one line per problem (each naming the file). */
export class ScenarioFileError extends Error {
  override readonly name = 'ScenarioFileError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

/** `--seed`: an integer 0..SEED_MAX. */
export function parseSeed(text: string): number {
  const seed = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(seed) || seed > SEED_MAX) {
    throw new InvalidArgumentError(`must be an integer from 0 to ${SEED_MAX}, got ${JSON.stringify(text)}.`);
  }
  return seed;
}

/** `--swarm`: how many seeds, 1..SWARM_RUNS_MAX. */
export function parseSwarmRuns(text: string): number {
  const runs = Number(text);
  if (!/^\d+$/.test(text.trim()) || runs < 1 || runs > SWARM_RUNS_MAX) {
    throw new InvalidArgumentError(
      `must be an integer from 1 to ${SWARM_RUNS_MAX}, got ${JSON.stringify(text)}.`,
    );
  }
  return runs;
}

/** `--workers`: how many worker threads, 1..SOAK_WORKERS_MAX. */
export function parseWorkers(text: string): number {
  const workers = Number(text);
  if (!/^\d+$/.test(text.trim()) || workers < 1 || workers > SOAK_WORKERS_MAX) {
    throw new InvalidArgumentError(
      `must be an integer from 1 to ${SOAK_WORKERS_MAX}, got ${JSON.stringify(text)}.`,
    );
  }
  return workers;
}

/** Reads, parses and validates a scenario file. Throws ScenarioFileError, each line naming `path`. */
export function loadScenario(path: string): Scenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ScenarioFileError([
      `${path}: cannot read the scenario file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  let document: unknown;
  try {
    document = parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    throw new ScenarioFileError([`${path}: not valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
  try {
    return validateScenario(document);
  } catch (error) {
    if (error instanceof ScenarioError) {
      throw new ScenarioFileError(error.problems.map((problem) => `${path}: ${problem}`));
    }
    throw error;
  }
}

/** A scenario name as a folder name. */
function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-');
}

/** The default output folder of one run. */
function defaultOut(scenario: Scenario, seed: number): string {
  return join(SIMULATE_OUT, `${safeName(scenario.name)}-${seed}`);
}

/** Writes run.json, history.jsonl and report.html of one run into `dir`. */
export function writeRunOutput(
  dir: string,
  result: SimulationResult,
  options: Readonly<Record<string, unknown>>,
): void {
  mkdirSync(dir, { recursive: true });
  const { history, final, ...run } = result;
  // The final state's ledger lists every debit the nodes hold: history.jsonl already has them.
  const finalState = final === undefined ? undefined : { ...final, ledger: undefined };
  writeFileSync(
    join(dir, 'run.json'),
    `${JSON.stringify({ ...run, final: finalState, options }, null, 2)}\n`,
  );
  const fd = openSync(join(dir, 'history.jsonl'), 'w');
  try {
    let chunk = '';
    for (const record of history) {
      chunk += `${JSON.stringify(record)}\n`;
      if (chunk.length >= HISTORY_CHUNK_CHARS) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    if (chunk.length > 0) writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  writeFileSync(join(dir, 'report.html'), renderReport(result));
}

/** A progress bar on stderr, drawn only on a terminal, only without --quiet, only once a run takes a while. */
class Progress {
  private bar: SingleBar | undefined;
  private readonly startedMs = performance.now();

  constructor(
    private readonly enabled: boolean,
    private readonly stream: NodeJS.WritableStream,
    private readonly format: string,
  ) {}

  update(value: number, total: number, payload: Record<string, unknown>): void {
    if (!this.enabled) return;
    if (this.bar === undefined) {
      if (performance.now() - this.startedMs < PROGRESS_DELAY_MS) return;
      this.bar = new SingleBar({
        format: this.format,
        stream: this.stream as NodeJS.WriteStream,
        hideCursor: true,
        clearOnComplete: true,
        barsize: 30,
        etaBuffer: 50,
      });
      this.bar.start(total, value, payload);
      return;
    }
    if (total !== this.bar.getTotal()) this.bar.setTotal(total);
    this.bar.update(value, payload);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

function progressEnabled(ports: SimulatePorts, options: SimulateOptions): boolean {
  return !options.quiet && (ports.stderr as NodeJS.WriteStream).isTTY === true;
}

/** What a run that broke (a replica or the harness, not an invariant) prints: its message, no stack. */
function brokenRun(error: SimulationError): string {
  return `${error.message.includes(error.replay) ? error.message : `${error.message}\nreplay: ${error.replay}`}\n`;
}

/** Runs one seed of `scenario`, writes its output, prints its summary; resolves to the exit code. */
async function simulateOne(
  file: string,
  scenario: Scenario,
  options: SimulateOptions,
  ports: SimulatePorts,
): Promise<number> {
  const totalS = scenario.durationS + scenario.quietS;
  const progress = new Progress(
    progressEnabled(ports, options),
    ports.stderr,
    `${scenario.name} |{bar}| {value}/{total} simulated s | {speed}× real time | eta {eta_formatted}`,
  );
  const replay = replayCommand(file, options.seed, false);
  const startedMs = performance.now();
  let result: SimulationResult;
  try {
    result = await runSimulation(scenario, options.seed, {
      replay,
      onProgress(simulatedS: number) {
        const wallS = (performance.now() - startedMs) / 1000;
        // The run lasts past durationS + quietS when a fault heals late: the bar then grows.
        progress.update(Math.floor(simulatedS), Math.max(totalS, Math.ceil(simulatedS)), {
          speed: wallS > 0 ? (simulatedS / wallS).toFixed(0) : '–',
        });
      },
    });
  } catch (error) {
    if (!(error instanceof SimulationError)) throw error;
    progress.stop();
    ports.stderr.write(brokenRun(error));
    return 1;
  } finally {
    progress.stop();
  }
  const out = options.out ?? defaultOut(scenario, options.seed);
  writeRunOutput(out, result, {
    scenarioFile: file,
    seed: options.seed,
    out,
    swarm: null,
    quiet: options.quiet,
  });
  ports.stdout.write(summarise(result));
  ports.stdout.write(
    `wrote ${join(out, 'run.json')}, history.jsonl (${result.history.length.toLocaleString('en-US')} records), report.html\n`,
  );
  ports.stdout.write(`report: ${join(out, 'report.html')}\n`);
  ports.stdout.write(`replay: ${result.replay}\n`);
  return result.ok ? 0 : 1;
}

/**
 * Runs one swarm seed (over the file's regions and workload, or a whole drawn scenario); a failing
 * seed's output goes to `<out>/seed-<N>/`. The same seed gives the same entry in a sequential swarm
 * and in a soak worker.
 */
export async function runSwarmSeed(job: SoakJob, seed: number): Promise<SwarmSeed> {
  const { file, base, out } = job;
  const scenario = base === undefined ? randomScenario(seed) : swarmScenario(base, seed);
  const replay = file === undefined ? swarmReplay(seed) : replayCommand(file, seed, true);
  const faults = scenario.faults.map((fault) => fault.kind);
  try {
    const result = await runSimulation(scenario, seed, { replay });
    if (!result.ok) {
      // A failing seed keeps its whole output, report included, to be looked at at once.
      const dir = join(out, `seed-${seed}`);
      writeRunOutput(dir, result, { scenarioFile: file ?? null, seed, out: dir, swarm: 1 });
    }
    return {
      seed,
      ok: result.ok,
      failed: result.verdicts.filter((verdict) => !verdict.holds).map((verdict) => verdict.invariant),
      faults,
      historyHash: result.historyHash,
      simulatedSeconds: result.metrics.simulatedSeconds,
      wallSeconds: result.metrics.wallSeconds,
      replay,
    };
  } catch (error) {
    if (!(error instanceof SimulationError)) throw error;
    return { seed, ok: false, failed: [], error: error.message.split('\n')[0], faults, replay };
  }
}

/**
 * Runs `--swarm N` seeds, each with its own fault mix: over the file's regions and workload when a
 * file is given, else the whole scenario drawn by `randomScenario(seed)`. Resolves to the exit code.
 */
async function simulateSwarm(
  file: string | undefined,
  base: Scenario | undefined,
  runs: number,
  options: SimulateOptions,
  ports: SimulatePorts,
): Promise<number> {
  const firstSeed = options.seed;
  const lastSeed = firstSeed + runs - 1;
  if (lastSeed > SEED_MAX) {
    throw new ScenarioFileError([
      `--seed ${firstSeed} --swarm ${runs}: the last seed would pass ${SEED_MAX}`,
    ]);
  }
  const name = base === undefined ? 'swarm of drawn scenarios' : `swarm of ${base.name}`;
  const folder = base === undefined ? 'swarm' : `${safeName(base.name)}-swarm`;
  const out = options.out ?? join(SIMULATE_OUT, `${folder}-${firstSeed}-${lastSeed}`);
  const progress = new Progress(
    progressEnabled(ports, options),
    ports.stderr,
    `${name} |{bar}| {value}/{total} seeds | {failed} failed | eta {eta_formatted}`,
  );
  const job: SoakJob = { file, base, out };
  // Each seed's entry is appended as it comes, so that a long soak stopped early still tells.
  mkdirSync(out, { recursive: true });
  const log = openSync(join(out, 'seeds.jsonl'), 'w');
  const logged = (entry: SwarmSeed) => writeSync(log, `${JSON.stringify(entry)}\n`);
  let seeds: SwarmSeed[] = [];
  let failed = 0;
  const startedMs = performance.now();
  const workers = options.workers ?? 1;
  try {
    if (workers > 1) {
      const all = Array.from({ length: runs }, (_, i) => firstSeed + i);
      let done = 0;
      seeds = await runSeedsInWorkers(job, all, workers, (entry) => {
        logged(entry);
        done += 1;
        if (!entry.ok) failed += 1;
        progress.update(done, runs, { failed });
      });
    } else {
      for (let seed = firstSeed; seed <= lastSeed; seed += 1) {
        const entry = await runSwarmSeed(job, seed);
        logged(entry);
        seeds.push(entry);
        if (!entry.ok) failed += 1;
        progress.update(seed - firstSeed + 1, runs, { failed });
      }
    }
  } finally {
    progress.stop();
    closeSync(log);
  }
  let simulatedS = 0;
  let wallS = 0;
  for (const entry of seeds) {
    simulatedS += entry.simulatedSeconds ?? 0;
    wallS += entry.wallSeconds ?? 0;
  }
  const failing = seeds.filter((entry) => !entry.ok);
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'swarm.json'),
    `${JSON.stringify(
      {
        scenarioFile: file ?? null,
        firstSeed,
        runs,
        workers,
        failed: failing.length,
        simulatedSeconds: simulatedS,
        wallSeconds: (performance.now() - startedMs) / 1000,
        failures: failing.map((entry) => ({
          seed: entry.seed,
          failed: entry.failed,
          ...(entry.error === undefined ? {} : { error: entry.error }),
          replay: entry.replay,
        })),
        seeds,
      },
      null,
      2,
    )}\n`,
  );
  const totalWallS = (performance.now() - startedMs) / 1000;
  ports.stdout.write(
    `${name}, seeds ${firstSeed}..${lastSeed}: ${runs - failing.length} of ${runs} hold every invariant\n` +
      `  ${simulatedS.toFixed(0)} simulated s in ${totalWallS.toFixed(1)} wall s: ${
        wallS > 0 ? (simulatedS / wallS).toFixed(1) : '∞'
      } simulated s per wall s${workers > 1 ? ` per worker, ${workers} workers` : ''}\n`,
  );
  if (failing.length > 0) {
    ports.stdout.write(`failing seeds (their output: ${join(out, 'seed-<N>')}/):\n`);
    for (const entry of failing) {
      const what = entry.error === undefined ? `✗ ${entry.failed.join(', ')}` : `broke: ${entry.error}`;
      ports.stdout.write(
        `  seed ${entry.seed}: ${what} [${entry.faults.join(', ')}]\n    replay: ${entry.replay}\n`,
      );
    }
  }
  ports.stdout.write(`wrote ${join(out, 'swarm.json')}\n`);
  return failing.length === 0 ? 0 : 1;
}

/**
 * `allot simulate`: resolves to the exit code. A scenario file that cannot be used prints one line
 * per problem on stderr, each naming the file. Without a file, `--swarm` draws whole scenarios.
 */
export async function runSimulate(
  file: string | undefined,
  options: SimulateOptions,
  ports: SimulatePorts = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  try {
    if (file === undefined) {
      if (options.swarm === undefined) {
        throw new ScenarioFileError([
          'allot: missing the scenario file: allot simulate <scenario.yaml> (or --swarm N to draw whole scenarios)',
        ]);
      }
      return await simulateSwarm(undefined, undefined, options.swarm, options, ports);
    }
    const scenario = loadScenario(file);
    return options.swarm === undefined
      ? await simulateOne(file, scenario, options, ports)
      : await simulateSwarm(file, scenario, options.swarm, options, ports);
  } catch (error) {
    if (!(error instanceof ScenarioFileError)) throw error;
    ports.stderr.write(`${error.problems.join('\n')}\n`);
    return 1;
  }
}
