import type { Store } from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { MemoryStore, StoreClosedError } from '../src/index.js';
import { type StoreHarness, storeCompliance } from './compliance.js';
import { EU, grantBody, idsOf, Logs, META, US } from './support.js';

storeCompliance(
  'MemoryStore',
  () =>
    ({
      async open() {
        return MemoryStore.empty();
      },
      async reopen(store: Store) {
        return (store as MemoryStore).crash();
      },
      async cleanup() {},
    }) satisfies StoreHarness,
);

/** A store, and a log to append grants of acme to. */
function setup(store = MemoryStore.empty()) {
  const logs = new Logs();
  let n = 0;
  const commit = (origin: string, sync: boolean, target: MemoryStore = store) =>
    target.commit(logs.batch([logs.append(origin, grantBody('acme', `g${++n}`, 1))]), { sync });
  return { store, logs, commit };
}

describe('MemoryStore crash semantics', () => {
  it('loses an unsynced commit on a crash and keeps a synced one', async () => {
    const { store, commit } = setup();
    await commit(EU, true);
    await commit(EU, false);
    expect(store.unsyncedCommits).toBe(1);
    expect(idsOf(await store.readLog(EU, 1, 10))).toEqual([`${EU}/1`, `${EU}/2`]);

    const restarted = store.crash();
    expect(idsOf(await restarted.readLog(EU, 1, 10))).toEqual([`${EU}/1`]);
    expect((await restarted.heads()).map((head) => head.seq)).toEqual([1]);
    expect((await restarted.readTenantEvents('acme', null, 10)).events).toHaveLength(1);
  });

  it('loses an unsynced heard-of origin on a crash, keeps a synced one, and forgets both with the disk', async () => {
    const { store } = setup();
    await store.commit({ segments: [], heads: [], origins: [EU] }, { sync: true });
    await store.commit({ segments: [], heads: [], origins: [US] }, { sync: false });
    expect(await store.readOrigins()).toEqual([EU, US].sort());
    const restarted = store.crash();
    expect(await restarted.readOrigins()).toEqual([EU]);
    // Recorded again after the crash: the record is written anew, once.
    await restarted.commit({ segments: [], heads: [], origins: [US, EU] }, { sync: true });
    expect(await restarted.crash().readOrigins()).toEqual([EU, US].sort());
    expect(await MemoryStore.empty().readOrigins()).toEqual([]);
  });

  it('makes earlier unsynced commits durable with a later synced one, or a flush', async () => {
    const { store, commit } = setup();
    await commit(EU, false);
    await commit(US, false);
    await commit(EU, true);
    expect(store.unsyncedCommits).toBe(0);
    await commit(US, false);
    store.flush();
    await commit(EU, false);
    // An empty synced commit is a barrier: everything before it is durable.
    await store.commit({ segments: [], heads: [] }, { sync: true });
    await commit(EU, false);
    await store.commit({ segments: [], heads: [], control: [new Uint8Array([1])] }, { sync: false });

    const restarted = store.crash();
    expect(idsOf(await restarted.readLog(EU, 1, 10))).toEqual([`${EU}/1`, `${EU}/2`, `${EU}/3`]);
    expect(idsOf(await restarted.readLog(US, 1, 10))).toEqual([`${US}/1`, `${US}/2`]);
    expect(await restarted.readControl()).toEqual([]);
  });

  it('keeps a prefix of the unsynced commits when asked, never a later one alone', async () => {
    const { store, logs, commit } = setup();
    await commit(EU, false);
    await commit(EU, false);
    await commit(EU, false);
    expect(() => store.crash({ keepUnsyncedCommits: 4 })).toThrow(RangeError);
    const restarted = store.crash({ keepUnsyncedCommits: 2 });
    expect(idsOf(await restarted.readLog(EU, 1, 10))).toEqual([`${EU}/1`, `${EU}/2`]);
    // The restarted node appends after what survived, as its replica would after recovery.
    logs.rewind(EU, (await restarted.readSegments(EU, 2, 1))[0]);
    await commit(EU, true, restarted);
    expect(idsOf(await restarted.readLog(EU, 1, 10))).toEqual([`${EU}/1`, `${EU}/2`, `${EU}/3`]);
  });

  it('makes the crashed instance reject every call, and its commits in flight', async () => {
    let release: () => void = () => {};
    const latency = () =>
      new Promise<void>((resolve) => {
        release = resolve;
      });
    const { store, commit } = setup(MemoryStore.empty({ commitLatency: latency }));
    const inFlight = commit(EU, true);
    await Promise.resolve();
    const restarted = store.crash();
    release();
    await expect(inFlight).rejects.toThrow(StoreClosedError);
    await expect(store.readMeta()).rejects.toThrow(/crashed/);
    await expect(store.heads()).rejects.toThrow(StoreClosedError);
    await expect(store.close()).rejects.toThrow(StoreClosedError);
    expect(() => store.crash()).toThrow(StoreClosedError);
    expect(() => store.flush()).toThrow(StoreClosedError);
    expect(await restarted.heads()).toEqual([]);
  });

  it('waits for the commit latency hook, told whether the commit syncs', async () => {
    const calls: boolean[] = [];
    const releases: (() => void)[] = [];
    const store = MemoryStore.empty({
      commitLatency: ({ sync }) => {
        calls.push(sync);
        return new Promise<void>((resolve) => releases.push(resolve));
      },
    });
    const { commit } = setup(store);
    let done = false;
    const first = commit(EU, true).then(() => {
      done = true;
    });
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(calls).toEqual([true]);
    expect(done).toBe(false);
    expect(await store.heads()).toEqual([]);
    releases.shift()?.();
    await first;
    expect(done).toBe(true);
    expect((await store.heads()).map((head) => head.seq)).toEqual([1]);

    // The hook carries over to the store a crash returns.
    const restarted = store.crash();
    const second = commit(EU, false, restarted);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(calls).toEqual([true, false]);
    releases.shift()?.();
    await second;
  });

  it('fails the next commit on demand, writing nothing of it', async () => {
    const { store, logs, commit } = setup();
    await commit(EU, true);
    const disk = new Error('disk full');
    store.failNextCommit(disk);
    const event = logs.append(EU, grantBody('acme', 'g2', 1));
    await expect(store.commit(logs.batch([event]), { sync: true })).rejects.toBe(disk);
    expect(idsOf(await store.readLog(EU, 1, 10))).toEqual([`${EU}/1`]);
    // The same batch succeeds once the disk is back.
    await store.commit(logs.batch([event]), { sync: true });
    expect(idsOf(await store.readLog(EU, 1, 10))).toEqual([`${EU}/1`, `${EU}/2`]);
    expect(idsOf(await store.crash().readLog(EU, 1, 10))).toEqual([`${EU}/1`, `${EU}/2`]);
  });

  it('gives an empty store after a disk loss', async () => {
    const { store, commit } = setup();
    await store.commit({ segments: [], heads: [], meta: META }, { sync: true });
    await commit(EU, true);
    const fresh = store.loseDisk();
    expect(await fresh.readMeta()).toBeNull();
    expect(await fresh.heads()).toEqual([]);
    await expect(store.readMeta()).rejects.toThrow(/lost its disk/);
  });

  it('finds what was durable after a clean close', async () => {
    const { store, commit } = setup();
    await commit(EU, true);
    await commit(EU, false);
    await store.close();
    expect(idsOf(await store.crash().readLog(EU, 1, 10))).toEqual([`${EU}/1`]);
  });
});
