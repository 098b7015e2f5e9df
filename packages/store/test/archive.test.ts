/**
 * The archive (archive*.ts): segments and tenant index entries moved out of the live store read back
 * exactly as before, from both stores, after a restart too; a move stopped at any step (MemoryStore
 * crash semantics) loses nothing and the next step finishes it; any single changed byte of any
 * archive file is a StoreCorruptError naming that file, never a different answer.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OriginId } from '@allot/core';
import type { Store, StoredEvent } from '@allot/replica';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { LevelStore, MemoryStore, StoreCorruptError, sha256 } from '../src/index.js';
import { type Appended, debitBody, EU, grantBody, Logs, META, US } from './support.js';

const TENANTS = ['t1', 't2', 't3'];

/** A history of `commits` commits, each a segment of EU (two tenants) and one of US (one tenant). */
async function fill(store: Store, commits: number): Promise<Map<OriginId, Appended[]>> {
  const logs = new Logs();
  const written = new Map<OriginId, Appended[]>([
    [EU, []],
    [US, []],
  ]);
  await store.commit({ segments: [], heads: [], meta: META }, { sync: true });
  for (let c = 0; c < commits; c++) {
    const eu = logs.segment(EU, [
      c === 0 ? grantBody(TENANTS[0] as string, 'g1', 1_000_000) : debitBody(TENANTS[c % 3] as string, c),
      debitBody(TENANTS[(c + 1) % 3] as string, c + 1000),
    ]);
    const us = logs.segment(US, [debitBody(TENANTS[(c + 2) % 3] as string, c + 2000)]);
    written.get(EU)?.push(eu);
    written.get(US)?.push(us);
    await store.commit(logs.batch([eu, us]), { sync: c % 2 === 0 });
  }
  await store.commit({ segments: [], heads: [] }, { sync: true }); // all of it durable
  return written;
}

/** Everything a reader can see: every log (as segments and events) and every tenant's pages of 2. */
async function everything(store: Store): Promise<unknown> {
  const seen: Record<string, unknown> = {};
  for (const origin of [EU, US]) {
    const segments = await store.readSegments(origin, 1, 64);
    seen[`segments ${origin}`] = segments.map((s) => [s.firstSeq, s.lastSeq, [...s.hash], [...s.bytes]]);
    seen[`log ${origin}`] = (await store.readLog(origin, 1, 1000)).map(show);
    seen[`one ${origin}`] = (await store.readLog(origin, 3, 1)).map(show);
  }
  for (const tenant of TENANTS) {
    const pages: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page = await store.readTenantEvents(tenant, cursor, 2);
      pages.push({ events: page.events.map(show), next: page.next });
      cursor = page.next;
    } while (cursor !== null);
    seen[`tenant ${tenant}`] = pages;
  }
  return seen;
}

function show(stored: StoredEvent): unknown {
  return { event: stored.event, record: [...stored.record] };
}

/** Archives every segment of each origin below its last `keep`, then the tenant index. */
async function archiveAllBut(store: Store, written: Map<OriginId, Appended[]>, keep: number): Promise<void> {
  for (const [origin, segments] of written) {
    const through = segments[segments.length - 1 - keep]?.lastSeq ?? 0;
    for (;;) {
      const step = await store.archiveSegments(origin, through);
      if (step.segments === 0) break;
    }
  }
  while ((await store.archiveTenantIndex()) > 0);
}

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'allot-archive-'));
  dirs.push(dir);
  return dir;
}

