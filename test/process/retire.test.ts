/**
 * Issue 11 "Retire a lost incarnation" with real processes: eu is killed and its data directory
 * wiped; it starts again as a new incarnation, and the rights the lost one held show as stranded
 * at both regions and cannot be spent. An admin retires the lost incarnation over HTTP: the answer
 * names what moved and the risk, `stranded` empties everywhere, and the credits are spendable again.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useProcessCluster } from './cluster-process.js';
import { call, eventually, TOKENS } from './node-process.js';

const processes = useProcessCluster(['eu', 'us']);
const url = processes.url;

interface ClusterBody {
  origin: string;
  versionVector: Record<string, number>;
  stranded: { origin: string; region: string; rights: number; tenants: number; held: number }[];
}

const cluster = async (region: string) =>
  (await call(url(region), TOKENS.auditor, 'GET', '/v1/cluster')).body as ClusterBody;

const balance = async (region: string) =>
  (await call(url(region), TOKENS.auditor, 'GET', '/v1/tenants/acme/balance')).body as {
    balance: number;
    regions: Record<string, { rights: number }>;
  };

const debit = (key: string, amount: number) =>
  call(url('eu'), TOKENS.service, 'POST', '/v1/tenants/acme/debits', { amount, idempotencyKey: key });

describe('retiring the incarnation of a wiped data directory', () => {
  it('shows its rights stranded, then moves them to the new incarnation, spendable again', async () => {
    const ready = (region: string) =>
      eventually(
        async () => (await fetch(`${url(region)}/readyz`)).status,
        (status) => status === 200,
      );
    await Promise.all([ready('eu'), ready('us')]);
    const granted = await eventually(
      () =>
        call(url('eu'), TOKENS.admin, 'POST', '/v1/tenants/acme/grants', { grantId: 'g1', amount: 1_000 }),
      (answer) => answer.status === 201,
    );
    expect(granted.status).toBe(201);
    // The grant's share at eu (the rest went to us by the region weights) and eu's log, at us too.
    const lost = await cluster('eu');
    const lostSeq = lost.versionVector[lost.origin] ?? 0;
    await eventually(
      () => cluster('us'),
      (view) => (view.versionVector[lost.origin] ?? 0) === lostSeq,
    );
    const before = await eventually(
      () => balance('us'),
      (view) => view.balance === 1_000,
    );
    const stranded = before.regions.eu?.rights ?? 0;
    expect(stranded).toBeGreaterThan(0);

    // eu's disk is gone: killed, its data directory wiped, started again as a new incarnation.
    const eu = processes.cluster().nodes.get('eu');
    eu?.child.kill('SIGKILL');
    await eu?.exited;
    rmSync(join(processes.cluster().dirs.get('eu') as string, 'data'), { recursive: true, force: true });
    await processes.cluster().restart('eu');
    await ready('eu');
    const current = await cluster('eu');
    expect(current.origin).not.toBe(lost.origin);
    const shown = { origin: lost.origin, region: 'eu', rights: stranded, tenants: 1, held: 0 };
    await eventually(
      () => cluster('eu'),
      (view) => JSON.stringify(view.stranded) === JSON.stringify([shown]),
    );
    await eventually(
      () => cluster('us'),
      (view) => JSON.stringify(view.stranded) === JSON.stringify([shown]),
    );
    // What the lost incarnation held cannot be spent: only us's share is reachable.
    const whole = await eventually(
      () => debit('whole-before', 1_000),
      (answer) => answer.status !== 503,
    );
    expect(whole.status).toBe(402);

    // Retire it over HTTP (admin only).
    const path = `/v1/cluster/incarnations/${encodeURIComponent(lost.origin)}/retire`;
    expect((await call(url('eu'), TOKENS.service, 'POST', path)).status).toBe(403);
    const retired = await call(url('eu'), TOKENS.admin, 'POST', path);
    expect(retired.status).toBe(200);
    expect(retired.body).toMatchObject({
      origin: lost.origin,
      region: 'eu',
      by: current.origin,
      through: lostSeq,
      rights: stranded,
      tenants: 1,
      moved: [{ tenant: 'acme', rights: stranded, overdraftInUse: 0 }],
      peersAsked: ['us'],
    });
    expect((retired.body as { risk: string }).risk).toContain(`after seq ${lostSeq}`);
    const again = await call(url('eu'), TOKENS.admin, 'POST', path);
    expect(again.status).toBe(409);
    expect((again.body as { error: { code: string } }).error.code).toBe('retired');

    // Nothing stranded anywhere; the balance is what it was; all of it can be spent again.
    expect((await cluster('eu')).stranded).toEqual([]);
    await eventually(
      () => cluster('us'),
      (view) => view.stranded.length === 0,
    );
    expect((await balance('eu')).balance).toBe(1_000);
    expect((await balance('eu')).regions.eu?.rights).toBeGreaterThanOrEqual(stranded);
    const spent = await eventually(
      () => debit('whole-after', 1_000),
      (answer) => answer.status === 201,
    );
    expect(spent.status).toBe(201);
    await eventually(
      () => balance('us'),
      (view) => view.balance === 0,
    );
  });
});
