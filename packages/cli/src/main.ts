/**
 * @allot/cli — the `allot` command: parses arguments and runs the command asked for. This is the
 * one place where concrete parts (LevelDB, the system clock, node:crypto, pino) are chosen.
 */
import { readFileSync } from 'node:fs';
import { ReplicaOpenError } from '@allot/replica';
import { StoreCorruptError } from '@allot/store';
import { Command, CommanderError, Option } from 'commander';
import { AuditError, auditExport, auditVerify } from './commands/audit.js';
import {
  DEV_BASE_PORT,
  DEV_DATA,
  DEV_LOG_LEVEL,
  DEV_LOG_LEVELS,
  DEV_REGIONS,
  DEV_REGIONS_MAX,
  type DevOptions,
  parsePort,
  parseRegions,
  runDev,
} from './commands/dev.js';
import { keygen } from './commands/keygen.js';
import { runNode } from './commands/node.js';
import {
  parseSeed,
  parseSwarmRuns,
  parseWorkers,
  runSimulate,
  SIMULATE_OUT,
  SIMULATE_SEED,
  type SimulateOptions,
} from './commands/simulate.js';
import { readSnapshot, SnapshotError } from './commands/snapshot.js';
import { TailError, tail } from './commands/tail.js';
import { ConfigError, loadConfig } from './config.js';

/** The version of the allot package (from its package.json). */
export function allotVersion(): string {
  const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return packageJson.version;
}

/** Errors that end a command with one clear line on stderr and exit code 1 (no stack trace). */
function isUserFacing(error: unknown): error is Error {
  return (
    error instanceof ConfigError ||
    error instanceof ReplicaOpenError ||
    error instanceof StoreCorruptError ||
    error instanceof SnapshotError ||
    error instanceof AuditError ||
    error instanceof TailError ||
    (error instanceof Error && 'code' in error && typeof (error as NodeJS.ErrnoException).code === 'string')
  );
}

