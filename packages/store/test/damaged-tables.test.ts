/**
 * Damaged LevelDB files: a real data directory is written, compacted into table files, and then
 * bytes of its tables or manifest are flipped behind the store's back. LevelStore must refuse to
 * open it with one line naming the file, before LevelDB (whose compactions abort the process on a
 * table with keys out of order) ever reads the damaged bytes.
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { Level } from 'level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYOUT_PREFIX, LevelStore, StoreCorruptError } from '../src/index.js';
import { checkLevelDbFiles } from '../src/leveldb-check.js';
import { debitBody, EU, Logs, META } from './support.js';

/** Events written: enough for a table of many blocks (~4 KiB each) and a two-level index. */
const EVENTS = 3_000;
/** Bytes of a table's footer (block handles, padding, magic). */
const FOOTER_BYTES = 48;

let root: string;
/** A closed, compacted data directory that nothing changes; each case works on a copy. */
let pristine: string;
/** The same records in tables written without compression, where a key's bytes can be found. */
let uncompressed: string;
let tableName: string;
let tableBytes: Uint8Array;

async function copyOf(name: string): Promise<string> {
  const dir = join(root, name);
  await rm(dir, { recursive: true, force: true });
  await cp(pristine, dir, { recursive: true });
  return dir;
}

async function flip(path: string, offset: number, mask: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = (bytes[offset] as number) ^ mask;
  await writeFile(path, bytes);
}

