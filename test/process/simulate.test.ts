/** `allot simulate` as an SRE runs it: a scenario, its output folder, bad files, a swarm. */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { type RunOptions, type Scenario, ScenarioError, validateScenario } from '@allot/sim';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { runSimulate } from '../../packages/cli/src/commands/simulate.js';
import { removeDir, tempDir } from './node-process.js';

/**
 * For in-process runs only (the CLI processes are not touched): seeds in `violating` get a violated
 * S1 and seeds in `breaking` a run that breaks, so the swarm's failure listing can be seen.
 */
const violating = new Set<number>();
const breaking = new Set<number>();
vi.mock('@allot/sim', async (importOriginal) => {
  const real = await importOriginal<typeof import('@allot/sim')>();
  return {
    ...real,
    runSimulation: async (scenario: Scenario, seed: number, options: RunOptions) => {
      if (breaking.has(seed)) {
        throw new real.SimulationError(
          `simulation failed at 5 ms (seed ${seed}): boom`,
          seed,
          options.replay ?? '',
          5,
        );
      }
      const result = await real.runSimulation(scenario, seed, options);
      if (!violating.has(seed)) return result;
      return {
        ...result,
        ok: false,
        verdicts: result.verdicts.map((verdict) =>
          verdict.invariant === 'S1'
            ? { ...verdict, holds: false, violations: 1, first: { t: 5, detail: 'planted' } }
            : verdict,
        ),
      };
    },
  };
});

const execFileAsync = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'packages/cli/bin/allot.js');
const SIMULATIONS = join(ROOT, 'simulations');
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function allot(args: readonly string[], cwd = ROOT): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI, ...args], {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A small scenario (a few simulated seconds) for the checks that only need some run. */
const small = {
  name: 'small',
  description: 'Two regions, one tenant, a short isolation.',
  regions: ['eu', 'us'],
  durationS: 10,
  quietS: 10,
  rebalancing: 'adaptive',
  network: { delayMs: { min: 20, max: 40 }, loss: 0, duplicate: 0, reorder: 0 },
  tenants: [
    {
      tenant: 'acme',
      grants: [{ grantId: 'g-1', amount: 10_000, region: 'eu', atS: 0 }],
      rates: [
        { region: 'eu', perSecond: 20, shape: 'steady' },
        { region: 'us', perSecond: 20, shape: 'steady' },
      ],
      debitAmount: { min: 1, max: 5 },
    },
  ],
  faults: [{ kind: 'isolate', region: 'us', atS: 3, forS: 3 }],
};

function writeScenario(dir: string, name: string, document: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof document === 'string' ? document : stringifyYaml(document));
  return file;
}

