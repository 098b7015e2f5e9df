/**
 * A region's overdraft allowance is spent once, across disk loss (DESIGN.md §1, issue 16): nodes
 * durably record every incarnation they heard of and name it in their summaries; an incarnation
 * takes overdraft only once a peer's summary names it, and one that hears of another incarnation of
 * its region counts that one's whole allowance as used, even if none of its events ever left it.
 */
import {
  type DebitOutcome,
  HEARD_ORIGINS_PER_REGION_MAX,
  SUMMARY_ORIGINS_PER_REGION_MAX,
} from '@allot/replica';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { type Cluster, cluster } from './cluster.js';
import { hostileSetup, US_ORIGIN } from './hostile-peer.js';

const NO_POLICY = { weights: {}, blocked: false };
const debit = (key: string, amount: number) => ({
  tenant: 'acme',
  amount,
  idempotencyKey: key,
  metadata: null,
});
const grant = { tenant: 'acme', grantId: 'g1', amount: 6, priority: 100, expiresAt: null };

async function settled<T>(run: (ms: number) => Promise<void>, promise: Promise<T>): Promise<T> {
  let done = false;
  void promise.finally(() => {
    done = true;
  });
  for (let i = 0; i < 5_000 && !done; i++) await run(1);
  return promise;
}

/** What a debit far past every bound says this region could spend now. */
function availableOf(outcome: DebitOutcome): number {
  if (outcome.status !== 'declined') throw new Error(`expected a decline, got ${outcome.status}`);
  return outcome.available;
}

describe('an incarnation and its region’s overdraft', () => {
  it('takes none until a peer names it, and none again once another incarnation of its region is named', async () => {
    const s = await hostileSetup(); // us sent an empty summary: eu is writable and caught up
    const eu = s.replica;
    const summary = (versionVector: Record<string, number>) =>
      s.send({ type: 'summary', versionVector, control: Y.encodeStateVector(new Y.Doc()) });
    await settled(s.run, eu.setPolicy('acme', { overdraft: { eu: 10 }, ...NO_POLICY }));
    expect((await settled(s.run, eu.grant(grant))).status).toBe('accepted');
    await s.run(5);
    const rights = availableOf(await settled(s.run, eu.debit(debit('probe-1', 1_000))));

    // eu heard of us (its handshake): it records us's incarnation and names it to us.
    await s.run(600);
    const named = s.received.filter((frame) => frame.type === 'summary');
    expect(named.at(-1)?.type === 'summary' && named.at(-1)?.versionVector[US_ORIGIN]).toBe(0);
    expect(await s.store.readOrigins()).toEqual([eu.origin, US_ORIGIN].sort());

    // No peer named eu yet: a later incarnation of eu could not hear of it, so no overdraft.
    expect(availableOf(await settled(s.run, eu.debit(debit('probe-2', 1_000))))).toBe(rights);
    summary({ [eu.origin]: 0 });
    await s.run(5);
    expect(availableOf(await settled(s.run, eu.debit(debit('probe-3', 1_000))))).toBe(rights + 10);
    const over = await settled(s.run, eu.debit(debit('over', rights + 4)));
    expect(over.status === 'accepted' && over.debit.overdraft).toBe(4);

    // A peer names another incarnation of eu that this node never saw an event of: it may have
    // used the whole allowance on a disk that is lost. Recorded here too, and reported once.
    const lost = 'eu#aaaaaaaaaaaaaaaa';
    summary({ [eu.origin]: 0, [lost]: 0 });
    await s.run(5);
    expect(availableOf(await settled(s.run, eu.debit(debit('probe-4', 1_000))))).toBe(0);
    expect((await settled(s.run, eu.debit(debit('more', 1)))).status).toBe('declined');
    expect(await s.store.readOrigins()).toContain(lost);
    const warned = s.logger.lines.filter((line) => /earlier incarnation of this region/.test(line.message));
    expect(warned).toHaveLength(1);
  });
});

