/**
 * As-of reads across two incarnations of one region (issue 11, as-of.ts): a hold made by an
 * incarnation that lost its disk and captured by its successor. The capture needs an event of
 * another origin, so a cut that leaves the hold out cannot hold the capture: the balance as of a
 * time waits for it or ends that origin's prefix before it, and a snapshot at such a vector is
 * refused with a clear reason, never a crash.
 */
import { type Replica, type Store, type StoredEvent, type TenantEventPage, tenantAsOf } from '@allot/replica';
import type { MemoryStore } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { type Cluster, cluster } from './cluster.js';

async function settle<T>(c: Cluster, command: Promise<T>): Promise<T> {
  let done = false;
  const settled = command.finally(() => {
    done = true;
  });
  for (let ms = 0; !done; ms++) {
    if (ms > 10_000) throw new Error('a command did not settle within 10 simulated seconds');
    await c.run(1);
  }
  return settled;
}

describe('as-of reads across incarnations of one region', () => {
  it('a capture by the successor of the incarnation that made the hold', async () => {
    const c = await cluster(['eu', 'us']);
    await c.run(5);
    const grant = { tenant: 'acme', grantId: 'g1', amount: 1_000, priority: 100, expiresAt: null };
    expect((await settle(c, c.node('eu').grant(grant))).status).toBe('accepted');
    await c.run(20);
    const held = await settle(
      c,
      c
        .node('eu')
        .hold({ tenant: 'acme', amount: 50, idempotencyKey: 'h1', ttlMs: 3_600_000, metadata: null }),
    );
    if (held.status !== 'accepted') throw new Error(`hold ${held.status}`);
    const first = c.node('eu').origin;
    await c.until(
      () => (c.node('us').versionVector()[first] ?? 0) === (c.node('eu').versionVector()[first] ?? 0),
    );
    const holdAt = c.clock.now();
    c.stores.get('eu')?.flush();
    await c.run(100);
    const eu: Replica = await c.loseDisk('eu');
    expect(eu.origin).not.toBe(first);
    await c.until(() => eu.writable && (eu.versionVector()[first] ?? 0) > 0);
    await c.run(100);
    const captured = await settle(
      c,
      eu.settleHold({ tenant: 'acme', holdId: held.hold.holdId, action: 'capture', amount: 20 }),
    );
    expect(captured.status).toBe('accepted');
    await c.until(
      () => (c.node('us').versionVector()[eu.origin] ?? 0) === (eu.versionVector()[eu.origin] ?? 0),
    );
    await c.run(50);

    // As of now, at both regions: the capture is folded after the hold, whatever the index order.
    const now = c.clock.now();
    for (const node of [eu, c.node('us')]) {
      expect(await node.balanceAsOf('acme', now)).toMatchObject({ balance: 980, debited: 20, held: 0 });
      expect(await node.balanceAsOf('acme', holdAt)).toMatchObject({ balance: 950, held: 50 });
    }

    // A vector with the successor's capture but without the hold does not fold: a clear refusal.
    const vector = { ...c.node('us').versionVector(), [first]: 0 };
    const refused = await c.node('us').snapshotAt(vector);
    expect(refused).toMatchObject({ status: 'does_not_fold', origin: eu.origin });
    // The whole vector folds (the capture waits for the hold, whichever origin sorts first).
    const whole = await c.node('us').snapshotAt(c.node('us').versionVector());
    expect('header' in whole && whole.tenants).toEqual([
      { tenant: 'acme', balance: 980, granted: 1_000, debited: 20, refunded: 0, expired: 0, held: 0 },
    ]);

    // An index that lists the successor's events first (each origin's still in seq order): the
    // capture waits for the hold, and the figures are the same.
    const store = c.stores.get('us') as MemoryStore;
    const successorFirst: Store = Object.assign(Object.create(store) as Store, {
      async readTenantEvents(tenant: string): Promise<TenantEventPage> {
        const all: StoredEvent[] = [];
        for (let cursor: string | null = null; ; ) {
          const page = await store.readTenantEvents(tenant, cursor, 1_000);
          all.push(...page.events);
          cursor = page.next;
          if (cursor === null) break;
        }
        const rank = (event: StoredEvent) => (event.event.origin === eu.origin ? 0 : 1);
        return { events: all.sort((a, b) => rank(a) - rank(b)), next: null };
      },
    });
    const reordered = await tenantAsOf(successorFirst, 'acme', now, {});
    const direct = await tenantAsOf(store, 'acme', now, {});
    expect(reordered).toEqual(direct);
    expect(reordered?.figures).toMatchObject({ balance: 980, debited: 20, held: 0 });
    for (const region of ['eu', 'us']) await c.node(region).close();
  });
});
