/**
 * Real node processes for tests: `allot node` started from the built CLI on a temporary data
 * directory and a free loopback port, stopped with SIGTERM or killed with SIGKILL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

const CLI = new URL('../../packages/cli/bin/allot.js', import.meta.url).pathname;

/** Tokens every test node accepts. */
export const TOKENS = {
  service: 'test-service-token',
  admin: 'test-admin-token',
  auditor: 'test-audit-token',
} as const;

/** A node process under test. */
export interface NodeProcess {
  readonly url: string;
  readonly dataDir: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  output(): string;
}

/** Options of a test node beyond the defaults. */
export interface NodeProcessOptions {
  readonly region?: string;
  readonly dataDir?: string;
  readonly durability?: 'fsync' | 'os';
  readonly extra?: Record<string, unknown>;
}

/** A new temporary folder; removed by `removeDir`. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `allot-${prefix}-`));
}

/** Removes a temporary folder and all in it. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Starts `allot node` and waits until it serves (its log says where). */
export async function startNodeProcess(options: NodeProcessOptions = {}): Promise<NodeProcess> {
  const dataDir = options.dataDir ?? tempDir('node');
  const config = {
    cluster: 'process-test',
    region: options.region ?? 'eu',
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: join(dataDir, 'data'),
    keyFile: join(dataDir, 'region.key'),
    peers: [],
    tokens: [
      { token: TOKENS.service, role: 'service' },
      { token: TOKENS.admin, role: 'admin' },
      { token: TOKENS.auditor, role: 'auditor' },
    ],
    durability: options.durability ?? 'fsync',
    logLevel: 'info',
    ...options.extra,
  };
  const configFile = join(dataDir, 'node.yaml');
  writeFileSync(configFile, stringify(config));
  const child = spawn(process.execPath, [CLI, 'node', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(https?:\/\/127\.0\.0\.1:\d+)"[^\n]*"msg":"allot node serving"/.exec(output);
      if (match?.[1] !== undefined) resolve(match[1]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => reject(new Error(`node exited (${code}) before serving:\n${output}`)));
  });
  return { url, dataDir, child, exited, output: () => output };
}

/** JSON over HTTP with a bearer token. */
export async function call(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

/** Probes until `ok` holds (every 50 ms), or throws after `timeoutMs` with the last value seen. */
export async function eventually<T>(
  probe: () => Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > until) throw new Error(`not reached in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await probe();
  }
  return last;
}
