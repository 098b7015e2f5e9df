/** The `allot` command as a user runs it: keygen, snapshot, and a node refusing a bad config. */
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { call, removeDir, startNodeProcess, TOKENS, tempDir } from './node-process.js';

const run = promisify(execFile);
const CLI = new URL('../../packages/cli/bin/allot.js', import.meta.url).pathname;
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

async function allot(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('allot command', () => {
  it('keygen writes a private key (0600) and prints its public key; it never overwrites', async () => {
    const dir = tempDir('keygen');
    dirs.push(dir);
    const out = join(dir, 'region.key');
    const first = await allot('keygen', '--out', out);
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(readFileSync(out, 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const again = await allot('keygen', '--out', out);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^allot: .*EEXIST/);
  });

  it('refuses a bad config with one line naming the field, and no stack trace', async () => {
    const dir = tempDir('badconfig');
    dirs.push(dir);
    const file = join(dir, 'node.yaml');
    writeFileSync(
      file,
      'cluster: c\nregion: eu\nlisten: { host: 127.0.0.1, port: 0 }\ndataDir: d\nkeyFile: k\ntokens: []\nextra: 1\n',
    );
    const result = await allot('node', '--config', file);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('allot: extra: unknown field\ntokens: must NOT have fewer than 1 items\n');
  });

  it('snapshot prints the JSON snapshot, or NDJSON with a header line then one tenant per line', async () => {
    const node = await startNodeProcess();
    dirs.push(node.dataDir);
    try {
      for (const tenant of ['acme', 'globex']) {
        expect(
          (
            await call(node.url, TOKENS.admin, 'POST', `/v1/tenants/${tenant}/grants`, {
              grantId: 'g',
              amount: 50,
            })
          ).status,
        ).toBe(201);
      }
      const json = await allot('snapshot', '--url', node.url, '--token', TOKENS.auditor);
      expect(json.code).toBe(0);
      const snapshot = JSON.parse(json.stdout) as {
        tenants: { tenant: string; balance: number }[];
        heads: object;
      };
      expect(snapshot.tenants.map((line) => [line.tenant, line.balance])).toEqual([
        ['acme', 50],
        ['globex', 50],
      ]);
      const ndjson = await allot('snapshot', '--url', node.url, '--token', TOKENS.auditor, '--ndjson');
      const lines = ndjson.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines[0]).toMatchObject({ cluster: 'process-test', region: 'eu' });
      expect(lines.slice(1).map((line) => line.tenant)).toEqual(['acme', 'globex']);
      const refused = await allot('snapshot', '--url', node.url, '--token', 'nope-nope');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/HTTP 401: unauthorized/);
    } finally {
      node.child.kill('SIGTERM');
      expect(await node.exited).toBe(0);
    }
  });
});
