/**
 * The archive task (replica archiving.ts) on three replicas with memory stores and one manual clock:
 * under a steady debit load with every region acknowledging, the live store stops growing while the
 * archive grows; nothing users see changes (balances, events pages, a refund of an archived debit,
 * a replay of its key, a restart that recovers from the archive); a region never heard holds
 * everything back.
 */
import { ARCHIVE_AFTER_MS_MAX } from '@allot/replica';
import { MemoryStore, sha256 } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { type Cluster, cluster } from './cluster.js';
import { running, storedEvents, TENANTS } from './join-world.js';

const REGIONS = ['eu', 'us', 'ap'];
const AFTER_MS = 5_000;
const grant = { tenant: 'acme', grantId: 'g1', amount: 1_000_000_000, priority: 100, expiresAt: null };
const debit = (key: string, amount = 1) => ({ tenant: 'acme', amount, idempotencyKey: key, metadata: null });

async function eventsOf(c: Cluster, region: string): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await c.node(region).tenantEvents('acme', cursor, 1000);
    for (const { event } of page.events) seen.push(`${event.origin}/${event.seq}/${event.kind}`);
    cursor = page.next;
  } while (cursor !== null);
  return seen;
}

describe('archiving (issue 11)', () => {
  it('keeps the live store bounded under steady load while the archive grows, and changes nothing users see', async () => {
    const c = await cluster(REGIONS, { archiveAfterMs: AFTER_MS, recordWindowRecords: 1 });
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant), c.run(50)]);
    const first = await Promise.all([c.node('eu').debit(debit('first', 7)), c.run(20)]);
    if (first[0].status !== 'accepted') throw new Error(`first debit: ${first[0].status}`);
    const debitId = first[0].debit.debitId;
    const store = () => c.stores.get('eu') as MemoryStore;
    const samples: { liveKeys: number; liveBytes: number; archiveBytes: number }[] = [];
    for (let second = 1; second <= 80; second++) {
      const debits = REGIONS.flatMap((region) =>
        Array.from({ length: 4 }, (_, i) => c.node(region).debit(debit(`${region}-${second}-${i}`))),
      );
      await c.run(1000);
      expect((await Promise.all(debits)).every((outcome) => outcome.status === 'accepted')).toBe(true);
      if (second % 10 === 5) {
        const usage = await store().usage();
        samples.push({
          liveKeys: usage.liveKeys,
          liveBytes: usage.liveBytes,
          archiveBytes: usage.archive.bytes,
        });
      }
    }
    // Steady state from the third sample on (past AFTER_MS and a sweep): the live store holds what
    // is younger than AFTER_MS plus one sweep interval, however long the load runs.
    const steady = samples.slice(2);
    const floor = steady[0] as (typeof samples)[number];
    for (const sample of steady) {
      expect(sample.liveKeys).toBeLessThanOrEqual(floor.liveKeys * 1.2);
      expect(sample.liveBytes).toBeLessThanOrEqual(floor.liveBytes * 1.2);
    }
    for (let i = 1; i < samples.length; i++)
      expect((samples[i] as (typeof samples)[number]).archiveBytes).toBeGreaterThan(
        (samples[i - 1] as (typeof samples)[number]).archiveBytes,
      );
    // 80 s of load, ~15 s of it live: most of the history is in the archive.
    const archived = await store().archivedSeqs();
    const vector = c.node('eu').versionVector();
    for (const [origin, seq] of Object.entries(vector))
      expect(archived[origin] ?? 0).toBeGreaterThan(seq / 2);

    // Nothing users see changed: pages, a refund of an archived debit, a replay of its key, a restart.
    await c.until(() => new Set(REGIONS.map((region) => c.node(region).balance('acme')?.balance)).size === 1);
    const events = await eventsOf(c, 'eu');
    expect(events.filter((event) => event.endsWith('/debit'))).toHaveLength(1 + 80 * 3 * 4);
    expect(new Set(events).size).toBe(events.length);
    const replayed = await Promise.all([c.node('eu').debit(debit('first', 7)), c.run(20)]);
    expect(replayed[0]).toMatchObject({ status: 'replayed', debit: { debitId } });
    const refunded = await Promise.all([
      c.node('eu').refund({ tenant: 'acme', debitId, amount: 3, idempotencyKey: 'r1' }),
      c.run(20),
    ]);
    expect(refunded[0]).toMatchObject({ status: 'accepted', refund: { amount: 3, debitId } });
    await c.run(200);
    const balance = c.node('eu').balance('acme');
    const restarted = await c.crash('eu');
    expect(restarted.balance('acme')).toEqual(balance);
    expect(await eventsOf(c, 'eu')).toEqual([...events, ...(await eventsOf(c, 'eu')).slice(events.length)]);
  }, 60_000);

  it('a start from a checkpoint folds a tail read back from the archive', async () => {
    const c = await cluster(REGIONS, {
      archiveAfterMs: 2_000,
      checkpoint: { everyEvents: 1_000, everyMs: 1_000 },
    });
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant), c.run(50)]);
    for (let second = 1; second <= 30; second++) {
      const debits = REGIONS.map((region) => c.node(region).debit(debit(`${region}-${second}`)));
      await c.run(1000);
      await Promise.all(debits);
    }
    await c.until(() => new Set(REGIONS.map((region) => c.node(region).balance('acme')?.balance)).size === 1);
    expect(Object.keys(await (c.stores.get('eu') as MemoryStore).archivedSeqs()).length).toBe(3);
    const balance = c.node('eu').balance('acme');
    const events = await eventsOf(c, 'eu');
    const restarted = await c.crash('eu');
    expect(c.logs.get('eu')?.lines.map((line) => line.message)).toContain(
      'fold rebuilt from a checkpoint and the tails after it',
    );
    expect(restarted.balance('acme')).toEqual(balance);
    expect(await eventsOf(c, 'eu')).toEqual(events);
  }, 60_000);

  it('refuses an archiveAfterMs out of its bounds at open', async () => {
    for (const archiveAfterMs of [-1, 1.5, ARCHIVE_AFTER_MS_MAX + 1])
      await expect(cluster(['eu'], { archiveAfterMs })).rejects.toThrow(/archiveAfterMs must be an integer/);
  });

  it('moves nothing while a configured region has never been heard', async () => {
    const c = await cluster(REGIONS, { archiveAfterMs: AFTER_MS });
    c.network.cutLink('eu', 'ap');
    c.network.cutLink('us', 'ap');
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant), c.run(50)]);
    for (let second = 1; second <= 30; second++) {
      const debits = Array.from({ length: 4 }, (_, i) => c.node('eu').debit(debit(`eu-${second}-${i}`)));
      await c.run(1000);
      await Promise.all(debits);
    }
    expect(await (c.stores.get('eu') as MemoryStore).archivedSeqs()).toEqual({});
    expect((await (c.stores.get('eu') as MemoryStore).usage()).archive.files).toBe(0);
  }, 60_000);

  it('a region that joined by checkpoint archives its logs from their bases on; a restart reads them back', async () => {
    const w = await running({ archiveAfterMs: 0 });
    const sa = await w.open('sa', MemoryStore.empty({ archiveHash: sha256 }));
    const all = ['ap', 'eu', 'us', 'sa'];
    await w.until(() => w.converged(all));
    const store = () => w.stores.get('sa') as MemoryStore;
    const bases = new Map((await store().bases()).map((base) => [base.origin, base.seq]));
    expect(bases.size).toBeGreaterThan(0);
    for (const region of ['ap', 'eu', 'us']) await w.debits(region, 300, `${region}-after`);
    await w.until(() => w.converged(all));
    const held = await storedEvents(w, 'sa');
    // Two sweeps: every region's summaries acknowledged the tails, and they moved.
    const end = w.clock.now() + 25_000;
    await w.until(() => w.clock.now() >= end, 26_000);
    const archived = await store().archivedSeqs();
    for (const [origin, base] of bases) expect(archived[origin] ?? 0).toBeGreaterThan(base);
    const usage = await store().usage();
    expect(usage.archive.files).toBeGreaterThan(0);
    // Nothing users see changed, and a restart reads the archived tails back.
    expect(await storedEvents(w, 'sa')).toBe(held);
    const balances = w.balances('sa');
    await sa.close();
    const restarted = await w.open('sa', store().crash());
    await w.until(() => w.converged(all));
    expect(TENANTS.map((tenant) => restarted.balance(tenant)?.balance ?? null)).toEqual(balances);
    expect(await storedEvents(w, 'sa')).toBe(held);
  }, 120_000);
});
