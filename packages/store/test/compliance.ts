/**
 * The Store port's behaviour, as one suite that every implementation must pass (LevelStore on a
 * temporary directory, MemoryStore in memory): what the replica and the server rely on.
 */
import { type Canonical, canonicalJson } from '@allot/core';
import type { Store } from '@allot/replica';
import { afterEach, describe, expect, it } from 'vitest';
import {
  COMMIT_CONTROL_UPDATES_MAX,
  COMMIT_EVENTS_MAX,
  LOG_PAGE_EVENTS_MAX,
  LOG_PAGE_SEGMENTS_MAX,
  StoreClosedError,
  StoreCursorError,
  StoreInvariantError,
  TENANT_PAGE_EVENTS_MAX,
} from '../src/index.js';
import {
  type Appended,
  debitBody,
  EU,
  eventsOf,
  everyKind,
  grantBody,
  idsOf,
  Logs,
  META,
  signature,
  US,
  writeOf,
} from './support.js';

/** The events of appended segments, in order. */
function appendedEvents(segments: readonly Appended[]) {
  return segments.flatMap((segment) => segment.events);
}

/** How the suite gets stores of one implementation. */
export interface StoreHarness {
  /** A store on a new, empty data directory. */
  open(): Promise<Store>;
  /** What a restart finds after `store`'s synced commits: `store` is not used again. */
  reopen(store: Store): Promise<Store>;
  /** Releases what `open` made (directories, stores left open). */
  cleanup(): Promise<void>;
}

