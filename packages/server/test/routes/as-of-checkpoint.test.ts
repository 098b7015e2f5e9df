/**
 * A balance as of a time starts from the newest checkpoint that folds nothing later than that time
 * and folds only the tenant's events after it (issue 11): the same figures and versionVector as the
 * fold of the tenant's events from the first one, whatever the checkpoints and times.
 */
import { newestCheckpointAsOf, type Replica, tenantAsOf } from '@allot/replica';
import { MemoryStore, sha256 } from '@allot/store';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { buildApp, createMetrics } from '../../src/index.js';
import { call, openReplica, T0, TestClock, TOKEN_CONFIG, testCrypto } from '../support.js';

const TENANTS = ['acme', 'beta'] as const;
/** The record window the replica folds with by default (its checkpoints decode only into it). */
const WINDOW = { records: 100_000, bucketMs: 3_600_000 };

type Step =
  | { kind: 'grant'; tenant: number; amount: number }
  | { kind: 'debit'; tenant: number; amount: number }
  | { kind: 'batch'; tenant: number; amounts: number[] }
  | { kind: 'advance'; ms: number }
  | { kind: 'checkpoint' };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('grant' as const),
    tenant: fc.nat(1),
    amount: fc.integer({ min: 1, max: 500 }),
  }),
  fc.record({
    kind: fc.constant('debit' as const),
    tenant: fc.nat(1),
    amount: fc.integer({ min: 1, max: 200 }),
  }),
  fc.record({
    kind: fc.constant('batch' as const),
    tenant: fc.nat(1),
    amounts: fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3_000 }) }),
  fc.constant({ kind: 'checkpoint' as const }),
);

interface Node {
  readonly app: FastifyInstance;
  readonly replica: Replica;
  readonly clock: TestClock;
  readonly store: MemoryStore;
  readonly crypto: ReturnType<typeof testCrypto>;
}

async function node(): Promise<Node> {
  const clock = new TestClock();
  const store = MemoryStore.empty({ archiveHash: sha256 });
  const crypto = testCrypto();
  const metrics = createMetrics({ defaultMetrics: false });
  const replica = await openReplica(clock, store, metrics.observer, crypto);
  const app = await buildApp({
    replica,
    tokens: TOKEN_CONFIG,
    logger: false,
    metrics,
    http: { eventLoopDelayMsMax: 0 },
  });
  return { app, replica, clock, store, crypto };
}

let grantIds = 0;
let keys = 0;

async function run(n: Node, s: Step): Promise<void> {
  switch (s.kind) {
    case 'grant': {
      const body = { grantId: `g${++grantIds}`, amount: s.amount };
      const response = await call(n.app, 'POST', `/v1/tenants/${TENANTS[s.tenant]}/grants`, { body });
      expect(response.statusCode).toBe(201);
      return;
    }
    case 'debit': {
      // Refused (no grant yet, or not enough) as often as not: a refusal writes nothing.
      const body = { amount: s.amount, idempotencyKey: `k${++keys}` };
      await call(n.app, 'POST', `/v1/tenants/${TENANTS[s.tenant]}/debits`, { who: 'service', body });
      return;
    }
    case 'batch': {
      const tenant = TENANTS[s.tenant];
      const debits = s.amounts.map((amount) => ({ tenant, amount, idempotencyKey: `k${++keys}` }));
      await call(n.app, 'POST', '/v1/debits/batch', { who: 'service', body: { debits } });
      return;
    }
    case 'advance':
      n.clock.advance(s.ms);
      return;
    case 'checkpoint':
      // Not written when there is nothing to write (an empty ledger, a vector written already).
      await n.replica.takeCheckpoint();
      return;
  }
}

/** The answer of a fold from the tenant's first event, as balanceAsOf gives it. */
async function fromFirst(n: Node, tenant: string, at: number): Promise<unknown> {
  const { overdraft } = await n.replica.durablePolicy(tenant);
  const found = await tenantAsOf(n.store, tenant, at, overdraft);
  if (found === undefined) return undefined;
  return { ...found.figures, region: 'eu', versionVector: found.versionVector, asOf: at };
}

