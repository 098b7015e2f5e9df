/**
 * A commit that fails undoes what it held (group-commit.ts): no answer may rest on it. An answer
 * that refuses a request for a key, grant id or amount taken by an own event, or declines it for
 * credits own events not durable yet took, waits until that event is durable, as an acceptance or
 * replay does; when its commit fails the request is unavailable (the client sends it again), never
 * refused for a key that was never taken or declined for credits that were never spent.
 */

import type { MemoryStore } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { type Harness, harness, settle } from './support.js';

const grant = (amount = 1000) => ({ tenant: 'acme', grantId: 'g1', amount, priority: 100, expiresAt: null });
const debit = (key: string, amount = 3) => ({ tenant: 'acme', amount, idempotencyKey: key, metadata: null });

/** The next commit of `h` waits until the returned function is called, then fails. */
function failNextCommit(h: Harness): () => void {
  let fail = () => {};
  const failing = new Promise<void>((_, reject) => {
    fail = () => reject(new Error('disk gone'));
  });
  const store: MemoryStore = h.store;
  const commit = store.commit.bind(store);
  let first = true;
  store.commit = async (batch, options) => {
    if (first) {
      first = false;
      await failing;
    }
    return commit(batch, options);
  };
  return fail;
}

describe('answers around a failed commit', () => {
  it('a retry and a conflicting debit around a failed commit: every answer is the durable debit, or unavailable', async () => {
    // The failure lands at every point of the retry's read-back in turn (microtask turns after it
    // starts), and a debit of the same key with another amount comes before or after it. A
    // conflict was answered at once against a debit whose commit then failed: the key looked taken
    // by a debit that never happened.
    for (let turns = 0; turns < 24; turns++) {
      for (const otherFirst of [false, true]) {
        const label = `turns ${turns}, other ${otherFirst ? 'before' : 'after'} the failure`;
        const h = await harness({ recordWindowRecords: 0 });
        await settle(h.clock, h.replica.grant(grant()));
        const fail = failNextCommit(h);
        const taken = h.replica.debitMany([debit('x', 5)]);
        await h.clock.advance(1);
        const retry = h.replica.debitMany([debit('x', 5)]);
        for (let turn = 0; turn < turns; turn++) await Promise.resolve();
        const other = otherFirst ? h.replica.debitMany([debit('x', 9)]) : null;
        fail();
        const answers = (
          await settle(h.clock, Promise.all([taken, retry, other ?? h.replica.debitMany([debit('x', 9)])]))
        ).flat();
        // The durable record of `x`, as a retry now finds it.
        const [now] = await settle(h.clock, h.replica.debitMany([debit('x', 1)]));
        const statuses = answers.map((answer) => answer.status);
        if (now?.status !== 'conflict') {
          // No debit of `x` became durable: then none was answered as charged or taken.
          expect(statuses, label).toEqual(['unavailable', 'unavailable', 'unavailable']);
          continue;
        }
        expect(statuses, label).toContain('accepted');
        for (const answer of answers) {
          if (answer.status === 'unavailable') continue;
          if (answer.status !== 'accepted' && answer.status !== 'replayed' && answer.status !== 'conflict')
            throw new Error(`${label}: ${answer.status}`);
          expect(answer.debit, `${label}: ${statuses}`).toEqual(now.debit);
        }
        expect(h.replica.balance('acme')?.debited, label).toBe(now.debit.amount);
      }
    }
  });

  it('a debit, hold, refund or grant refused for what a commit that then fails holds is unavailable, not refused', async () => {
    const h = await harness({ recordWindowRecords: 0 });
    await settle(h.clock, h.replica.grant(grant()));
    const paid = await settle(h.clock, h.replica.debit(debit('paid', 10)));
    if (paid.status !== 'accepted') throw new Error('debit refused');
    const fail = failNextCommit(h);
    const hold = (amount: number) => ({
      tenant: 'acme',
      amount,
      idempotencyKey: 'h',
      ttlMs: 60_000,
      metadata: null,
    });
    const refund = (amount: number) => ({
      tenant: 'acme',
      debitId: paid.debit.debitId,
      amount,
      idempotencyKey: 'r',
    });
    const granted = (amount: number) => ({ ...grant(amount), grantId: 'g2' });
    const taken = [
      h.replica.debit(debit('x', 5)),
      h.replica.hold(hold(5)),
      h.replica.refund(refund(2)),
      h.replica.grant(granted(50)),
    ];
    // Decided and folded (the refund after reading its debit back), their commits held.
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    const conflicting = [
      h.replica.debit(debit('x', 9)),
      h.replica.hold(hold(9)),
      h.replica.refund(refund(3)),
      // Past what is left of the debit only if the refund of 2 above happened.
      h.replica.refund({ ...refund(9), idempotencyKey: 'r-more' }),
      h.replica.grant(granted(60)),
    ];
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    fail();
    const answers = await settle(h.clock, Promise.all([...taken, ...conflicting]));
    expect(answers.map((answer) => answer.status)).toEqual(Array(9).fill('unavailable'));
    // The keys were never taken: the second requests now go through.
    const again = await settle(
      h.clock,
      Promise.all([
        h.replica.debit(debit('x', 9)),
        h.replica.hold(hold(9)),
        h.replica.refund(refund(3)),
        h.replica.grant(granted(60)),
      ]),
    );
    expect(again.map((answer) => answer.status)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
  });

  it('a debit or hold declined for credits that debits a failed commit then undid took is unavailable, not declined', async () => {
    for (const via of ['debit', 'debitMany', 'hold'] as const) {
      const h = await harness({ recordWindowRecords: 0 });
      await settle(h.clock, h.replica.grant(grant(10)));
      const fail = failNextCommit(h);
      const taken = h.replica.debit(debit('a', 8));
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
      // 2 credits left while `a` is pending: 5 is declined unless `a` never happened.
      const short =
        via === 'debit'
          ? h.replica.debit(debit('b', 5))
          : via === 'debitMany'
            ? h.replica.debitMany([debit('b', 5)]).then(([answer]) => answer)
            : h.replica.hold({
                tenant: 'acme',
                amount: 5,
                idempotencyKey: 'b',
                ttlMs: 60_000,
                metadata: null,
              });
      let answered = false;
      void short.then(() => {
        answered = true;
      });
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
      expect(answered, `${via}: answered before the commit it counted settled`).toBe(false);
      fail();
      const answers = await settle(h.clock, Promise.all([taken, short]));
      expect(
        answers.map((answer) => answer?.status),
        via,
      ).toEqual(['unavailable', 'unavailable']);
      const again = await settle(h.clock, h.replica.debit(debit('b', 5)));
      expect(again.status, via).toBe('accepted');
    }
  });

  it('a decline that counts no pending event of its tenant is answered at once, and one after a durable commit stands', async () => {
    const h = await harness({ recordWindowRecords: 0 });
    await settle(h.clock, h.replica.grant(grant(10)));
    await settle(h.clock, h.replica.grant({ ...grant(100), tenant: 'other' }));
    const fail = failNextCommit(h);
    const pendingOther = h.replica.debit({ ...debit('o', 5), tenant: 'other' });
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    // Nothing of acme is pending: its decline does not wait for other's held commit.
    const declined = await h.replica.debit(debit('big', 50));
    expect(declined.status).toBe('declined');
    fail();
    expect((await settle(h.clock, pendingOther)).status).toBe('unavailable');
    // A decline that counted a pending debit whose commit then succeeded stands.
    const paid = h.replica.debit(debit('a', 8));
    const short = h.replica.debit(debit('b', 5));
    const answers = await settle(h.clock, Promise.all([paid, short]));
    expect(answers.map((answer) => answer.status)).toEqual(['accepted', 'declined']);
  });
});
