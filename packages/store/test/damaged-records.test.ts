/**
 * Damaged records in a real LevelDB directory: records deleted or with a bit flipped behind the
 * store's back (as LevelDB serves them after damage that its own checks miss). A read of a tenant's
 * events must then reject with a StoreCorruptError naming the key; it never returns a page that
 * misses an event or holds a changed one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredEvent } from '@allot/replica';
import fc from 'fast-check';
import { Level } from 'level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlKey, LevelStore, logKey, StoreCorruptError, tenantKey, tenantLastKey } from '../src/index.js';
import { debitBody, EU, idsOf, Logs, META, US } from './support.js';

/** Events per origin: acme's every third event, the rest beta's, from two origins interleaved. */
const PER_ORIGIN = 60;
const PAGE = 7;

let dir: string;
/** acme's events in index order, with their index entry numbers. */
const acme: { entry: number; stored: StoredEvent }[] = [];

type Db = Level<string, Uint8Array>;

async function withDb<T>(use: (db: Db) => Promise<T>): Promise<T> {
  const db: Db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

/** Every page of acme from the start: the events read, and the error that stopped the reading. */
async function readAll(limit = PAGE): Promise<{ events: StoredEvent[]; error: Error | null }> {
  const events: StoredEvent[] = [];
  let store: LevelStore | null = null;
  try {
    store = await LevelStore.open(dir);
    let cursor: string | null = null;
    do {
      const page = await store.readTenantEvents('acme', cursor, limit);
      events.push(...page.events);
      cursor = page.next;
    } while (cursor !== null);
    return { events, error: null };
  } catch (error) {
    return { events, error: error as Error };
  } finally {
    await store?.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'allot-records-'));
  const store = await LevelStore.open(dir);
  const logs = new Logs();
  let entry = 0;
  for (let i = 0; i < PER_ORIGIN; i += 10) {
    const events: StoredEvent[] = [];
    for (let j = i; j < i + 10; j++) {
      for (const origin of [EU, US]) {
        const tenant = j % 3 === 0 ? 'acme' : 'beta';
        const stored = logs.append(origin, debitBody(tenant, j + 1, { j }));
        events.push(stored);
        entry += 1;
        if (tenant === 'acme') acme.push({ entry, stored });
      }
    }
    await store.commit(logs.batch(events, i === 0 ? { meta: META } : {}), { sync: true });
  }
  await store.close();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('tenant pages over damaged records', () => {
  it('reads the whole history when nothing is damaged', async () => {
    const { events, error } = await readAll();
    expect(error).toBeNull();
    expect(idsOf(events)).toEqual(idsOf(acme.map(({ stored }) => stored)));
  });

  it('names an index entry missing in the middle (on the read), at the end (at open), or a missing last-entry record', async () => {
    const middle = acme[10] as (typeof acme)[number];
    const last = acme[acme.length - 1] as (typeof acme)[number];
    const cases: [string, RegExp][] = [
      [
        tenantKey('acme', middle.entry),
        new RegExp(
          `^store corrupt at key "${tenantKey('acme', middle.entry)}": missing from tenant acme's index \\(entry ${acme[11]?.entry} follows it\\)$`,
        ),
      ],
      [
        tenantKey('acme', last.entry),
        // Found at open already: the tenant's last-entry record names it.
        new RegExp(
          `"${tenantKey('acme', last.entry)}": missing: v2/last/acme names it as the tenant's last entry$`,
        ),
      ],
      [tenantLastKey('acme'), /"v2\/tenant\/acme\/\d{16}": past tenant acme's last index entry \(0\)$/],
    ];
    for (const [key, message] of cases) {
      const value = await withDb(async (db) => {
        const kept = (await db.get(key)) as Uint8Array;
        await db.del(key);
        return kept;
      });
      const { events, error } = await readAll();
      await withDb((db) => db.put(key, value));
      expect(error).toBeInstanceOf(StoreCorruptError);
      expect(error?.message).toMatch(message);
      // Whatever was served before the damage was a whole prefix of the history.
      expect(idsOf(events)).toEqual(idsOf(acme.slice(0, events.length).map(({ stored }) => stored)));
    }
    expect((await readAll()).error).toBeNull();
  });

  it('never serves a short or changed page, whatever one record of the tenant is damaged', async () => {
    const keys = [
      tenantLastKey('acme'),
      ...acme.flatMap(({ entry, stored }) => [
        tenantKey('acme', entry),
        logKey(stored.event.origin, stored.event.seq),
      ]),
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...keys),
        fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { nil: null }),
        fc.integer({ min: 1, max: 25 }),
        async (key, flip, limit) => {
          const original = await withDb(async (db) => {
            const value = (await db.get(key)) as Uint8Array;
            if (flip === null) await db.del(key);
            else {
              const damaged = new Uint8Array(value);
              const at = flip[0] % damaged.length;
              damaged[at] = (damaged[at] as number) ^ (1 << flip[1]);
              await db.put(key, damaged);
            }
            return value;
          });
          const { events, error } = await readAll(limit).finally(() => withDb((db) => db.put(key, original)));
          expect(error).toBeInstanceOf(StoreCorruptError);
          expect(error?.message).not.toMatch(/\n/);
          expect(events.length).toBeLessThan(acme.length);
          expect(events).toEqual(acme.slice(0, events.length).map(({ stored }) => stored));
        },
      ),
      { numRuns: 30 },
    );
  });

  it('refuses to open a store whose head, counter or a last-entry record fails its checksum', async () => {
    for (const key of ['v2/counter', `v2/head/${EU}`, tenantLastKey('beta')]) {
      const original = await withDb(async (db) => {
        const value = (await db.get(key)) as Uint8Array;
        const damaged = new Uint8Array(value);
        damaged[0] = (damaged[0] as number) ^ 0x01;
        await db.put(key, damaged);
        return value;
      });
      await expect(LevelStore.open(dir)).rejects.toThrow(
        new RegExp(
          `^store corrupt at key "${key}": the value fails its checksum \\(stored [0-9a-f]{8}, computed [0-9a-f]{8}\\): damaged on disk$`,
        ),
      );
      await withDb((db) => db.put(key, original));
    }
    const store = await LevelStore.open(dir);
    await store.close();
  });
});

