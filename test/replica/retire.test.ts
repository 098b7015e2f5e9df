/**
 * Retiring a lost incarnation (issue 11, DESIGN.md §1): its stranded rights go to its region's
 * current incarnation by durable retire events; no node accepts its events past the retired seq;
 * a node whose own incarnation was retired (a data directory restored from a backup) takes no
 * writes and refuses to start with one line.
 */
import type { Replica } from '@allot/replica';
import { MemoryStore } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { type Cluster, cluster } from './cluster.js';
import { acmeGrant as grant } from './support.js';

const NO_POLICY = { weights: {}, blocked: false };
const debit = (key: string, amount: number) => ({
  tenant: 'acme',
  amount,
  idempotencyKey: key,
  metadata: null,
});

async function settle<T>(c: Cluster, promise: Promise<T>): Promise<T> {
  let done = false;
  void promise.finally(() => {
    done = true;
  });
  await c.until(() => done);
  return promise;
}

const rightsAt = (replica: Replica, region: string) => replica.balance('acme')?.regions[region]?.rights ?? 0;

/** eu grants 100 and debits 30 as its first incarnation, us learns all of it, then eu's disk is lost. */
async function lostIncarnation(regions: readonly string[] = ['eu', 'us']) {
  const c = await cluster(regions, { rebalancing: 'static', borrowWaitMs: 0 });
  await c.until(() => regions.every((region) => c.node(region).writable));
  const lost = c.node('eu').origin;
  expect((await settle(c, c.node('eu').grant(grant('g1', 100)))).status).toBe('accepted');
  expect((await settle(c, c.node('eu').debit(debit('d1', 30)))).status).toBe('accepted');
  await c.until(() => regions.every((region) => (c.node(region).versionVector()[lost] ?? 0) === 2));
  c.stores.get('eu')?.flush();
  return { c, lost };
}

