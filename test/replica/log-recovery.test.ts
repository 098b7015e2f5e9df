/**
 * "A node never serves a log shorter than what it acknowledged" (DESIGN.md §2, issue 9 item 2): a
 * replica that lost the tail of its own log, or its whole disk, takes no writes until every peer's
 * summary shows it holds everything that peer holds of its region (issue 15: no grace); what peers
 * hold beyond it comes back, verified with its own key, so retries of acknowledged keys replay the
 * same debit.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { DebitOutcome } from '@allot/replica';
import { rawPublicKey } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { type Cluster, cluster } from './cluster.js';
import { harness } from './support.js';

const REGIONS = ['eu', 'us', 'ap'];
const grant = { tenant: 'acme', grantId: 'g1', amount: 900, priority: 100, expiresAt: null };
const debit = (key: string, amount = 1) => ({ tenant: 'acme', amount, idempotencyKey: key, metadata: null });

async function settled<T>(c: Cluster, promise: Promise<T>): Promise<T> {
  let done = false;
  void promise.finally(() => {
    done = true;
  });
  await c.until(() => done);
  return promise;
}

/** A cluster whose eu acknowledged `count` debits that every peer holds, then lost them from its store. */
async function euLostItsTail(count: number) {
  // 'os' durability: a commit is acknowledged once handed over, and a crash loses what was not
  // synced, as a lost or damaged write-ahead log does.
  const c = await cluster(REGIONS, { durability: 'os' });
  await c.until(() => REGIONS.every((region) => c.node(region).writable));
  expect((await settled(c, c.node('eu').grant(grant))).status).toBe('accepted');
  await c.until(() => REGIONS.every((region) => c.node(region).balance('acme')?.granted === 900));
  c.stores.get('eu')?.flush(); // the grant (and the split) survive; the debits below do not
  const acknowledged: DebitOutcome[] = [];
  for (let i = 0; i < count; i++) acknowledged.push(await settled(c, c.node('eu').debit(debit(`k-${i}`))));
  expect(acknowledged.every((outcome) => outcome.status === 'accepted')).toBe(true);
  const euOrigin = c.node('eu').origin;
  const head = c.node('eu').versionVector()[euOrigin] ?? 0;
  await c.until(() => ['us', 'ap'].every((region) => c.node(region).versionVector()[euOrigin] === head));
  return { c, acknowledged, euOrigin, head };
}

