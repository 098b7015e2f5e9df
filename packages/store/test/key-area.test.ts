import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@allot/replica';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { KEY_AREA_VALUE_BYTES_MAX, LevelStore, MemoryStore, StoreCorruptError } from '../src/index.js';
import { META } from './support.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (value: Uint8Array | null) => (value === null ? null : new TextDecoder().decode(value));

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'allot-keys-'));
  dirs.push(dir);
  return dir;
};

/** Both stores: open one, and what a restart finds. */
const harnesses: [string, () => Promise<{ store: Store; reopen(): Promise<Store> }>][] = [
  [
    'LevelStore',
    async () => {
      const dir = await tempDir();
      const store = await LevelStore.open(dir);
      await store.commit({ segments: [], heads: [], meta: META }, { sync: true });
      return {
        store,
        reopen: async () => {
          await store.close();
          return LevelStore.open(dir);
        },
      };
    },
  ],
  [
    'MemoryStore',
    async () => {
      const store = MemoryStore.empty();
      return { store, reopen: async () => store.crash() };
    },
  ],
];

describe.each(harnesses)('the keys area of a %s', (_name, make) => {
  it('keeps values across a restart, lists them by prefix in key order, and deletes atomically', async () => {
    const { store, reopen } = await make();
    await store.writeKeyArea(
      [
        { key: 'd/0002/0000/h', value: bytes('second') },
        { key: 'd/0001/0000/h', value: bytes('first') },
        { key: 'r/0001/0000/h', value: bytes('refunds') },
      ],
      [],
    );
    await store.writeKeyArea([{ key: 'd/0001/0000/c/1', value: bytes('chunk') }], ['d/0002/0000/h']);
    const again = await reopen();
    expect(await again.listKeyArea('d/')).toEqual(['d/0001/0000/c/1', 'd/0001/0000/h']);
    expect(await again.listKeyArea('')).toEqual(['d/0001/0000/c/1', 'd/0001/0000/h', 'r/0001/0000/h']);
    expect(text(await again.readKeyArea('d/0001/0000/h'))).toBe('first');
    expect(await again.readKeyArea('d/0002/0000/h')).toBeNull();
    // The keys area is not the outbox, and the outbox is not the keys area.
    expect(await again.readOutbox()).toEqual([]);
    await again.close();
  });

  it('refuses a bad key or an oversized value and writes nothing of that write', async () => {
    const { store } = await make();
    await expect(
      store.writeKeyArea(
        [
          { key: 'ok', value: bytes('x') },
          { key: 'bad key', value: bytes('y') },
        ],
        [],
      ),
    ).rejects.toThrow(/printable ASCII/);
    await expect(
      store.writeKeyArea([{ key: 'big', value: new Uint8Array(KEY_AREA_VALUE_BYTES_MAX + 1) }], []),
    ).rejects.toThrow(/more than/);
    expect(await store.listKeyArea('')).toEqual([]);
    await expect(store.readKeyArea('bad key')).rejects.toThrow(/printable ASCII/);
    await store.close();
  });
});

describe('the keys area on disk', () => {
  it('finds a damaged value and names its key; a MemoryStore loses the area with its disk', async () => {
    const dir = await tempDir();
    const store = await LevelStore.open(dir);
    await store.commit({ segments: [], heads: [], meta: META }, { sync: true });
    await store.writeKeyArea([{ key: 'd/1/h', value: bytes('header') }], []);
    await store.close();
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const sealed = (await db.get('v3/keys/d/1/h')) as Uint8Array;
    const damaged = sealed.slice();
    damaged[0] = (damaged[0] ?? 0) ^ 1;
    await db.put('v3/keys/d/1/h', damaged);
    await db.close();
    const reopened = await LevelStore.open(dir);
    const error = await reopened.readKeyArea('d/1/h').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect(String(error)).toContain('v3/keys/d/1/h');
    await reopened.close();

    const memory = MemoryStore.empty();
    await memory.writeKeyArea([{ key: 'd/1/h', value: bytes('header') }], []);
    expect(await memory.loseDisk().listKeyArea('')).toEqual([]);
  });
});
