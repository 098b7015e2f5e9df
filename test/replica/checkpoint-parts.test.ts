/**
 * Issue 18: a checkpoint refers to the key index's closed parts on disk (format 3) instead of
 * reading every key back and embedding it; a start attaches those parts without reading a chunk;
 * what leaves the node (a joiner's offer, the audit export) is the canonical format 2 every node
 * folds at that vector; a part that is gone or changed makes the checkpoint unusable, never wrong.
 */
import { checkpointFormat, checkpointHeads, checkpointPartRefs, refPrefix } from '@allot/core';
import {
  checkpointBytesAt,
  KEY_INDEX_BUCKET_MS_MIN,
  KEY_INDEX_BUCKETS_PER_RETENTION,
  type StoredCheckpoint,
} from '@allot/replica';
import type { MemoryStore } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { type Harness, harness, settle } from './support.js';

const RETENTION = 24 * 60 * 1000;
const BUCKET_MS = Math.max(KEY_INDEX_BUCKET_MS_MIN, Math.ceil(RETENTION / KEY_INDEX_BUCKETS_PER_RETENTION));
const grant = { tenant: 'acme', grantId: 'g1', amount: 1000, priority: 100, expiresAt: null };
const debit = (key: string, amount = 3) => ({ tenant: 'acme', amount, idempotencyKey: key, metadata: null });

/** Debits `old` and 30 more, then moves to a later bucket: those 31 keys go to disk as one part. */
async function spilled(h: Harness) {
  await settle(h.clock, h.replica.grant(grant));
  const taken = await settle(h.clock, h.replica.debit(debit('old', 7)));
  if (taken.status !== 'accepted') throw new Error('debit refused');
  await settle(h.clock, h.replica.debitMany(Array.from({ length: 30 }, (_, i) => debit(`n${i}`, 1))));
  h.clock.advance(2 * 60 * 1000);
  expect((await settle(h.clock, h.replica.debit(debit('later', 1)))).status).toBe('accepted');
  await settle(h.clock, h.replica.keyIndexSettled());
  expect(h.replica.keyIndexUse().entriesOnDisk).toBe(31);
  return taken.debit;
}

async function newest(store: MemoryStore): Promise<StoredCheckpoint> {
  const [total] = (await store.listCheckpoints()) as [number];
  return (await store.readCheckpoint(total)) as StoredCheckpoint;
}

/** Counts reads of key-index chunks from `store` from now on. */
function countChunkReads(store: MemoryStore): { reads: number } {
  const counter = { reads: 0 };
  const read = store.readKeyArea.bind(store);
  store.readKeyArea = (key: string) => {
    if (key.includes('/c/')) counter.reads += 1;
    return read(key);
  };
  return counter;
}

const messages = (h: Harness, level: string) =>
  h.logger.lines.filter((line) => line.level === level).map((line) => line.message);