describe('allot simulate', () => {
  it('runs a scenario of simulations/: exit 0, run.json, history.jsonl and a self-contained report.html', async () => {
    const out = tempDir('simulate');
    dirs.push(out);
    const run = await allot([
      'simulate',
      'simulations/isolated-at-peak.yaml',
      '--seed',
      '1',
      '--out',
      out,
      '--quiet',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('isolated-at-peak, seed 1: all 12 invariants hold');
    expect(run.stdout).toMatch(/✓ S1 /);
    expect(run.stdout).toMatch(/simulated s per wall s/);
    expect(run.stdout).toContain('replay: npx allot simulate simulations/isolated-at-peak.yaml --seed 1\n');

    for (const name of ['run.json', 'history.jsonl', 'report.html'])
      expect(existsSync(join(out, name))).toBe(true);
    const saved = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as Record<string, unknown> & {
      verdicts: { invariant: string; holds: boolean }[];
      options: { seed: number; scenarioFile: string };
      metrics: { perRegion: Record<string, { accepted: number }> };
    };
    expect(saved.verdicts.map((verdict) => verdict.invariant)).toEqual([
      'S1',
      'S2',
      'S3',
      'S4',
      'S5',
      'S6',
      'S7',
      'F1',
      'S8',
      'S9',
      'S10',
      'S11',
    ]);
    expect(saved.verdicts.every((verdict) => verdict.holds)).toBe(true);
    expect(saved.options).toMatchObject({ seed: 1, scenarioFile: 'simulations/isolated-at-peak.yaml' });
    expect(saved.seed).toBe(1);
    expect(saved.replay).toBe('npx allot simulate simulations/isolated-at-peak.yaml --seed 1');
    expect(saved).not.toHaveProperty('history');
    expect(Object.keys(saved.metrics.perRegion)).toEqual(['eu', 'us', 'ap']);

    const lines = readFileSync(join(out, 'history.jsonl'), 'utf8').trimEnd().split('\n');
    const types = new Set(lines.map((line) => (JSON.parse(line) as { type: string }).type));
    for (const type of ['debit', 'grant', 'fault', 'sample', 'converged']) expect(types).toContain(type);

    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain('id="allot-data"');
    expect(html).toContain('isolated-at-peak');
  }, 180_000); // a whole scenario in a real process: CPU-bound, slow on a busy machine, not hung

  it('writes to sim-out/<scenario>-<seed>/ by default, and the same seed gives the same history', async () => {
    const dir = tempDir('simulate-default');
    dirs.push(dir);
    const file = writeScenario(dir, 'small.yaml', small);
    const first = await allot(['simulate', file, '--quiet'], dir);
    expect(first.code).toBe(0);
    const runFile = join(dir, 'sim-out', 'small-1', 'run.json');
    const hash = (JSON.parse(readFileSync(runFile, 'utf8')) as { historyHash: string }).historyHash;
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    const again = await allot(['simulate', file, '--quiet', '--out', join(dir, 'again')], dir);
    expect(again.code).toBe(0);
    const history = (folder: string): string => readFileSync(join(folder, 'history.jsonl'), 'utf8');
    expect(history(join(dir, 'again'))).toBe(history(join(dir, 'sim-out', 'small-1')));
    expect(
      (JSON.parse(readFileSync(join(dir, 'again', 'run.json'), 'utf8')) as { historyHash: string })
        .historyHash,
    ).toBe(hash);
  });

  it('refuses an invalid scenario: exit 1, one line per problem naming the file and the field', async () => {
    const dir = tempDir('simulate-invalid');
    dirs.push(dir);
    const file = writeScenario(dir, 'bad.yaml', {
      ...small,
      durationS: -5,
      colour: 'blue',
      network: { ...small.network, loss: 2 },
    });
    const run = await allot(['simulate', file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines) expect(line.startsWith(`${file}: `)).toBe(true);
    expect(lines.some((line) => line.includes('durationS'))).toBe(true);
    expect(lines.some((line) => line.includes('colour'))).toBe(true);
    expect(lines.some((line) => line.includes('network.loss'))).toBe(true);
    expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses a file that is not YAML, or that cannot be read, in one line', async () => {
    const dir = tempDir('simulate-yaml');
    dirs.push(dir);
    const file = writeScenario(dir, 'broken.yaml', 'name: [unclosed\nregions: eu\n');
    const broken = await allot(['simulate', file]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(new RegExp(`^${file}: not valid YAML: .+\\n$`));
    const missing = await allot(['simulate', join(dir, 'missing.yaml')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`${join(dir, 'missing.yaml')}: cannot read the scenario file (ENOENT)\n`);
    const badSeed = await allot(['simulate', file, '--seed', 'seven']);
    expect(badSeed.code).toBe(1);
    expect(badSeed.stderr).toContain('--seed');
  });

  it('--swarm runs one seed after another, each with its own faults, and writes swarm.json', async () => {
    const dir = tempDir('simulate-swarm');
    dirs.push(dir);
    const file = writeScenario(dir, 'small.yaml', small);
    const out = join(dir, 'swarm');
    const run = await allot(['simulate', file, '--swarm', '3', '--seed', '11', '--out', out, '--quiet']);
    expect(run.stdout).toContain('swarm of small, seeds 11..13:');
    const swarm = JSON.parse(readFileSync(join(out, 'swarm.json'), 'utf8')) as {
      seeds: { seed: number; ok: boolean; replay: string; faults: string[] }[];
    };
    expect(swarm.seeds.map((seed) => seed.seed)).toEqual([11, 12, 13]);
    const failing = swarm.seeds.filter((seed) => !seed.ok);
    expect(run.code).toBe(failing.length === 0 ? 0 : 1);
    for (const seed of failing) {
      expect(run.stdout).toContain(`replay: npx allot simulate ${file} --seed ${seed.seed} --swarm 1`);
      expect(existsSync(join(out, `seed-${seed.seed}`, 'report.html'))).toBe(true);
    }
    // Every seed ran the file's regions with a fault mix of its own.
    expect(new Set(swarm.seeds.map((seed) => seed.faults.join(','))).size).toBeGreaterThan(1);
  });

  it('--workers runs the seeds on worker threads with the same histories, and logs each as it comes', async () => {
    const dir = tempDir('simulate-soak');
    dirs.push(dir);
    const file = writeScenario(dir, 'small.yaml', small);
    const hashes = async (out: string, extra: string[]) => {
      const run = await allot([
        'simulate',
        file,
        '--swarm',
        '2',
        '--seed',
        '31',
        '--out',
        out,
        '--quiet',
        ...extra,
      ]);
      const swarm = JSON.parse(readFileSync(join(out, 'swarm.json'), 'utf8')) as {
        seeds: { seed: number; historyHash: string }[];
        failures: { seed: number; replay: string }[];
      };
      return { run, swarm, lines: readFileSync(join(out, 'seeds.jsonl'), 'utf8').trim().split('\n') };
    };
    const sequential = await hashes(join(dir, 'one'), []);
    const parallel = await hashes(join(dir, 'two'), ['--workers', '2']);
    expect(parallel.run.stdout).toContain('2 workers');
    expect(parallel.swarm.seeds.map((seed) => seed.seed)).toEqual([31, 32]);
    expect(parallel.swarm.seeds.map((seed) => seed.historyHash)).toEqual(
      sequential.swarm.seeds.map((seed) => seed.historyHash),
    );
    expect(parallel.lines).toHaveLength(2);
    expect(parallel.swarm.failures).toEqual(sequential.swarm.failures);
    const bad = await allot(['simulate', file, '--swarm', '2', '--workers', '0', '--quiet']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--workers');
  });

  it('--swarm lists each failing seed with its replay command and keeps its output', async () => {
    const dir = tempDir('simulate-swarm-failing');
    dirs.push(dir);
    const file = writeScenario(dir, 'small.yaml', small);
    violating.add(21);
    breaking.add(22);
    let printed = '';
    const out = new PassThrough().on('data', (chunk: Buffer) => {
      printed += chunk.toString();
    });
    try {
      const code = await runSimulate(
        file,
        { seed: 20, swarm: 3, quiet: true, out: dir },
        { stdout: out, stderr: out },
      );
      expect(code).toBe(1);
    } finally {
      violating.clear();
      breaking.clear();
    }
    expect(printed).toContain('swarm of small, seeds 20..22: 1 of 3 hold every invariant');
    expect(printed).toContain(`  seed 21: ✗ S1 [`);
    expect(printed).toContain(`    replay: npx allot simulate ${file} --seed 21 --swarm 1\n`);
    expect(printed).toContain('  seed 22: broke: simulation failed at 5 ms (seed 22): boom [');
    expect(printed).toContain(`    replay: npx allot simulate ${file} --seed 22 --swarm 1\n`);
    expect(existsSync(join(dir, 'seed-21', 'report.html'))).toBe(true);
    expect(existsSync(join(dir, 'seed-20'))).toBe(false);
  });

  it('--swarm without a file draws whole scenarios; without either, one clear line', async () => {
    const dir = tempDir('simulate-swarm-drawn');
    dirs.push(dir);
    const run = await allot(['simulate', '--swarm', '1', '--seed', '5', '--out', dir, '--quiet']);
    expect(run.stdout).toContain('swarm of drawn scenarios, seeds 5..5:');
    const swarm = JSON.parse(readFileSync(join(dir, 'swarm.json'), 'utf8')) as {
      seeds: { seed: number; ok: boolean; replay: string }[];
    };
    expect(swarm.seeds).toMatchObject([{ seed: 5, replay: 'npx allot simulate --swarm 1 --seed 5' }]);
    expect(run.code).toBe(swarm.seeds[0]?.ok === true ? 0 : 1);
    const neither = await allot(['simulate']);
    expect(neither.code).toBe(1);
    expect(neither.stderr).toMatch(/^allot: missing the scenario file: .*\n$/);
  });
});

describe('simulations/', () => {
  const files = readdirSync(SIMULATIONS).filter((name) => name.endsWith('.yaml'));

  it('holds the scenarios of issue 6', () => {
    for (const name of [
      'isolated-at-peak',
      'majorities-ring',
      'flapping-link',
      'hot-tenant-moves',
      'crash-under-load',
      'disk-loss-new-incarnation',
      'clock-skew-expiry',
      'duplicate-retries',
      'overdraft-bound',
    ]) {
      expect(files).toContain(`${name}.yaml`);
    }
  });

  it.each(files)('%s validates, is named after its file, runs in modest time, and is commented', (name) => {
    const text = readFileSync(join(SIMULATIONS, name), 'utf8');
    let scenario: Scenario;
    try {
      scenario = validateScenario(parseYaml(text, { uniqueKeys: true }));
    } catch (error) {
      if (error instanceof ScenarioError) throw new Error(`${name}:\n${error.problems.join('\n')}`);
      throw error;
    }
    expect(`${scenario.name}.yaml`).toBe(name);
    expect(scenario.durationS).toBeLessThanOrEqual(120);
    expect(scenario.description.length).toBeGreaterThan(20);
    const comments = text.split('\n').filter((line) => line.trimStart().startsWith('#'));
    expect(comments.length).toBeGreaterThanOrEqual(8);
  });
});
