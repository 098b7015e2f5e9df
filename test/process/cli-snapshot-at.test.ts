/**
 * `allot snapshot --at <version vector JSON>` as a user runs it against a real node process: the
 * snapshot at that vector (JSON or NDJSON), one clear line for JSON that is no version vector (the
 * node is not asked), and the node's answer for a vector past what it holds.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { call, removeDir, startNodeProcess, TOKENS } from './node-process.js';

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

interface SnapshotBody {
  versionVector: Record<string, number>;
  heads: Record<string, { seq: number }>;
  tenants: { tenant: string; balance: number }[];
}

describe('allot snapshot --at', () => {
  it('prints the snapshot at a version vector; bad JSON is one clear line and exit 1', async () => {
    const node = await startNodeProcess();
    dirs.push(node.dataDir);
    try {
      const grant = await call(node.url, TOKENS.admin, 'POST', '/v1/tenants/acme/grants', {
        grantId: 'g',
        amount: 50,
      });
      expect(grant.status).toBe(201);
      const then = JSON.parse(
        (await allot('snapshot', '--url', node.url, '--token', TOKENS.auditor)).stdout,
      ) as SnapshotBody;
      const debit = await call(node.url, TOKENS.admin, 'POST', '/v1/tenants/acme/debits', {
        amount: 20,
        idempotencyKey: 'k1',
      });
      expect(debit.status).toBe(201);
      const vector = JSON.stringify(then.versionVector);

      const at = await allot('snapshot', '--url', node.url, '--token', TOKENS.auditor, '--at', vector);
      expect(at.code).toBe(0);
      const body = JSON.parse(at.stdout) as SnapshotBody;
      expect(body.tenants).toEqual([
        { tenant: 'acme', balance: 50, granted: 50, debited: 0, refunded: 0, expired: 0, held: 0 },
      ]);
      expect(body.heads).toEqual(then.heads);
      expect(body.versionVector).toEqual(then.versionVector);

      const ndjson = await allot(
        'snapshot',
        '--url',
        node.url,
        '--token',
        TOKENS.auditor,
        '--ndjson',
        '--at',
        vector,
      );
      const lines = ndjson.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines[0]).toMatchObject({ versionVector: then.versionVector });
      expect(lines.slice(1)).toEqual(body.tenants);

      const now = JSON.parse(
        (await allot('snapshot', '--url', node.url, '--token', TOKENS.auditor)).stdout,
      ) as SnapshotBody;
      expect(now.tenants[0]?.balance).toBe(30);

      for (const bad of ['{"eu#', '{"eu":1}']) {
        const refused = await allot('snapshot', '--url', node.url, '--token', TOKENS.auditor, '--at', bad);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/^allot: --at: .+\n$/);
        expect(refused.stdout).toBe('');
      }
      const [origin] = Object.keys(then.versionVector);
      const past = await allot(
        'snapshot',
        '--url',
        node.url,
        '--token',
        TOKENS.auditor,
        '--at',
        JSON.stringify({ [origin as string]: 99 }),
      );
      expect(past.code).toBe(1);
      expect(past.stderr).toMatch(/HTTP 404: not_found: .*holds its log up to seq 2/);
    } finally {
      node.child.kill('SIGTERM');
      expect(await node.exited).toBe(0);
    }
  });
});
