/**
 * The rules of as-of reads where logs are unusual (issue 11, as-of.ts):
 * - a log whose times fall (written by a node older than event-time.ts, whose clock stepped back):
 *   each origin's prefix ends at the tenant's first event later than `at`;
 * - a hold made by an incarnation that lost its disk and captured by its successor: the capture
 *   needs an event of another origin, so it waits for it, and a snapshot at a vector that leaves
 *   the hold out is refused with a clear reason, never a crash.
 */
import { type Replica, type Store, type StoredEvent, type TenantEventPage, tenantAsOf } from '@allot/replica';
import type { MemoryStore } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { type Cluster, cluster } from './cluster.js';
import { harness, settle as settleOn } from './support.js';

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

describe('as-of reads of a log whose times fall', () => {
  it('end each origin’s prefix at the tenant’s first event later than `at`', async () => {
    const h = await harness();
    const grant = { tenant: 'acme', grantId: 'g1', amount: 100, priority: 100, expiresAt: null };
    expect((await settleOn(h.clock, h.replica.grant(grant))).status).toBe('accepted');
    for (const [key, amount] of [
      ['a', 10],
      ['b', 20],
      ['c', 30],
    ] as const) {
      h.clock.advance(1_000);
      const debit = { tenant: 'acme', amount, idempotencyKey: key, metadata: null };
      expect((await settleOn(h.clock, h.replica.debit(debit))).status).toBe('accepted');
    }
    // The store as an older node wrote it: its clock stepped back 5 s before the third debit.
    const t0 = (await h.store.readLog(h.replica.origin, 1, 1))[0]?.event.at as number;
    const fallen: Store = Object.assign(Object.create(h.store) as Store, {
      async readTenantEvents(tenant: string, cursor: string | null, limit: number): Promise<TenantEventPage> {
        const page = await h.store.readTenantEvents(tenant, cursor, limit);
        const events = page.events.map((stored) =>
          stored.event.seq === 4 ? { ...stored, event: { ...stored.event, at: t0 - 2_000 } } : stored,
        );
        return { events, next: page.next };
      },
    });
    const origin = h.replica.origin;
    // Times by seq: t0, t0 + 1 s, t0 + 2 s, t0 − 2 s.
    expect(await tenantAsOf(fallen, 'acme', t0 - 2_000, {})).toBeUndefined();
    // seq 4 is dated before t0 + 1.5 s but follows seq 3 (t0 + 2 s): it is left out with seq 3.
    expect(await tenantAsOf(fallen, 'acme', t0 + 1_500, {})).toMatchObject({
      figures: { balance: 90 },
      versionVector: { [origin]: 2 },
    });
    expect(await tenantAsOf(fallen, 'acme', t0 + 2_000, {})).toMatchObject({
      figures: { balance: 40 },
      versionVector: { [origin]: 4 },
    });
    await settleOn(h.clock, h.replica.close());
  });
});

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
    // The hold is stranded with the lost incarnation until it is retired (core holdStranded).
    expect((await settle(c, eu.retire(first))).status).toBe('accepted');
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
