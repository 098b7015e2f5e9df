/**
 * No dirty reads (issue 9 item 5): after a failed store write ("nothing was changed"), no read
 * shows an effect that is later undone; a read of a tenant with events in flight waits for them.
 */

import { MemoryStore } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { harness, holdCommits, settle } from './support.js';

const grant = { tenant: 'acme', grantId: 'g', amount: 100, priority: 1, expiresAt: null };
const debit = (key: string, amount: number) => ({
  tenant: 'acme',
  amount,
  idempotencyKey: key,
  metadata: null,
});

describe('reads see only durable state', () => {
  it('a read during a commit that fails never shows the refused debits', async () => {
    const held = holdCommits();
    const h = await harness();
    await h.reopen(MemoryStore.empty({ commitLatency: held.latency }));
    await settle(h.clock, h.replica.grant(grant));
    held.hold();
    h.store.failNextCommit(new Error('disk full'));
    const debits = [h.replica.debit(debit('a', 40)), h.replica.debit(debit('b', 30))];
    await held.started(1); // their commit is on its way to the disk, held there
    expect(h.replica.balance('acme')?.balance).toBe(30); // decided, in the fold, not durable yet
    const read = h.replica.durableBalance('acme');
    const cluster = h.replica.clusterView().versionVector;
    held.releaseAll();
    const outcomes = await settle(h.clock, Promise.all(debits));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['unavailable', 'unavailable']);
    expect((await settle(h.clock, read))?.balance).toBe(100);
    expect((await h.replica.durableBalance('acme'))?.debited).toBe(0);
    expect(h.replica.clusterView().versionVector).toEqual(cluster);
  });

  it('a read of a tenant with a commit in flight answers once it is durable, with it', async () => {
    const held = holdCommits();
    const h = await harness();
    await h.reopen(MemoryStore.empty({ commitLatency: held.latency }));
    await settle(h.clock, h.replica.grant(grant));
    held.hold();
    const pending = h.replica.debit(debit('a', 40));
    await held.started(1); // in flight, held
    const read = h.replica.durableBalance('acme');
    held.releaseAll();
    const [outcome, view] = await settle(h.clock, Promise.all([pending, read]));
    expect(outcome.status).toBe('accepted');
    expect(view?.balance).toBe(60);
    expect(view?.versionVector).toEqual(h.replica.versionVector());
  });

  it('a read of a busy tenant is answered although debits keep coming', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant({ ...grant, amount: 10_000 }));
    let answered: number | undefined;
    const debits = [h.replica.debit(debit('first', 1))];
    await new Promise((resolve) => setImmediate(resolve));
    const read = h.replica.durableBalance('acme').then((view) => {
      answered = view?.debited;
    });
    for (let i = 0; i < 200 && answered === undefined; i++) {
      debits.push(h.replica.debit(debit(`k${i}`, 1)));
      await new Promise((resolve) => setImmediate(resolve));
      h.clock.advance(1);
    }
    await settle(h.clock, read);
    await settle(h.clock, Promise.all(debits));
    expect(answered).toBeGreaterThanOrEqual(1);
    expect(answered).toBeLessThanOrEqual(debits.length);
    expect((await h.replica.durableBalance('acme'))?.debited).toBe(debits.length);
  });
});

describe('policy reads see only durable state', () => {
  it('a policy read during a commit that fails never shows the refused change', async () => {
    const held = holdCommits();
    const h = await harness();
    await h.reopen(MemoryStore.empty({ commitLatency: held.latency }));
    const before = await h.replica.durablePolicy('acme');
    held.hold();
    h.store.failNextCommit(new Error('disk full'));
    const change = h.replica.setPolicy('acme', { overdraft: { eu: 500 }, weights: {}, blocked: true });
    await held.started(1); // the change is on its way to the disk, held there
    expect(h.replica.policy('acme').blocked).toBe(true); // in the document, not durable yet
    const read = h.replica.durablePolicy('acme');
    held.releaseAll();
    expect(await settle(h.clock, change)).toEqual({ status: 'unavailable', reason: 'store_failed' });
    expect(await settle(h.clock, read)).toEqual(before);
    expect(h.replica.policy('acme')).toEqual(before);
  });

  it('a policy read during a commit that succeeds answers with the change once durable', async () => {
    const held = holdCommits();
    const h = await harness();
    await h.reopen(MemoryStore.empty({ commitLatency: held.latency }));
    held.hold();
    const change = h.replica.setPolicy('acme', { overdraft: { eu: 500 }, weights: {}, blocked: false });
    await held.started(1);
    const read = h.replica.durablePolicy('acme');
    held.releaseAll();
    await settle(h.clock, change);
    expect((await settle(h.clock, read)).overdraft).toEqual({ eu: 500 });
  });
});