describe('checkpoints that refer to the key index parts on disk', () => {
  it('refers to the parts by name and digest; its canonical form is what a fold of the logs writes', async () => {
    const h = await harness({ recordWindowRecords: 0, idempotencyRetentionMs: RETENTION });
    await spilled(h);
    const chunkReads = countChunkReads(h.store);
    expect(await settle(h.clock, h.replica.takeCheckpoint())).toBe(true);
    expect(chunkReads.reads).toBe(0); // no key read back to write it
    const stored = await newest(h.store);
    expect(checkpointFormat(stored.bytes).version).toBe(3);
    const headers = (await h.store.listKeyArea('')).filter((key) => key.endsWith('/h'));
    expect(checkpointPartRefs(stored.bytes).map((ref) => `${refPrefix(ref)}h`)).toEqual(headers);
    for (const ref of checkpointPartRefs(stored.bytes))
      expect(ref.digest).toEqual(
        h.crypto.hash((await h.store.readKeyArea(`${refPrefix(ref)}h`)) as Uint8Array),
      );

    // What leaves the node: format 2, signed, hashed, and byte for byte the fold of the logs alone.
    const canonical = (await settle(h.clock, h.replica.newestCheckpoint())) as StoredCheckpoint;
    expect(checkpointFormat(canonical.bytes).version).toBe(2);
    expect(canonical.total).toBe(stored.total);
    expect(canonical.hash).toEqual(h.crypto.hash(canonical.bytes));
    const vector: Record<string, number> = {};
    for (const [origin, head] of checkpointHeads(canonical.bytes)) vector[origin] = head.seq;
    const bare = h.store.crash();
    for (const total of await bare.listCheckpoints()) await bare.deleteCheckpoint(total);
    await bare.writeKeyArea([], await bare.listKeyArea(''));
    const folded = await checkpointBytesAt(
      { store: bare, crypto: h.crypto },
      'test',
      vector,
      { records: 0, bucketMs: BUCKET_MS },
      RETENTION,
    );
    expect(folded).toEqual({ bytes: canonical.bytes });
  });

  it('a start attaches the parts it refers to without reading a chunk, and their keys replay', async () => {
    const h = await harness({ recordWindowRecords: 0, idempotencyRetentionMs: RETENTION });
    const original = await spilled(h);
    expect(await settle(h.clock, h.replica.takeCheckpoint())).toBe(true);
    await settle(h.clock, h.replica.debitMany(Array.from({ length: 5 }, (_, i) => debit(`m${i}`, 1))));
    const crashed = h.store.crash();
    const chunkReads = countChunkReads(crashed);
    h.logger.lines.length = 0;
    const reopened = await h.reopen(crashed);
    expect(chunkReads.reads).toBe(0);
    expect(messages(h, 'warn')).toEqual([]);
    expect(messages(h, 'info')).toContain('fold rebuilt from a checkpoint and the tails after it');
    expect(reopened.keyIndexUse()).toMatchObject({ entriesOnDisk: 31, entriesInMemory: 6 });
    const replay = await settle(h.clock, reopened.debit(debit('old', 7)));
    expect(replay).toMatchObject({ status: 'replayed', debit: original });
    expect((await settle(h.clock, reopened.debit(debit('n7', 1)))).status).toBe('replayed');
    expect((await settle(h.clock, reopened.debit(debit('fresh', 1)))).status).toBe('accepted');
    expect(reopened.balance('acme')).toMatchObject({ debited: 7 + 30 + 1 + 5 + 1 });
  });

  it('a part it refers to that is gone or changed: the checkpoint is not used, the logs are, nothing is lost', async () => {
    for (const harm of ['gone', 'changed'] as const) {
      const h = await harness({ recordWindowRecords: 0, idempotencyRetentionMs: RETENTION });
      const original = await spilled(h);
      expect(await settle(h.clock, h.replica.takeCheckpoint())).toBe(true);
      const crashed = h.store.crash();
      const [header] = (await crashed.listKeyArea('')).filter((key) => key.endsWith('/h')) as [string];
      if (harm === 'gone') await crashed.writeKeyArea([], await crashed.listKeyArea(''));
      else {
        // Another whole part under that name (a bucket rebuilt after the checkpoint): its digest differs.
        const bytes = (await crashed.readKeyArea(header)) as Uint8Array;
        const other = await harness({ recordWindowRecords: 0, idempotencyRetentionMs: RETENTION }, 2);
        await settle(other.clock, other.replica.grant(grant));
        await settle(other.clock, other.replica.debit(debit('x', 1)));
        other.clock.advance(2 * 60 * 1000);
        await settle(other.clock, other.replica.debit(debit('y', 1)));
        await settle(other.clock, other.replica.keyIndexSettled());
        const theirs = (await other.store.listKeyArea('')).filter((key) =>
          key.startsWith(header.slice(0, -1)),
        );
        await crashed.writeKeyArea([], await crashed.listKeyArea(''));
        for (const key of theirs)
          await crashed.writeKeyArea(
            [{ key, value: (await other.store.readKeyArea(key)) as Uint8Array }],
            [],
          );
        expect(await crashed.readKeyArea(header)).not.toEqual(bytes);
      }
      h.logger.lines.length = 0;
      const reopened = await h.reopen(crashed);
      expect(messages(h, 'warn')).toContain('checkpoint not usable: folding the whole log');
      const replay = await settle(h.clock, reopened.debit(debit('old', 7)));
      expect(replay).toMatchObject({ status: 'replayed', debit: original });
      expect(reopened.balance('acme')).toMatchObject({ debited: 7 + 30 + 1 });
    }
  });

  it('parts a kept checkpoint refers to stay on disk past the retention until no kept one does', async () => {
    const h = await harness({ recordWindowRecords: 0, idempotencyRetentionMs: RETENTION });
    await spilled(h);
    expect(await settle(h.clock, h.replica.takeCheckpoint())).toBe(true);
    const [header] = (await h.store.listKeyArea('')).filter((key) => key.endsWith('/h')) as [string];
    // Past the retention: the sweep forgets that bucket, but the checkpoint still refers to it.
    h.clock.advance(RETENTION + 3 * 60 * 1000);
    await settle(h.clock, h.replica.debit(debit('a1', 1)));
    h.clock.advance(2 * 60 * 1000);
    await settle(h.clock, h.replica.debit(debit('a2', 1)));
    await settle(h.clock, h.replica.keyIndexSettled());
    expect(await h.store.listKeyArea('')).toContain(header);
    h.logger.lines.length = 0;
    await h.reopen(h.store.crash());
    expect(messages(h, 'warn')).toEqual([]);
    // Two newer checkpoints refer to it no more: it goes with the next write of closed buckets.
    for (const key of ['b1', 'b2']) {
      expect(await settle(h.clock, h.replica.takeCheckpoint())).toBe(true);
      h.clock.advance(2 * 60 * 1000);
      await settle(h.clock, h.replica.debit(debit(key, 1)));
      await settle(h.clock, h.replica.keyIndexSettled());
    }
    expect(await h.store.listKeyArea('')).not.toContain(header);
  });
});