describe('retiring a lost incarnation', () => {
  it('moves its stranded rights to the current incarnation, which can spend them', async () => {
    const { c, lost } = await lostIncarnation();
    const eu = await c.loseDisk('eu');
    expect(eu.origin).not.toBe(lost);
    await c.until(() => eu.writable && (eu.versionVector()[lost] ?? 0) === 2);
    await c.run(1_500);
    expect(eu.clusterView().stranded).toEqual([
      { origin: lost, region: 'eu', rights: 70, tenants: 1, held: 0 },
    ]);
    expect((await settle(c, eu.debit(debit('before', 1)))).status).toBe('declined');

    const outcome = await settle(c, eu.retire(lost));
    if (outcome.status !== 'accepted') throw new Error(`retire answered ${outcome.status}`);
    expect(outcome.retire).toMatchObject({
      origin: lost,
      region: 'eu',
      by: eu.origin,
      through: 2,
      rights: 70,
      overdraftInUse: 0,
      tenants: 1,
      events: 1,
      moved: [{ tenant: 'acme', rights: 70, overdraftInUse: 0 }],
      peersAsked: ['us'],
    });
    expect(outcome.retire.risk).toContain('after seq 2');
    expect(eu.clusterView().stranded).toEqual([]);
    expect(rightsAt(eu, 'eu')).toBe(70);
    // The balance is what it was: rights moved, nothing created.
    expect(eu.balance('acme')?.balance).toBe(70);
    await c.until(() => c.node('us').clusterView().stranded.length === 0);
    expect(c.node('us').balance('acme')?.balance).toBe(70);

    const spent = await settle(c, eu.debit(debit('after', 70)));
    expect(spent.status).toBe('accepted');
    expect((await settle(c, eu.debit(debit('past', 1)))).status).toBe('declined');

    // Retired already with nothing stranded since: a clear refusal, nothing written.
    const before = eu.versionVector()[eu.origin];
    const again = await settle(c, eu.retire(lost));
    expect(again).toEqual({ status: 'retired', origin: lost, retired: { by: eu.origin, through: 2 } });
    expect(eu.versionVector()[eu.origin]).toBe(before);
  });

  it('keeps the lost incarnation’s holds held until its retire, then releases them at their expiry', async () => {
    const { c, lost } = await lostIncarnation();
    const held = await settle(
      c,
      c.node('eu').hold({ tenant: 'acme', amount: 20, idempotencyKey: 'h1', ttlMs: 1_000, metadata: null }),
    );
    if (held.status !== 'accepted') throw new Error(`hold answered ${held.status}`);
    const { holdId } = held.hold;
    await c.until(() => (c.node('us').versionVector()[lost] ?? 0) === 3);
    c.stores.get('eu')?.flush();
    const eu = await c.loseDisk('eu');
    await c.until(() => eu.writable && (eu.versionVector()[lost] ?? 0) === 3);
    await c.run(3_000);
    // Past its expiry: the lost disk may have captured or voided it and spent what came back, so
    // the new incarnation neither releases it nor settles it, here or forwarded from us.
    expect(eu.balance('acme')).toMatchObject({ balance: 50, held: 20 });
    const here = await settle(c, eu.settleHold({ tenant: 'acme', holdId, action: 'void' }));
    expect(here).toMatchObject({ status: 'stranded', hold: { holdId, status: 'active' } });
    const forwarded = await settle(c, c.node('us').settleHold({ tenant: 'acme', holdId, action: 'void' }));
    expect(forwarded).toMatchObject({ status: 'stranded', hold: { holdId } });
    expect(eu.versionVector()[eu.origin] ?? 0).toBe(0);
    // The cluster view shows the stranded hold beside the stranded rights.
    expect(eu.clusterView().stranded).toEqual([
      { origin: lost, region: 'eu', rights: 50, tenants: 1, held: 20 },
    ]);

    const outcome = await settle(c, eu.retire(lost));
    if (outcome.status !== 'accepted') throw new Error(`retire answered ${outcome.status}`);
    expect(outcome.retire).toMatchObject({ rights: 50, held: 20 });
    expect(outcome.retire.risk).toContain('holds still active here (20 credits)');
    // Now the hold is this incarnation's: released at once, its expiry being past.
    await c.until(() => eu.balance('acme')?.held === 0);
    expect(eu.balance('acme')).toMatchObject({ balance: 70, held: 0 });
    expect(rightsAt(eu, 'eu')).toBe(70);
    expect(eu.clusterView().stranded).toEqual([]);
    const after = await settle(c, eu.settleHold({ tenant: 'acme', holdId, action: 'void' }));
    expect(after).toMatchObject({ status: 'not_active', hold: { status: 'expired' } });
  });

  it('refuses what is no lost incarnation of this region', async () => {
    const { c, lost } = await lostIncarnation();
    const eu = await c.loseDisk('eu');
    await c.until(() => eu.writable);
    const us = c.node('us');
    expect((await settle(c, eu.retire(eu.origin))).status).toBe('not_found');
    expect((await settle(c, eu.retire(us.origin))).status).toBe('not_found');
    expect((await settle(c, eu.retire('eu#zzzzzzzzzzzzzzzz'))).status).toBe('not_found');
    // Only its own region retires it.
    const fromUs = await settle(c, us.retire(lost));
    expect(fromUs.status === 'not_found' && fromUs.what).toContain('only its own region');
    expect(eu.clusterView().stranded).toHaveLength(1);
  });

  it('frees the lost incarnation’s unused overdraft share', async () => {
    const { c, lost } = await lostIncarnation();
    await settle(c, c.node('us').setPolicy('acme', { overdraft: { eu: 10 }, ...NO_POLICY }));
    await c.until(() => c.node('eu').policy('acme').overdraft.eu === 10);
    const eu = await c.loseDisk('eu');
    await c.until(() => eu.writable && eu.policy('acme').overdraft.eu === 10);
    await c.run(3_000);
    const probe = await settle(c, eu.debit(debit('probe', 1_000)));
    expect(probe.status === 'declined' && probe.available).toBe(0); // the lost one's allowance counts as used
    expect((await settle(c, eu.retire(lost))).status).toBe('accepted');
    const after = await settle(c, eu.debit(debit('probe-2', 1_000)));
    expect(after.status === 'declined' && after.available).toBe(80);
  });

  it('waits for every peer region, then makes every node refuse the retired origin’s events past its seq', async () => {
    const { c, lost } = await lostIncarnation();
    // eu's last debit never leaves it; a backup of its disk keeps it; then the disk is lost.
    c.network.isolateAll();
    expect((await settle(c, c.node('eu').debit(debit('late', 5)))).status).toBe('accepted');
    c.stores.get('eu')?.flush();
    const backup = (c.stores.get('eu') as MemoryStore).backup();
    const eu = await c.loseDisk('eu');
    c.network.healAll();
    await c.until(() => eu.writable && (eu.versionVector()[lost] ?? 0) === 2);
    // us cut off cannot say how much of the lost log it holds: no retire then.
    c.network.isolateAll();
    await c.run(100);
    expect(await settle(c, eu.retire(lost))).toEqual({ status: 'unreachable', regions: ['us'] });
    c.network.healAll();
    await c.run(1_500);
    const outcome = await settle(c, eu.retire(lost));
    if (outcome.status !== 'accepted') throw new Error(`retire answered ${outcome.status}`);
    expect(outcome.retire).toMatchObject({ through: 2, peersAsked: ['us'] });
    await c.until(() => c.node('us').clusterView().stranded.length === 0);

    // The old disk comes back with seq 3: us closes every link that carries it and changes nothing.
    const drops = c.network.drops.length;
    await c.restore('eu', MemoryStore.restored(backup));
    await c.run(3_000);
    const refused = c.network.drops.slice(drops).filter((drop) => drop.reason.includes('retired'));
    expect(refused.length).toBeGreaterThan(0);
    expect(c.node('us').versionVector()[lost]).toBe(2);
    expect(c.node('us').balance('acme')?.balance).toBe(70);
    // The restored node lacks its successor's log, which us holds: it takes no writes.
    expect(c.node('eu').writable).toBe(false);
    expect((await settle(c, c.node('eu').debit(debit('zombie', 1)))).status).toBe('not_ready');
  });

  it('stops a node restored from a backup of the retired incarnation, and refuses its start after', async () => {
    const { c, lost } = await lostIncarnation();
    const backup = (c.stores.get('eu') as MemoryStore).backup();
    const eu = await c.loseDisk('eu');
    await c.until(() => eu.writable && (eu.versionVector()[lost] ?? 0) === 2);
    await c.run(1_500);
    expect((await settle(c, eu.retire(lost))).status).toBe('accepted');
    await c.until(() => c.node('us').clusterView().stranded.length === 0);

    // The old disk comes back: it learns from us that it was retired, and takes no writes.
    const restored = await c.restore('eu', MemoryStore.restored(backup));
    expect(restored.origin).toBe(lost);
    await c.until(() =>
      (c.logs.get('eu')?.lines ?? []).some((line) => line.message.includes('was retired by')),
    );
    expect(restored.writable).toBe(false);
    expect(await settle(c, restored.debit(debit('zombie', 1)))).toEqual({
      status: 'not_ready',
      reason: 'retired',
      waitingFor: [],
    });
    await c.run(100);
    (c.stores.get('eu') as MemoryStore).flush();
    // Its next start refuses with one line.
    await expect(c.crash('eu')).rejects.toThrow(
      /^incarnation eu#\w+ of this data directory was retired by eu#\w+ at seq 2/,
    );
  });

  it('writes checkpoints after a retire (format 2), and a start from one folds as the logs do', async () => {
    const { c, lost } = await lostIncarnation();
    const eu = await c.loseDisk('eu');
    await c.until(() => eu.writable && (eu.versionVector()[lost] ?? 0) === 2);
    await c.run(1_500);
    expect((await settle(c, eu.retire(lost))).status).toBe('accepted');
    expect((await settle(c, eu.debit(debit('after', 20)))).status).toBe('accepted');
    const us = c.node('us');
    await c.until(() => us.versionVector()[eu.origin] === eu.versionVector()[eu.origin]);
    expect(await settle(c, eu.takeCheckpoint())).toBe(true);
    expect(await settle(c, us.takeCheckpoint())).toBe(true);
    // Two nodes at one vector write the same bytes (their signatures differ).
    const newest = async (region: string) => {
      const store = c.stores.get(region) as MemoryStore;
      const [total] = (await store.listCheckpoints()) as [number];
      return (await store.readCheckpoint(total))?.bytes;
    };
    expect(await newest('eu')).toEqual(await newest('us'));
    const before = { balance: eu.balance('acme'), cluster: eu.clusterView().stranded };
    c.stores.get('eu')?.flush();
    const again = await c.crash('eu');
    expect(c.logs.get('eu')?.lines.map((line) => line.message)).toContain(
      'fold rebuilt from a checkpoint and the tails after it',
    );
    expect({ balance: again.balance('acme'), cluster: again.clusterView().stranded }).toEqual(before);
    await c.until(() => again.writable);
    expect((await settle(c, again.retire(lost))).status).toBe('retired');
    expect((await settle(c, again.debit(debit('more', 50)))).status).toBe('accepted');
    expect((await settle(c, again.debit(debit('past', 1)))).status).toBe('declined');
  });
});
