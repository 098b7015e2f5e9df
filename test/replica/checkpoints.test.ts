/**
 * Issue 11, checkpoints and starts: a replica writes a checkpoint every so often (events, time),
 * keeps the newest two, and a start loads the newest one that verifies and folds only the tails;
 * a damaged one falls back to an older one, or to the whole log, with one warn line; the result
 * answers exactly as the fold of the whole log.
 */
import { generateKeyPairSync } from 'node:crypto';
import { checkpointFormat, decodeCheckpoint, encodeCheckpoint } from '@allot/core';
import { type Replica, ReplicaOpenError, sealCheckpoint } from '@allot/replica';
import { MemoryStore, nodeCrypto } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { type Harness, harness, settle } from './support.js';

const grant = (tenant = 'acme', amount = 100_000) => ({
  tenant,
  grantId: 'g1',
  amount,
  priority: 100,
  expiresAt: null,
});
const debit = (key: string, amount = 1, tenant = 'acme') => ({
  tenant,
  amount,
  idempotencyKey: key,
  metadata: { key },
});

/** Grants two tenants, then `count` debits spread over them. */
async function traffic(h: Harness, from: number, count: number): Promise<void> {
  if (from === 0) {
    await settle(h.clock, h.replica.grant(grant('acme')));
    await settle(h.clock, h.replica.grant(grant('globex')));
  }
  const outcomes = await settle(
    h.clock,
    h.replica.debitMany(
      Array.from({ length: count }, (_, i) =>
        debit(`k${from + i}`, 1 + ((from + i) % 3), i % 2 ? 'acme' : 'globex'),
      ),
    ),
  );
  expect(outcomes.every((outcome) => outcome.status === 'accepted')).toBe(true);
}

/** What a client sees of the ledger: balances, the snapshot figures, a replay and a refund of an old key. */
async function seen(h: Harness, replica: Replica): Promise<unknown> {
  const { tenants } = await settle(h.clock, replica.snapshot());
  const replay = await settle(h.clock, replica.debit(debit('k1', 2, 'acme')));
  return { tenants, replay, acme: replica.balance('acme'), globex: replica.balance('globex') };
}

const warns = (h: Harness) =>
  h.logger.lines.filter((line) => line.level === 'warn').map((line) => line.message);
const infos = (h: Harness) =>
  h.logger.lines.filter((line) => line.level === 'info').map((line) => line.message);