describe('a replica that lost the tail of its own log', () => {
  it('takes no writes until a peer gave the tail back; then retries of acknowledged keys replay', async () => {
    const { c, acknowledged, euOrigin, head } = await euLostItsTail(30);
    const eu = await c.crash('eu');
    expect(eu.origin).toBe(euOrigin);
    expect(eu.versionVector()[euOrigin] ?? 0).toBeLessThan(head); // the store lost the tail
    expect(eu.writable).toBe(false);
    expect(await eu.debit(debit('fresh'))).toEqual({
      status: 'not_ready',
      reason: 'recovering',
      waitingFor: ['ap', 'us'],
    });
    expect((await eu.durableBalance('acme'))?.granted).toBe(900); // reads are served meanwhile

    await c.until(() => eu.writable);
    expect(eu.versionVector()[euOrigin]).toBe(head);
    for (let i = 0; i < acknowledged.length; i++) {
      const retry = await settled(c, eu.debit(debit(`k-${i}`)));
      const first = acknowledged[i] as Extract<DebitOutcome, { status: 'accepted' | 'replayed' }>;
      expect(retry.status).toBe('replayed');
      expect(retry.status === 'replayed' && retry.debit.debitId).toBe(first.debit.debitId);
    }
    // New writes continue the chain: peers accept them (no "hash chain broken").
    expect((await settled(c, eu.debit(debit('after')))).status).toBe('accepted');
    await c.until(() => c.node('us').versionVector()[euOrigin] === head + 1);
    expect(c.network.drops.filter((drop) => /chain|signature/.test(drop.reason))).toEqual([]);
    const lines = c.logs.get('eu')?.lines ?? [];
    expect(
      lines.some(
        (line) => line.level === 'warn' && /own log is shorter than a peer holds it/.test(line.message),
      ),
    ).toBe(true);
    expect(lines.some((line) => /own log recovered from peers/.test(line.message))).toBe(true);
  });

  it('with no peer reachable, serves reads and answers writes not_ready until one is', async () => {
    const { c, head, euOrigin } = await euLostItsTail(5);
    c.network.isolateAll();
    const eu = await c.crash('eu');
    await c.run(2_000);
    expect(eu.writable).toBe(false);
    const refused = { status: 'not_ready', reason: 'recovering', waitingFor: ['ap', 'us'] };
    expect(await eu.debit(debit('k-0'))).toEqual(refused);
    expect(await eu.refund({ tenant: 'acme', debitId: 'x', idempotencyKey: 'r' })).toEqual(refused);
    expect((await eu.durableBalance('acme'))?.granted).toBe(900);
    c.network.healAll();
    await c.until(() => eu.writable);
    expect(eu.versionVector()[euOrigin]).toBe(head);
    expect((await settled(c, eu.debit(debit('k-0')))).status).toBe('replayed');
  });

  it('waits for EVERY peer: the one holding the lost tail may be the one cut off (issue 15, seed 36)', async () => {
    const { c, acknowledged, euOrigin, head } = await euLostItsTail(8);
    // ap is cut off from eu when eu restarts on the shortened log.
    c.network.cutLink('eu', 'ap');
    const eu = await c.crash('eu');
    const kept = eu.versionVector()[euOrigin] ?? 0;
    expect(kept).toBeLessThan(head);
    // Long past the old 2 s grace: us gave the tail back and confirms, but ap, silent, might hold
    // more than us (seed 36: the one peer holding it was down), so eu takes no writes and says whom
    // it waits for.
    await c.run(30_000);
    expect(eu.writable).toBe(false);
    expect(await eu.debit(debit('fresh'))).toEqual({
      status: 'not_ready',
      reason: 'recovering',
      waitingFor: ['ap'],
    });
    const lines = c.logs.get('eu')?.lines ?? [];
    expect(lines.some((line) => /writes wait until every peer \(ap, us\)/.test(line.message))).toBe(true);
    expect(lines.some((line) => /peer us confirms .* writes still wait for ap/.test(line.message))).toBe(
      true,
    );
    // ap comes back: eu fetches what ap holds, then takes writes; acknowledged keys replay.
    c.network.healAll();
    await c.until(() => eu.writable);
    expect(eu.versionVector()[euOrigin]).toBe(head);
    const retry = await settled(c, eu.debit(debit('k-7')));
    const first = acknowledged[7] as Extract<DebitOutcome, { status: 'accepted' | 'replayed' }>;
    expect(retry.status === 'replayed' && retry.debit.debitId).toBe(first.debit.debitId);
  });

  it('a new incarnation (lost disk) waits for its region’s earlier log; retries then replay', async () => {
    const { c, acknowledged, euOrigin } = await euLostItsTail(10);
    c.stores.get('eu')?.flush();
    const eu = await c.loseDisk('eu');
    expect(eu.origin).not.toBe(euOrigin);
    expect(await eu.debit(debit('k-0'))).toMatchObject({ status: 'not_ready', reason: 'recovering' });
    await c.until(() => eu.writable);
    const retry = await settled(c, eu.debit(debit('k-3')));
    expect(retry.status).toBe('replayed');
    const first = acknowledged[3] as Extract<DebitOutcome, { status: 'accepted' | 'replayed' }>;
    expect(retry.status === 'replayed' && retry.debit.debitId).toBe(first.debit.debitId);
  });
});

describe('readiness of a replica with peers configured', () => {
  const peerKeys = { us: rawPublicKey(generateKeyPairSync('ed25519').privateKey) };

  it('waits for a peer before taking writes', async () => {
    const h = await harness({ peerKeys });
    expect(h.replica.writable).toBe(false);
    expect(await h.replica.grant(grant)).toEqual({
      status: 'not_ready',
      reason: 'recovering',
      waitingFor: ['us'],
    });
    expect(await h.replica.durableBalance('acme')).toBeUndefined();
  });

  it('allowLoneStart takes writes at once, with a warning', async () => {
    const h = await harness({ peerKeys, allowLoneStart: true });
    expect(h.replica.writable).toBe(true);
    expect(h.logger.lines.some((line) => line.level === 'warn' && /allowLoneStart/.test(line.message))).toBe(
      true,
    );
  });

  it('without peers a replica is ready at once', async () => {
    const h = await harness();
    expect(h.replica.writable).toBe(true);
  });
});
