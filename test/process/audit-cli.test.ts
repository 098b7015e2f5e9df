/**
 * `allot audit export` and `allot audit verify` as a user runs them, against a real node process
 * (LevelDB, fsync): the export verifies; a changed snapshot or a wrong key file exits 1 with one
 * line naming the file; a folder that is not empty, a wrong token and a missing folder are clear
 * errors with exit code 1. Once the node has written a checkpoint (everyEvents from its config), the
 * export carries checkpoint.bin, verify checks it against the refolded logs, and a changed byte of it
 * is named.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  eventually,
  type NodeProcess,
  removeDir,
  startNodeProcess,
  TOKENS,
  tempDir,
} from './node-process.js';

const run = promisify(execFile);
const CLI = new URL('../../packages/cli/bin/allot.js', import.meta.url).pathname;

async function allot(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

let node: NodeProcess;
let work: string;

beforeAll(async () => {
  // A checkpoint every 1,000 events: none during the first tests (7 events), one in the last.
  node = await startNodeProcess({ extra: { checkpoint: { everyEvents: 1_000, everyMs: 600_000 } } });
  work = tempDir('audit-cli');
  for (const tenant of ['acme', 'globex']) {
    expect(
      (
        await call(node.url, TOKENS.admin, 'POST', `/v1/tenants/${tenant}/grants`, {
          grantId: 'g1',
          amount: 500,
        })
      ).status,
    ).toBe(201);
  }
  for (let i = 0; i < 5; i++) {
    const debit = { amount: 3 + i, idempotencyKey: `k-${i}`, metadata: { i } };
    expect((await call(node.url, TOKENS.service, 'POST', '/v1/tenants/acme/debits', debit)).status).toBe(201);
  }
}, 60_000);

afterAll(async () => {
  node?.child.kill('SIGTERM');
  await node?.exited;
  if (node !== undefined) removeDir(node.dataDir);
  if (work !== undefined) removeDir(work);
});

describe('allot audit', () => {
  it('exports a node and verifies the export offline; then finds a changed figure', async () => {
    const out = join(work, 'export');
    const exported = await allot(
      'audit',
      'export',
      '--url',
      node.url,
      '--token',
      TOKENS.auditor,
      '--out',
      out,
    );
    expect(exported.stderr).toMatch(/wrote .*export \(1 origins, 7 events\)/);
    expect(exported.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['keys.yaml', 'manifest.json', 'segments', 'snapshot.json']);

    const verified = await allot('audit', 'verify', out);
    expect(verified).toMatchObject({ code: 0, stderr: '' });
    expect(verified.stdout).toMatch(/^verified: 1 origins, \d+ segments, 7 events, 2 tenants; .*\n$/);

    // The auditor's own key file, given with --keys, is used instead of the export's.
    const keys = join(work, 'keys.yaml');
    writeFileSync(keys, readFileSync(join(out, 'keys.yaml')));
    expect((await allot('audit', 'verify', out, '--keys', keys)).code).toBe(0);
    writeFileSync(keys, 'eu: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n');
    const wrongKey = await allot('audit', 'verify', out, '--keys', keys);
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toMatch(
      /^allot audit verify: manifest\.json: origin eu#\S+ seq \d+: .*signature does not verify .*keys\.yaml\n$/,
    );

    const snapshot = join(out, 'snapshot.json');
    writeFileSync(snapshot, readFileSync(snapshot, 'utf8').replace('"granted":500', '"granted":600'));
    const changed = await allot('audit', 'verify', out);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toBe('');
    expect(changed.stderr).toMatch(
      /^allot audit verify: snapshot\.json: origin eu#\S+ seq \d+: tenants\[0\] is .*"granted":600.*the refold gives .*"granted":500.*\n$/,
    );
  });

  it('refuses a folder that is not empty, a token without the right, and a missing folder, with one line and exit 1', async () => {
    const out = join(work, 'taken');
    expect(
      (await allot('audit', 'export', '--url', node.url, '--token', TOKENS.admin, '--out', out)).code,
    ).toBe(0);
    const again = await allot('audit', 'export', '--url', node.url, '--token', TOKENS.admin, '--out', out);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^allot: --out .*taken: not empty/);

    const service = await allot(
      'audit',
      'export',
      '--url',
      node.url,
      '--token',
      TOKENS.service,
      '--out',
      join(work, 'no'),
    );
    expect(service.code).toBe(1);
    expect(service.stderr).toMatch(/^allot: .*\/v1\/audit\/keys: HTTP 403: forbidden/);

    const missing = await allot('audit', 'verify', join(work, 'nowhere'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^allot: .*nowhere: ENOENT\n$/);
  });

  it('carries the node’s checkpoint once it has one: verify checks it against the logs and names a changed byte of it', async () => {
    const granted = await call(node.url, TOKENS.admin, 'POST', '/v1/tenants/initech/grants', {
      grantId: 'g1',
      amount: 1_000_000,
    });
    expect(granted.status).toBe(201);
    for (let from = 0; from < 1_000; from += 500) {
      const debits = Array.from({ length: 500 }, (_, i) => ({
        tenant: 'initech',
        amount: 1,
        idempotencyKey: `c-${from + i}`,
      }));
      expect((await call(node.url, TOKENS.service, 'POST', '/v1/debits/batch', { debits })).status).toBe(200);
    }
    await eventually(
      async () => node.output(),
      (output) => output.includes('"msg":"checkpoint written"'),
    );
    // A tail after the checkpoint.
    const tail = { amount: 2, idempotencyKey: 'after-checkpoint' };
    expect((await call(node.url, TOKENS.service, 'POST', '/v1/tenants/acme/debits', tail)).status).toBe(201);

    const out = join(work, 'with-checkpoint');
    const exported = await allot(
      'audit',
      'export',
      '--url',
      node.url,
      '--token',
      TOKENS.auditor,
      '--out',
      out,
    );
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/checkpoint at \d+ events/);
    expect(readdirSync(out).sort()).toEqual([
      'checkpoint.bin',
      'keys.yaml',
      'manifest.json',
      'segments',
      'snapshot.json',
    ]);
    const verified = await allot('audit', 'verify', out);
    expect(verified).toMatchObject({ code: 0, stderr: '' });
    expect(verified.stdout).toMatch(
      /checkpoint\.bin \(at \d+ events\) is signed and equals the refold at its vector byte for byte\n$/,
    );

    const file = join(out, 'checkpoint.bin');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x10;
    writeFileSync(file, bytes);
    const changed = await allot('audit', 'verify', out);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(
      /^allot audit verify: checkpoint\.bin: not the bytes the node signed.*\n$/,
    );
  });
});
