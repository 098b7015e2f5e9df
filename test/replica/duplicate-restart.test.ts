/**
 * A cross-region duplicate (one idempotency key taken at two regions while cut off) is refunded by
 * the region that took the later debit (DESIGN.md §3), decided when the other debit is folded.
 * While the node is not writable that decision waits in memory; a crash then loses it, and the
 * restarted node folds the other debit from its own disk, never receiving it again. Swarm seed 1560
 * (findings-issue15.test.ts): eu restarted twice, the key stayed charged twice. A start hands every
 * duplicate it folds back to the refund decision (recovery.ts), off-heap records included.
 */
import type { MemoryStore } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { type Cluster, cluster } from './cluster.js';

async function settle<T>(c: Cluster, promise: Promise<T>): Promise<T> {
  let done = false;
  void promise.finally(() => {
    done = true;
  });
  await c.until(() => done);
  return promise;
}

const grant = (grantId: string) => ({ tenant: 'acme', grantId, amount: 100, priority: 100, expiresAt: null });
const debit = { tenant: 'acme', amount: 7, idempotencyKey: 'order-1', metadata: null };
const refundLines = (c: Cluster) =>
  (c.logs.get('eu')?.lines ?? []).filter((line) =>
    line.message.includes('refunded a cross-region duplicate'),
  );

describe('a duplicate refund owed while a node restarts', () => {
  for (const recordWindowRecords of [100_000, 0]) {
    it(`is made after a second crash lost it (records on the heap: ${recordWindowRecords})`, async () => {
      const c = await cluster(['eu', 'us', 'ap'], {
        rebalancing: 'static',
        borrowWaitMs: 0,
        recordWindowRecords,
      });
      await c.until(() => ['eu', 'us', 'ap'].every((region) => c.node(region).writable));
      expect((await settle(c, c.node('us').grant(grant('g-us')))).status).toBe('accepted');
      expect((await settle(c, c.node('eu').grant(grant('g-eu')))).status).toBe('accepted');
      await c.run(500);
      c.network.cutLink('eu', 'us');
      c.network.cutLink('eu', 'ap');
      // us takes the key first, eu later: eu's debit is the duplicate eu must refund.
      expect((await settle(c, c.node('us').debit(debit))).status).toBe('accepted');
      await c.run(10);
      const euDebit = await settle(c, c.node('eu').debit(debit));
      expect(euDebit.status).toBe('accepted');
      (c.stores.get('eu') as MemoryStore).flush();

      // eu restarts and hears us only: it folds us's debit, but is not writable (ap is silent).
      let eu = await c.crash('eu');
      c.network.healLink('eu', 'us');
      await c.until(() => (eu.versionVector()[c.node('us').origin] ?? 0) >= 2);
      await c.run(200);
      expect(eu.writable).toBe(false);
      (c.stores.get('eu') as MemoryStore).flush();

      // It crashes again before it was writable: what it deferred is gone with the process.
      eu = await c.crash('eu');
      c.network.healAll();
      await c.until(() => eu.writable);
      await c.until(() => refundLines(c).length > 0);
      expect(refundLines(c)).toHaveLength(1);
      const usNode = c.node('us');
      await c.until(() => usNode.versionVector()[eu.origin] === eu.versionVector()[eu.origin]);
      // Charged once: eu's rights are back where us's debit alone leaves a region's.
      expect({ ...eu.balance('acme'), region: null }).toEqual({ ...usNode.balance('acme'), region: null });
      expect(eu.balance('acme')?.regions.eu?.rights).toBe(100);
    });
  }
});
