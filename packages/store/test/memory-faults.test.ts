import { describe, expect, it } from 'vitest';
import {
  COMPACTION_BACKUPS_KEPT,
  COMPACTION_COMMITS,
  flipBit,
  MemoryStore,
  StoreCorruptError,
} from '../src/index.js';
import { EU, grantBody, idsOf, Logs, US } from './support.js';

/** A store with `commits` synced commits of one grant each at EU (and one at US first). */
async function storeWith(commits: number) {
  const store = MemoryStore.empty();
  const logs = new Logs();
  let n = 0;
  await store.commit(logs.batch([logs.append(US, grantBody('acme', 'u1', 1))]), { sync: true });
  for (let i = 0; i < commits; i++)
    await store.commit(logs.batch([logs.append(EU, grantBody('acme', `g${++n}`, 1))]), { sync: true });
  return store;
}

/** Always the first choice, or always the last: the damages are deterministic given the picks. */
const first = () => 0;
const last = (n: number) => n - 1;

async function seqs(store: MemoryStore) {
  return Object.fromEntries((await store.heads()).map((head) => [head.origin, head.seq]));
}

describe('MemoryStore storage faults (issue 15)', () => {
  it('a torn tail drops the last durable commit whole and keeps the ones before it', async () => {
    const store = await storeWith(5);
    const damaged = store.crashDamaged('torn-tail', first);
    expect(damaged?.report.commitsLost).toBe(1);
    const restarted = damaged?.store as MemoryStore;
    expect(await seqs(restarted)).toEqual({ [EU]: 4, [US]: 1 });
    expect(idsOf(await restarted.readLog(EU, 1, 10))).toHaveLength(4);
    expect((await restarted.readTenantEvents('acme', null, 100)).events).toHaveLength(5);
    await expect(store.heads()).rejects.toThrow(/crashed/);
  });

  it('a lost WAL keeps the consistent image of the last compaction, and a later loss starts from there', async () => {
    const store = await storeWith(COMPACTION_COMMITS + 9);
    // 1 + 64 + 9 commits: the compaction after the 64th commit kept eu up to seq 63.
    const damaged = store.crashDamaged('lost-wal', first);
    expect(damaged?.report.commitsLost).toBe(10);
    const restarted = damaged?.store as MemoryStore;
    expect(await seqs(restarted)).toEqual({ [EU]: COMPACTION_COMMITS - 1, [US]: 1 });
    expect((await restarted.readTenantEvents('acme', null, 1000)).events).toHaveLength(COMPACTION_COMMITS);
    // Nothing in the WAL any more: a second loss finds nothing to take, and says so.
    expect(restarted.crashDamaged('lost-wal', first)).toBeNull();
    expect(await seqs(restarted)).toEqual({ [EU]: COMPACTION_COMMITS - 1, [US]: 1 });
  });

  it('a flipped bit at the end or in the middle of a log is refused by the seal on every read, never served', async () => {
    for (const where of ['corrupt-end', 'corrupt-middle'] as const) {
      const store = await storeWith(6);
      const damaged = store.crashDamaged(where, last);
      expect(damaged?.report.damagedKeys).toHaveLength(1);
      const key = damaged?.report.damagedKeys[0] as string;
      // `last` picks the last log in origin order (us, which has one record) only for the end.
      const restarted = damaged?.store as MemoryStore;
      const origin = key.includes(US) ? US : EU;
      const error = await restarted.readLog(origin, 1, 100).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreCorruptError);
      expect((error as StoreCorruptError).key).toBe(key);
      expect((error as Error).message).toMatch(/fails its checksum/);
    }
  });

  it('a misdirected read returns a neighbour record, which its seal refuses; healed reads serve it again', async () => {
    const store = await storeWith(4);
    const damaged = store.crashDamaged('misdirected-read', first);
    const restarted = damaged?.store as MemoryStore;
    const key = damaged?.report.damagedKeys[0] as string;
    await expect(restarted.readLog(EU, 1, 100)).rejects.toThrow(StoreCorruptError);
    await expect(restarted.readLog(EU, 1, 100)).rejects.toThrow(key);
    restarted.healReads();
    expect(idsOf(await restarted.readLog(EU, 1, 100))).toHaveLength(4);
  });

  it('a read fault outlasts another crash before the restart, until healed', async () => {
    const store = await storeWith(4);
    const damaged = store.crashDamaged('misdirected-read', first);
    if (damaged === null) throw new Error('the disk had nothing to misdirect');
    const key = damaged.report.damagedKeys[0] as string;
    const again = damaged.store.crash();
    await expect(again.readLog(EU, 1, 100)).rejects.toThrow(key);
    again.healReads();
    const healed = again.crash();
    expect(idsOf(await healed.readLog(EU, 1, 100))).toHaveLength(4);
  });

  it('a stale read serves the heads of the last compaction, sealed correctly: the head check finds the log past it', async () => {
    const store = await storeWith(COMPACTION_COMMITS + 3);
    const restarted = store.crashDamaged('stale-read', first)?.store as MemoryStore;
    // As LevelStore's open does: a head must be its log's last segment (swarm seed 10738: a node
    // took writes on a stale head until the store refused its first commit).
    await expect(restarted.heads()).rejects.toThrow(
      new RegExp(`past the head of ${EU.replace('#', '\\#')} \\(seq ${COMPACTION_COMMITS - 1}\\)`),
    );
    // The log itself is whole: a reader that reads past the head finds the records after it.
    expect(idsOf(await restarted.readLog(EU, 1, 1000))).toHaveLength(COMPACTION_COMMITS + 3);
    restarted.healReads();
    expect(await seqs(restarted)).toEqual({ [EU]: COMPACTION_COMMITS + 3, [US]: 1 });
  });

  it('restores an older backup: a consistent state from an earlier compaction, or nothing when none is kept', async () => {
    expect((await storeWith(3)).crashDamaged('old-backup', first)).toBeNull();
    const store = await storeWith(COMPACTION_COMMITS * (COMPACTION_BACKUPS_KEPT + 2));
    const damaged = store.crashDamaged('old-backup', last);
    const restarted = damaged?.store as MemoryStore;
    // The newest backup is the compaction before the last one.
    const { [EU]: eu } = await seqs(restarted);
    expect(eu).toBe(COMPACTION_COMMITS * (COMPACTION_BACKUPS_KEPT + 1) - 1);
    expect(damaged?.report.commitsLost).toBe(COMPACTION_COMMITS + 1);
    expect(idsOf(await restarted.readLog(EU, 1, 10_000))).toHaveLength(eu as number);
  });

  it('reports what the disk holds durably, and flips exactly one bit', async () => {
    const store = await storeWith(2);
    expect(store.durableSeqs()).toEqual({ [EU]: 2, [US]: 1 });
    const bytes = new Uint8Array([0b1010_0000, 0xff]);
    expect([...flipBit(bytes, 0)]).toEqual([0b1010_0001, 0xff]);
    expect([...flipBit(bytes, 15)]).toEqual([0b1010_0000, 0x7f]);
    expect([...bytes]).toEqual([0b1010_0000, 0xff]);
    expect(() => flipBit(bytes, 16)).toThrow(RangeError);
  });
});
