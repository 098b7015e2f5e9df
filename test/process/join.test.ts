/**
 * Issue 11, joining by checkpoint with real processes: three regions (through relays) hold a few
 * thousand events and write checkpoints every 1,000; a fourth region, in every config from the
 * start (the three never wait for it), starts on an empty data directory, receives a checkpoint its
 * three peers agree on plus the tails after it — not every event — then serves debits, and every
 * region shows the same balances. Then it is stopped while the others go on past the threshold: it
 * comes back far behind, not empty, and joins by a checkpoint again over its own log.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type ProcessCluster, startProcessCluster } from './cluster-process.js';
import { call, eventually, removeDir, TOKENS } from './node-process.js';

const TENANTS = ['acme', 'globex'];
let cluster: ProcessCluster | undefined;

afterAll(async () => {
  await cluster?.stop();
  for (const dir of cluster?.dirs.values() ?? []) removeDir(dir);
});

const url = (region: string) => cluster?.nodes.get(region)?.url as string;

async function vectorOf(region: string): Promise<string> {
  const answer = await call(url(region), TOKENS.admin, 'GET', '/v1/cluster');
  const vector = (answer.body as { versionVector?: Record<string, number> }).versionVector ?? {};
  return JSON.stringify(Object.entries(vector).sort());
}

async function balancesOf(region: string): Promise<(number | null)[]> {
  return Promise.all(
    TENANTS.map(async (tenant) => {
      const answer = await call(url(region), TOKENS.auditor, 'GET', `/v1/tenants/${tenant}/balance`);
      return answer.status === 200 ? (answer.body as { balance: number }).balance : null;
    }),
  );
}

async function converged(regions: readonly string[]): Promise<void> {
  await eventually(
    async () => Promise.all(regions.map(vectorOf)),
    (vectors) => vectors.every((vector) => vector === vectors[0] && vector !== '[]'),
    60_000,
  );
}

/** Events of `tenant` the node at `region` serves in its events pages (what its store indexed). */
async function eventsServed(region: string, tenant: string): Promise<number> {
  let count = 0;
  let after: string | null = null;
  for (;;) {
    const query: string = after === null ? '?limit=1000' : `?limit=1000&after=${encodeURIComponent(after)}`;
    const page = await call(url(region), TOKENS.auditor, 'GET', `/v1/tenants/${tenant}/events${query}`);
    const body = page.body as { events: unknown[]; next: string | null };
    count += body.events.length;
    if (body.next === null) return count;
    after = body.next;
  }
}

describe('a fourth region joins by checkpoint (real processes)', () => {
  it('gets a checkpoint and the tails, not every event, then serves debits; balances equal everywhere', async () => {
    cluster = await startProcessCluster(['ap', 'eu', 'us', 'sa'], {
      later: ['sa'],
      extra: { checkpoint: { everyEvents: 1_000, everyMs: 600_000 }, join: { thresholdEvents: 1_000 } },
    });
    for (const tenant of TENANTS) {
      await eventually(
        () =>
          call(url('eu'), TOKENS.admin, 'POST', `/v1/tenants/${tenant}/grants`, {
            grantId: 'g1',
            amount: 10_000_000,
          }),
        (answer) => answer.status === 201,
      );
    }
    await converged(['ap', 'eu', 'us']);
    for (const region of ['ap', 'eu', 'us']) {
      for (let from = 0; from < 1_000; from += 500) {
        const debits = Array.from({ length: 500 }, (_, i) => ({
          tenant: TENANTS[i % 2] as string,
          amount: 1 + ((from + i) % 3),
          idempotencyKey: `${region}-${from + i}`,
        }));
        const answer = await eventually(
          () => call(url(region), TOKENS.service, 'POST', '/v1/debits/batch', { debits }),
          (result) => result.status === 200,
        );
        const results = (answer.body as { results: { status: string }[] }).results;
        expect(results.every((result) => result.status === 'accepted' || result.status === 'replayed')).toBe(
          true,
        );
      }
    }
    await converged(['ap', 'eu', 'us']);
    for (const region of ['ap', 'eu', 'us'])
      expect(cluster.nodes.get(region)?.output()).toContain('"msg":"checkpoint written"');
    const served = await eventsServed('eu', 'acme');

    const sa = await cluster.restart('sa');
    await eventually(
      async () => sa.output(),
      (output) => output.includes('"msg":"joined by checkpoint: the tails after it come from the peers"'),
      60_000,
    );
    await converged(['ap', 'eu', 'us', 'sa']);
    // It got a checkpoint: the bytes are counted, and its store indexed only the tails after it.
    const metrics = await fetch(`${sa.url}/metrics`).then((response) => response.text());
    expect(metrics).toMatch(/^allot_joins_total 1$/m);
    expect(Number(/^allot_join_bytes_total (\d+)$/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThan(0);
    expect(await eventsServed('sa', 'acme')).toBeLessThan(served / 2);
    // It serves debits, and every region agrees on the balances.
    const debit = await eventually(
      () =>
        call(sa.url, TOKENS.service, 'POST', '/v1/tenants/acme/debits', {
          amount: 7,
          idempotencyKey: 'sa-1',
        }),
      (answer) => answer.status === 201,
      60_000,
    );
    expect(debit.status).toBe(201);
    await converged(['ap', 'eu', 'us', 'sa']);
    const expected = await balancesOf('eu');
    for (const region of ['ap', 'us', 'sa']) expect(await balancesOf(region)).toEqual(expected);
  }, 240_000);

  it('stopped and left far behind, it joins by a checkpoint again over its own log, and replays its key', async () => {
    const running = cluster;
    if (running === undefined) throw new Error('the cluster of the test before is not running');
    const checkpoints = () =>
      (running.nodes.get('us')?.output() ?? '').split('"msg":"checkpoint written"').length;
    const written = checkpoints();
    const old = running.nodes.get('sa');
    old?.child.kill('SIGTERM');
    await old?.exited;
    for (const region of ['ap', 'eu', 'us']) {
      const debits = Array.from({ length: 500 }, (_, i) => ({
        tenant: TENANTS[i % 2] as string,
        amount: 1,
        idempotencyKey: `${region}-late-${i}`,
      }));
      await eventually(
        () => call(url(region), TOKENS.service, 'POST', '/v1/debits/batch', { debits }),
        (result) => result.status === 200,
      );
    }
    await converged(['ap', 'eu', 'us']);
    // A checkpoint past what sa holds: what it lacks is in it, not only in the tails.
    await eventually(
      async () => checkpoints(),
      (count) => count > written,
      60_000,
    );
    const sa = await running.restart('sa');
    await eventually(
      async () => sa.output(),
      (output) => output.includes('"msg":"joined by checkpoint: the tails after it come from the peers"'),
      60_000,
    );
    await converged(['ap', 'eu', 'us', 'sa']);
    const expected = await balancesOf('eu');
    for (const region of ['ap', 'us', 'sa']) expect(await balancesOf(region)).toEqual(expected);
    const replay = await eventually(
      () =>
        call(sa.url, TOKENS.service, 'POST', '/v1/tenants/acme/debits', {
          amount: 7,
          idempotencyKey: 'sa-1',
        }),
      (answer) => answer.status !== 503,
      60_000,
    );
    expect(replay.status).toBe(200);
    expect(await balancesOf('sa')).toEqual(expected);
  }, 240_000);
});
