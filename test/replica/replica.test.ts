import { encodeSegment, parseOrigin } from '@allot/core';
import { headSigningBytes, ReplicaOpenError } from '@allot/replica';
import { MemoryStore } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { harness, holdCommits, runFor, START_MS, settle } from './support.js';

const grant = (amount = 100, extra: Record<string, unknown> = {}) => ({
  tenant: 'acme',
  grantId: 'g1',
  amount,
  priority: 100,
  expiresAt: null,
  ...extra,
});
const debit = (key: string, amount = 3) => ({ tenant: 'acme', amount, idempotencyKey: key, metadata: null });

/** A harness on a store whose commits the test holds, with acme granted 1,000 (one commit, held and let go). */
async function heldHarness() {
  const held = holdCommits();
  const h = await harness();
  await h.reopen(MemoryStore.empty({ commitLatency: held.latency }));
  held.hold();
  const granted = h.replica.grant(grant(1000));
  await held.started(1);
  held.releaseAll();
  expect((await granted).status).toBe('accepted');
  return { h, held };
}

describe('replica: the local debit path', () => {
  it('a new store gets a new random incarnation; reopening the same data keeps it', async () => {
    const a = await harness({}, 1);
    const b = await harness({}, 2);
    expect(parseOrigin(a.replica.origin)?.incarnation).toMatch(/^[a-z2-7]{16}$/);
    expect(a.replica.incarnation).not.toBe(b.replica.incarnation);
    const before = a.replica.origin;
    await a.replica.close();
    const reopened = await a.reopen(a.store.crash());
    expect(reopened.origin).toBe(before);
  });

  it('answers a debit only once its batch is durable; the first debit commits at once, with no timer', async () => {
    const { h, held } = await heldHarness();
    let answered = false;
    const first = h.replica.debit(debit('k0', 1)).then((outcome) => {
      answered = true;
      return outcome;
    });
    await held.started(2); // started without the clock moving: no batch timer
    await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false); // held on its way to the disk: not durable, not answered
    held.releaseAll();
    expect((await first).status).toBe('accepted');
    expect(h.commits.slice(1)).toEqual([1]);
  });

  it('groups what arrives while a commit is in flight into one next commit', async () => {
    const { h, held } = await heldHarness();
    const first = h.replica.debit(debit('first', 1));
    await held.started(2); // the first debit's commit is in flight and held
    const rest = Array.from({ length: 40 }, (_, i) => h.replica.debit(debit(`k${i}`, 1)));
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(held.count()).toBe(2); // nothing else starts while one is in flight
    held.releaseAll();
    await first;
    await held.started(3);
    held.releaseAll();
    const outcomes = await Promise.all(rest);
    expect(outcomes.every((outcome) => outcome.status === 'accepted')).toBe(true);
    expect(h.commits.slice(1)).toEqual([1, 40]);
    expect(h.replica.balance('acme')?.balance).toBe(959);
  });

  it('commits the debits of one debitMany together', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant(1000)));
    const outcomes = await h.replica.debitMany(Array.from({ length: 30 }, (_, i) => debit(`m${i}`, 1)));
    expect(outcomes.every((outcome) => outcome.status === 'accepted')).toBe(true);
    expect(h.commits.slice(1)).toEqual([30]);
  });

  it.each([
    {
      window: 'every record on the heap',
      records: 100,
      // `b` was decided with `a`, into the commit that failed; `big` was declined while `a` was
      // pending, so its answer waited for that commit, and a decline counting an undone debit is
      // unavailable (failed-commit-answers.test.ts).
      statuses: ['unavailable', 'replayed', 'unavailable', 'unavailable'],
      after: 95,
      retried: ['accepted', 'accepted'],
    },
    {
      window: 'no record on the heap (the default)',
      records: 0,
      // `done` is read back from the log first, and `b` decided after it, into a commit of its own.
      statuses: ['unavailable', 'replayed', 'declined', 'accepted'],
      after: 75,
      retried: ['accepted', 'replayed'],
    },
  ])(
    'answers a debitMany whose commit failed item by item: what waited for it unavailable, the rest as decided ($window)',
    async ({ records, statuses, after, retried }) => {
      const h = await harness({ recordWindowRecords: records });
      await settle(h.clock, h.replica.grant(grant(100)));
      const before = await settle(h.clock, h.replica.debit(debit('done', 5)));
      expect(before.status).toBe('accepted');
      h.store.failNextCommit(new Error('disk on fire'));
      const outcomes = await settle(
        h.clock,
        h.replica.debitMany([debit('a', 10), debit('done', 5), debit('big', 1_000), debit('b', 20)]),
      );
      expect(outcomes.map((outcome) => outcome.status)).toEqual(statuses);
      expect(h.replica.balance('acme')?.balance).toBe(after);
      const again = await settle(h.clock, h.replica.debitMany([debit('a', 10), debit('b', 20)]));
      expect(again.map((outcome) => outcome.status)).toEqual(retried);
      expect(h.replica.balance('acme')?.balance).toBe(65);
    },
  );

  it('replays a key with the same body and refuses another body', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant()));
    const first = await settle(h.clock, h.replica.debit(debit('k1', 5)));
    const again = await settle(h.clock, h.replica.debit(debit('k1', 5)));
    const other = await settle(h.clock, h.replica.debit(debit('k1', 6)));
    expect(first.status).toBe('accepted');
    expect(again.status).toBe('replayed');
    if (first.status === 'accepted' && again.status === 'replayed') expect(again.debit).toEqual(first.debit);
    expect(other.status).toBe('conflict');
    expect(h.replica.balance('acme')?.debited).toBe(5);
  });

  it('declines beyond the rights with the available figure', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant(10)));
    const outcome = await settle(h.clock, h.replica.debit(debit('k', 11)));
    expect(outcome).toEqual({
      status: 'declined',
      reason: 'insufficient_credits',
      requested: 11,
      available: 10,
      declineReason: 'insufficient',
    });
    const unknown = await settle(h.clock, h.replica.debit({ ...debit('k2'), tenant: 'nobody' }));
    expect(unknown.status).toBe('declined');
  });

  it('a failed write fails every request of its batch and undoes their effects', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant(100)));
    h.store.failNextCommit(new Error('disk on fire'));
    const outcomes = await settle(
      h.clock,
      Promise.all([h.replica.debit(debit('a', 10)), h.replica.debit(debit('b', 20))]),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['unavailable', 'unavailable']);
    expect(h.replica.balance('acme')?.balance).toBe(100);
    expect(
      h.logger.lines.some((line) => line.level === 'error' && line.message.includes('commit failed')),
    ).toBe(true);
    // The same keys work afterwards, as new debits.
    const retry = await settle(h.clock, h.replica.debit(debit('a', 10)));
    expect(retry.status).toBe('accepted');
    expect(h.replica.balance('acme')?.balance).toBe(90);
    const events = await h.replica.tenantEvents('acme', null, 100);
    expect(events.events.map((view) => view.event.kind)).toEqual(['grant', 'debit']);
  });

  it('what the recovery after a failed write appends is committed without waiting for another write (seed 10738)', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant(100, { expiresAt: START_MS + 5_000 })));
    // The expiry's own commit fails; the recovery from the store runs the expiry again.
    h.store.failNextCommit(new Error('disk on fire'));
    h.clock.advance(5_000);
    await runFor(h.clock, 100);
    expect(
      h.logger.lines.some((line) => line.level === 'error' && line.message.includes('commit failed')),
    ).toBe(true);
    expect(h.replica.balance('acme')?.expired).toBe(100);
    // Durable, with no other write after it: the store holds the expiry.
    const heads = await h.store.heads();
    expect(heads.find((head) => head.origin === h.replica.origin)?.seq).toBe(2);
  });

  it('keeps every acknowledged debit across a crash (fsync)', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant(100)));
    const accepted = await settle(h.clock, h.replica.debit(debit('k', 7)));
    expect(accepted.status).toBe('accepted');
    const reopened = await h.reopen(h.store.crash());
    expect(reopened.balance('acme')?.debited).toBe(7);
    const replay = await settle(h.clock, reopened.debit(debit('k', 7)));
    expect(replay.status).toBe('replayed');
  });

  it('refuses to open data of another region or cluster, and a broken hash chain', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant()));
    await h.replica.close();
    const store = h.store.crash();
    await expect(h.reopen(store, { region: 'us' })).rejects.toThrow(ReplicaOpenError);
    await expect(h.reopen(h.store.crash(), { cluster: 'other' })).rejects.toThrow(/cluster/);
    // A segment appended with a hash that does not chain: the node refuses to start, naming it.
    const forged = h.store.crash();
    const origin = h.replica.origin;
    const event = {
      kind: 'debit',
      tenant: 'acme',
      origin,
      seq: 2,
      at: START_MS,
      amount: 1,
      idempotencyKey: 'x',
      parts: [{ grantId: 'g1', amount: 1 }],
      overdraft: 0,
      metadata: null,
    } as const;
    const hash = new Uint8Array(32).fill(7);
    const signature = new Uint8Array(64);
    const bytes = encodeSegment([event]);
    await forged.commit(
      {
        segments: [{ origin, firstSeq: 2, lastSeq: 2, bytes, hash, signature, tenants: ['acme'] }],
        heads: [{ origin, seq: 2, hash, signature }],
      },
      { sync: true },
    );
    await expect(h.reopen(forged.crash())).rejects.toThrow(`log ${origin} seq 2: hash chain broken`);
  });

  it('signs its head; a snapshot carries heads that verify, at the version vector it shows', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant(100)));
    await settle(h.clock, h.replica.debit(debit('k', 1)));
    const { header, tenants } = await settle(h.clock, h.replica.snapshot());
    expect(header.versionVector).toEqual({ [h.replica.origin]: 2 });
    const head = header.heads[h.replica.origin];
    expect(head?.seq).toBe(2);
    expect(tenants).toEqual([
      { tenant: 'acme', balance: 99, granted: 100, debited: 1, refunded: 0, expired: 0, held: 0 },
    ]);
    expect(head?.signature).toMatch(/^[0-9a-f]{128}$/);
    const bytes = headSigningBytes('test', h.replica.origin, 2, Buffer.from(head?.hash ?? '', 'hex'));
    const signature = Buffer.from(head?.signature ?? '', 'hex');
    expect(h.crypto.verify(h.crypto.publicKey, bytes, signature)).toBe(true);
    expect(
      h.crypto.verify(h.crypto.publicKey, headSigningBytes('test', h.replica.origin, 3, bytes), signature),
    ).toBe(false);
  });

  it('expires what is left of a grant on its clock', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant(100, { expiresAt: START_MS + 5_000 })));
    await settle(h.clock, h.replica.debit(debit('k', 30)));
    h.clock.advance(5_000);
    await runFor(h.clock, 100);
    const balance = h.replica.balance('acme');
    expect(balance?.expired).toBe(70);
    expect(balance?.balance).toBe(0);
    expect(balance?.grants[0]?.status).toBe('expired');
    const late = await settle(h.clock, h.replica.debit(debit('k2', 1)));
    expect(late.status).toBe('declined');
  });

  it('uses the overdraft its policy allows, and repays it from a later grant', async () => {
    const h = await harness();
    await settle(
      h.clock,
      h.replica.setPolicy('acme', { overdraft: { eu: 50 }, weights: {}, blocked: false }),
    );
    await settle(h.clock, h.replica.grant(grant(10)));
    const over = await settle(h.clock, h.replica.debit(debit('k', 30)));
    expect(over.status).toBe('accepted');
    if (over.status === 'accepted') expect(over.debit.overdraft).toBe(20);
    expect(h.replica.balance('acme')?.regions.eu?.overdraftInUse).toBe(20);
    expect(h.overdraft.at(-1)).toBe(20);
    await settle(h.clock, h.replica.grant({ ...grant(100), grantId: 'g2' }));
    const balance = h.replica.balance('acme');
    expect(balance?.regions.eu?.overdraftInUse).toBe(0);
    expect(h.overdraft.at(-1)).toBe(0);
    expect(balance?.balance).toBe(80);
  });

  it('declines every debit of a blocked tenant', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant(10)));
    await settle(h.clock, h.replica.setPolicy('acme', { overdraft: {}, weights: {}, blocked: true }));
    const outcome = await settle(h.clock, h.replica.debit(debit('k', 1)));
    expect(outcome).toMatchObject({ status: 'declined', reason: 'blocked' });
    // The policy is durable.
    const reopened = await h.reopen(h.store.crash());
    expect(reopened.policy('acme').blocked).toBe(true);
  });

  it('refunds a debit, bounded by it', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant(100)));
    const taken = await settle(h.clock, h.replica.debit(debit('k', 10)));
    if (taken.status !== 'accepted') throw new Error('debit refused');
    const partial = await settle(
      h.clock,
      h.replica.refund({ tenant: 'acme', debitId: taken.debit.debitId, amount: 4, idempotencyKey: 'r1' }),
    );
    expect(partial.status).toBe('accepted');
    const rest = await settle(
      h.clock,
      h.replica.refund({ tenant: 'acme', debitId: taken.debit.debitId, idempotencyKey: 'r2' }),
    );
    expect(rest.status === 'accepted' && rest.refund.amount).toBe(6);
    const more = await settle(
      h.clock,
      h.replica.refund({ tenant: 'acme', debitId: taken.debit.debitId, amount: 1, idempotencyKey: 'r3' }),
    );
    expect(more).toEqual({ status: 'exceeds_debit', requested: 1, refundable: 0 });
    expect(h.replica.balance('acme')?.balance).toBe(100);
  });

  it('commits what is pending when it closes', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant(100)));
    const pending = h.replica.debit(debit('k', 9));
    await new Promise((resolve) => setImmediate(resolve));
    await h.replica.close();
    expect((await pending).status).toBe('accepted');
    const reopened = await h.reopen(h.store.crash());
    expect(reopened.balance('acme')?.debited).toBe(9);
  });
});
