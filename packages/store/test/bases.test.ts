import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogHead, Store } from '@allot/replica';
import { afterEach, describe, expect, it } from 'vitest';
import { LevelStore, MemoryStore, StoreInvariantError } from '../src/index.js';
import { debitBody, grantBody, Logs, META, US, writeOf } from './support.js';

/** US's log of three one-event segments, and the base a checkpoint at its second seq gives. */
function history() {
  const logs = new Logs();
  const first = logs.append(US, grantBody('t1', 'g1', 100));
  const second = logs.append(US, debitBody('t1', 5));
  const third = logs.append(US, debitBody('t1', 7));
  const base: LogHead = { origin: US, seq: second.lastSeq, hash: second.hash, signature: null };
  return { logs, first, second, third, base };
}

describe.each([
  ['MemoryStore', false],
  ['LevelStore', true],
] as const)('log bases (joining by checkpoint): %s', (_name, onDisk) => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });
  const fresh = async (): Promise<{ store: Store; reopen: (current?: Store) => Promise<Store> }> => {
    if (!onDisk) {
      const store = MemoryStore.empty();
      return { store, reopen: async (current = store) => (current as MemoryStore).crash() };
    }
    const dir = await mkdtemp(join(tmpdir(), 'allot-base-'));
    dirs.push(dir);
    const store = await LevelStore.open(dir);
    return {
      store,
      reopen: async (current = store) => {
        await current.close();
        return LevelStore.open(dir);
      },
    };
  };

  it('a log starts after its base: the head is the base, the tail follows it, a reopen keeps both', async () => {
    const { third, base } = history();
    const { store, reopen } = await fresh();
    await store.commit({ segments: [], heads: [base], meta: META, bases: [base] }, { sync: true });
    expect(await store.heads()).toEqual([base]);
    expect(await store.bases()).toEqual([base]);
    // Nothing at or below the base is held here.
    expect(await store.readSegments(US, 1, 10)).toEqual([]);
    expect(await store.readSegments(US, 2, 10)).toEqual([]);
    const tailHead = { origin: US, seq: third.lastSeq, hash: third.hash, signature: third.signature };
    await store.commit({ segments: [writeOf(third)], heads: [tailHead] }, { sync: true });
    const again = await reopen();
    expect(await again.bases()).toEqual([base]);
    expect((await again.heads())[0]?.seq).toBe(3);
    const read = await again.readSegments(US, 3, 10);
    expect(read.map((segment) => segment.firstSeq)).toEqual([3]);
    expect(await again.readSegments(US, 1, 10)).toEqual([]);
    const events = await again.readLog(US, 1, 10);
    expect(events.map((stored) => stored.event.seq)).toEqual([3]);
    const page = await again.readTenantEvents('t1', null, 10);
    expect(page.events.map((stored) => stored.event.seq)).toEqual([3]);
    // Archive files run from seq 1: a log after a base stays live.
    expect(await again.archiveSegments(US, 3)).toEqual({ segments: 0, events: 0, throughSeq: 0 });
    expect((await again.readSegments(US, 3, 10)).length).toBe(1);
    await again.close();
  });

  it('a base only for a log not stored, unsigned, with its head; a tail must follow it: else nothing is written', async () => {
    const { first, second, base } = history();
    const { store, reopen } = await fresh();
    await store.commit({ segments: [], heads: [], meta: META }, { sync: true });
    await expect(store.commit({ segments: [], heads: [], bases: [base] }, { sync: true })).rejects.toThrow(
      /comes without its head/,
    );
    await expect(
      store.commit(
        { segments: [], heads: [base], bases: [{ ...base, signature: new Uint8Array(64) }] },
        { sync: true },
      ),
    ).rejects.toThrow(StoreInvariantError);
    await store.commit({ segments: [], heads: [base], bases: [base] }, { sync: true });
    // A segment that does not follow the base is refused.
    const head1 = { origin: US, seq: 1, hash: first.hash, signature: first.signature };
    await expect(
      store.commit({ segments: [writeOf(first)], heads: [head1] }, { sync: true }),
    ).rejects.toThrow(/does not follow seq 2/);
    // A second base for a log stored already is refused.
    await expect(
      store.commit({ segments: [], heads: [base], bases: [base] }, { sync: true }),
    ).rejects.toThrow(/stored already/);
    const again = await reopen();
    expect(await again.heads()).toEqual([base]);
    expect(second.lastSeq).toBe(base.seq);
    await again.close();
  });

  it('a log stored only up to before a base gets it (a node far behind): the prefix stays, read by its tenant entries only', async () => {
    const { first, third, base } = history();
    const { store, reopen } = await fresh();
    const head1 = { origin: US, seq: 1, hash: first.hash, signature: first.signature };
    await store.commit({ segments: [writeOf(first)], heads: [head1], meta: META }, { sync: true });
    // Not at or below what is stored.
    await expect(
      store.commit({ segments: [], heads: [head1], bases: [{ ...head1, signature: null }] }, { sync: true }),
    ).rejects.toThrow(/stored already/);
    await store.commit({ segments: [], heads: [base], bases: [base] }, { sync: true });
    const tailHead = { origin: US, seq: third.lastSeq, hash: third.hash, signature: third.signature };
    await store.commit({ segments: [writeOf(third)], heads: [tailHead] }, { sync: true });
    const again = await reopen();
    expect(await again.bases()).toEqual([base]);
    expect((await again.heads())[0]?.seq).toBe(3);
    expect(await again.readSegments(US, 1, 10)).toEqual([]);
    expect((await again.readLog(US, 1, 10)).map((stored) => stored.event.seq)).toEqual([3]);
    const page = await again.readTenantEvents('t1', null, 10);
    expect(page.events.map((stored) => stored.event.seq)).toEqual([1, 3]);
    // Far behind again later: a newer base over the earlier base and its tail.
    const logs = history().logs;
    for (let i = 0; i < 3; i++) logs.append(US, debitBody('t1', 1));
    const seventh = logs.append(US, debitBody('t1', 2));
    const later: LogHead = { origin: US, seq: seventh.lastSeq, hash: seventh.hash, signature: null };
    await again.commit({ segments: [], heads: [later], bases: [later] }, { sync: true });
    const reopened = await reopen(again);
    expect(await reopened.bases()).toEqual([later]);
    expect(await reopened.heads()).toEqual([later]);
    expect(await reopened.readLog(US, 1, 10)).toEqual([]);
    expect(
      (await reopened.readTenantEvents('t1', null, 10)).events.map((stored) => stored.event.seq),
    ).toEqual([1, 3]);
    await reopened.close();
  });
});
