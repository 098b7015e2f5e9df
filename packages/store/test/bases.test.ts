import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogHead, Store } from '@allot/replica';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ARCHIVE_MANIFEST,
  Archive,
  type ArchiveFiles,
  encodeManifest,
  LevelStore,
  MemoryArchiveFiles,
  MemoryStore,
  StoreCorruptError,
  StoreInvariantError,
  sha256,
} from '../src/index.js';
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
      const store = MemoryStore.empty({ archiveHash: sha256 });
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
    // A log after a base is archived from the base on (the head's segment stays live too).
    expect(await again.archiveSegments(US, 3)).toEqual({ segments: 1, events: 1, throughSeq: 3 });
    expect(await again.archivedSeqs()).toEqual({ [US]: 3 });
    expect((await again.readSegments(US, 3, 10)).map((segment) => segment.firstSeq)).toEqual([3]);
    const reopened = await reopen(again);
    expect((await reopened.readLog(US, 1, 10)).map((stored) => stored.event.seq)).toEqual([3]);
    await reopened.close();
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

  it('a log after a base moves to the archive from the base on, chained to its hash: reads, pages and a reopen see the same', async () => {
    const { logs, third, base } = history();
    const { store, reopen } = await fresh();
    await store.commit({ segments: [], heads: [base], meta: META, bases: [base] }, { sync: true });
    const tail = [third, ...[4, 5, 6].map((amount) => logs.append(US, debitBody('t1', amount)))];
    for (const segment of tail) await store.commit(logs.batch([segment]), { sync: true });
    const before = {
      log: (await store.readLog(US, 1, 10)).map((stored) => stored.event.seq),
      page: (await store.readTenantEvents('t1', null, 10)).events.map((stored) => stored.event.seq),
    };
    expect(before).toEqual({ log: [3, 4, 5, 6], page: [3, 4, 5, 6] });
    expect(await store.archiveSegments(US, 5)).toEqual({ segments: 3, events: 3, throughSeq: 5 });
    expect(await store.archiveTenantIndex()).toBe(3);
    const again = await reopen();
    expect(await again.archivedSeqs()).toEqual({ [US]: 5 });
    expect((await again.readLog(US, 1, 10)).map((stored) => stored.event.seq)).toEqual(before.log);
    expect((await again.readTenantEvents('t1', null, 10)).events.map((stored) => stored.event.seq)).toEqual(
      before.page,
    );
    expect((await again.readSegments(US, 4, 10)).map((segment) => segment.firstSeq)).toEqual([4, 5, 6]);
    // Later segments continue the archive.
    const seventh = logs.append(US, debitBody('t1', 7));
    await again.commit(logs.batch([seventh]), { sync: true });
    expect(await again.archiveSegments(US, 6)).toEqual({ segments: 1, events: 1, throughSeq: 6 });
    const last = await reopen(again);
    expect((await last.readLog(US, 2, 10)).map((stored) => stored.event.seq)).toEqual([3, 4, 5, 6, 7]);
    await last.close();
  });

  it('a node far behind: the prefix it held continues its archive, the log after the base follows past the gap', async () => {
    const logs = new Logs();
    const { store, reopen } = await fresh();
    await store.commit(logs.batch([logs.append(US, grantBody('t1', 'g1', 100))], { meta: META }), {
      sync: true,
    });
    await store.commit(logs.batch([logs.append(US, debitBody('t1', 2))]), { sync: true });
    // Archived in part before it fell behind: seq 1 (seq 2 is the head's).
    expect(await store.archiveSegments(US, 1)).toEqual({ segments: 1, events: 1, throughSeq: 1 });
    logs.append(US, debitBody('t1', 3));
    const fourth = logs.append(US, debitBody('t1', 4));
    const base: LogHead = { origin: US, seq: 4, hash: fourth.hash, signature: null };
    await store.commit({ segments: [], heads: [base], bases: [base] }, { sync: true });
    const tail = [5, 6].map((amount) => logs.append(US, debitBody('t1', amount)));
    for (const segment of tail) await store.commit(logs.batch([segment]), { sync: true });
    const page = async (at: Store) =>
      (await at.readTenantEvents('t1', null, 10)).events.map((stored) => stored.event.seq);
    expect(await page(store)).toEqual([1, 2, 5, 6]);
    // First the prefix (it continues the archive), then the run after the base.
    expect(await store.archiveSegments(US, 6)).toEqual({ segments: 1, events: 1, throughSeq: 2 });
    expect(await store.archiveSegments(US, 6)).toEqual({ segments: 2, events: 2, throughSeq: 6 });
    expect(await store.archiveSegments(US, 6)).toEqual({ segments: 0, events: 0, throughSeq: 6 });
    expect(await store.archiveTenantIndex()).toBe(4);
    const again = await reopen();
    expect(await page(again)).toEqual([1, 2, 5, 6]);
    expect((await again.readLog(US, 1, 10)).map((stored) => stored.event.seq)).toEqual([5, 6]);
    expect((await again.readSegments(US, 5, 10)).map((segment) => segment.firstSeq)).toEqual([5, 6]);
    await again.close();
  });

  it('a prefix after an earlier base that does not continue the archive stays live; the log after the newer base moves', async () => {
    const { logs, third, base } = history();
    const { store, reopen } = await fresh();
    await store.commit({ segments: [], heads: [base], meta: META, bases: [base] }, { sync: true });
    await store.commit(logs.batch([third]), { sync: true });
    logs.append(US, debitBody('t1', 4));
    const fifth = logs.append(US, debitBody('t1', 5));
    const later: LogHead = { origin: US, seq: 5, hash: fifth.hash, signature: null };
    await store.commit({ segments: [], heads: [later], bases: [later] }, { sync: true });
    const tail = [6, 7].map((amount) => logs.append(US, debitBody('t1', amount)));
    for (const segment of tail) await store.commit(logs.batch([segment]), { sync: true });
    expect(await store.archiveSegments(US, 7)).toEqual({ segments: 2, events: 2, throughSeq: 7 });
    expect(await store.archiveTenantIndex()).toBe(3);
    const again = await reopen();
    expect(await again.archivedSeqs()).toEqual({ [US]: 7 });
    expect((await again.readTenantEvents('t1', null, 10)).events.map((stored) => stored.event.seq)).toEqual([
      3, 6, 7,
    ]);
    await again.close();
  });
});