describe('checkpoints and starts', () => {
  it('writes one every `everyEvents` events and every `everyMs` after events, keeping the newest two', async () => {
    const h = await harness({ checkpoint: { everyEvents: 1_000, everyMs: 60_000 } });
    await traffic(h, 0, 600);
    expect(await h.store.listCheckpoints()).toEqual([]);
    await traffic(h, 600, 600);
    await settle(
      h.clock,
      (async () => {
        while ((await h.store.listCheckpoints()).length === 0)
          await new Promise((resolve) => setTimeout(resolve, 1));
      })(),
    );
    const [first] = await h.store.listCheckpoints();
    expect(first).toBeGreaterThanOrEqual(1_000);
    // Time: after everyMs, the events since then are checkpointed too.
    await traffic(h, 1_200, 10);
    h.clock.advance(60_000);
    await settle(
      h.clock,
      (async () => {
        while ((await h.store.listCheckpoints()).length < 2)
          await new Promise((resolve) => setTimeout(resolve, 1));
      })(),
    );
    expect((await h.store.listCheckpoints())[0]).toBe(1_212);
    await traffic(h, 1_210, 5);
    expect(await settle(h.clock, h.replica.takeCheckpoint())).toBe(true);
    expect(await h.store.listCheckpoints()).toEqual([1_217, 1_212]);
    expect(infos(h).filter((line) => line === 'checkpoint written')).toHaveLength(3);
    // The newest, verified, for an audit export.
    expect((await h.replica.newestCheckpoint())?.total).toBe(1_217);
  });

  it('a start loads the newest checkpoint and folds only the tail; it answers as the whole fold', async () => {
    const h = await harness({ recordWindowRecords: 5 });
    await traffic(h, 0, 300);
    expect(await settle(h.clock, h.replica.takeCheckpoint())).toBe(true);
    await traffic(h, 300, 50);
    const fromCheckpoint = await h.reopen(h.store.crash());
    expect(infos(h)).toContain('fold rebuilt from a checkpoint and the tails after it');
    expect(warns(h)).toEqual([]);
    const expected = await seen(h, fromCheckpoint);
    // The same store without checkpoints: the whole log is folded.
    const whole = h.store.crash();
    for (const total of await whole.listCheckpoints()) await whole.deleteCheckpoint(total);
    const fullFold = await h.reopen(whole);
    expect(await seen(h, fullFold)).toEqual(expected);
  });

  it('a damaged newest checkpoint falls back to the older one, all damaged to the whole log', async () => {
    const h = await harness();
    await traffic(h, 0, 100);
    await settle(h.clock, h.replica.takeCheckpoint());
    await traffic(h, 100, 100);
    await settle(h.clock, h.replica.takeCheckpoint());
    await traffic(h, 200, 20);
    const [newest, older] = (await h.store.listCheckpoints()) as [number, number];
    const expected = await seen(h, await h.reopen(h.store.crash()));

    const damage = async (store: MemoryStore, total: number) => {
      const stored = await store.readCheckpoint(total);
      if (stored === null) throw new Error('no checkpoint');
      const bytes = stored.bytes.slice();
      bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0x10;
      await store.writeCheckpoint({ ...stored, bytes });
    };
    const oneDamaged = h.store.crash();
    await damage(oneDamaged, newest);
    h.logger.lines.length = 0;
    expect(await seen(h, await h.reopen(oneDamaged))).toEqual(expected);
    expect(warns(h)).toEqual([`checkpoint not usable: trying the older one at ${older}`]);
    expect(infos(h)).toContain('fold rebuilt from a checkpoint and the tails after it');

    const allDamaged = h.store.crash();
    await damage(allDamaged, older);
    h.logger.lines.length = 0;
    expect(await seen(h, await h.reopen(allDamaged))).toEqual(expected);
    expect(warns(h)).toEqual([
      `checkpoint not usable: trying the older one at ${older}`,
      'checkpoint not usable: folding the whole log',
    ]);
    expect(infos(h)).not.toContain('fold rebuilt from a checkpoint and the tails after it');
  });

  it("refuses a checkpoint not signed with this node's key, or whose heads the logs do not continue", async () => {
    const h = await harness();
    await traffic(h, 0, 50);
    await settle(h.clock, h.replica.takeCheckpoint());
    await traffic(h, 50, 10);
    const expected = await seen(h, await h.reopen(h.store.crash()));
    const [total] = (await h.store.listCheckpoints()) as [number];
    const stored = await h.store.readCheckpoint(total);
    if (stored === null) throw new Error('no checkpoint');
    const decoded = decodeCheckpoint(stored.bytes, {
      recordWindow: { records: 1, bucketMs: 3_600_000 },
    });
    const vector = Object.fromEntries([...decoded.heads].map(([origin, head]) => [origin, head.seq]));

    // Signed by another key (a foreign region's, or forged).
    const other = nodeCrypto(generateKeyPairSync('ed25519').privateKey);
    const foreign = h.store.crash();
    await foreign.writeCheckpoint(sealCheckpoint(other, 'test', vector, stored.bytes));
    h.logger.lines.length = 0;
    expect(await seen(h, await h.reopen(foreign))).toEqual(expected);
    expect(warns(h)).toEqual(['checkpoint not usable: folding the whole log']);

    // Signed by this node, but its head hashes are not where the stored logs pass.
    const wrongHeads = encodeCheckpoint(
      decoded.state,
      new Map([...decoded.heads].map(([origin]) => [origin, new Uint8Array(32).fill(1)])),
    );
    const forked = h.store.crash();
    await forked.writeCheckpoint(sealCheckpoint(h.crypto, 'test', vector, wrongHeads));
    h.logger.lines.length = 0;
    const replica = await h.reopen(forked);
    expect(warns(h)).toEqual(['the logs do not continue from the checkpoint: folding the whole log']);
    expect(await seen(h, replica)).toEqual(expected);
  });

  it('a node upgraded with a format-1 checkpoint on disk starts from it, then writes format 2', async () => {
    const h = await harness();
    await traffic(h, 0, 100);
    // At the end of the logs: no tail tells the start the newest event time.
    await settle(h.clock, h.replica.takeCheckpoint());
    const expected = await seen(h, await h.reopen(h.store.crash()));
    const [total] = (await h.store.listCheckpoints()) as [number];
    const stored = await h.store.readCheckpoint(total);
    if (stored === null) throw new Error('no checkpoint');
    expect(checkpointFormat(stored.bytes).version).toBe(2);
    const window = { recordWindow: { records: 1, bucketMs: 3_600_000 } };
    const decoded = decodeCheckpoint(stored.bytes, window);
    const vector = Object.fromEntries([...decoded.heads].map(([origin, head]) => [origin, head.seq]));
    const hashes = new Map([...decoded.heads].map(([origin, head]) => [origin, head.hash]));
    // What a build of format 1 wrote at the same vector.
    const v1 = encodeCheckpoint(decoded.state, hashes, { version: 1 });
    const upgraded = h.store.crash();
    await upgraded.deleteCheckpoint(total);
    await upgraded.writeCheckpoint(sealCheckpoint(h.crypto, 'test', vector, v1));
    h.logger.lines.length = 0;
    const replica = await h.reopen(upgraded);
    expect(warns(h)).toEqual([]);
    expect(infos(h)).toContain('fold rebuilt from a checkpoint and the tails after it');
    expect(await seen(h, replica)).toEqual(expected);
    // Its next checkpoint is format 2 and holds the newest event time of the whole fold.
    expect(await settle(h.clock, replica.takeCheckpoint())).toBe(true);
    const [next] = (await upgraded.listCheckpoints()) as [number];
    const written = await upgraded.readCheckpoint(next);
    const whole = h.store.crash();
    for (const each of await whole.listCheckpoints()) await whole.deleteCheckpoint(each);
    await h.reopen(whole);
    await settle(h.clock, h.replica.takeCheckpoint());
    const [wholeTotal] = (await whole.listCheckpoints()) as [number];
    expect(wholeTotal).toBe(next);
    expect(written?.bytes).toEqual((await whole.readCheckpoint(wholeTotal))?.bytes);
    expect(checkpointFormat(written?.bytes as Uint8Array).newestAt).toBeGreaterThan(0);
  });

  it('writes no checkpoint of a fold its clock swept past the vector’s retention, until the next events', async () => {
    const retention = 24 * 60 * 1000; // key-index buckets of one minute
    const h = await harness({ idempotencyRetentionMs: retention });
    await traffic(h, 0, 20);
    // Idle past the retention: the sweep forgets by this clock, beyond what the vector implies.
    h.clock.advance(retention + 3 * 60 * 1000);
    expect(await settle(h.clock, h.replica.takeCheckpoint())).toBe(false);
    expect(infos(h)).toContain('checkpoint not written: not canonical until the next events');
    expect(await h.store.listCheckpoints()).toEqual([]);
    await traffic(h, 20, 5);
    expect(await settle(h.clock, h.replica.takeCheckpoint())).toBe(true);
    // And it is what a node that never swept writes at that vector.
    const [total] = (await h.store.listCheckpoints()) as [number];
    const written = (await h.store.readCheckpoint(total))?.bytes;
    const whole = h.store.crash();
    for (const each of await whole.listCheckpoints()) await whole.deleteCheckpoint(each);
    const fresh = await h.reopen(whole, { idempotencyRetentionMs: retention });
    expect(await settle(h.clock, fresh.takeCheckpoint())).toBe(true);
    expect((await whole.readCheckpoint(total))?.bytes).toEqual(written);
  });

  it('refuses checkpoint settings out of their bounds', async () => {
    const h = await harness();
    await expect(
      h.reopen(MemoryStore.empty(), { checkpoint: { everyEvents: 10, everyMs: 60_000 } }),
    ).rejects.toThrow(ReplicaOpenError);
    await expect(
      h.reopen(MemoryStore.empty(), { checkpoint: { everyEvents: 1_000, everyMs: 5 } }),
    ).rejects.toThrow(/checkpoint.everyMs must be an integer from 1000/);
  });
});
