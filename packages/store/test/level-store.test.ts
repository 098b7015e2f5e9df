import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@allot/replica';
import { Level } from 'level';
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  COUNTER_KEY,
  encodeCounter,
  encodeHeardOrigin,
  encodeLogHead,
  encodeNodeMeta,
  encodeSegmentRecord,
  encodeTenantEntry,
  headKey,
  LevelStore,
  META_KEY,
  originKey,
  StoreCorruptError,
  sealRecord,
  segmentKey,
  tenantKey,
} from '../src/index.js';
import { type StoreHarness, storeCompliance } from './compliance.js';
import { debitBody, EU, grantBody, Logs, META, US } from './support.js';

/** A temporary data directory per harness, removed with every store left open in it. */
function levelHarness(): StoreHarness & { dir(): Promise<string> } {
  let dir: string | null = null;
  const stores: Store[] = [];
  const track = (store: LevelStore) => {
    stores.push(store);
    return store;
  };
  const directory = async () => {
    dir ??= await mkdtemp(join(tmpdir(), 'allot-store-'));
    return dir;
  };
  return {
    dir: directory,
    async open() {
      return track(await LevelStore.open(await directory()));
    },
    async reopen(store) {
      await store.close();
      return track(await LevelStore.open(await directory()));
    },
    async cleanup() {
      for (const store of stores) await store.close().catch(() => undefined);
      if (dir !== null) await rm(dir, { recursive: true, force: true });
    },
  };
}

storeCompliance('LevelStore', levelHarness);

/** Bytes as another MessagePack writer (plain maps) would write them. */
const pack = (value: unknown): Uint8Array => new Packr({ useRecords: false }).pack(value);

