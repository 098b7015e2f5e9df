/**
 * @allot/cli — the `allot` command: parses arguments and runs the command asked for. This is the
 * one place where concrete parts (LevelDB, the system clock, node:crypto, pino) are chosen.
 */
import { readFileSync } from 'node:fs';
import { ReplicaOpenError } from '@allot/replica';
import { StoreCorruptError } from '@allot/store';
import { Command, CommanderError, Option } from 'commander';
import { keygen } from './commands/keygen.js';
import { runNode } from './commands/node.js';
import { readSnapshot, SnapshotError } from './commands/snapshot.js';
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
    .command('keygen')
    .description('write a new Ed25519 region key; print its public key (base64)')
    .requiredOption('-o, --out <file>', 'where to write the private key (PKCS#8 PEM); never overwritten')
    .action((options: { out: string }) => {
      process.stdout.write(`${keygen(options.out)}\n`);
      exit(0);
    });

  program
    .command('snapshot')
    .description("print a node's merged balance snapshot (JSON, or NDJSON for millions of tenants)")
    .requiredOption('--url <url>', 'the node, e.g. http://127.0.0.1:7001')
    .addOption(
      new Option('--token <token>', 'an auditor or admin token').env('ALLOT_TOKEN').makeOptionMandatory(),
    )
    .option('--ndjson', 'one header line, then one tenant per line', false)
    .action(async (options: { url: string; token: string; ndjson: boolean }) => {
      await readSnapshot(options.url, options.token, options.ndjson, process.stdout);
      exit(0);
    });

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