describe('balance as of a time from a checkpoint', () => {
  it('equals the fold from the tenant’s first event, for random events, checkpoints and times', async () => {
    let based = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: -1_000, max: 60_000 }), { minLength: 1, maxLength: 6 }),
        async (steps, offsets) => {
          const n = await node();
          try {
            const times: number[] = [];
            for (const s of steps) {
              await run(n, s);
              times.push(n.clock.time);
            }
            // Every time a step ended at, one before it, and random ones.
            const ats = [...new Set([...times, ...times.map((t) => t - 1), ...offsets.map((o) => T0 + o)])];
            for (const at of ats) {
              const base = (asOf: number) => newestCheckpointAsOf(n, 'test', asOf, WINDOW);
              if ((await base(at)) !== null) based += 1;
              for (const tenant of TENANTS) {
                const whole = await fromFirst(n, tenant, at);
                // Every tenant here is small: the replica folds it from its first event...
                expect(await n.replica.balanceAsOf(tenant, at)).toEqual(whole);
                // ...so the base is asked for whatever the tenant's size.
                const { overdraft } = await n.replica.durablePolicy(tenant);
                const found = await tenantAsOf(n.store, tenant, at, overdraft, base, 0);
                expect(
                  found && { ...found.figures, region: 'eu', versionVector: found.versionVector, asOf: at },
                ).toEqual(whole);
              }
            }
          } finally {
            await n.app.close();
            await n.replica.close();
          }
        },
      ),
      { numRuns: 15 },
    );
    // Not vacuous: many of those reads started from a checkpoint.
    expect(based).toBeGreaterThan(0);
  });

  it('is still right once the events before the checkpoint are archived', async () => {
    const n = await node();
    try {
      await run(n, { kind: 'grant', tenant: 0, amount: 1_000 });
      n.clock.advance(1_000);
      await run(n, { kind: 'debit', tenant: 0, amount: 10 });
      await run(n, { kind: 'grant', tenant: 1, amount: 50 });
      n.clock.advance(1_000);
      expect(await n.replica.takeCheckpoint()).toBe(true);
      const checkpointed = n.clock.time;
      n.clock.advance(1_000);
      await run(n, { kind: 'debit', tenant: 0, amount: 7 });
      await run(n, { kind: 'batch', tenant: 0, amounts: [1, 2] });
      const before = [checkpointed, n.clock.time];
      const answers = await Promise.all(before.map((at) => n.replica.balanceAsOf('acme', at)));
      // The checkpoint's prefix (seqs 1–3) moves to the archive, its index entries with it.
      const origin = n.replica.origin;
      const step = await n.store.archiveSegments(origin, 3);
      expect(step.throughSeq).toBe(3);
      expect(await n.store.archiveTenantIndex()).toBeGreaterThan(0);
      expect(await n.store.archivedSeqs()).toEqual({ [origin]: 3 });
      for (const [i, at] of before.entries()) {
        const answer = await n.replica.balanceAsOf('acme', at);
        expect(answer).toEqual(answers[i]);
        expect(answer).toEqual(await fromFirst(n, 'acme', at));
        const base = (asOf: number) => newestCheckpointAsOf(n, 'test', asOf, WINDOW);
        expect(await base(at)).not.toBeNull();
        const found = await tenantAsOf(n.store, 'acme', at, {}, base, 0);
        expect(found?.figures.balance).toBe(answer?.balance);
        expect(found?.versionVector).toEqual(answer?.versionVector);
      }
      expect(answers[1]).toMatchObject({ balance: 1_000 - 10 - 7 - 1 - 2, versionVector: { [origin]: 6 } });
      expect(answers[0]).toMatchObject({ balance: 990, versionVector: { [origin]: 2 } });
    } finally {
      await n.app.close();
      await n.replica.close();
    }
  });
});
