/**
 * `allot dev` as a user runs it: the built CLI starts a cluster of three regions in one process,
 * prints their URLs and tokens, serves, stops cleanly on SIGTERM, and a second start on the same
 * data folder keeps keys, tokens and incarnations.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { rawPublicKey, readRegionKey } from '@allot/store';
import { afterAll, describe, expect, it } from 'vitest';
import { portOutsideEphemeral } from '../../bench/relay.mjs';
import { DEV_REGIONS_MAX, parseRegions } from '../../packages/cli/src/commands/dev.js';
import { call, removeDir, tempDir } from './node-process.js';

const CLI = new URL('../../packages/cli/bin/allot.js', import.meta.url).pathname;
const REGIONS = ['eu', 'us', 'ap'];
const run = promisify(execFile);
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) removeDir(dir);
});

/** What `allot dev` printed once every region served. */
interface DevCluster {
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
  readonly regions: Map<string, { url: string; origin: string }>;
  readonly tokens: Map<string, string>;
  readonly stdout: string;
}

/** Starts `allot dev` and waits until it prints that it is ready. */
async function startDev(data: string, basePort: number): Promise<DevCluster> {
  const child = spawn(
    process.execPath,
    [CLI, 'dev', '--regions', REGIONS.join(','), '--base-port', String(basePort), '--data', data],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
  });
  let stdout = '';
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('allot dev: ready')) resolve();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    void exited.then((code) =>
      reject(new Error(`allot dev exited (${code}) before ready:\n${stdout}${stderr}`)),
    );
  });
  const regions = new Map<string, { url: string; origin: string }>();
  for (const [, region, url, origin] of stdout.matchAll(/^ {2}([a-z0-9-]+) +(http:\/\/\S+) +(\S+#\S+)$/gm)) {
    regions.set(region as string, { url: url as string, origin: origin as string });
  }
  const tokens = new Map<string, string>();
  for (const [, role, token] of stdout.matchAll(/^ {2}(admin|service|auditor) +(\S+) /gm)) {
    tokens.set(role as string, token as string);
  }
  return { child, exited, regions, tokens, stdout };
}

/** The raw public key of each region's key file, base64. */
function publicKeys(data: string): string[] {
  return REGIONS.map((region) =>
    Buffer.from(rawPublicKey(readRegionKey(join(data, region, 'region.key')))).toString('base64'),
  );
}

describe('allot dev', () => {
  it('serves every region, prints URLs and tokens, stops on SIGTERM, and restarts with the same identity', async () => {
    const data = tempDir('dev');
    dirs.push(data);
    const basePort = await portOutsideEphemeral(REGIONS.length);

    const first = await startDev(data, basePort);
    try {
      expect([...first.regions.keys()]).toEqual(REGIONS);
      expect([...first.regions.values()].map((region) => region.url)).toEqual(
        REGIONS.map((_, i) => `http://127.0.0.1:${basePort + i}`),
      );
      expect([...first.tokens.keys()].sort()).toEqual(['admin', 'auditor', 'service']);
      const admin = first.tokens.get('admin') as string;
      for (const [region, { url, origin }] of first.regions) {
        expect((await fetch(`${url}/readyz`)).status).toBe(200);
        const cluster = await call(url, admin, 'GET', '/v1/cluster');
        expect(cluster.status).toBe(200);
        expect(cluster.body).toMatchObject({ cluster: 'allot-dev', region, origin });
        expect(origin.startsWith(`${region}#`)).toBe(true);
      }
      // The printed commands use the printed URLs and tokens.
      expect(first.stdout).toContain(`curl -s -XPOST ${first.regions.get('eu')?.url}/v1/tenants/acme/grants`);
      expect(first.stdout).toContain(`npx allot snapshot --url ${first.regions.get('eu')?.url}`);

      const eu = first.regions.get('eu')?.url as string;
      const grant = await call(eu, admin, 'POST', '/v1/tenants/acme/grants', { grantId: 'g-1', amount: 100 });
      expect(grant.status).toBe(201);
      expect(grant.body).toMatchObject({ balance: { tenant: 'acme', balance: 100 } });
      const balance = await call(
        eu,
        first.tokens.get('auditor') as string,
        'GET',
        '/v1/tenants/acme/balance',
      );
      expect(balance.body).toMatchObject({ balance: 100, region: 'eu' });
      // The service token may not grant.
      const refused = await call(
        eu,
        first.tokens.get('service') as string,
        'POST',
        '/v1/tenants/acme/grants',
        {
          grantId: 'g-2',
          amount: 1,
        },
      );
      expect(refused.status).toBe(403);
      // Issue 12: from the first second, a covered debit is accepted at every region (borrowing).
      expect(
        (await call(eu, admin, 'POST', '/v1/tenants/early/grants', { grantId: 'g', amount: 1000 })).status,
      ).toBe(201);
      for (const [region, { url }] of first.regions) {
        const debited = await call(
          url,
          first.tokens.get('service') as string,
          'POST',
          '/v1/tenants/early/debits',
          {
            amount: 7,
            idempotencyKey: `first-${region}`,
          },
        );
        expect({ region, status: debited.status }).toEqual({ region, status: 201 });
      }
    } finally {
      first.child.kill('SIGTERM');
    }
    expect(await first.exited).toBe(0);

    const tokensFile = join(data, 'dev-tokens.json');
    expect(statSync(tokensFile).mode & 0o777).toBe(0o600);
    for (const region of REGIONS) expect(statSync(join(data, region, 'region.key')).mode & 0o777).toBe(0o600);
    const keys = publicKeys(data);
    const tokensText = readFileSync(tokensFile, 'utf8');

    const second = await startDev(data, basePort);
    try {
      expect(second.tokens).toEqual(first.tokens);
      expect(publicKeys(data)).toEqual(keys);
      expect(readFileSync(tokensFile, 'utf8')).toBe(tokensText);
      for (const region of REGIONS) {
        // Same data folder, same incarnation: the region's origin id did not change.
        expect(second.regions.get(region)?.origin).toBe(first.regions.get(region)?.origin);
      }
      const eu = second.regions.get('eu')?.url as string;
      const balance = await call(
        eu,
        second.tokens.get('auditor') as string,
        'GET',
        '/v1/tenants/acme/balance',
      );
      expect(balance.status).toBe(200);
      expect(balance.body).toMatchObject({ balance: 100, granted: 100 });
    } finally {
      second.child.kill('SIGINT');
    }
    expect(await second.exited).toBe(0);
  });

  it('takes up to DEV_REGIONS_MAX regions, spaces around commas allowed', () => {
    const regions = Array.from({ length: DEV_REGIONS_MAX }, (_, i) => `r${i}`);
    expect(parseRegions(regions.join(' , '))).toEqual(regions);
    expect(() => parseRegions([...regions, 'one-more'].join(','))).toThrow(/at most 8 regions, got 9/);
  });

  it('refuses bad --regions and --base-port with one clear line, before touching the data folder', async () => {
    const parent = tempDir('dev-args');
    dirs.push(parent);
    const data = join(parent, 'data');
    const refusals: [string[], RegExp][] = [
      [['--regions', 'eu,us,eu'], /'eu,us,eu' is invalid\. eu is listed twice/],
      [['--regions', 'EU'], /"EU" is not a region id/],
      [['--regions', 'a,b,c,d,e,f,g,h,i'], /at most 8 regions, got 9/],
      [['--base-port', '0'], /'0' is invalid\. must be a port/],
      [['--base-port', '65535'], /--base-port: 3 regions from port 65535 would pass port 65535/],
    ];
    for (const [args, message] of refusals) {
      const failed = await run(process.execPath, [CLI, 'dev', '--data', data, ...args]).then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stderr).toMatch(message);
    }
    expect(() => statSync(data)).toThrow(/ENOENT/);
  });
});