describe('MemoryStore archive', () => {
  it('reads archived segments, events and pages exactly as live ones, before and after a crash', async () => {
    const store = MemoryStore.empty({ archiveHash: sha256 });
    const written = await fill(store, 12);
    const before = await everything(store);
    const live = await store.usage();
    await archiveAllBut(store, written, 2);
    expect(await store.archivedSeqs()).toEqual({ [EU]: 20, [US]: 10 });
    expect(await everything(store)).toEqual(before);
    const after = await store.usage();
    expect(after.liveKeys).toBeLessThan(live.liveKeys / 2);
    expect(after.archive.files).toBeGreaterThanOrEqual(3);
    const restarted = store.crash();
    expect(await everything(restarted)).toEqual(before);
    // The head's segment may be archived too: it stays live as well, and reads stay the same.
    await archiveAllBut(restarted, written, 0);
    expect(await restarted.archivedSeqs()).toEqual({ [EU]: 24, [US]: 12 });
    expect(await everything(restarted)).toEqual(before);
    expect(await everything(restarted.crash())).toEqual(before);
  });

  it('refuses a step past the head or at an invalid origin, and archives nothing then', async () => {
    const store = MemoryStore.empty({ archiveHash: sha256 });
    await fill(store, 3);
    await expect(store.archiveSegments(EU, 7)).rejects.toThrow(RangeError);
    await expect(store.archiveSegments('no origin' as OriginId, 1)).rejects.toThrow(TypeError);
    expect(await store.archivedSeqs()).toEqual({});
  });

  it('refuses to archive without a hash', async () => {
    const store = MemoryStore.empty();
    await fill(store, 3);
    await expect(store.archiveSegments(EU, 2)).rejects.toThrow(/without archiveHash/);
  });

  for (const step of ['file', 'manifest', 'delete'] as const) {
    it(`loses nothing when a move stops at its ${step} and the node crashes, and the next step finishes it`, async () => {
      const store = MemoryStore.empty({ archiveHash: sha256 });
      const written = await fill(store, 10);
      const before = await everything(store);
      const live = (await store.usage()).liveKeys;
      store.failNextArchiveStep(step, new Error(`disk full at the ${step}`));
      await expect(archiveAllBut(store, written, 1)).rejects.toThrow(`disk full at the ${step}`);
      const restarted = store.crash();
      expect(await everything(restarted)).toEqual(before);
      await archiveAllBut(restarted, written, 1);
      expect(await restarted.archivedSeqs()).toEqual({ [EU]: 18, [US]: 9 });
      expect(await everything(restarted)).toEqual(before);
      const again = restarted.crash();
      expect(await everything(again)).toEqual(before);
      expect((await again.usage()).liveKeys).toBeLessThan(live / 2);
    });
  }

  it('refuses a live store that lost commits its archive holds (a disk restored from an older backup)', async () => {
    const store = MemoryStore.empty({ archiveHash: sha256 });
    const written = await fill(store, 70); // past a compaction: the disk keeps a backup to restore
    await archiveAllBut(store, written, 2);
    const damaged = store.crashDamaged('old-backup', () => 0);
    if (damaged === null) throw new Error('no backup to restore');
    await expect(damaged.store.readMeta()).rejects.toThrow(/the live store lost commits/);
    await expect(damaged.store.readLog(EU, 1, 10)).rejects.toThrow(StoreCorruptError);
  });

  it('the tenant index waits for entries that point at unarchived events', async () => {
    const store = MemoryStore.empty({ archiveHash: sha256 });
    const written = await fill(store, 6);
    const before = await everything(store);
    // Only EU archived: the first commit's entry of t3 points at US seq 1, so only the two entries
    // numbered before it (t1 and t2 of EU) move; the entries after it wait although they are EU's.
    await store.archiveSegments(EU, written.get(EU)?.[3]?.lastSeq as number);
    expect(await store.archiveTenantIndex()).toBe(2);
    expect(await store.archiveTenantIndex()).toBe(0);
    await store.archiveSegments(US, written.get(US)?.[1]?.lastSeq as number);
    expect(await store.archiveTenantIndex()).toBeGreaterThan(0);
    expect(await everything(store)).toEqual(before);
  });

  it('names the archive file that any one changed byte damaged, and never answers differently', async () => {
    const base = MemoryStore.empty({ archiveHash: sha256 });
    const written = await fill(base, 8);
    const before = await everything(base);
    await archiveAllBut(base, written, 1);
    let image = base.crash();
    const files = image.archiveFileEntries();
    const sizes = files.map(([, bytes]) => bytes.length);
    await fc.assert(
      fc.asyncProperty(
        fc.nat(files.length - 1),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (file, at, xor) => {
          const [name, bytes] = image.archiveFileEntries()[file] as [string, Uint8Array];
          const offset = at % (sizes[file] as number);
          (bytes[offset] as number) ^= xor;
          try {
            const opened = image.crash();
            let outcome: unknown;
            try {
              outcome = await everything(opened);
            } catch (error) {
              outcome = error;
            }
            expect(outcome).toBeInstanceOf(StoreCorruptError);
            expect((outcome as StoreCorruptError).message).toContain(name);
            image = opened;
          } finally {
            (bytes[offset] as number) ^= xor;
          }
        },
      ),
      { numRuns: 60 },
    );
    expect(await everything(image.crash())).toEqual(before);
  });
});

