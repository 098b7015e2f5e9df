/**
 * @allot/cli — the `allot` command: parses arguments and runs the command asked for. This is the
 * one place where concrete parts (LevelDB, WebSockets, the system clock) are chosen.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';

/** The version of the allot package (from its package.json). */
export function allotVersion(): string {
  const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return packageJson.version;
}

/** The `allot` command line, ready to parse. */
export function buildProgram(): Command {
  const program = new Command('allot')
    .description('Allot: a multi-region credit ledger node (escrow-CRDT balances, decided locally).')
    .version(allotVersion(), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .showHelpAfterError()
    .exitOverride();
  return program;
}

/** Runs the command line `argv` (process.argv form); resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    throw error;
  }
}
