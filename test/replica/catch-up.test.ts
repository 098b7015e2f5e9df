/**
 * Catch-up of a far-behind region (bench:join saw one stall at 880,334 of 1,006,246 events with every
 * link up): it must reach its peers' heads whatever the receiver was doing when their runs arrived.
 */
import { canonicalJson } from '@allot/core';
import type { MemoryStore } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { GateLosses } from '../../packages/replica/src/gate-losses.js';
import { cluster } from './cluster.js';

// Two regions: with a third, its relays (after RELAY_AFTER_MS) would hide a lost run unless its window
// to the far-behind one was full of its own log, as in bench:join.
const REGIONS = ['eu', 'ap'];
const GRANT = 3_000_000_000;
const debit = (key: string) => ({ tenant: 'acme', amount: 1, idempotencyKey: key, metadata: null });

describe('catch-up of a far-behind region', () => {
  it('reaches the heads although the runs arrived while its gate was shut (a snapshot or checkpoint waiting for a commit)', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    await Promise.all([
      c.node('eu').grant({ tenant: 'acme', grantId: 'g1', amount: GRANT, priority: 100, expiresAt: null }),
      c.run(20),
    ]);
    await c.until(() => c.node('ap').balance('acme')?.balance === GRANT);
    c.network.cutLink('ap', 'eu');
    const [written] = await Promise.all([
      c.node('eu').debitMany(Array.from({ length: 3_000 }, (_, i) => debit(`eu-${i}`))),
      c.run(5),
    ]);
    expect(written.every((outcome) => outcome.status === 'accepted')).toBe(true);
    const same = (a: string, b: string) =>
      canonicalJson(c.node(a).versionVector()) === canonicalJson(c.node(b).versionVector());
    // ap's commits take a while (a real store syncs), and a snapshot (a checkpoint alike) shuts its
    // gate until what is pending is durable: every run eu pushes at the heal arrives meanwhile, and
    // eu, which wrote nothing since, had nothing more to send that would show ap the gap.
    const store = c.stores.get('ap') as MemoryStore;
    const commit = store.commit.bind(store);
    store.commit = async (...args) => {
      await new Promise<void>((resolve) => c.clock.setTimer(100, resolve));
      return commit(...args);
    };
    const own = c.node('ap').debit(debit('ap-0'));
    await c.run(2);
    const snapshot = c.node('ap').snapshot();
    c.network.healAll();
    await Promise.all([own, snapshot, c.run(150)]);
    await c.until(() => same('ap', 'eu'), 10_000);
    expect(c.node('ap').balance('acme')?.balance).toBe(GRANT - 3_001);
  });
});

describe('frames ignored at the gate (gate-losses.ts)', () => {
  const frame = (origin: string, firstSeq: number) => ({
    type: 'segments' as const,
    origin,
    segments: [{ firstSeq, lastSeq: firstSeq, bytes: new Uint8Array(1), signature: new Uint8Array(64) }],
  });

  it('turns ignored runs into one pull per origin from what is held, and keeps the lowest ignored pull', () => {
    const losses = new GateLosses();
    expect(losses.note('eu', { type: 'summary', versionVector: {}, control: new Uint8Array(0) })).toBe(false);
    expect(losses.note('eu', frame('eu#a', 10))).toBe(true);
    expect(losses.note('eu', frame('eu#a', 20))).toBe(true);
    expect(losses.note('eu', { type: 'pull', origin: 'us#b', fromSeq: 7 })).toBe(true);
    expect(losses.note('eu', { type: 'pull', origin: 'us#b', fromSeq: 3 })).toBe(true);
    expect(losses.note('us', frame('us#b', 5))).toBe(true);
    losses.forget('us');
    expect(losses.take((origin) => (origin === 'eu#a' ? 9 : 0))).toEqual([
      {
        region: 'eu',
        send: [{ type: 'pull', origin: 'eu#a', fromSeq: 10 }],
        act: [{ type: 'pull', origin: 'us#b', fromSeq: 3 }],
      },
    ]);
    expect(losses.take(() => 0)).toEqual([]);
  });
});
