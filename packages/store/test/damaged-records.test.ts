/**
 * Damaged records in a real LevelDB directory: records deleted or with a bit flipped behind the
 * store's back (as LevelDB serves them after damage that its own checks miss). A read of a tenant's
 * events must then reject with a StoreCorruptError naming the key; it never returns a page that
 * holds a changed event, nor one with an event of a deleted segment. (A deleted tenant index entry
 * is not detected in layout v3: the index keeps no chain of entries, so that it costs no store key
 * and no memory per tenant; the segments it points into are the log, and are checked whole.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Level } from 'level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlKey, LevelStore, StoreCorruptError, segmentKey, TENANT_RANGE } from '../src/index.js';
import { type Appended, debitBody, EU, idsOf, Logs, META, US } from './support.js';

/** Events per origin: acme's every third event, the rest beta's, from two origins interleaved. */
const PER_ORIGIN = 60;
const PAGE = 7;

let dir: string;
/** acme's events in index order (each a segment of one event). */
const acme: Appended[] = [];

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
async function readAll(
  limit = PAGE,
): Promise<{ events: { event: Appended['event'] }[]; error: Error | null }> {
  const events: { event: Appended['event'] }[] = [];
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
  for (let i = 0; i < PER_ORIGIN; i += 10) {
    const events: Appended[] = [];
    const acmeOfCommit: Appended[] = [];
    for (let j = i; j < i + 10; j++) {
      for (const origin of [EU, US]) {
        const tenant = j % 3 === 0 ? 'acme' : 'beta';
        const stored = logs.append(origin, debitBody(tenant, j + 1, { j }));
        events.push(stored);
        if (tenant === 'acme') acmeOfCommit.push(stored);
      }
    }
    acme.push(...acmeOfCommit);
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
    expect(idsOf(events)).toEqual(idsOf(acme));
  });

  it('never serves a changed page, nor one past a deleted segment, whatever record of the tenant is damaged', async () => {
    const indexKeys = await withDb(async (db) =>
      (await db.keys(TENANT_RANGE).all()).filter((key) => key.startsWith('v3/tenant/acme/')),
    );
    const segmentKeys = acme.map((stored) => segmentKey(stored.origin, stored.lastSeq));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({ key: fc.constantFrom(...indexKeys), delete: fc.constant(false) }),
          fc.record({ key: fc.constantFrom(...segmentKeys), delete: fc.boolean() }),
        ),
        fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })),
        fc.integer({ min: 1, max: 25 }),
        async (damage, flip, limit) => {
          const { key } = damage;
          const original = await withDb(async (db) => {
            const value = (await db.get(key)) as Uint8Array;
            if (damage.delete) await db.del(key);
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
          expect(idsOf(events)).toEqual(idsOf(acme.slice(0, events.length)));
          expect(events.map(({ event }) => event)).toEqual(
            acme.slice(0, events.length).map(({ event }) => event),
          );
        },
      ),
      { numRuns: 30 },
    );
  });

  it('refuses to open a store whose head or counter fails its checksum', async () => {
    for (const key of ['v3/counter', `v3/head/${EU}`]) {
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
      await store.commit({ segments: [], heads: [], control: updates.slice(2) }, { sync: true });
      expect(await store.readControl()).toEqual(updates);
      await store.close();
      // Entries: 1 is acme's index entry, 2..6 the control updates.
      const at = (db: Db, key: string) => db.get(key) as Promise<Uint8Array>;
      const cases: [string, 'delete' | 'flip', 'read' | 'open', RegExp][] = [
        [
          controlKey(4),
          'delete',
          'read',
          /"v3\/control-tally": the control tally counts 5 updates up to entry 6; found 4 up to entry 6$/,
        ],
        [
          controlKey(6),
          'delete',
          'open',
          /"v3\/control\/0000000000000006": the control tally's last update is entry 6; the last stored is entry 5$/,
        ],
        [
          'v3/control-tally',
          'delete',
          'open',
          /"v3\/control\/0000000000000006": the control tally's last update is entry 0; the last stored is entry 6$/,
        ],
        [controlKey(3), 'flip', 'read', /"v3\/control\/0000000000000003": the value fails its checksum/],
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
