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
    // Only stored events: what the listener saw is in the store's logs with the same hash.
    const store = c.stores.get('us');
    for (const { event, hash } of seen.slice(0, 5)) {
      const [stored] = (await store?.readLog(event.origin, event.seq, 1)) ?? [];
      expect(stored?.hash).toEqual(hash);
    }
  });
});
