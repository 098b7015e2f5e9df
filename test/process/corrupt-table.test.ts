/**
 * A real node over a damaged data directory (issue 9, item 3). A tenant with 20,010 events, written
 * through the batch route, the node stopped and its data compacted into table files. Then:
 * - one byte flipped in an `.ldb` file: the node refuses to start, with one line naming the file
 *   (before, it started and aborted inside LevelDB on the first events read, exit 134, or served
 *   19,930 of 20,010 events as the whole history);
 * - one record damaged in a way LevelDB cannot see (tables whole, a value's bits changed, as after
 *   a compaction copied damage into a fresh table): the node starts, the tenant's events read
 *   answers 500 `internal` at the damaged page and logs the key at error level, and the process
 *   keeps serving the tenant's other reads, other tenants and health.
 */
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Level } from 'level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type NodeProcess, removeDir, startNodeProcess, TOKENS, tempDir } from './node-process.js';

/** acme's debits: more than two full batches, as in the finding. */
const DEBITS = 20_009;
const BATCH = 8_190;
const PAGE = 1_000;
/** Polls of the node's output for a log line, 50 ms apart: pino writes asynchronously. */
const LOG_WAIT_ATTEMPTS = 200;

interface EventsPage {
  events: { kind: string; origin: string; seq: number }[];
  next: string | null;
}

const dirs: string[] = [];
/** A stopped node's directory with compacted tables; each case damages a copy. */
let pristine: string;

function copyOfPristine(name: string): string {
  const dir = tempDir(name);
  dirs.push(dir);
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

async function stop(node: NodeProcess): Promise<void> {
  node.child.kill('SIGTERM');
  expect(await node.exited).toBe(0);
}

/** Reads every page of `tenant`: the events read, and the first answer that was not 200. */
async function readAll(node: NodeProcess, tenant: string) {
  const events: EventsPage['events'] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? `?limit=${PAGE}` : `?limit=${PAGE}&after=${cursor}`;
    const page = await call(node.url, TOKENS.auditor, 'GET', `/v1/tenants/${tenant}/events${query}`);
    if (page.status !== 200) return { events, failed: page };
    const body = page.body as EventsPage;
    events.push(...body.events);
    cursor = body.next;
  } while (cursor !== null);
  return { events, failed: null };
}

