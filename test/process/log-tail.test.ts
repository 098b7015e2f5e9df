/**
 * Issue 9 item 2 with real processes: a node whose LevelDB write-ahead log was lost comes back
 * with a shorter own log. Cut off from its peers it serves reads and answers debits 503 not_ready;
 * once a peer is reachable it fetches its tail back (verified with its own key), and retries of
 * acknowledged keys replay the same debit. Peers never see a broken hash chain. The same when one
 * byte near the end of the write-ahead log is flipped: LevelDB drops the damaged record, and the
 * node fetches it back rather than reuse its seqs.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useProcessCluster } from './cluster-process.js';
import { call, eventually, TOKENS } from './node-process.js';

const REGIONS = ['eu', 'us', 'ap'] as const;

const processes = useProcessCluster(REGIONS);
const url = processes.url;

const ready = (region: string) =>
  eventually(
    async () => (await fetch(`${url(region)}/readyz`)).status,
    (status) => status === 200,
  );

/** The own origin's seq that `region` reports in its cluster view. */
async function ownSeq(region: string): Promise<{ origin: string; seq: number }> {
  const view = (await call(url(region), TOKENS.auditor, 'GET', '/v1/cluster')).body as {
    origin: string;
    versionVector: Record<string, number>;
  };
  return { origin: view.origin, seq: view.versionVector[view.origin] ?? 0 };
}

async function seqAt(region: string, origin: string): Promise<number> {
  const view = (await call(url(region), TOKENS.auditor, 'GET', '/v1/cluster')).body as {
    versionVector: Record<string, number>;
  };
  return view.versionVector[origin] ?? 0;
}

async function stop(region: string): Promise<void> {
  const node = processes.cluster().nodes.get(region);
  node?.child.kill('SIGTERM');
  await node?.exited;
}

function debit(key: string) {
  return call(url('eu'), TOKENS.service, 'POST', '/v1/tenants/acme/debits', {
    amount: 1,
    idempotencyKey: key,
  });
}

/** Debits `count` new keys at eu; returns each key's debitId. */
async function acknowledge(prefix: string, count: number): Promise<Map<string, string>> {
  const acknowledged = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const answer = await debit(`${prefix}-${i}`);
    expect(answer.status).toBe(201);
    acknowledged.set(`${prefix}-${i}`, (answer.body as { debit: { debitId: string } }).debit.debitId);
  }
  return acknowledged;
}

/** Waits until us and ap hold eu's own log up to `seq`. */
function peersHold(origin: string, seq: number) {
  return eventually(
    () => Promise.all(['us', 'ap'].map((region) => seqAt(region, origin))),
    (seqs) => seqs.every((held) => held === seq),
  );
}

/** Retries of every acknowledged key replay the same debit. */
async function expectReplays(acknowledged: ReadonlyMap<string, string>): Promise<void> {
  for (const [key, debitId] of acknowledged) {
    const retry = await debit(key);
    expect(retry.status).toBe(200);
    expect((retry.body as { debit: { debitId: string } }).debit.debitId).toBe(debitId);
  }
}

describe('a node whose write-ahead log was lost', () => {
  it('comes back with its full log from its peers before it takes debits again', async () => {
    for (const region of REGIONS) await ready(region);
    expect(
      (
        await call(url('eu'), TOKENS.admin, 'POST', '/v1/tenants/acme/grants', {
          grantId: 'g1',
          amount: 900,
        })
      ).status,
    ).toBe(201);
    for (let i = 0; i < 5; i++) expect((await debit(`early-${i}`)).status).toBe(201);
    // A restart replays the write-ahead log into a table file: what came so far is safe from below.
    await stop('eu');
    await processes.cluster().restart('eu');
    await ready('eu');

    const acknowledged = await acknowledge('late', 20);
    const before = await ownSeq('eu');
    await peersHold(before.origin, before.seq);

    await stop('eu');
    const dataDir = join(processes.cluster().dirs.get('eu') as string, 'data');
    const logs = readdirSync(dataDir).filter((name) => name.endsWith('.log'));
    expect(logs.length).toBeGreaterThan(0);
    for (const name of logs) rmSync(join(dataDir, name));

    // Cut off from every peer: reads are served, debits are not taken.
    processes.cluster().isolate('eu');
    await processes.cluster().restart('eu');
    const shorter = await ownSeq('eu');
    expect(shorter.origin).toBe(before.origin);
    expect(shorter.seq).toBeLessThan(before.seq);
    const refused = await debit('late-0');
    expect(refused.status).toBe(503);
    const error = (refused.body as { error: { code: string; message: string; details: unknown } }).error;
    expect(error.code).toBe('not_ready');
    // It names the peers it waits for: every one, not only those that would answer (issue 15).
    expect(error.message).toMatch(
      /until every peer confirms it holds all of its own log; waiting for ap, us/,
    );
    expect(error.details).toEqual({ reason: 'recovering', waitingFor: ['ap', 'us'] });
    expect((await call(url('eu'), TOKENS.auditor, 'GET', '/v1/tenants/acme/balance')).status).toBe(200);
    expect((await fetch(`${url('eu')}/readyz`)).status).toBe(503);

    processes.cluster().heal();
    await ready('eu');
    expect((await ownSeq('eu')).seq).toBe(before.seq);
    await expectReplays(acknowledged);
    expect((await debit('after')).status).toBe(201);
    await peersHold(before.origin, before.seq + 1);
    const output = processes.cluster().nodes.get('eu')?.output() ?? '';
    expect(output).toMatch(/"missing":\d+[^\n]*"msg":"own log is shorter than a peer holds it/);
    expect(output).toMatch(/"fetchedBack":[1-9]\d*[^\n]*"msg":"own log recovered from peers/);
    for (const region of ['us', 'ap'])
      expect(processes.cluster().nodes.get(region)?.output()).not.toMatch(/hash chain broken/);
  });

  it('fetches back a tail that LevelDB dropped over one flipped byte, and never reuses its seqs', async () => {
    for (const region of REGIONS) await ready(region);
    const acknowledged = await acknowledge('flip', 10);
    const before = await ownSeq('eu');
    await peersHold(before.origin, before.seq);

    await stop('eu');
    const dataDir = join(processes.cluster().dirs.get('eu') as string, 'data');
    // The newest write-ahead log holds the last commits; one byte near its end sits in the last one.
    const newest = readdirSync(dataDir)
      .filter((name) => name.endsWith('.log'))
      .map((name) => join(dataDir, name))
      .sort()
      .at(-1) as string; // LevelDB numbers its files in order (000012.log after 000009.log)
    const bytes = readFileSync(newest);
    expect(bytes.length).toBeGreaterThan(64);
    const at = bytes.length - 16;
    bytes[at] = (bytes[at] as number) ^ 0x5a;
    writeFileSync(newest, bytes);

    processes.cluster().isolate('eu');
    await processes.cluster().restart('eu');
    const shorter = await ownSeq('eu');
    expect(shorter.origin).toBe(before.origin);
    expect(shorter.seq).toBeLessThan(before.seq);
    const refused = await debit('flip-9');
    expect(refused.status).toBe(503);
    expect((refused.body as { error: { code: string } }).error.code).toBe('not_ready');

    processes.cluster().heal();
    await ready('eu');
    expect((await ownSeq('eu')).seq).toBe(before.seq);
    await expectReplays(acknowledged);
    expect((await debit('after-flip')).status).toBe(201);
    for (const region of ['us', 'ap'])
      expect(processes.cluster().nodes.get(region)?.output()).not.toMatch(/hash chain broken/);
  });
});
