/**
 * Issue 18: with a small record window, records evicted from the heap are read back from the log,
 * so replays, conflicts, refunds and cross-region duplicates answer as with every record in memory,
 * also after a restart.
 */
import { canonicalJson } from '@allot/core';
import { describe, expect, it, vi } from 'vitest';
import { cluster } from './cluster.js';
import { harness, settle } from './support.js';

const grant = (amount = 1000) => ({ tenant: 'acme', grantId: 'g1', amount, priority: 100, expiresAt: null });
const debit = (key: string, amount = 3, metadata: unknown = null) => ({
  tenant: 'acme',
  amount,
  idempotencyKey: key,
  metadata: metadata as null,
});

describe('record window: records off the heap are read back from the log', () => {
  it('replays an evicted key with its original debit, and refuses another body for it', async () => {
    const h = await harness({ recordWindowRecords: 2 });
    await settle(h.clock, h.replica.grant(grant()));
    const first = await settle(h.clock, h.replica.debit(debit('k0', 5, { order: 7 })));
    if (first.status !== 'accepted') throw new Error('debit refused');
    const rest = await settle(
      h.clock,
      h.replica.debitMany(Array.from({ length: 20 }, (_, i) => debit(`k${i + 1}`, 1))),
    );
    expect(rest.every((outcome) => outcome.status === 'accepted')).toBe(true);
    const replay = await settle(h.clock, h.replica.debit(debit('k0', 5, { order: 7 })));
    expect(replay).toMatchObject({ status: 'replayed', debit: first.debit });
    const other = await settle(h.clock, h.replica.debit(debit('k0', 6)));
    expect(other).toMatchObject({ status: 'conflict' });
    expect(h.replica.balance('acme')?.debited).toBe(25);
  });

  it('a batch that repeats a key within itself charges it once, even with no record in memory', async () => {
    const h = await harness({ recordWindowRecords: 0 });
    await settle(h.clock, h.replica.grant(grant()));
    const outcomes = await settle(
      h.clock,
      h.replica.debitMany([debit('a', 2), debit('b', 2), debit('a', 2), debit('a', 3)]),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'accepted',
      'accepted',
      'replayed',
      'conflict',
    ]);
    expect(h.replica.balance('acme')?.debited).toBe(4);
  });

  it('a retry of an own key while its commit is in flight replays it from the segment being written', async () => {
    const h = await harness({ recordWindowRecords: 0 });
    await settle(h.clock, h.replica.grant(grant()));
    // The next commit waits until released: the debit is folded and in its segment, not durable.
    const commit = h.store.commit.bind(h.store);
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    h.store.commit = async (batch, options) => {
      await released;
      return commit(batch, options);
    };
    const metadata = { z: [1, { b: 'é' }], a: null };
    const taken = h.replica.debitMany([debit('own-0', 4), debit('own-1', 5, metadata), debit('own-2', 6)]);
    await h.clock.advance(1);
    const retry = h.replica.debitMany([debit('own-1', 5, metadata), debit('own-1', 9)]);
    release();
    const [first, again] = await settle(h.clock, Promise.all([taken, retry]));
    expect(first.map((outcome) => outcome.status)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(again.map((outcome) => outcome.status)).toEqual(['replayed', 'conflict']);
    expect(again[0]).toMatchObject({ debit: (first[1] as { debit: unknown }).debit });
    expect(h.replica.balance('acme')?.debited).toBe(15);
  });

  it('a retried batch whose every key is off the heap reads each stored segment once, not once per key', async () => {
    const h = await harness({ recordWindowRecords: 0 });
    await settle(h.clock, h.replica.grant(grant(100_000)));
    const batch = Array.from({ length: 300 }, (_, i) => debit(`retried-${i}`, 1, { n: i }));
    const before = h.commits.length;
    const first = await settle(h.clock, h.replica.debitMany(batch));
    expect(first.every((outcome) => outcome.status === 'accepted')).toBe(true);
    // Each commit of the batch is one segment of this region's log.
    const segments = h.commits.length - before;
    const reads = vi.spyOn(h.store, 'readSegments');
    const again = await settle(h.clock, h.replica.debitMany(batch));
    expect(again.map((outcome) => outcome.status)).toEqual(batch.map(() => 'replayed'));
    expect(again.map((outcome) => (outcome.status === 'replayed' ? outcome.debit : null))).toEqual(
      first.map((outcome) => (outcome.status === 'accepted' ? outcome.debit : null)),
    );
    // One read per segment the batch's debits were committed in (each read once, then kept).
    expect(reads.mock.calls.length).toBeGreaterThan(0);
    expect(reads.mock.calls.length).toBeLessThanOrEqual(segments);
    expect(h.replica.balance('acme')?.debited).toBe(300);
  });

  it('a batch with a key read back from the log in its middle still shares its commits', async () => {
    const h = await harness({ recordWindowRecords: 2 });
    await settle(h.clock, h.replica.grant(grant()));
    const first = await settle(h.clock, h.replica.debit(debit('old', 5)));
    if (first.status !== 'accepted') throw new Error('debit refused');
    await settle(h.clock, h.replica.debitMany(Array.from({ length: 5 }, (_, i) => debit(`pushed-${i}`, 1))));
    const before = h.commits.length;
    // `old` is off the heap: its replay is decided after a read, and the 200 debits after it wait
    // for that decision, in order, not for the commit of each one before them.
    const batch = [
      debit('a', 1),
      debit('old', 5),
      ...Array.from({ length: 200 }, (_, i) => debit(`after-${i}`, 1)),
      debit('old', 6),
    ];
    const outcomes = await settle(h.clock, h.replica.debitMany(batch));
    expect(outcomes[0]).toMatchObject({ status: 'accepted' });
    expect(outcomes[1]).toMatchObject({ status: 'replayed', debit: first.debit });
    expect(outcomes.slice(2, 202).every((outcome) => outcome.status === 'accepted')).toBe(true);
    expect(outcomes[202]).toMatchObject({ status: 'conflict' });
    const seqs = outcomes
      .slice(2, 202)
      .map((outcome) => (outcome.status === 'accepted' ? outcome.debit.seq : 0));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(h.commits.length - before).toBeLessThanOrEqual(3);
    expect(h.replica.balance('acme')?.debited).toBe(5 + 5 + 1 + 200);
  });

  it('a retried batch whose every key is off the heap replays each, with new keys between them decided in order', async () => {
    const h = await harness({ recordWindowRecords: 2 });
    await settle(h.clock, h.replica.grant(grant()));
    const first = await settle(
      h.clock,
      h.replica.debitMany(Array.from({ length: 60 }, (_, i) => debit(`k${i}`, 2))),
    );
    const before = h.commits.length;
    // Each old key is read back from the log before it is answered; a new key follows each.
    const retried = Array.from({ length: 60 }, (_, i) => [debit(`k${i}`, 2), debit(`new-${i}`, 1)]).flat();
    const outcomes = await settle(h.clock, h.replica.debitMany(retried));
    for (let i = 0; i < 60; i++) {
      expect(outcomes[2 * i]).toMatchObject({
        status: 'replayed',
        debit: (first[i] as { debit: unknown }).debit,
      });
      expect(outcomes[2 * i + 1]).toMatchObject({ status: 'accepted' });
    }
    const seqs = outcomes.flatMap((outcome) => (outcome.status === 'accepted' ? [outcome.debit.seq] : []));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(h.commits.length - before).toBeLessThanOrEqual(61);
    expect(h.replica.balance('acme')?.debited).toBe(60 * 2 + 60);
  });

  it('refunds an evicted debit, bounded by it, and replays an evicted refund key', async () => {
    const h = await harness({ recordWindowRecords: 1 });
    await settle(h.clock, h.replica.grant(grant()));
    const taken = await settle(h.clock, h.replica.debit(debit('k', 10)));
    if (taken.status !== 'accepted') throw new Error('debit refused');
    const debitId = taken.debit.debitId;
    await settle(h.clock, h.replica.debitMany(Array.from({ length: 5 }, (_, i) => debit(`x${i}`, 1))));
    const partial = await settle(
      h.clock,
      h.replica.refund({ tenant: 'acme', debitId, amount: 4, idempotencyKey: 'r1' }),
    );
    expect(partial).toMatchObject({ status: 'accepted', refund: { amount: 4, debitId } });
    await settle(h.clock, h.replica.debitMany(Array.from({ length: 5 }, (_, i) => debit(`y${i}`, 1))));
    const again = await settle(
      h.clock,
      h.replica.refund({ tenant: 'acme', debitId, amount: 4, idempotencyKey: 'r1' }),
    );
    expect(again).toMatchObject({ status: 'replayed', refund: { amount: 4, debitId } });
    const rest = await settle(h.clock, h.replica.refund({ tenant: 'acme', debitId, idempotencyKey: 'r2' }));
    expect(rest).toMatchObject({ status: 'accepted', refund: { amount: 6 } });
    const more = await settle(
      h.clock,
      h.replica.refund({ tenant: 'acme', debitId, amount: 1, idempotencyKey: 'r3' }),
    );
    expect(more).toEqual({ status: 'exceeds_debit', requested: 1, refundable: 0 });
    const unknown = await settle(
      h.clock,
      h.replica.refund({ tenant: 'acme', debitId: 'eu.aaaaaaaa.99999', idempotencyKey: 'r4' }),
    );
    expect(unknown).toEqual({ status: 'not_found' });
    expect(h.replica.balance('acme')).toMatchObject({ debited: 20, refunded: 10, balance: 990 });
  });

  it('after a restart, replays and refunds keys that are only on disk', async () => {
    const h = await harness({ recordWindowRecords: 1 });
    await settle(h.clock, h.replica.grant(grant()));
    const taken = await settle(h.clock, h.replica.debit(debit('old', 7, { note: 'kept' })));
    if (taken.status !== 'accepted') throw new Error('debit refused');
    await settle(h.clock, h.replica.debitMany(Array.from({ length: 10 }, (_, i) => debit(`n${i}`, 1))));
    const refunded = await settle(
      h.clock,
      h.replica.refund({ tenant: 'acme', debitId: taken.debit.debitId, amount: 2, idempotencyKey: 'r' }),
    );
    expect(refunded.status).toBe('accepted');
    await settle(h.clock, h.replica.debitMany(Array.from({ length: 10 }, (_, i) => debit(`m${i}`, 1))));
    const reopened = await h.reopen(h.store.crash());
    const replay = await settle(h.clock, reopened.debit(debit('old', 7, { note: 'kept' })));
    expect(replay).toMatchObject({ status: 'replayed', debit: taken.debit });
    const refundReplay = await settle(
      h.clock,
      reopened.refund({ tenant: 'acme', debitId: taken.debit.debitId, amount: 2, idempotencyKey: 'r' }),
    );
    expect(refundReplay).toMatchObject({ status: 'replayed', refund: { amount: 2 } });
    const rest = await settle(
      h.clock,
      reopened.refund({ tenant: 'acme', debitId: taken.debit.debitId, idempotencyKey: 'r-rest' }),
    );
    expect(rest).toMatchObject({ status: 'accepted', refund: { amount: 5 } });
    const fresh = await settle(h.clock, reopened.debit(debit('brand-new', 1)));
    expect(fresh.status).toBe('accepted');
    expect(reopened.balance('acme')).toMatchObject({ debited: 28, refunded: 7 });
  });

  it('a key past the retention is forgotten with its bucket: a new debit, never a wrong replay', async () => {
    const retention = 24 * 60 * 1000; // buckets of one minute
    const h = await harness({ recordWindowRecords: 0, idempotencyRetentionMs: retention });
    await settle(h.clock, h.replica.grant(grant()));
    const old = await settle(h.clock, h.replica.debit(debit('k', 4)));
    expect(old.status).toBe('accepted');
    // Within the retention (the sweep runs every minute): still replayed from disk.
    h.clock.advance(retention - 2 * 60 * 1000);
    expect(await settle(h.clock, h.replica.debit(debit('k', 4)))).toMatchObject({ status: 'replayed' });
    // Past the retention and its bucket: the key is new again, and its old debit no longer refundable.
    h.clock.advance(4 * 60 * 1000);
    const later = await settle(h.clock, h.replica.debit(debit('k', 4)));
    expect(later.status).toBe('accepted');
    if (old.status !== 'accepted') throw new Error('unreachable');
    const refund = await settle(
      h.clock,
      h.replica.refund({ tenant: 'acme', debitId: old.debit.debitId, idempotencyKey: 'late' }),
    );
    expect(refund).toEqual({ status: 'not_found' });
  });

  it("with the default window, a peer's debit is not held here: a retry of its key here replays it from the log", async () => {
    const regions = ['eu', 'us'];
    const c = await cluster(regions);
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant(900)), c.run(20)]);
    const [taken] = await Promise.all([c.node('eu').debit(debit('paid-at-eu', 7, { order: 1 })), c.run(10)]);
    if (taken.status !== 'accepted') throw new Error('debit refused');
    await c.until(() => c.node('us').balance('acme')?.debited === 7);
    const [retry] = await Promise.all([c.node('us').debit(debit('paid-at-eu', 7, { order: 1 })), c.run(10)]);
    expect(retry).toMatchObject({ status: 'replayed', debit: taken.debit });
    const [other] = await Promise.all([c.node('us').debit(debit('paid-at-eu', 8)), c.run(10)]);
    expect(other).toMatchObject({ status: 'conflict' });
    // A refund is the debit's region's to take (API.md): us names it.
    const [refund] = await Promise.all([
      c.node('us').refund({ tenant: 'acme', debitId: taken.debit.debitId, idempotencyKey: 'r1', amount: 2 }),
      c.run(10),
    ]);
    expect(refund).toMatchObject({ status: 'wrong_region', region: 'eu' });
    await c.run(50);
    for (const region of regions)
      expect(c.node(region).balance('acme')).toMatchObject({ debited: 7, refunded: 0, balance: 893 });
  });

  it("a retry of a peer's key while the received segment is not durable yet replays it from that segment", async () => {
    const regions = ['eu', 'us'];
    const c = await cluster(regions);
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant(900)), c.run(20)]);
    await c.until(() => c.node('us').balance('acme')?.balance === 900);
    // us's commits of what eu sends wait until released: eu's debit is folded at us, not durable.
    const store = c.stores.get('us') as NonNullable<ReturnType<typeof c.stores.get>>;
    const commit = store.commit.bind(store);
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const eu = c.node('eu').origin;
    let held = 0;
    store.commit = async (batch, options) => {
      if (batch.segments.some((segment) => segment.origin === eu)) {
        held += 1;
        await released;
      }
      return commit(batch, options);
    };
    const [taken] = await Promise.all([c.node('eu').debit(debit('paid-at-eu', 7, { order: 1 })), c.run(10)]);
    if (taken.status !== 'accepted') throw new Error('debit refused');
    await c.until(() => held > 0);
    const retry = c.node('us').debit(debit('paid-at-eu', 7, { order: 1 }));
    await c.run(10);
    release();
    const [answer] = await Promise.all([retry, c.run(10)]);
    expect(answer).toMatchObject({ status: 'replayed', debit: taken.debit });
    await c.run(50);
    for (const region of regions) expect(c.node(region).balance('acme')).toMatchObject({ debited: 7 });
  });

  it.each([
    { window: 'the default window', options: {}, evict: false },
    {
      window: 'a window of 1, the key evicted before the heal',
      options: { recordWindowRecords: 1 },
      evict: true,
    },
  ])('a key accepted at two isolated regions is refunded once ($window)', async ({ options, evict }) => {
    const regions = ['eu', 'us'];
    const c = await cluster(regions, options);
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant(900)), c.run(20)]);
    await c.until(() => regions.every((region) => c.node(region).balance('acme')?.balance === 900));
    c.network.isolateAll();
    const [a, b] = await Promise.all([
      c.node('eu').debit(debit('same-key', 50)),
      c.node('us').debit(debit('same-key', 50)),
      c.run(10),
    ]);
    expect([a.status, b.status]).toEqual(['accepted', 'accepted']);
    // Both push the key out of their window before they hear of each other.
    if (evict)
      await Promise.all([
        c.node('eu').debitMany(Array.from({ length: 5 }, (_, i) => debit(`eu-${i}`, 1))),
        c.node('us').debitMany(Array.from({ length: 5 }, (_, i) => debit(`us-${i}`, 1))),
        c.run(10),
      ]);
    c.network.healAll();
    const vectors = () => new Set(regions.map((region) => canonicalJson(c.node(region).versionVector())));
    await c.until(
      () =>
        vectors().size === 1 && regions.every((region) => c.node(region).balance('acme')?.refunded === 50),
    );
    await c.run(50);
    const debited = evict ? 110 : 100;
    for (const region of regions)
      expect(c.node(region).balance('acme')).toMatchObject({
        debited,
        refunded: 50,
        balance: 900 - debited + 50,
      });
  });
});
