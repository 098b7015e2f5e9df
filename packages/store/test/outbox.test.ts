import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { LevelStore, MemoryStore, StoreCorruptError } from '../src/index.js';
import { META } from './support.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array) => new TextDecoder().decode(value);

describe('the outbox', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allot-outbox-'));
    dirs.push(dir);
    return dir;
  };

  it('keeps records of a LevelStore across a reopen, in key order, and deletes atomically', async () => {
    const dir = await tempDir();
    let store = await LevelStore.open(dir);
    await store.commit({ events: [], heads: [], meta: META }, { sync: true });
    await store.writeOutbox(
      [
        { key: 'd/0002', value: bytes('second') },
        { key: 'd/0001', value: bytes('first') },
      ],
      [],
    );
    await store.writeOutbox([{ key: 'a/acme', value: bytes('armed') }], ['d/0001']);
    await store.close();
    store = await LevelStore.open(dir);
    const records = await store.readOutbox();
    expect(records.map((record) => [record.key, text(record.value)])).toEqual([
      ['a/acme', 'armed'],
      ['d/0002', 'second'],
    ]);
    await store.close();
  });

  it('refuses a bad key or an oversized record and writes nothing of that write', async () => {
    const store = MemoryStore.empty();
    await expect(
      store.writeOutbox(
        [
          { key: 'ok', value: bytes('x') },
          { key: 'bad key', value: bytes('y') },
        ],
        [],
      ),
    ).rejects.toThrow(/printable ASCII/);
    await expect(store.writeOutbox([{ key: 'big', value: new Uint8Array(300 * 1024) }], [])).rejects.toThrow(
      /more than/,
    );
    expect(await store.readOutbox()).toEqual([]);
  });

  it('survives a crash of a MemoryStore and is gone with its disk', async () => {
    const store = MemoryStore.empty();
    await store.writeOutbox([{ key: 'd/1', value: bytes('pending') }], []);
    const restarted = store.crash();
    expect((await restarted.readOutbox()).map((record) => record.key)).toEqual(['d/1']);
    expect(await restarted.loseDisk().readOutbox()).toEqual([]);
  });

  it('finds a damaged record and names its key', async () => {
    const dir = await tempDir();
    const store = await LevelStore.open(dir);
    await store.writeOutbox([{ key: 'd/1', value: bytes('pending') }], []);
    await store.close();
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const sealed = (await db.get('v2/outbox/d/1')) as Uint8Array;
    const damaged = sealed.slice();
    damaged[0] = (damaged[0] ?? 0) ^ 1;
    await db.put('v2/outbox/d/1', damaged);
    await db.close();
    const reopened = await LevelStore.open(dir);
    await expect(reopened.readOutbox()).rejects.toBeInstanceOf(StoreCorruptError);
    await reopened.close();
  });
});