describe('LevelStore on disk', () => {
  /** Every harness a test made (a test may build several directories), removed after it. */
  let harnesses: ReturnType<typeof levelHarness>[] = [];
  const newHarness = () => {
    const harness = levelHarness();
    harnesses.push(harness);
    return harness;
  };

  afterEach(async () => {
    for (const harness of harnesses) await harness.cleanup();
    harnesses = [];
  });

  /** A closed store in a fresh directory holding EU/1..3 (acme), and the directory. */
  async function storeWithLog(): Promise<{ dir: string; logs: Logs }> {
    const dir = await newHarness().dir();
    const store = await LevelStore.open(dir);
    const logs = new Logs();
    const events = [1, 2, 3].map((amount) => logs.append(EU, debitBody('acme', amount, { n: amount })));
    await store.commit(logs.batch(events, { meta: META }), { sync: true });
    await store.close();
    return { dir, logs };
  }

  /** Writes raw `value` under `key`, with plain `level`, behind the store's back. */
  async function writeRaw(dir: string, key: string, value: Uint8Array): Promise<void> {
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.put(key, value);
    await db.close();
  }

  /** Writes `payload` under `key` sealed with its checksum, as a store would: only the payload is wrong. */
  async function writeSealed(dir: string, key: string, payload: Uint8Array): Promise<void> {
    await writeRaw(dir, key, sealRecord(key, payload));
  }

  async function corruptRead(read: (store: LevelStore) => Promise<unknown>, dir: string): Promise<Error> {
    const store = await LevelStore.open(dir);
    try {
      return await read(store).then(
        () => {
          throw new Error('the read succeeded');
        },
        (error: Error) => error,
      );
    } finally {
      await store.close();
    }
  }

  it('refuses to hand out a corrupt segment record, naming its key in one line', async () => {
    const { dir, logs } = await storeWithLog();
    const key = segmentKey(EU, 2);
    expect(key).toBe('v3/seg/eu#aaaaaaaa/0000000000000002');
    const segment = logs.append(EU, grantBody('acme', 'g', 1));
    const prefix = new Uint8Array(96);
    const cases: [Uint8Array, RegExp][] = [
      [sealRecord(key, new Uint8Array([1, 2, 3])), /a segment record of 3 bytes/],
      [sealRecord(key, Buffer.concat([prefix, Uint8Array.of(9)])), /format version 9/],
      [sealRecord(key, Buffer.concat([prefix, Uint8Array.of(1, 2)])), /segment invalid/],
      // Bytes that another writer put there, without a checksum of this key.
      [Buffer.concat([prefix, segment.bytes, new Uint8Array(4)]), /the value fails its checksum/],
      [new Uint8Array([1, 2, 3]), /the value has 3 bytes, too short for a record/],
      // The record of EU/4 sealed under its own key, found under EU/2's key.
      [sealRecord(segmentKey(EU, 4), encodeSegmentRecord(segment)), /fails its checksum/],
    ];
    for (const [bytes, problem] of cases) {
      await writeRaw(dir, key, bytes);
      for (const read of [
        (store: LevelStore) => store.readLog(EU, 1, 10),
        (store: LevelStore) => store.readTenantEvents('acme', null, 10),
      ]) {
        const error = await corruptRead(read, dir);
        expect(error).toBeInstanceOf(StoreCorruptError);
        expect(error.message).toMatch(problem);
        expect(error.message).toContain(JSON.stringify(key));
        expect(error.message).not.toMatch(/\n/);
      }
    }
  });

  it('refuses a well-sealed segment that is not the one its key promises', async () => {
    const { dir, logs } = await storeWithLog();
    const fourth = logs.append(EU, grantBody('acme', 'g', 1));
    await writeSealed(dir, segmentKey(EU, 2), encodeSegmentRecord(fourth));
    const misplaced = await corruptRead((store) => store.readLog(EU, 2, 1), dir);
    expect(misplaced.message).toMatch(/holds segment eu#aaaaaaaa\/4-4/);
  });

  it('refuses to open a directory whose heads do not match their logs, or of another layout', async () => {
    const { dir, logs } = await storeWithLog();
    await writeRaw(dir, segmentKey(EU, 3), new Uint8Array([0xc0]));
    await expect(LevelStore.open(dir)).rejects.toThrow(StoreCorruptError);
    await expect(LevelStore.open(dir)).rejects.toThrow(/v3\/seg\/eu#aaaaaaaa\/0000000000000003/);

    await writeSealed(
      dir,
      segmentKey(EU, 3),
      encodeSegmentRecord(logs.append(EU, grantBody('acme', 'x', 1))),
    );
    await expect(LevelStore.open(dir)).rejects.toThrow(/holds segment eu#aaaaaaaa\/4-4/);

    const other = await storeWithLog();
    await writeSealed(
      other.dir,
      segmentKey(EU, 4),
      encodeSegmentRecord(other.logs.append(EU, grantBody('acme', 'x', 1))),
    );
    await expect(LevelStore.open(other.dir)).rejects.toThrow(/past the head of eu#aaaaaaaa \(seq 3\)/);

    const third = await storeWithLog();
    await writeRaw(third.dir, 'v4/meta', encodeNodeMeta(META));
    await expect(LevelStore.open(third.dir)).rejects.toThrow(
      /"v4\/meta": outside layout v3\/, the only layout/,
    );
    const old = await storeWithLog();
    await writeRaw(old.dir, 'v1/meta', encodeNodeMeta(META));
    await expect(LevelStore.open(old.dir)).rejects.toThrow(
      /"v1\/meta": outside layout v3\/.*\(an older Allot wrote this directory/,
    );

    const fourth = await storeWithLog();
    await writeSealed(fourth.dir, META_KEY, pack({ ...META, region: 'EU' }));
    await expect(LevelStore.open(fourth.dir)).rejects.toThrow(/"v3\/meta": invalid region/);

    const fifth = await storeWithLog();
    await writeSealed(fifth.dir, headKey(EU), encodeCounter(3));
    await expect(LevelStore.open(fifth.dir)).rejects.toThrow(
      /"v3\/head\/eu#aaaaaaaa": head is number, not a map/,
    );
  });

  it('refuses to open a directory with a key that no record has, or a log without its head', async () => {
    for (const stray of [
      'v3/',
      'v3/control',
      'v3/counters',
      'v3/heads',
      'v3/se',
      'v3/met',
      'v3/origin',
      'v3/origins',
      'v3/tenant',
      'v3/z',
    ]) {
      const { dir } = await storeWithLog();
      await writeRaw(dir, stray, sealRecord(stray, encodeCounter(1)));
      await expect(LevelStore.open(dir)).rejects.toThrow(
        `store corrupt at key ${JSON.stringify(stray)}: no record of layout v3/ has this key`,
      );
    }
    const { dir, logs } = await storeWithLog();
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.del(headKey(EU));
    await db.close();
    await expect(LevelStore.open(dir)).rejects.toThrow(
      `store corrupt at key "${segmentKey(EU, 1)}": in the log of ${EU}, which has no head`,
    );
    await writeSealed(dir, headKey(EU), encodeLogHead(logs.head(EU)));
    const reopened = await LevelStore.open(dir);
    await reopened.close();
    const start = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await start.del(segmentKey(EU, 1));
    await start.close();
    await expect(LevelStore.open(dir)).rejects.toThrow(
      `store corrupt at key "${segmentKey(EU, 2)}": the log of ${EU} starts at seq 2`,
    );
  });

  it('refuses to open a directory with a damaged heard-of origin record, naming its key', async () => {
    const cases: [string, Uint8Array, string][] = [
      [
        'v3/origin/not-an-origin',
        sealRecord('v3/origin/not-an-origin', encodeHeardOrigin(US)),
        'not a heard-of origin key',
      ],
      [originKey(EU), sealRecord(originKey(EU), encodeHeardOrigin(US)), `heard-of origin is`],
      [originKey(EU), encodeHeardOrigin(EU), 'checksum'],
    ];
    for (const [key, value, message] of cases) {
      const { dir } = await storeWithLog();
      await writeRaw(dir, key, value);
      const error = await LevelStore.open(dir).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(StoreCorruptError);
      expect((error as Error).message).toContain(`store corrupt at key ${JSON.stringify(key)}`);
      expect((error as Error).message).toContain(message);
    }
  });

  it('refuses an index entry that points at a missing event, and a log with a segment missing', async () => {
    const { dir } = await storeWithLog();
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    await db.del(segmentKey(EU, 2));
    await db.close();
    const error = await corruptRead((store) => store.readTenantEvents('acme', null, 10), dir);
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect(error.message).toBe(
      `store corrupt at key ${JSON.stringify(segmentKey(EU, 3))}: starts at seq 3: seqs from 2 are missing from the log`,
    );
    const gap = await corruptRead((store) => store.readLog(EU, 1, 10), dir);
    expect(gap.message).toMatch(/seqs from 2 are missing from the log/);
    // An index entry naming an event of another tenant.
    const other = await storeWithLog();
    await writeSealed(other.dir, tenantKey('beta', 1), encodeTenantEntry([{ origin: EU, seq: 1 }]));
    const wrong = await corruptRead((store) => store.readTenantEvents('beta', null, 10), other.dir);
    expect(wrong.message).toBe(
      `store corrupt at key ${JSON.stringify(tenantKey('beta', 1))}: points at an event of tenant acme`,
    );
  });

  it('passes sync to LevelDB, and keeps an unsynced commit across a clean close', async () => {
    const dir = await newHarness().dir();
    // Each LevelDB batch the store writes: its puts and deletes, and the options of its write.
    const written: { writes: unknown[]; options: unknown }[] = [];
    const original = Level.prototype.batch;
    const batch = vi.spyOn(Level.prototype, 'batch').mockImplementation(function (
      this: Level<string, Uint8Array>,
      ...args: unknown[]
    ) {
      if (args.length > 0) throw new Error('the store writes through chained batches only');
      const chained = (original as () => ReturnType<Level<string, Uint8Array>['batch']>).call(this);
      const writes: unknown[] = [];
      const put = chained.put.bind(chained);
      const del = chained.del.bind(chained);
      const write = chained.write.bind(chained);
      Object.assign(chained, {
        put: (key: string, value: Uint8Array) => {
          writes.push({ type: 'put', key, value });
          return put(key, value);
        },
        del: (key: string) => {
          writes.push({ type: 'del', key });
          return del(key);
        },
        write: (options: unknown) => {
          written.push({ writes, options });
          return write(options as never);
        },
      });
      return chained;
    } as never);
    try {
      const store = await LevelStore.open(dir);
      const logs = new Logs();
      await store.commit(logs.batch([logs.append(EU, grantBody('acme', 'g1', 1))]), { sync: true });
      await store.commit(logs.batch([logs.append(EU, grantBody('acme', 'g2', 1))]), { sync: false });
      // An empty synced commit still reaches the disk: it makes the one before durable.
      await store.commit({ segments: [], heads: [] }, { sync: true });
      await store.commit({ segments: [], heads: [] }, { sync: false });
      expect(written.map((each) => each.options)).toEqual([{ sync: true }, { sync: false }, { sync: true }]);
      expect(written[0]?.writes).toHaveLength(4); // segment, tenant index entry, head, counter
      expect(written[2]?.writes).toEqual([
        { type: 'put', key: COUNTER_KEY, value: sealRecord(COUNTER_KEY, encodeCounter(2)) },
      ]);
      await store.close();
    } finally {
      batch.mockRestore();
    }
    const reopened = await LevelStore.open(dir);
    expect((await reopened.heads())[0]?.seq).toBe(2);
    await reopened.close();
  });

  it('says why it cannot open a directory another store holds', async () => {
    const dir = await newHarness().dir();
    const store = await LevelStore.open(dir);
    await expect(LevelStore.open(dir)).rejects.toThrow(/cannot open the store in .*allot-store-/);
    await store.close();
  });
});
