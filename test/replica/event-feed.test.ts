/**
 * The replica's durable-event feed (issue 13): every event reaches a listener once it is durable
 * here, own and received alike, each origin's in seq order, each once, and only what the store
 * holds (a listener never sees an event a crash could take back).
 */
import type { StoredEvent } from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { cluster } from './cluster.js';

const REGIONS = ['eu', 'us', 'ap'];
const grant = (amount: number, grantId = 'g1') => ({
  tenant: 'acme',
  grantId,
  amount,
  priority: 100,
  expiresAt: null,
});
const debit = (key: string, amount = 1) => ({ tenant: 'acme', amount, idempotencyKey: key, metadata: null });

describe('the durable-event feed', () => {
  it('hands a listener every own and received event once, each origin in seq order, all of them stored', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    const seen: StoredEvent[] = [];
    const unsubscribe = c.node('us').feed.subscribe((events) => {
      seen.push(...events);
    });
    await Promise.all([c.node('eu').grant(grant(900)), c.run(20)]);
    await Promise.all([
      ...REGIONS.flatMap((region) =>
        Array.from({ length: 10 }, (_, i) => c.node(region).debit(debit(`${region}-${i}`))),
      ),
      c.run(200),
    ]);
    // Every region's 10 debits (and eu's grant) folded at us, and the listener has them all.
    await c.until(() => {
      const vector = c.node('us').versionVector();
      const total = Object.values(vector).reduce((sum, seq) => sum + seq, 0);
      return Object.keys(vector).length === 3 && total >= 31 && total === seen.length;
    });
    unsubscribe();
    const byOrigin = new Map<string, number[]>();
    for (const { event } of seen)
      byOrigin.set(event.origin, [...(byOrigin.get(event.origin) ?? []), event.seq]);
    const vector = c.node('us').versionVector();
    for (const [origin, seqs] of byOrigin) {
      // Each origin's log from seq 1 (the listener was there from the start), in order, each once.
      expect(seqs).toEqual(Array.from({ length: vector[origin] ?? 0 }, (_, i) => i + 1));
    }
    expect([...byOrigin.keys()].sort()).toEqual(REGIONS.map((region) => c.node(region).origin).sort());
    // Only stored events: what the listener saw is in the store's logs, record for record.
    const store = c.stores.get('us');
    for (const { event, record } of seen.slice(0, 5)) {
      const [stored] = (await store?.readLog(event.origin, event.seq, 1)) ?? [];
      expect(stored?.event).toEqual(event);
      expect(stored?.record).toEqual(record);
    }
  });
});

describe('the durable-tenants feed', () => {
  it('names, with each durable batch, exactly the tenants of its events, own and received', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    const calls: { tenants?: string[]; events?: string[] }[] = [];
    const feed = c.node('us').feed;
    const stopTenants = feed.subscribeTenants((tenants) => {
      calls.push({ tenants: [...tenants].sort() });
    });
    const stopEvents = feed.subscribe((events) => {
      const last = calls[calls.length - 1];
      if (last !== undefined) last.events = [...new Set(events.map(({ event }) => event.tenant))].sort();
    });
    const tenantGrant = (tenant: string) => ({ ...grant(50), tenant });
    await Promise.all([
      c.node('eu').grant(tenantGrant('beta')),
      c.node('us').grant(tenantGrant('gamma')),
      c.node('us').grant(grant(300)),
      c.run(50),
    ]);
    await Promise.all([
      c.node('us').debit(debit('us-1')),
      c.node('eu').debit({ ...debit('eu-1'), tenant: 'beta' }),
      c.run(200),
    ]);
    await c.until(() => Object.values(c.node('us').versionVector()).reduce((sum, seq) => sum + seq, 0) >= 5);
    stopTenants();
    stopEvents();
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) expect(call.tenants).toEqual(call.events);
    expect([...new Set(calls.flatMap((call) => call.tenants ?? []))].sort()).toEqual([
      'acme',
      'beta',
      'gamma',
    ]);
  });
});