describe('control updates over damaged records', () => {
  it('refuses a missing update (on the read or at open), a damaged one, or a missing tally', async () => {
    const controlDir = await mkdtemp(join(tmpdir(), 'allot-control-'));
    try {
      const store = await LevelStore.open(controlDir);
      const logs = new Logs();
      const updates = [1, 2, 3, 4, 5].map((n) => new Uint8Array([n, n, n]));
      await store.commit(
        logs.batch([logs.append(EU, debitBody('acme', 1))], { meta: META, control: updates.slice(0, 2) }),
        { sync: true },
      );
      await store.commit({ events: [], heads: [], control: updates.slice(2) }, { sync: true });
      expect(await store.readControl()).toEqual(updates);
      await store.close();
      // Entries: 1 is acme's index entry, 2..6 the control updates.
      const at = (db: Db, key: string) => db.get(key) as Promise<Uint8Array>;
      const cases: [string, 'delete' | 'flip', 'read' | 'open', RegExp][] = [
        [
          controlKey(4),
          'delete',
          'read',
          /"v2\/control-tally": the control tally counts 5 updates up to entry 6; found 4 up to entry 6$/,
        ],
        [
          controlKey(6),
          'delete',
          'open',
          /"v2\/control\/0000000000000006": the control tally's last update is entry 6; the last stored is entry 5$/,
        ],
        [
          'v2/control-tally',
          'delete',
          'open',
          /"v2\/control\/0000000000000006": the control tally's last update is entry 0; the last stored is entry 6$/,
        ],
        [controlKey(3), 'flip', 'read', /"v2\/control\/0000000000000003": the value fails its checksum/],
      ];
      for (const [key, damage, when, message] of cases) {
        const db: Db = new Level<string, Uint8Array>(controlDir, {
          keyEncoding: 'utf8',
          valueEncoding: 'view',
        });
        const original = await at(db, key);
        if (damage === 'delete') await db.del(key);
        else
          await db.put(
            key,
            new Uint8Array(original).map((byte, i) => (i === 1 ? byte ^ 1 : byte)),
          );
        await db.close();
        if (when === 'open') await expect(LevelStore.open(controlDir)).rejects.toThrow(message);
        else {
          const reopened = await LevelStore.open(controlDir);
          await expect(reopened.readControl()).rejects.toThrow(message);
          await reopened.close();
        }
        const restore: Db = new Level<string, Uint8Array>(controlDir, {
          keyEncoding: 'utf8',
          valueEncoding: 'view',
        });
        await restore.put(key, original);
        await restore.close();
      }
      const whole = await LevelStore.open(controlDir);
      expect(await whole.readControl()).toEqual(updates);
      await whole.close();
    } finally {
      await rm(controlDir, { recursive: true, force: true });
    }
  });
});