/** Runs the Store compliance suite on the stores `makeHarness` gives. */
export function storeCompliance(name: string, makeHarness: () => StoreHarness): void {
  describe(`${name}: the Store port`, () => {
    let harness: StoreHarness;
    let logs: Logs;

    async function open(): Promise<Store> {
      harness = makeHarness();
      logs = new Logs();
      return harness.open();
    }

    afterEach(async () => {
      await harness.cleanup();
    });

    /** Commits `count` grants of `tenant` at `origin`, one commit, synced. */
    async function grants(store: Store, origin: string, tenant: string, count: number): Promise<Appended[]> {
      const events = Array.from({ length: count }, (_, i) =>
        logs.append(origin, grantBody(tenant, `g${i}`, i + 1)),
      );
      await store.commit(logs.batch(events), { sync: true });
      return events;
    }

    it('keeps the node meta, written once', async () => {
      const store = await open();
      expect(await store.readMeta()).toBeNull();
      await store.commit({ segments: [], heads: [], meta: META }, { sync: true });
      expect(await store.readMeta()).toEqual(META);
      const again = { ...META, incarnation: 'cccccccc' };
      await expect(store.commit({ segments: [], heads: [], meta: again }, { sync: true })).rejects.toThrow(
        StoreInvariantError,
      );
      expect(await store.readMeta()).toEqual(META);
    });

    it('reads back every event kind, as written, by log range', async () => {
      const store = await open();
      const written = everyKind('acme', EU, US).map((body) => logs.append(EU, body));
      await store.commit(logs.batch(written.slice(0, 2)), { sync: true });
      await store.commit(logs.batch(written.slice(2)), { sync: false });

      expect(eventsOf(await store.readLog(EU, 1, 100))).toEqual(appendedEvents(written));
      const all = await store.readLog(EU, 0, 100);
      for (const stored of all) expect(stored.record.constructor).toBe(Uint8Array);
      expect(idsOf(await store.readLog(EU, 2, 3))).toEqual([`${EU}/2`, `${EU}/3`, `${EU}/4`]);
      expect(idsOf(await store.readLog(EU, 6, 100))).toEqual([`${EU}/6`]);
      expect(await store.readLog(EU, 7, 100)).toEqual([]);
      expect(await store.readLog(EU, 1_000_000, 100)).toEqual([]);
      expect(await store.readLog(EU, 1, 0)).toEqual([]);
      expect(await store.readLog(US, 1, 100)).toEqual([]);
    });

    it('refuses reads past their limits with a clear error', async () => {
      const store = await open();
      await expect(store.readLog(EU, 1, LOG_PAGE_EVENTS_MAX + 1)).rejects.toThrow(/limit/);
      await expect(store.readLog(EU, -1, 10)).rejects.toThrow(RangeError);
      await expect(store.readLog('eu/x', 1, 10)).rejects.toThrow(TypeError);
      await expect(store.readTenantEvents('acme', null, TENANT_PAGE_EVENTS_MAX + 1)).rejects.toThrow(/limit/);
      await expect(store.readTenantEvents('acme', null, 0)).rejects.toThrow(RangeError);
      await expect(store.readTenantEvents('ac/me', null, 10)).rejects.toThrow(TypeError);
    });

    it('keeps the head of every origin, and a re-signed head without events', async () => {
      const store = await open();
      expect(await store.heads()).toEqual([]);
      await grants(store, US, 'acme', 2);
      await grants(store, EU, 'acme', 3);
      expect(await store.heads()).toEqual([logs.head(EU), logs.head(US)]);

      const unsigned = { ...logs.head(EU), signature: null };
      await store.commit({ segments: [], heads: [unsigned] }, { sync: true });
      const [eu] = await store.heads();
      expect(eu).toEqual(unsigned);
      expect(eu?.signature).toBeNull();

      // What a caller gets is its own copy.
      eu?.hash.fill(0);
      expect((await store.heads())[0]).toEqual(unsigned);
    });

    it('refuses a batch that breaks a log, and writes nothing of it', async () => {
      const store = await open();
      const [first] = await grants(store, EU, 'acme', 1);
      const before = await store.heads();

      const refused = async (batch: Parameters<Store['commit']>[0]) => {
        await expect(store.commit(batch, { sync: true })).rejects.toThrow(StoreInvariantError);
        expect(await store.heads()).toEqual(before);
        expect(idsOf(await store.readLog(EU, 1, 100))).toEqual([`${EU}/1`]);
        expect(await store.readLog(US, 1, 100)).toEqual([]);
        expect((await store.readTenantEvents('acme', null, 100)).events).toHaveLength(1);
      };

      // A gap: seq 3 after the stored head at 1.
      logs.append(EU, grantBody('acme', 'g2', 1));
      const gap = logs.append(EU, grantBody('acme', 'g3', 1));
      await refused(logs.batch([gap]));
      // Seq 1 again, and events out of order.
      logs.rewind(EU, first);
      const second = logs.append(EU, grantBody('acme', 'g2', 1));
      const third = logs.append(EU, grantBody('acme', 'g3', 1));
      await refused({ segments: [writeOf(first as Appended)], heads: [logs.head(EU)] });
      await refused({ segments: [writeOf(third), writeOf(second)], heads: [logs.head(EU)] });
      // Valid events of one origin with a broken run of another: nothing of either.
      const us = logs.append(US, grantBody('acme', 'u1', 1));
      logs.append(US, grantBody('acme', 'u2', 1));
      const usGap = logs.append(US, grantBody('acme', 'u3', 1));
      await refused({
        segments: [second, third, us, usGap].map(writeOf),
        heads: [logs.head(EU), logs.head(US)],
      });
      // Heads that are not the last event of their origin in the batch.
      await refused({ segments: [writeOf(second), writeOf(third)], heads: [] });
      await refused({ segments: [writeOf(second), writeOf(third)], heads: [{ ...logs.head(EU), seq: 2 }] });
      await refused({
        segments: [writeOf(second), writeOf(third)],
        heads: [{ ...logs.head(EU), hash: new Uint8Array(32) }],
      });
      await refused({ segments: [writeOf(second), writeOf(third)], heads: [logs.head(EU), logs.head(EU)] });
      // A head without events that moves the stored head, or names an origin never stored.
      await refused({ segments: [], heads: [{ ...logs.head(EU), seq: 2 }] });
      await refused({ segments: [], heads: [logs.head(US)] });
      // A malformed segment (a short hash; bytes that are not what it claims), and a malformed head.
      await refused({ segments: [{ ...writeOf(second), hash: new Uint8Array(3) }], heads: [logs.head(EU)] });
      await refused({
        segments: [{ ...writeOf(second), bytes: third.bytes }, writeOf(third)],
        heads: [logs.head(EU)],
      });
      await refused({
        segments: [{ ...writeOf(second), tenants: [] }],
        heads: [{ ...logs.head(EU), seq: 2 }],
      });
      await refused({
        segments: [writeOf(second), writeOf(third)],
        heads: [{ ...logs.head(EU), signature: new Uint8Array(3) }],
      });
      // Control updates ride with the batch: an empty one refuses it all.
      await refused({
        segments: [writeOf(second), writeOf(third)],
        heads: [logs.head(EU)],
        control: [new Uint8Array(0)],
      });
      expect(await store.readControl()).toEqual([]);

      // The log is still intact: the right batch goes through.
      await store.commit(
        { segments: [writeOf(second), writeOf(third)], heads: [logs.head(EU)] },
        { sync: true },
      );
      expect(idsOf(await store.readLog(EU, 1, 100))).toEqual([`${EU}/1`, `${EU}/2`, `${EU}/3`]);
    });

    it('commits up to its limits and refuses a batch past them', async () => {
      const store = await open();
      const perSegment = 4_096;
      const events = Array.from({ length: COMMIT_EVENTS_MAX / perSegment }, (_, s) =>
        logs.segment(
          EU,
          Array.from({ length: perSegment }, (_, j) => {
            const i = s * perSegment + j;
            return grantBody(`t${i % 7}`, `g${i}`, i + 1);
          }),
        ),
      );
      const past = logs.append(EU, grantBody('acme', 'past', 1));
      await expect(store.commit(logs.batch([...events, past]), { sync: false })).rejects.toThrow(
        `${COMMIT_EVENTS_MAX + 1} events, more than ${COMMIT_EVENTS_MAX}`,
      );
      const updates = Array.from(
        { length: COMMIT_CONTROL_UPDATES_MAX + 1 },
        (_, i) => new Uint8Array([i % 256]),
      );
      await expect(
        store.commit({ segments: [], heads: [], control: updates }, { sync: false }),
      ).rejects.toThrow(
        `${COMMIT_CONTROL_UPDATES_MAX + 1} control updates, more than ${COMMIT_CONTROL_UPDATES_MAX}`,
      );
      expect(await store.heads()).toEqual([]);
      await store.commit(logs.batch(events, { control: updates.slice(1) }), { sync: true });
      expect((await store.heads())[0]?.seq).toBe(COMMIT_EVENTS_MAX);
      expect(await store.readControl()).toHaveLength(COMMIT_CONTROL_UPDATES_MAX);
      const page = await store.readLog(EU, 1, LOG_PAGE_EVENTS_MAX);
      expect(page).toHaveLength(LOG_PAGE_EVENTS_MAX);
      expect(page[LOG_PAGE_EVENTS_MAX - 1]?.event).toEqual(appendedEvents(events)[LOG_PAGE_EVENTS_MAX - 1]);
      const tenantPage = await store.readTenantEvents('t0', null, TENANT_PAGE_EVENTS_MAX);
      expect(tenantPage.events).toHaveLength(TENANT_PAGE_EVENTS_MAX);
      expect(tenantPage.events[1]?.event.seq).toBe(8);
    });

    it('commits asynchronously, in call order', async () => {
      const store = await open();
      const a = logs.append(EU, grantBody('acme', 'g1', 1));
      const batchA = logs.batch([a]);
      const b = logs.append(EU, grantBody('acme', 'g2', 1));
      const batchB = logs.batch([b]);
      let done = false;
      const first = store.commit(batchA, { sync: false }).then(() => {
        done = true;
      });
      const second = store.commit(batchB, { sync: true });
      expect(done).toBe(false);
      await Promise.all([first, second]);
      expect(idsOf(await store.readLog(EU, 1, 10))).toEqual([`${EU}/1`, `${EU}/2`]);
    });

    it('refuses a commit chained after one that was refused', async () => {
      const store = await open();
      const a = logs.append(EU, grantBody('acme', 'g1', 1));
      const badHead = { ...logs.head(EU), hash: new Uint8Array(32) };
      const b = logs.append(EU, grantBody('acme', 'g2', 1));
      const broken = store.commit({ segments: [writeOf(a)], heads: [badHead] }, { sync: true });
      const after = store.commit(logs.batch([b]), { sync: true });
      await expect(broken).rejects.toThrow(StoreInvariantError);
      await expect(after).rejects.toThrow(StoreInvariantError);
      expect(await store.heads()).toEqual([]);
    });

    it("pages a tenant's events from every origin in commit order, with a stable cursor", async () => {
      const store = await open();
      const acme: string[] = [];
      const commitRound = async (round: number) => {
        const events = [
          logs.append(EU, debitBody('acme', round * 10 + 1)),
          logs.append(US, grantBody('acme.x', `x${round}`, 1)),
          logs.append(US, debitBody('acme', round * 10 + 2)),
          logs.append(EU, grantBody('a:b-c_d', `y${round}`, 1)),
        ];
        acme.push(...idsOf([events[0], events[2]] as Appended[]));
        await store.commit(logs.batch(events), { sync: round % 2 === 0 });
      };
      for (let round = 0; round < 3; round++) await commitRound(round);

      const first = await store.readTenantEvents('acme', null, 4);
      expect(idsOf(first.events)).toEqual(acme.slice(0, 4));
      expect(first.next).not.toBeNull();
      const second = await store.readTenantEvents('acme', first.next, 4);
      expect(idsOf(second.events)).toEqual(acme.slice(4));
      expect(second.next).toBeNull();
      expect(idsOf((await store.readTenantEvents('acme.x', null, 100)).events)).toEqual([
        `${US}/1`,
        `${US}/3`,
        `${US}/5`,
      ]);
      expect((await store.readTenantEvents('a:b-c_d', null, 100)).events).toHaveLength(3);
      expect(await store.readTenantEvents('nobody', null, 10)).toEqual({ events: [], next: null });

      // A cursor stays valid as new events arrive: the page resumes where it stopped.
      const resume = await store.readTenantEvents('acme', null, 3);
      await commitRound(3);
      const rest = await store.readTenantEvents('acme', resume.next, 100);
      expect(idsOf(rest.events)).toEqual(acme.slice(3));
      expect(rest.next).toBeNull();
      // Every event of the page is the stored one, hash included.
      expect(rest.events.at(-1)).toEqual((await store.readLog(US, 8, 1))[0]);
    });

    it('refuses a cursor it did not hand out', async () => {
      const store = await open();
      await grants(store, EU, 'acme', 3);
      const { next } = await store.readTenantEvents('acme', null, 1);
      expect(next).not.toBeNull();
      for (const cursor of ['', 'ABC', '-1', '1.5', '01', ' 1', '1/2', 'zzzzzzzzzzzz', 'zzzzzz']) {
        await expect(store.readTenantEvents('acme', cursor, 10), cursor).rejects.toThrow(StoreCursorError);
      }
    });

    it('keeps control-document updates in commit order', async () => {
      const store = await open();
      const updates = [new Uint8Array([1, 2, 3]), new Uint8Array([4]), new Uint8Array(300).fill(9)];
      await store.commit({ segments: [], heads: [], control: updates.slice(0, 2) }, { sync: true });
      const event = logs.append(EU, grantBody('acme', 'g1', 1));
      await store.commit(logs.batch([event], { control: updates.slice(2) }), { sync: false });
      const read = await store.readControl();
      expect(read).toEqual(updates);
      for (const update of read) expect(update.constructor).toBe(Uint8Array);
      // Control entries share the entry counter with the tenant index without disturbing it.
      expect(idsOf((await store.readTenantEvents('acme', null, 10)).events)).toEqual([`${EU}/1`]);
    });

    it('rejects every call once closed, after letting pending commits finish', async () => {
      const store = await open();
      const event = logs.append(EU, grantBody('acme', 'g1', 1));
      const pending = store.commit(logs.batch([event]), { sync: true });
      await store.close();
      await expect(pending).resolves.toBeUndefined();
      const calls: [string, () => Promise<unknown>][] = [
        ['readMeta', () => store.readMeta()],
        ['commit', () => store.commit({ segments: [], heads: [] }, { sync: true })],
        ['heads', () => store.heads()],
        ['readLog', () => store.readLog(EU, 1, 10)],
        ['readTenantEvents', () => store.readTenantEvents('acme', null, 10)],
        ['readControl', () => store.readControl()],
        ['close', () => store.close()],
      ];
      for (const [method, call] of calls) await expect(call(), method).rejects.toThrow(StoreClosedError);
    });

    it('finds everything again after a restart', async () => {
      let store = await open();
      await store.commit({ segments: [], heads: [], meta: META }, { sync: true });
      const written = everyKind('acme', EU, US).map((body) => logs.append(EU, body));
      await store.commit(logs.batch(written.slice(0, 3), { control: [new Uint8Array([7])] }), { sync: true });
      const us = logs.append(US, debitBody('acme', 5, { '€': [1.25, null, true] }));
      await store.commit(logs.batch([...written.slice(3), us]), { sync: true });
      const page = await store.readTenantEvents('acme', null, 4);
      const heads = await store.heads();

      store = await harness.reopen(store);
      expect(await store.readMeta()).toEqual(META);
      expect(await store.heads()).toEqual(heads);
      expect(eventsOf(await store.readLog(EU, 1, 100))).toEqual(appendedEvents(written));
      expect(eventsOf(await store.readLog(US, 1, 100))).toEqual([us.event]);
      expect(await store.readControl()).toEqual([new Uint8Array([7])]);
      expect(await store.readTenantEvents('acme', null, 4)).toEqual(page);

      // Commits continue where the logs and the entry counter stopped.
      const more = logs.append(EU, debitBody('acme', 6));
      await expect(
        store.commit(
          { segments: [writeOf(written[0] as Appended)], heads: heads.slice(0, 1) },
          { sync: true },
        ),
      ).rejects.toThrow(StoreInvariantError);
      await store.commit(logs.batch([more], { control: [new Uint8Array([8])] }), { sync: true });
      const rest = await store.readTenantEvents('acme', page.next, 100);
      expect(idsOf(rest.events)).toEqual([`${EU}/5`, `${EU}/6`, `${US}/1`, `${EU}/7`]);
      expect(await store.readControl()).toEqual([new Uint8Array([7]), new Uint8Array([8])]);
      await expect(store.commit({ segments: [], heads: [], meta: META }, { sync: true })).rejects.toThrow(
        StoreInvariantError,
      );
    });

    it('keeps each heard-of incarnation once, across restarts, and refuses a malformed one', async () => {
      let store = await open();
      expect(await store.readOrigins()).toEqual([]);
      await store.commit({ segments: [], heads: [], meta: META, origins: [US, EU, US] }, { sync: true });
      expect(await store.readOrigins()).toEqual([EU, US].sort());
      const other = 'ap#zzzz2222';
      const event = logs.append(EU, grantBody('acme', 'g1', 5));
      await store.commit(logs.batch([event], { origins: [EU, other] }), { sync: true });
      expect(await store.readOrigins()).toEqual([EU, US, other].sort());
      for (const bad of ['no-hash', 'eu#UPPER', 'a/b#cc', 7]) {
        const batch = { segments: [], heads: [], origins: [other, bad as string] };
        await expect(store.commit(batch, { sync: true })).rejects.toThrow(StoreInvariantError);
      }
      await expect(
        store.commit({ segments: [], heads: [], origins: 'eu#abc' as unknown as string[] }, { sync: true }),
      ).rejects.toThrow(StoreInvariantError);
      store = await harness.reopen(store);
      expect(await store.readOrigins()).toEqual([EU, US, other].sort());
      expect(eventsOf(await store.readLog(EU, 1, 10))).toEqual([event.event]);
      expect(await store.readMeta()).toEqual(META);
    });

    it('keeps byte and number edges exactly', async () => {
      const store = await open();
      const metadata = JSON.parse('{"__proto__":{"a":1},"s":"a\\ud800b ünï 😀","f":[0.1,-2.5e-300,1e300]}');
      const event = logs.append(EU, debitBody('acme', Number.MAX_SAFE_INTEGER, metadata));
      const head = { ...logs.head(EU), signature: signature(255) };
      await store.commit({ segments: [writeOf(event)], heads: [head] }, { sync: true });
      const [read] = await store.readLog(EU, 1, 1);
      expect(read?.event).toEqual(event.event);
      // Metadata keys come back in canonical (sorted) order: segments keep canonical JSON.
      expect(canonicalJson(read?.event as unknown as Canonical)).toBe(
        canonicalJson(event.event as unknown as Canonical),
      );
      expect(await store.heads()).toEqual([head]);
    });

    it('keeps each segment as one value: read back as written, a run from any seq, one event cheaply', async () => {
      const store = await open();
      const first = logs.segment(EU, [
        grantBody('acme', 'g1', 5),
        debitBody('acme', 1),
        debitBody('beta', 2),
      ]);
      const second = logs.segment(EU, [debitBody('acme', 3), grantBody('beta', 'b1', 9)]);
      await store.commit(logs.batch([first]), { sync: true });
      await store.commit(logs.batch([second]), { sync: false });
      const read = await store.readSegments(EU, 1, 10);
      expect(read).toEqual(
        [first, second].map(({ tenants: _t, event: _e, events: _s, ...segment }) => segment),
      );
      // A seek lands on the segment that holds the seq.
      expect((await store.readSegments(EU, 3, 10)).map((segment) => segment.firstSeq)).toEqual([1, 4]);
      expect((await store.readSegments(EU, 4, 1)).map((segment) => segment.firstSeq)).toEqual([4]);
      expect(await store.readSegments(EU, 6, 10)).toEqual([]);
      expect(idsOf(await store.readLog(EU, 2, 1))).toEqual([`${EU}/2`]);
      expect(idsOf(await store.readLog(EU, 3, 2))).toEqual([`${EU}/3`, `${EU}/4`]);
      // A tenant's page may stop inside one commit's entry and resume there.
      const page = await store.readTenantEvents('acme', null, 2);
      expect(idsOf(page.events)).toEqual([`${EU}/1`, `${EU}/2`]);
      expect(idsOf((await store.readTenantEvents('acme', page.next, 10)).events)).toEqual([`${EU}/4`]);
      expect(idsOf((await store.readTenantEvents('beta', null, 10)).events)).toEqual([`${EU}/3`, `${EU}/5`]);
      await expect(store.readSegments(EU, 1, LOG_PAGE_SEGMENTS_MAX + 1)).rejects.toThrow(/limit/);
    });
  });
}
