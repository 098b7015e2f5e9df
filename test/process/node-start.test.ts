/**
 * Issue 9, item 7 against the real `allot node`: a region key that is RSA or garbage, a peer with
 * this node's own key, a plain ws:// peer off loopback, or an unusable tls file stops the start with
 * one line naming the field and no stack trace; a key file readable by others starts with a warning;
 * without `keyFile` the key is generated in the data directory and reused after.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateRegionKey, rawPublicKey } from '@allot/store';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { removeDir, startNodeProcess, TOKENS, tempDir } from './node-process.js';

const CLI = new URL('../../packages/cli/bin/allot.js', import.meta.url).pathname;
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

function folder(): string {
  const dir = tempDir('start');
  dirs.push(dir);
  return dir;
}

/** A config for `dir` with `extra` fields. */
function configIn(dir: string, extra: Record<string, unknown>): string {
  const file = join(dir, 'node.yaml');
  writeFileSync(
    file,
    stringify({
      cluster: 'start-test',
      region: 'eu',
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: join(dir, 'data'),
      keyFile: join(dir, 'region.key'),
      tokens: [{ token: TOKENS.admin, role: 'admin' }],
      logLevel: 'warn',
      ...extra,
    }),
  );
  return file;
}

/** Runs `allot node` on a config that must not start: its exit code and stderr. */
function failedStart(configFile: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'node', '--config', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // A node that starts after all would run until killed: stop it, and the test fails on its code.
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

function expectOneLine(answer: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(answer.code).toBe(1);
  const lines = answer.stderr.trim().split('\n');
  expect(lines, answer.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(answer.stderr).not.toMatch(/\n\s+at /);
}

describe('allot node refuses to start, with one line naming the field', () => {
  it('on an RSA region key', async () => {
    const dir = folder();
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    writeFileSync(join(dir, 'region.key'), privateKey.export({ format: 'pem', type: 'pkcs8' }), {
      mode: 0o600,
    });
    expectOneLine(
      await failedStart(configIn(dir, {})),
      /^allot: keyFile: .*region\.key is not an Ed25519 private key.*rsa/,
    );
  });

  it('on a garbage region key', async () => {
    const dir = folder();
    writeFileSync(join(dir, 'region.key'), 'not a key at all\n', { mode: 0o600 });
    expectOneLine(
      await failedStart(configIn(dir, {})),
      /^allot: keyFile: .*region\.key is not an Ed25519 private key/,
    );
  });

  it("on a peer that has this node's own public key", async () => {
    const dir = folder();
    const key = generateRegionKey();
    writeFileSync(join(dir, 'region.key'), key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    const own = Buffer.from(rawPublicKey(key)).toString('base64');
    const peers = [{ region: 'us', url: 'ws://127.0.0.1:1/v1/replication', publicKey: own }];
    expectOneLine(
      await failedStart(configIn(dir, { peers })),
      /^allot: peers\.0\.publicKey: is this node's own public key/,
    );
  });

  it('on a plain ws:// peer that is not on loopback', async () => {
    const dir = folder();
    const other = Buffer.from(rawPublicKey(generateRegionKey())).toString('base64');
    const peers = [{ region: 'us', url: 'ws://10.1.2.3:7002/v1/replication', publicKey: other }];
    expectOneLine(await failedStart(configIn(dir, { peers })), /^allot: peers\.0\.url: .* is not wss:\/\//);
  });

  it('on a tls file that is missing or not PEM', async () => {
    const dir = folder();
    writeFileSync(join(dir, 'junk.pem'), 'junk');
    expectOneLine(
      await failedStart(configIn(dir, { tls: { cert: 'absent.crt', key: 'junk.pem', ca: 'junk.pem' } })),
      /^allot: tls\.cert: cannot read .*absent\.crt \(ENOENT\)$/,
    );
    expectOneLine(
      await failedStart(configIn(dir, { tls: { cert: 'junk.pem', key: 'junk.pem', ca: 'junk.pem' } })),
      /^allot: tls: the certificate, key and CA files are not a usable PEM identity/,
    );
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });
});

describe('allot node starts', () => {
  it('with a warning when the key file is readable by group or others', async () => {
    const dir = folder();
    const key = generateRegionKey();
    writeFileSync(join(dir, 'region.key'), key.export({ format: 'pem', type: 'pkcs8' }));
    chmodSync(join(dir, 'region.key'), 0o644);
    const node = await startNodeProcess({ dataDir: dir });
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    const warning = node
      .output()
      .split('\n')
      .find((line) => line.includes('readable by group or others'));
    expect(warning).toBeDefined();
    expect(JSON.parse(warning as string)).toMatchObject({ level: 40, mode: '0644' });
  });

  it('without keyFile: the key is generated in the data directory, then reused', async () => {
    const dir = folder();
    const extra = { keyFile: undefined };
    const first = await startNodeProcess({ dataDir: dir, extra });
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const keyFile = join(dir, 'data', 'region.key');
    expect(existsSync(keyFile)).toBe(true);
    const key = readFileSync(keyFile, 'utf8');
    const second = await startNodeProcess({ dataDir: dir, extra });
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(readFileSync(keyFile, 'utf8')).toBe(key);
    expect(first.output()).toMatch(/no region key: generated one/);
    expect(second.output()).not.toMatch(/no region key: generated one/);
  });
});
