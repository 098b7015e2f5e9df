/**
 * Issue 18: closed key-index buckets go to disk (the store's keys area) and leave the heap; a key
 * whose bucket is on disk still replays its original debit, also after a restart, and a damaged
 * value is a clear error, never a second charge. Buckets here are one minute (retention 24 min).
 */
import { describe, expect, it } from 'vitest';
import { cluster } from './cluster.js';
import { type Harness, harness, settle } from './support.js';

const RETENTION = 24 * 60 * 1000;
const grant = { tenant: 'acme', grantId: 'g1', amount: 1000, priority: 100, expiresAt: null };
const debit = (key: string, amount = 3, metadata: unknown = null) => ({
  tenant: 'acme',
  amount,
  idempotencyKey: key,
  metadata: metadata as null,
});

/** Debits `old` (and a few more), then moves to a later bucket and commits, so the first goes to disk. */
async function spilled(h: Harness) {
  await settle(h.clock, h.replica.grant(grant));
  const taken = await settle(h.clock, h.replica.debit(debit('old', 7, { order: 1 })));
  if (taken.status !== 'accepted') throw new Error('debit refused');
  await settle(h.clock, h.replica.debitMany(Array.from({ length: 30 }, (_, i) => debit(`n${i}`, 1))));
  h.clock.advance(2 * 60 * 1000);
  expect((await settle(h.clock, h.replica.debit(debit('later', 1)))).status).toBe('accepted');
  await settle(h.clock, h.replica.keyIndexSettled());
  return taken.debit;
}

