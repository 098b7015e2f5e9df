import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredCheckpoint } from '@allot/replica';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CHECKPOINT_PART_BYTES,
  checkpointKey,
  LevelStore,
  MemoryStore,
  parseCheckpointKey,
  StoreCorruptError,
} from '../src/index.js';
import { META } from './support.js';

function checkpoint(total: number, length: number, fill = total): StoredCheckpoint {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + fill) & 0xff;
  return { total, bytes, hash: new Uint8Array(32).fill(fill), signature: new Uint8Array(64).fill(fill + 1) };
}

/** Compares checkpoints without a deep walk over megabytes. */
function same(found: StoredCheckpoint | null, expected: StoredCheckpoint): boolean {
  const equal = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
  return (
    found !== null &&
    found.total === expected.total &&
    equal(found.bytes, expected.bytes) &&
    equal(found.hash, expected.hash) &&
    equal(found.signature, expected.signature)
  );
}

describe('checkpoints in the store', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allot-ckpt-'));
    dirs.push(dir);
    return dir;
  };

  it('keys sort by total and parse back', () => {
    expect(checkpointKey(12, 3)).toBe('v3/ckpt/0000000000000012/000003');
    expect(parseCheckpointKey(checkpointKey(9_007_199_254_740_991, 0))).toEqual({
      total: 9_007_199_254_740_991,
      part: 0,
    });
    expect(parseCheckpointKey('v3/ckpt/12/0')).toBeNull();
    expect(() => checkpointKey(0, 0)).toThrow(RangeError);
  });

  it('LevelStore: writes in parts, lists newest first, reads back across a reopen, deletes', async () => {
    const dir = await tempDir();
    let store = await LevelStore.open(dir);
    await store.commit({ segments: [], heads: [], meta: META }, { sync: true });
    const big = checkpoint(500, 2 * CHECKPOINT_PART_BYTES + 17);
    await store.writeCheckpoint(checkpoint(100, 10));
    await store.writeCheckpoint(big);
    await store.writeCheckpoint(checkpoint(300, 1_000));
    await store.close();
    // The store opens with checkpoint keys in it (they are records of the layout).
    store = await LevelStore.open(dir);
    expect(await store.listCheckpoints()).toEqual([500, 300, 100]);
    expect(same(await store.readCheckpoint(500), big)).toBe(true);
    expect(await store.readCheckpoint(200)).toBeNull();
    // Rewriting one total replaces all of its parts.
    await store.writeCheckpoint(checkpoint(500, 5, 9));
    expect(await store.readCheckpoint(500)).toEqual(checkpoint(500, 5, 9));
    expect(same(await store.readCheckpoint(500), checkpoint(500, 5, 9))).toBe(true);
    await store.deleteCheckpoint(100);
    await store.deleteCheckpoint(100);
    expect(await store.listCheckpoints()).toEqual([500, 300]);
    await expect(store.writeCheckpoint({ ...checkpoint(7, 3), hash: new Uint8Array(3) })).rejects.toThrow(
      /32-byte hash/,
    );
    await store.close();
  });

  it('LevelStore: a damaged or missing part is a StoreCorruptError naming its key', async () => {
    const dir = await tempDir();
    let store = await LevelStore.open(dir);
    await store.commit({ segments: [], heads: [], meta: META }, { sync: true });
    await store.writeCheckpoint(checkpoint(40, CHECKPOINT_PART_BYTES + 1));
    await store.writeCheckpoint(checkpoint(80, 100));
    await store.close();
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const part = (await db.get(checkpointKey(40, 2))) as Uint8Array;
    const flipped = part.slice();
    flipped[0] = (flipped[0] as number) ^ 1;
    await db.put(checkpointKey(40, 2), flipped);
    await db.del(checkpointKey(80, 1));
    await db.close();
    store = await LevelStore.open(dir);
    await expect(store.readCheckpoint(40)).rejects.toThrow(StoreCorruptError);
    await expect(store.readCheckpoint(40)).rejects.toThrow(/000002/);
    await expect(store.readCheckpoint(80)).rejects.toThrow(/0 parts stored, its header says 1/);
    await store.close();
  });

  it('MemoryStore: the same, and checkpoints survive a crash (written synced) but not a lost disk', async () => {
    const store = MemoryStore.empty();
    await store.writeCheckpoint(checkpoint(3, CHECKPOINT_PART_BYTES));
    await store.writeCheckpoint(checkpoint(9, 4));
    expect(await store.listCheckpoints()).toEqual([9, 3]);
    expect(same(await store.readCheckpoint(3), checkpoint(3, CHECKPOINT_PART_BYTES))).toBe(true);
    const restarted = store.crash();
    expect(await restarted.listCheckpoints()).toEqual([9, 3]);
    await restarted.deleteCheckpoint(9);
    expect(await restarted.listCheckpoints()).toEqual([3]);
    expect(await MemoryStore.empty().listCheckpoints()).toEqual([]);
  });
});