/** The node's log lines that contain `text`, once there is one (or none after a while). */
async function linesNaming(node: NodeProcess, text: string): Promise<string[]> {
  for (let attempt = 0; attempt < LOG_WAIT_ATTEMPTS; attempt++) {
    const lines = node
      .output()
      .split('\n')
      .filter((line) => line.includes(text));
    if (lines.length > 0) return lines;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return [];
}

type Db = Level<string, Uint8Array>;

/** Opens the node's LevelDB with plain `level`, behind the node's back. */
async function withDb<T>(dir: string, use: (db: Db) => Promise<T>): Promise<T> {
  const db: Db = new Level<string, Uint8Array>(join(dir, 'data'), {
    keyEncoding: 'utf8',
    valueEncoding: 'view',
  });
  await db.open();
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

beforeAll(async () => {
  pristine = tempDir('corrupt-pristine');
  dirs.push(pristine);
  const node = await startNodeProcess({ dataDir: pristine, durability: 'os' });
  for (const tenant of ['acme', 'beta']) {
    const grant = await call(node.url, TOKENS.admin, 'POST', `/v1/tenants/${tenant}/grants`, {
      grantId: 'g1',
      amount: 1_000_000_000,
    });
    expect(grant.status).toBe(201);
  }
  for (let from = 0; from < DEBITS; from += BATCH) {
    const debits = Array.from({ length: Math.min(BATCH, DEBITS - from) }, (_, i) => ({
      tenant: 'acme',
      amount: 1 + ((from + i) % 7),
      idempotencyKey: `acme-${from + i}`,
      metadata: { model: 'm', n: from + i },
    }));
    const answer = await call(node.url, TOKENS.service, 'POST', '/v1/debits/batch', { debits });
    expect(answer.status).toBe(200);
    const results = (answer.body as { results: { status: string }[] }).results;
    expect(results.every((result) => result.status === 'accepted')).toBe(true);
  }
  const beta = Array.from({ length: 99 }, (_, i) => ({
    tenant: 'beta',
    amount: 2,
    idempotencyKey: `beta-${i}`,
  }));
  expect((await call(node.url, TOKENS.service, 'POST', '/v1/debits/batch', { debits: beta })).status).toBe(
    200,
  );
  await stop(node);
  // Everything into tables, as after a long run: LevelDB's own compaction, with classic-level's method.
  await withDb(pristine, (db) =>
    (db as unknown as { compactRange(from: string, to: string): Promise<void> }).compactRange(
      '\u0000',
      '\uffff',
    ),
  );
}, 120_000);

afterAll(() => {
  for (const dir of dirs) removeDir(dir);
});

describe('a node over a damaged data directory (real process)', () => {
  it('refuses to start over a table with one flipped byte, in one line naming the file', async () => {
    const dir = copyOfPristine('corrupt-table');
    const data = join(dir, 'data');
    const tables = readdirSync(data).filter((name) => name.endsWith('.ldb'));
    expect(tables.length).toBeGreaterThan(0);
    const largest = tables
      .map((name) => ({ name, bytes: readFileSync(join(data, name)) }))
      .sort((a, b) => b.bytes.length - a.bytes.length)[0] as { name: string; bytes: Buffer };
    // A byte in the last third of the table: the tenant index, where the finding's reads went.
    const offset = Math.floor((largest.bytes.length * 3) / 4);
    largest.bytes[offset] = (largest.bytes[offset] as number) ^ 0x04;
    writeFileSync(join(data, largest.name), largest.bytes);

    const refused = await startNodeProcess({ dataDir: dir }).then(
      async (node) => {
        await stop(node);
        throw new Error('the node started over a damaged table');
      },
      (error: Error) => error.message,
    );
    expect(refused).toMatch(/^node exited \(1\) before serving:/);
    const lines = refused.split('\n').filter((line) => line.includes('store corrupt'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(
        `store corrupt at file ${join(data, largest.name)}: (data|index|meta) block at offset \\d+ fails its checksum`,
      ),
    );
    expect(refused).not.toMatch(/^\s+at /m); // no stack trace
  }, 60_000);

  it('answers 500 internal for the damaged page, logs the key, and keeps serving', async () => {
    const dir = copyOfPristine('corrupt-record');
    // The index entry of acme that holds its 10,001st event (one entry per tenant per commit), its
    // value's bits changed behind LevelDB's back. (A damaged segment is found at start: every log
    // is read back and verified before the node serves.)
    const damagedKey = await withDb(dir, async (db) => {
      const keys = await db.keys({ gte: 'v3/tenant/acme/', lt: 'v3/tenant/acme0' }).all();
      const key = keys.find((each) => Number(each.slice(each.lastIndexOf('/') + 1)) >= 10_001) as string;
      const value = new Uint8Array((await db.get(key)) as Uint8Array);
      value[2] = (value[2] as number) ^ 0x10;
      await db.put(key, value);
      return key;
    });

    const node = await startNodeProcess({ dataDir: dir });
    try {
      const acme = await readAll(node, 'acme');
      expect(acme.failed?.status).toBe(500);
      expect(acme.failed?.body).toEqual({
        error: {
          code: 'internal',
          details: {},
          message: 'An internal error occurred; it was logged, and nothing was changed.',
        },
      });
      // Every page before the damaged one was whole; the damaged one was not served at all.
      expect(acme.events.length % PAGE).toBe(0);
      expect(acme.events.length).toBeGreaterThan(0);
      expect(acme.events.length).toBeLessThan(10_001);
      const seqs = acme.events.map((event) => event.seq);
      expect(seqs.every((seq, i) => i === 0 || seq > (seqs[i - 1] as number))).toBe(true);
      // The log is written asynchronously: wait for the line (bounded), not for a fixed time.
      const logged = await linesNaming(node, damagedKey);
      expect(logged.length).toBeGreaterThan(0);
      expect(JSON.parse(logged[0] as string)).toMatchObject({ level: 50 });
      expect(logged[0]).toContain(`store corrupt at key \\"${damagedKey}\\": the value fails its checksum`);

      // The process lives on and serves everything else.
      expect(node.child.exitCode).toBeNull();
      expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
      const beta = await readAll(node, 'beta');
      expect(beta.failed).toBeNull();
      expect(beta.events).toHaveLength(100);
      const balance = await call(node.url, TOKENS.auditor, 'GET', '/v1/tenants/acme/balance');
      expect(balance.status).toBe(200);
      // The same damaged page again: the same answer, and the node still up.
      expect((await readAll(node, 'acme')).failed?.status).toBe(500);
      expect(node.child.exitCode).toBeNull();
    } finally {
      await stop(node);
    }
  }, 120_000);
});