/** The `allot` command line; `exit` receives each command's exit code. */
export function buildProgram(exit: (code: number) => void): Command {
  const program = new Command('allot')
    .description('Allot: a multi-region credit ledger node (escrow-CRDT balances, decided locally).')
    .version(allotVersion(), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('node')
    .description("run one region's node in the foreground")
    .requiredOption('-c, --config <file.yaml>', 'node config file (API.md "Node config")')
    .action(async (options: { config: string }) => {
      exit(await runNode(loadConfig(options.config)));
    });

  program
    .command('dev')
    .description(
      'run a local cluster on loopback in this process, one node per region; print URLs and tokens',
    )
    .addOption(
      new Option('--regions <list>', `region ids, comma-separated (1 to ${DEV_REGIONS_MAX})`)
        .default([...DEV_REGIONS], DEV_REGIONS.join(','))
        .argParser(parseRegions),
    )
    .addOption(
      new Option('--base-port <n>', "the first region's port; the next regions take the next ports")
        .default(DEV_BASE_PORT)
        .argParser(parsePort),
    )
    .option('--data <dir>', "folder of the regions' data, keys and the tokens file", DEV_DATA)
    .addOption(
      new Option('--log-level <level>', "the nodes' log level (JSON lines on stdout)")
        .choices(DEV_LOG_LEVELS)
        .default(DEV_LOG_LEVEL),
    )
    .action(async (options: DevOptions) => {
      exit(await runDev(options));
    });

  program
    .command('keygen')
    .description('write a new Ed25519 region key; print its public key (base64)')
    .requiredOption('-o, --out <file>', 'where to write the private key (PKCS#8 PEM); never overwritten')
    .action((options: { out: string }) => {
      process.stdout.write(`${keygen(options.out)}\n`);
      exit(0);
    });

  program
    .command('simulate')
    .description(
      'run a scenario on simulated time; write run.json, history.jsonl and report.html; exit 1 if an invariant fails',
    )
    .argument(
      '[scenario.yaml]',
      'scenario file (see simulations/); with --swarm and no file, whole scenarios are drawn',
    )
    .addOption(
      new Option(
        '--seed <n>',
        'the seed: the same seed gives the same history (with --swarm: the first seed)',
      )
        .default(SIMULATE_SEED)
        .argParser(parseSeed),
    )
    .option('--out <dir>', `output folder (default ${SIMULATE_OUT}/<scenario>-<seed>/)`)
    .addOption(
      new Option(
        '--swarm <n>',
        "run n seeds from --seed; each draws its own fault mix over the file's regions and workload",
      ).argParser(parseSwarmRuns),
    )
    .addOption(
      new Option(
        '--workers <n>',
        'with --swarm: run the seeds on n worker threads (the soak); the same seed gives the same history',
      ).argParser(parseWorkers),
    )
    .option('-q, --quiet', 'no progress bar', false)
    .action(async (file: string | undefined, options: SimulateOptions) => {
      exit(await runSimulate(file, options));
    });

  program
    .command('snapshot')
    .description("print a node's merged balance snapshot (JSON, or NDJSON for millions of tenants)")
    .requiredOption('--url <url>', 'the node, e.g. http://127.0.0.1:7001')
    .addOption(
      new Option('--token <token>', 'an auditor or admin token').env('ALLOT_TOKEN').makeOptionMandatory(),
    )
    .option('--ndjson', 'one header line, then one tenant per line', false)
    .option(
      '--at <vector>',
      'the snapshot at this version vector (JSON, e.g. \'{"eu#k3x9…":42}\'): exactly those log prefixes',
    )
    .action(async (options: { url: string; token: string; ndjson: boolean; at?: string }) => {
      await readSnapshot(options.url, options.token, options.ndjson, process.stdout, options.at);
      exit(0);
    });

  const audit = program
    .command('audit')
    .description("export a node's signed logs and snapshot for auditors; verify an export offline");
  audit
    .command('export')
    .description(
      "write a snapshot, every origin's signed segments up to its version vector, the region keys and a manifest to DIR",
    )
    .requiredOption('--url <url>', 'the node, e.g. http://127.0.0.1:7001')
    .addOption(
      new Option('--token <token>', 'an auditor or admin token').env('ALLOT_TOKEN').makeOptionMandatory(),
    )
    .requiredOption('--out <dir>', 'a new or empty folder')
    .action(async (options: { url: string; token: string; out: string }) => {
      await auditExport(options, process.stderr);
      exit(0);
    });
  audit
    .command('verify')
    .description(
      'offline: every chain and signature, every event, the refold, compared with snapshot.json byte for byte; exit 1 at the first discrepancy',
    )
    .argument('<dir>', 'a folder written by `allot audit export`')
    .option('--keys <file>', "YAML `region: <base64 public key>` (default: the export's own keys.yaml)")
    .action((dir: string, options: { keys?: string }) => {
      exit(auditVerify(dir, options.keys, process.stdout, process.stderr));
    });

  program
    .command('tail')
    .description("print a node's stream of events and alerts as lines; resumes after a dropped connection")
    .requiredOption('--url <url>', 'the node, e.g. http://127.0.0.1:7001')
    .addOption(
      new Option('--token <token>', 'an auditor or admin token').env('ALLOT_TOKEN').makeOptionMandatory(),
    )
    .option('--tenant <tenant>', "only this tenant's events and alerts (required for a scoped token)")
    .option('--after <cursor>', 'resume after this cursor (an id printed with --json)')
    .option('--json', 'one JSON object per line, with its cursor', false)
    .action(
      async (options: { url: string; token: string; tenant?: string; after?: string; json: boolean }) => {
        const stop = new AbortController();
        process.once('SIGINT', () => stop.abort());
        process.once('SIGTERM', () => stop.abort());
        await tail(options, process.stdout, process.stderr, stop.signal);
        exit(0);
      },
    );

  return program;
}

/** Runs the command line `argv` (process.argv form); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((exitCode) => {
    code = exitCode;
  });
  try {
    await program.parseAsync([...argv]);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (isUserFacing(error)) {
      process.stderr.write(`allot: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