describe('key index: closed buckets on disk', () => {
  it('writes a closed bucket to disk and replays, conflicts and refunds its keys from there', async () => {
    const h = await harness({
      recordWindowRecords: 0,
      idempotencyRetentionMs: RETENTION,
      keyIndexMemoryBytes: 0,
    });
    const original = await spilled(h);
    const use = h.replica.keyIndexUse();
    expect(use.entriesOnDisk).toBe(31);
    expect(use.parts).toBe(1);
    expect(use.partsFiltered).toBe(0); // budget 0: no filter, every lookup reads the chunk
    expect((await h.store.listKeyArea('d/')).some((key) => key.endsWith('/h'))).toBe(true);
    const replay = await settle(h.clock, h.replica.debit(debit('old', 7, { order: 1 })));
    expect(replay).toMatchObject({ status: 'replayed', debit: original });
    expect(await settle(h.clock, h.replica.debit(debit('old', 8)))).toMatchObject({ status: 'conflict' });
    const batch = await settle(h.clock, h.replica.debitMany([debit('n3', 1), debit('fresh', 2)]));
    expect(batch.map((outcome) => outcome.status)).toEqual(['replayed', 'accepted']);
    const refund = await settle(
      h.clock,
      h.replica.refund({ tenant: 'acme', debitId: original.debitId, amount: 2, idempotencyKey: 'r1' }),
    );
    expect(refund).toMatchObject({ status: 'accepted', refund: { amount: 2 } });
    expect(h.replica.balance('acme')).toMatchObject({ debited: 7 + 30 + 1 + 2, refunded: 2 });
  });

  it('after a restart, the bucket stays on disk (not folded back into memory) and its keys replay', async () => {
    const h = await harness({ recordWindowRecords: 0, idempotencyRetentionMs: RETENTION });
    const original = await spilled(h);
    expect(await settle(h.clock, h.replica.takeCheckpoint())).toBe(true);
    await settle(h.clock, h.replica.debitMany(Array.from({ length: 5 }, (_, i) => debit(`m${i}`, 1))));
    const reopened = await h.reopen(h.store.crash());
    const use = reopened.keyIndexUse();
    expect(use.entriesOnDisk).toBe(31);
    expect(use.partsFiltered).toBe(1); // the default budget holds its filter
    expect(use.entriesInMemory).toBe(6); // 'later' and m0–m4: the open bucket only
    const replay = await settle(h.clock, reopened.debit(debit('old', 7, { order: 1 })));
    expect(replay).toMatchObject({ status: 'replayed', debit: original });
    expect((await settle(h.clock, reopened.debit(debit('n7', 1)))).status).toBe('replayed');
    expect((await settle(h.clock, reopened.debit(debit('brand-new', 1)))).status).toBe('accepted');
    expect(reopened.balance('acme')).toMatchObject({ debited: 7 + 30 + 1 + 5 + 1 });
  });

  it('a key area lost with its values is rebuilt from the logs at start', async () => {
    const h = await harness({ recordWindowRecords: 0, idempotencyRetentionMs: RETENTION });
    const original = await spilled(h);
    // It refers to the part on disk (format 3): with the part gone it is not used, the logs are.
    expect(await settle(h.clock, h.replica.takeCheckpoint())).toBe(true);
    const crashed = h.store.crash();
    await crashed.writeKeyArea([], await crashed.listKeyArea(''));
    const reopened = await h.reopen(crashed);
    expect(h.logger.lines.map((line) => line.message)).toContain(
      'checkpoint not usable: folding the whole log',
    );
    const replay = await settle(h.clock, reopened.debit(debit('old', 7, { order: 1 })));
    expect(replay).toMatchObject({ status: 'replayed', debit: original });
    await settle(h.clock, reopened.keyIndexSettled());
    expect(reopened.keyIndexUse().entriesOnDisk).toBe(31); // written again
  });

  it('a damaged chunk is a clear error naming it, never a new debit; the next start rebuilds it', async () => {
    const h = await harness({
      recordWindowRecords: 0,
      idempotencyRetentionMs: RETENTION,
      keyIndexMemoryBytes: 0,
    });
    const original = await spilled(h);
    const [chunk] = (await h.store.listKeyArea('d/')).filter((key) => key.includes('/c/'));
    if (chunk === undefined) throw new Error('no chunk written');
    const bytes = (await h.store.readKeyArea(chunk)) as Uint8Array;
    const damaged = bytes.slice();
    damaged[damaged.length - 9] = (damaged[damaged.length - 9] ?? 0) ^ 0x40;
    await h.store.writeKeyArea([{ key: chunk, value: damaged }], []);
    const before = h.replica.balance('acme')?.debited;
    const answer = await settle(h.clock, h.replica.debit(debit('old', 7, { order: 1 })));
    expect(answer).toMatchObject({ status: 'unavailable', reason: 'store_failed' });
    expect(h.replica.balance('acme')?.debited).toBe(before);
    const logged = h.logger.lines.map((line) => line.message).join('\n');
    expect(logged).toContain(`key index chunk ${chunk} on disk is damaged`);
    await settle(h.clock, h.replica.keyIndexSettled());
    const reopened = await h.reopen(h.store.crash());
    const replay = await settle(h.clock, reopened.debit(debit('old', 7, { order: 1 })));
    expect(replay).toMatchObject({ status: 'replayed', debit: original });
  });

  it('a key accepted at another region, its bucket on disk here, replays the original debit (also after a restart)', async () => {
    const c = await cluster(['eu', 'us'], { recordWindowRecords: 0, idempotencyRetentionMs: RETENTION });
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant), c.run(20)]);
    await c.until(() => c.node('us').balance('acme')?.balance === 1000);
    const [taken] = await Promise.all([c.node('eu').debit(debit('remote', 9, { r: 1 })), c.run(10)]);
    if (taken.status !== 'accepted') throw new Error('debit refused');
    await c.until(() => c.node('us').balance('acme')?.debited === 9);
    c.clock.advance(2 * 60 * 1000);
    await Promise.all([c.node('us').debit(debit('later-us', 1)), c.run(20)]);
    await Promise.all([c.node('us').keyIndexSettled(), c.run(20)]);
    expect(c.node('us').keyIndexUse().entriesOnDisk).toBeGreaterThanOrEqual(1);
    const replayAt = async () => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const [answer] = await Promise.all([c.node('us').debit(debit('remote', 9, { r: 1 })), c.run(20)]);
        if (answer.status !== 'not_ready') return answer;
        await c.run(200);
      }
      throw new Error('us never took writes');
    };
    expect(await replayAt()).toMatchObject({ status: 'replayed', debit: taken.debit });
    await c.crash('us');
    expect(c.node('us').keyIndexUse().entriesOnDisk).toBeGreaterThanOrEqual(1);
    expect(await replayAt()).toMatchObject({ status: 'replayed', debit: taken.debit });
    await c.until(() => c.node('eu').balance('acme')?.debited === 10);
    expect(c.node('us').balance('acme')).toMatchObject({ debited: 10, refunded: 0 });
  });
});