/** Everything into tables: the write-ahead log replayed and compacted, as after a long run. */
async function compact(dir: string, compression: boolean): Promise<void> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view', compression });
  await db.open();
  // classic-level's own method, which `level`'s types do not declare.
  await (db as unknown as { compactRange(from: string, to: string): Promise<void> }).compactRange(
    '\u0000',
    '\uffff',
  );
  await db.close();
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'allot-damaged-'));
  pristine = join(root, 'pristine');
  uncompressed = join(root, 'uncompressed');
  const store = await LevelStore.open(pristine);
  const logs = new Logs();
  for (let commit = 0; commit < 3; commit++) {
    const events = Array.from({ length: EVENTS / 3 }, (_, i) =>
      logs.append(EU, debitBody(i % 2 === 0 ? 'acme' : 'beta', commit * 10_000 + i + 1, { n: i })),
    );
    await store.commit(logs.batch(events, commit === 0 ? { meta: META } : {}), { sync: true });
  }
  await store.close();
  await cp(pristine, uncompressed, { recursive: true });
  await compact(pristine, true);
  await compact(uncompressed, false);
  const tables = (await readdir(pristine)).filter((name) => name.endsWith('.ldb'));
  expect(tables).toHaveLength(1);
  tableName = tables[0] as string;
  tableBytes = new Uint8Array(await readFile(join(pristine, tableName)));
}, 60_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('LevelStore on a damaged data directory', () => {
  it('opens the undamaged directory and checks every live table', async () => {
    const check = await checkLevelDbFiles(pristine);
    expect(check.tables).toBe(1);
    expect(check.bytes).toBeGreaterThan(tableBytes.length);
    const store = await LevelStore.open(await copyOf('whole'));
    expect((await store.heads())[0]?.seq).toBe(EVENTS);
    await store.close();
  });

  it('refuses to open a table with any one byte flipped, naming the file in one line', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: tableBytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (offset, mask) => {
          const dir = await copyOf('flipped');
          await flip(join(dir, tableName), offset, mask);
          const error = await LevelStore.open(dir).then(
            async (store) => {
              // Only the footer's padding is read by nobody: the store then holds all it held.
              expect(offset).toBeGreaterThanOrEqual(tableBytes.length - FOOTER_BYTES);
              expect((await store.readLog(EU, 1, EVENTS)).length).toBe(EVENTS);
              await store.close();
              return null;
            },
            (refused: Error) => refused,
          );
          if (error === null) return;
          expect(error).toBeInstanceOf(StoreCorruptError);
          expect(error.message).toMatch(
            new RegExp(`^store corrupt at file ${join(dir, tableName)}: .+(checksum|magic|outside)`),
          );
          expect(error.message).not.toMatch(/\n/);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses a damaged manifest, a missing table and a truncated table; drops a cut-off manifest record', async () => {
    const manifest = (await readdir(pristine)).find((name) => name.startsWith('MANIFEST-')) as string;
    const damaged = await copyOf('manifest');
    await flip(join(damaged, manifest), 20, 0x10);
    await expect(LevelStore.open(damaged)).rejects.toThrow(
      `store corrupt at file ${join(damaged, manifest)}: record at offset 0 fails its checksum`,
    );

    // A record cut off at the end of the manifest (its writer stopped mid-append) is dropped, as LevelDB does.
    const cut = await copyOf('cut');
    const bytes = await readFile(join(cut, manifest));
    await writeFile(join(cut, manifest), Buffer.concat([bytes, Buffer.from([1, 2, 3, 4, 200, 0])]));
    const opened = await LevelStore.open(cut);
    expect((await opened.heads())[0]?.seq).toBe(EVENTS);
    await opened.close();

    const missing = await copyOf('missing');
    await unlink(join(missing, tableName));
    await expect(LevelStore.open(missing)).rejects.toThrow(
      new RegExp(
        `^store corrupt at file ${join(missing, tableName)}: missing \\(a live table of level \\d\\)`,
      ),
    );

    const truncated = await copyOf('truncated');
    await writeFile(join(truncated, tableName), tableBytes.subarray(0, tableBytes.length - 100));
    await expect(LevelStore.open(truncated)).rejects.toThrow(
      `${tableBytes.length - 100} bytes, but the manifest says ${tableBytes.length}`,
    );
  });

  it('keeps the process alive where an unchecked LevelDB aborts it in a compaction', async () => {
    // One flipped digit in a key of the tenant index puts the table's keys out of order. Plain
    // LevelDB aborts compacting it; LevelStore.open refuses the same directory, and the process lives.
    const child = fileURLToPath(new URL('./damaged-child.mjs', import.meta.url));
    const run = (mode: string, dir: string) =>
      spawnSync(process.execPath, [child, mode, dir], { encoding: 'utf8', timeout: 30_000 });
    const dir = join(root, 'abort');
    await cp(uncompressed, dir, { recursive: true });
    const name = (await readdir(dir)).find((file) => file.endsWith('.ldb')) as string;
    const table = await readFile(join(dir, name));
    // A table stores a key's suffix after what it shares with the key before (`v3/`): the first
    // acme key is whole in the table, the next one shares its leading digits. A digit past the shared
    // ones made larger puts the first key after the second.
    const prefix = 'tenant/acme/';
    const key = table.indexOf(prefix);
    expect(key).toBeGreaterThan(0);
    const db = new Level<string, Uint8Array>(uncompressed, { keyEncoding: 'utf8', valueEncoding: 'view' });
    const [first, second] = (
      await db.keys({ gte: `${LAYOUT_PREFIX}${prefix}`, lt: `${LAYOUT_PREFIX}tenant/acme0` }).all()
    ).map((full) => full.slice(`${LAYOUT_PREFIX}${prefix}`.length));
    await db.close();
    let digit = 0;
    while ((first as string)[digit] === (second as string)[digit]) digit += 1;
    expect(((first as string)[digit] as string) < '8').toBe(true);
    await flip(join(dir, name), key + prefix.length + digit, 0x08);
    const checked = run('store', dir);
    expect(checked.signal).toBeNull();
    expect(checked.status).toBe(0);
    expect(checked.stdout).toMatch(
      new RegExp(
        `^refused: store corrupt at file ${join(dir, name)}: data block at offset \\d+ fails its checksum\n$`,
      ),
    );
    const plain = run('plain', dir);
    expect(plain.signal).toBe('SIGABRT');
    expect(plain.stderr).toMatch(/table_builder\.cc.*Assertion .*Compare\(key, Slice\(r->last_key\)\) > 0/);
  }, 60_000);
});