describe('an archive past a gap (Archive.checkLiveStore)', () => {
  /** An archive of US holding seqs 3–4 after a base at seq 2, and what it was written from. */
  async function gapped(): Promise<{ files: ArchiveFiles; base: LogHead }> {
    const { logs, third, base } = history();
    const fourth = logs.append(US, debitBody('t1', 4));
    const files = new MemoryArchiveFiles();
    const archive = await Archive.open(files, sha256);
    await archive.appendSegments(US, [third, fourth], base);
    return { files, base };
  }

  it('opens when the gap ends at the base and the first file chains to its hash', async () => {
    const { files, base } = await gapped();
    const archive = await Archive.open(files, sha256);
    expect(archive.holds(US, 2)).toBe(false);
    expect(archive.holds(US, 3)).toBe(true);
    expect(() =>
      archive.checkLiveStore(
        () => 4,
        0,
        () => base,
      ),
    ).not.toThrow();
    // A newer base (the node joined again) leaves the gap below it.
    expect(() =>
      archive.checkLiveStore(
        () => 9,
        0,
        () => ({ ...base, seq: 8 }),
      ),
    ).not.toThrow();
  });

  it('refuses a gap no base explains, or a file that does not chain to the base at its start', async () => {
    const { files, base } = await gapped();
    const archive = await Archive.open(files, sha256);
    expect(() =>
      archive.checkLiveStore(
        () => 4,
        0,
        () => undefined,
      ),
    ).toThrow(StoreCorruptError);
    expect(() =>
      archive.checkLiveStore(
        () => 4,
        0,
        () => ({ ...base, seq: 1 }),
      ),
    ).toThrow(/starts past a gap/);
    const other = { ...base, hash: new Uint8Array(32).fill(7) };
    expect(() =>
      archive.checkLiveStore(
        () => 4,
        0,
        () => other,
      ),
    ).toThrow(/does not chain to the log base/);
  });

  it('refuses a segment that neither follows the archive nor the base', async () => {
    const { logs, base } = history();
    logs.append(US, debitBody('t1', 4));
    const fifth = logs.append(US, debitBody('t1', 5));
    const archive = await Archive.open(new MemoryArchiveFiles(), sha256);
    await expect(archive.appendSegments(US, [fifth], base)).rejects.toThrow(StoreInvariantError);
    await expect(archive.appendSegments(US, [fifth], undefined)).rejects.toThrow(StoreInvariantError);
  });

  it('a manifest whose later file overlaps the one before is damage', async () => {
    const { files } = await gapped();
    const bytes = (await files.read(US, ARCHIVE_MANIFEST)) as Uint8Array;
    const body = JSON.parse(new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(10))));
    body.files = [body.files[0], { ...body.files[0] }];
    await files.write(US, ARCHIVE_MANIFEST, encodeManifest(sha256, body));
    await expect(Archive.open(files, sha256)).rejects.toThrow(/not a next file of the log/);
  });
});