describe('LevelStore archive', () => {
  it('moves segments to files under archive/<origin>/ with a manifest, reads them back, also after reopening', async () => {
    const dir = await tempDir();
    const store = await LevelStore.open(dir);
    const written = await fill(store, 12);
    const before = await everything(store);
    await archiveAllBut(store, written, 2);
    expect(await everything(store)).toEqual(before);
    expect(store.archiveUsage().files).toBeGreaterThanOrEqual(3);
    await store.close();
    expect((await readdir(join(dir, 'archive'))).sort()).toEqual([EU, US, 'tenant-index'].sort());
    expect(await readdir(join(dir, 'archive', EU))).toContain('manifest');
    const reopened = await LevelStore.open(dir);
    expect(await reopened.archivedSeqs()).toEqual({ [EU]: 20, [US]: 10 });
    expect(await everything(reopened)).toEqual(before);
    await reopened.close();
  });

  it('finishes a move that a crash stopped after its manifest, before the live records were deleted', async () => {
    const dir = await tempDir();
    const store = await LevelStore.open(dir);
    const written = await fill(store, 8);
    const before = await everything(store);
    await store.close();
    // The disk as the crash left it: the live store from before the move, the archive from after.
    const crashed = await tempDir();
    await cp(dir, crashed, { recursive: true });
    const moving = await LevelStore.open(dir);
    await archiveAllBut(moving, written, 1);
    await moving.close();
    await cp(join(dir, 'archive'), join(crashed, 'archive'), { recursive: true });
    const restarted = await LevelStore.open(crashed);
    expect(await restarted.archivedSeqs()).toEqual({ [EU]: 14, [US]: 7 });
    expect(await everything(restarted)).toEqual(before);
    // The next steps delete the live copies the crash left; nothing changes for readers.
    await archiveAllBut(restarted, written, 1);
    expect(await everything(restarted)).toEqual(before);
    await restarted.close();
    const again = await LevelStore.open(crashed);
    expect(await everything(again)).toEqual(before);
    await again.close();
  });

  it('refuses to open a damaged manifest and to read a damaged file, naming it', async () => {
    const dir = await tempDir();
    const store = await LevelStore.open(dir);
    const written = await fill(store, 6);
    await archiveAllBut(store, written, 1);
    await store.close();
    const origin = join(dir, 'archive', EU);
    const [file] = (await readdir(origin)).filter((name) => name.endsWith('.seg'));
    const path = join(origin, file as string);
    const bytes = await readFile(path);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] as number) ^ 1;
    await writeFile(path, bytes);
    const opened = await LevelStore.open(dir);
    await expect(opened.readLog(EU, 1, 100)).rejects.toThrow(path);
    await expect(opened.readTenantEvents('t1', null, 100)).rejects.toThrow(StoreCorruptError);
    await opened.close();
    const manifest = join(origin, 'manifest');
    const text = await readFile(manifest);
    text[10] = (text[10] as number) ^ 1;
    await writeFile(manifest, text);
    await expect(LevelStore.open(dir)).rejects.toThrow(manifest);
  });
});