describe('incarnations a peer names', () => {
  it('are recorded up to HEARD_ORIGINS_PER_REGION_MAX per region, however many a peer invents', async () => {
    const s = await hostileSetup();
    const letter = (n: number) => String.fromCharCode(97 + n);
    const invented = (n: number) => `us#${letter(n % 26)}${letter(Math.floor(n / 26))}${'a'.repeat(14)}`;
    for (let round = 0; round < 3; round++) {
      const vector: Record<string, number> = {};
      for (let i = 0; i < SUMMARY_ORIGINS_PER_REGION_MAX - 1; i++) vector[invented(round * 10 + i)] = 0;
      expect(
        s.send({ type: 'summary', versionVector: vector, control: Y.encodeStateVector(new Y.Doc()) }),
      ).toBe(true);
      await s.run(5);
    }
    expect(s.network.drops).toEqual([]);
    const us = (await s.store.readOrigins()).filter((origin) => origin.startsWith('us#'));
    expect(us).toHaveLength(HEARD_ORIGINS_PER_REGION_MAX);
    expect(us).toContain(US_ORIGIN); // heard of first, from the handshake
    // What this node names stays within what a peer accepts.
    await s.run(600);
    const last = s.received.filter((frame) => frame.type === 'summary').at(-1);
    const named = Object.keys(last?.type === 'summary' ? last.versionVector : {});
    expect(named.filter((origin) => origin.startsWith('us#'))).toHaveLength(SUMMARY_ORIGINS_PER_REGION_MAX);
  });
});

/** Debits 1 at `region` until one is declined; returns how many were accepted. */
async function spendAll(c: Cluster, region: string, prefix: string): Promise<number> {
  let accepted = 0;
  for (let i = 0; i < 100; i++) {
    const outcome = await settle(c, c.node(region).debit(debit(`${prefix}-${i}`, 1)));
    if (outcome.status !== 'accepted') return accepted;
    accepted += 1;
  }
  throw new Error('no decline within 100 debits');
}

async function settle<T>(c: Cluster, promise: Promise<T>): Promise<T> {
  let done = false;
  void promise.finally(() => {
    done = true;
  });
  await c.until(() => done);
  return promise;
}

describe('an incarnation lost before any of its events left it', () => {
  it('its successor hears of it from a peer and takes no overdraft', async () => {
    // No borrowing: what eu may spend is its own rights and overdraft only.
    const c = await cluster(['eu', 'us'], { rebalancing: 'static', borrowWaitMs: 0 });
    await c.until(() => c.node('eu').writable && c.node('us').writable);
    await settle(c, c.node('us').setPolicy('acme', { overdraft: { eu: 10 }, ...NO_POLICY }));
    await c.until(() => c.node('eu').policy('acme').overdraft.eu === 10);
    expect((await settle(c, c.node('us').grant(grant))).status).toBe('accepted');
    await c.until(() => c.node('eu').balance('acme')?.granted === 6);
    await c.run(1_500); // summaries name each incarnation to the other
    const rights = c.node('eu').balance('acme')?.regions.eu?.rights ?? 0;
    expect(availableOf(await settle(c, c.node('eu').debit(debit('probe', 1_000))))).toBe(rights + 10);

    // eu, cut off, spends its rights and its whole allowance; none of it reaches us.
    c.network.isolateAll();
    const first = c.node('eu').origin;
    expect(await spendAll(c, 'eu', 'lost')).toBe(rights + 10);
    c.stores.get('eu')?.flush();
    const eu = await c.loseDisk('eu');
    expect(eu.origin).not.toBe(first);

    c.network.healAll();
    await c.until(() => eu.writable);
    await c.until(() =>
      (c.logs.get('eu')?.lines ?? []).some((line) => /caught up with every peer/.test(line.message)),
    );
    await c.run(1_500);
    const lines = c.logs.get('eu')?.lines ?? [];
    expect(lines.some((line) => line.level === 'warn' && line.message.includes('earlier incarnation'))).toBe(
      true,
    );
    // us never saw a debit of the lost incarnation; the successor still takes no overdraft.
    expect(c.node('us').versionVector()[first] ?? 0).toBe(0);
    expect(await spendAll(c, 'eu', 'again')).toBe(0);
  });
});
