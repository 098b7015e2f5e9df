/**
 * Figures of the past (issue 11, as-of.ts), as properties over random histories:
 * - a tenant's balance as of any time equals the balance the replica showed when it had folded
 *   exactly the events up to then;
 * - the fold of one tenant's events alone equals that tenant's figures in the fold of every log's
 *   prefix (all tenants) at the same time and at the vector the answer names;
 * - two replicas holding the same events answer the same bytes (but `region`, `takenAt`), for the
 *   balance at any time and the snapshot at any vector of segment ends.
 */
import {
  applyEvent,
  canonicalJson,
  createLedgerState,
  type LedgerEvent,
  type LedgerState,
  type OriginId,
  tenantFigures,
} from '@allot/core';
import type { BalanceView, Replica, Store } from '@allot/replica';
import { buildApp, createMetrics } from '@allot/server';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Cluster, cluster } from './cluster.js';
import { harness } from './support.js';

const TENANTS = ['acme', 'beta', 'gamma'] as const;

/** One step of a history: a command at a region, after `wait` ms. */
type Step =
  | { kind: 'grant'; region: number; tenant: number; amount: number; wait: number }
  | { kind: 'debit'; region: number; tenant: number; amount: number; wait: number }
  | { kind: 'refund'; region: number; tenant: number; amount: number; wait: number };

const stepArb = (regions: number): fc.Arbitrary<Step> =>
  fc.record({
    kind: fc.constantFrom('grant', 'debit', 'debit', 'refund'),
    region: fc.nat(regions - 1),
    tenant: fc.nat(TENANTS.length - 1),
    amount: fc.integer({ min: 1, max: 300 }),
    wait: fc.constantFrom(0, 0, 1, 3, 10),
  }) as fc.Arbitrary<Step>;

/** Every event of `origin`'s durable log. */
async function logOf(store: Store, origin: OriginId): Promise<LedgerEvent[]> {
  const events: LedgerEvent[] = [];
  for (;;) {
    const page = await store.readLog(origin, events.length + 1, 1_000);
    if (page.length === 0) return events;
    events.push(...page.map((stored) => stored.event));
  }
}

/** The fold of every log's prefix `cut` chooses, all tenants, origin after origin (as a start does). */
async function foldPrefixes(
  store: Store,
  cut: (origin: OriginId, events: LedgerEvent[]) => number,
): Promise<LedgerState> {
  const state = createLedgerState();
  for (const head of (await store.heads()).sort((a, b) => (a.origin < b.origin ? -1 : 1))) {
    const events = await logOf(store, head.origin);
    for (const event of events.slice(0, cut(head.origin, events)))
      expect(applyEvent(state, event)).toBe('applied');
  }
  return state;
}

/** The figures of a balance view, without what says who answered, when and at which vector. */
function figures(view: BalanceView | undefined): string {
  if (view === undefined) return 'unknown';
  const { region: _region, versionVector: _vv, asOf: _asOf, ...rest } = view;
  return canonicalJson(rest as never);
}

/** The whole fold's figures of `tenant`, as a balance would show them as of `at`. */
function wholeFoldFigures(state: LedgerState, tenant: string, at: number): string {
  const found = tenantFigures(state, tenant, { now: at, overdraft: {} });
  if (found === undefined || found.grants.length === 0) return 'unknown';
  return canonicalJson(found as never);
}

/** Runs `steps` on `replica`s by region, recording after each step the time and every tenant's balance. */
async function play(
  nodes: readonly Replica[],
  steps: readonly Step[],
  advance: (ms: number) => Promise<void> | void,
  now: () => number,
  settle: <T>(command: Promise<T>) => Promise<T> = (command) => command,
): Promise<{ at: number; balances: Map<string, string> }[]> {
  const debits = new Map<string, string[]>();
  const seen: { at: number; balances: Map<string, string> }[] = [];
  for (const [i, step] of steps.entries()) {
    await advance(step.wait);
    const node = nodes[step.region] as Replica;
    const tenant = TENANTS[step.tenant] as string;
    if (step.kind === 'grant') {
      await settle(
        node.grant({ tenant, grantId: `g${i}`, amount: step.amount * 3, priority: 100, expiresAt: null }),
      );
    } else if (step.kind === 'debit') {
      const outcome = await settle(
        node.debit({ tenant, amount: step.amount, idempotencyKey: `d${i}`, metadata: null }),
      );
      if (outcome.status === 'accepted')
        debits.set(tenant, [...(debits.get(tenant) ?? []), outcome.debit.debitId]);
    } else {
      const debitId = debits.get(tenant)?.[step.amount % Math.max(1, debits.get(tenant)?.length ?? 1)];
      if (debitId !== undefined)
        await settle(node.refund({ tenant, debitId, amount: 1, idempotencyKey: `r${i}` }));
    }
    seen.push({ at: now(), balances: new Map(TENANTS.map((t) => [t, figures(nodes[0]?.balance(t))])) });
  }
  return seen;
}

describe('balance as of a time (one replica)', () => {
  it('equals the balance the replica showed when it had folded exactly the events up to then', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb(1), { minLength: 1, maxLength: 40 }), async (steps) => {
        const h = await harness();
        try {
          const seen = await play(
            [h.replica],
            steps,
            (ms) => h.clock.advance(ms),
            () => h.clock.now(),
          );
          // The last look at each time is what the replica had folded of everything up to it.
          const last = new Map(seen.map((look) => [look.at, look.balances]));
          for (const [at, balances] of last) {
            for (const tenant of TENANTS) {
              expect(figures(await h.replica.balanceAsOf(tenant, at)), `${tenant} at +${at}`).toBe(
                balances.get(tenant),
              );
            }
          }
          const first = seen[0]?.at ?? 0;
          for (const tenant of TENANTS)
            expect(await h.replica.balanceAsOf(tenant, first - 1)).toBeUndefined();
        } finally {
          await h.replica.close();
        }
      }),
      { numRuns: 30 },
    );
  });
});

/** Three regions, a random history at all of them, run until they agree. */
async function convergedCluster(steps: readonly Step[]): Promise<{ c: Cluster; times: number[] }> {
  const c = await cluster(['eu', 'us', 'ap']);
  await c.run(5);
  const nodes = ['eu', 'us', 'ap'].map((region) => c.node(region));
  // A command settles while the cluster runs (its commit, and any borrowing, need time to pass).
  const settle = async <T>(command: Promise<T>): Promise<T> => {
    let done = false;
    const settled = command.finally(() => {
      done = true;
    });
    for (let ms = 0; !done; ms++) {
      if (ms > 10_000) throw new Error('a command did not settle within 10 simulated seconds');
      await c.run(1);
    }
    return settled;
  };
  const seen = await play(
    nodes,
    steps,
    (ms) => c.run(ms),
    () => c.clock.now(),
    settle,
  );
  const same = () => new Set(nodes.map((node) => canonicalJson(node.versionVector()))).size === 1;
  await c.run(50);
  await c.until(same);
  return { c, times: [...new Set(seen.map((look) => look.at))] };
}

describe('as-of figures across replicas', () => {
  it('the fold of one tenant’s events is that tenant’s part of the whole fold, and every replica answers the same bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb(3), { minLength: 1, maxLength: 30 }), async (steps) => {
        const { c, times } = await convergedCluster(steps);
        try {
          const regions = ['eu', 'us', 'ap'];
          for (const at of [...times, (times[0] ?? 0) - 1]) {
            // The whole fold (every tenant) of each log's events up to `at`; the clock never steps back.
            const store = c.stores.get('eu') as Store;
            const whole = await foldPrefixes(
              store,
              (_origin, events) => events.filter((e) => e.at <= at).length,
            );
            for (const tenant of TENANTS) {
              const answers = await Promise.all(
                regions.map((region) => c.node(region).balanceAsOf(tenant, at)),
              );
              const [eu] = answers;
              expect(figures(eu), `${tenant} at ${at}`).toBe(wholeFoldFigures(whole, tenant, at));
              // Every replica: the same bytes but `region`.
              const bytes = answers.map((view) =>
                JSON.stringify(view === undefined ? null : { ...view, region: '' }),
              );
              expect(new Set(bytes).size).toBe(1);
              if (eu === undefined) continue;
              // Folding everything (every tenant) at the vector the answer names gives the same figures.
              const atVector = await foldPrefixes(store, (origin) => eu.versionVector[origin] ?? 0);
              expect(figures(eu)).toBe(wholeFoldFigures(atVector, tenant, at));
            }
          }
        } finally {
          for (const region of ['eu', 'us', 'ap']) await c.node(region).close();
        }
      }),
      { numRuns: 8 },
    );
  });

  it('a snapshot at a vector of segment ends is the fold of those prefixes, the same bytes at every replica', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb(3), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
        async (steps, picks) => {
          const { c } = await convergedCluster(steps);
          try {
            const store = c.stores.get('us') as Store;
            const vector: Record<OriginId, number> = {};
            for (const [i, head] of (await store.heads()).entries()) {
              const ends = [0];
              for (let seq = 1; seq <= head.seq; ) {
                const [segment] = await store.readSegments(head.origin, seq, 1);
                if (segment === undefined) break;
                ends.push(segment.lastSeq);
                seq = segment.lastSeq + 1;
              }
              vector[head.origin] = ends[(picks[i] ?? 0) % ends.length] as number;
            }
            const taken = await Promise.all(
              ['eu', 'us', 'ap'].map((region) => c.node(region).snapshotAt(vector)),
            );
            const bytes = taken.map((answer) => {
              if (!('header' in answer)) throw new Error(`refused: ${JSON.stringify(answer)}`);
              return JSON.stringify({ ...answer, header: { ...answer.header, region: '', takenAt: 0 } });
            });
            expect(new Set(bytes).size).toBe(1);
            const first = taken[0] as Exclude<(typeof taken)[number], { status: string }>;
            const whole = await foldPrefixes(store, (origin) => vector[origin] ?? 0);
            for (const line of first.tenants) {
              const found = tenantFigures(whole, line.tenant, { now: 0 });
              expect(found).toMatchObject({
                balance: line.balance,
                granted: line.granted,
                debited: line.debited,
              });
            }
            expect(first.tenants.map((line) => line.tenant)).toEqual([...whole.tenants.keys()].sort());
            expect(Object.keys(first.header.heads)).toEqual(Object.keys(first.header.versionVector));
          } finally {
            for (const region of ['eu', 'us', 'ap']) await c.node(region).close();
          }
        },
      ),
      { numRuns: 8 },
    );
  });

  it('a snapshot folded from a checkpoint within its vector is the same bytes as from every log’s start', async () => {
    let fromCheckpoint = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb(3), { minLength: 1, maxLength: 15 }),
        fc.array(stepArb(3), { minLength: 1, maxLength: 15 }),
        fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
        async (before, after, picks) => {
          const { c } = await convergedCluster(before);
          try {
            const nodes = ['eu', 'us', 'ap'].map((region) => c.node(region));
            const settle = async <T>(command: Promise<T>): Promise<T> => {
              let done = false;
              const settled = command.finally(() => {
                done = true;
              });
              while (!done) await c.run(1);
              return settled;
            };
            // us checkpoints the converged fold; eu and ap never write one.
            const written = await settle(c.node('us').takeCheckpoint());
            const checkpointVector = c.node('us').versionVector();
            // (Nothing to checkpoint when no command wrote an event.)
            expect(written || Object.keys(checkpointVector).length === 0).toBe(true);
            await play(
              nodes,
              after,
              (ms) => c.run(ms),
              () => c.clock.now(),
              settle,
            );
            const same = () => new Set(nodes.map((node) => canonicalJson(node.versionVector()))).size === 1;
            await c.run(50);
            await c.until(same);
            const store = c.stores.get('us') as Store;
            const vector: Record<OriginId, number> = {};
            for (const [i, head] of (await store.heads()).entries()) {
              const ends = [0];
              for (let seq = 1; seq <= head.seq; ) {
                const [segment] = await store.readSegments(head.origin, seq, 1);
                if (segment === undefined) break;
                ends.push(segment.lastSeq);
                seq = segment.lastSeq + 1;
              }
              // Half the time at or past the checkpoint's seq, so that it is within the vector.
              const at = checkpointVector[head.origin] ?? 0;
              const later = ends.filter((end) => end >= at);
              const choices = (picks[i] ?? 0) % 2 === 0 && later.length > 0 ? later : ends;
              vector[head.origin] = choices[Math.floor((picks[i] ?? 0) / 2) % choices.length] as number;
            }
            if (Object.entries(checkpointVector).every(([origin, seq]) => seq <= (vector[origin] ?? 0)))
              fromCheckpoint += 1;
            const answers = await Promise.all(
              ['us', 'eu'].map((region) => c.node(region).snapshotAt(vector)),
            );
            const bytes = answers.map((answer) => {
              if (!('header' in answer)) throw new Error(`refused: ${JSON.stringify(answer)}`);
              return JSON.stringify({ ...answer, header: { ...answer.header, region: '', takenAt: 0 } });
            });
            expect(bytes[0]).toBe(bytes[1]);
          } finally {
            for (const region of ['eu', 'us', 'ap']) await c.node(region).close();
          }
        },
      ),
      { numRuns: 8 },
    );
    expect(fromCheckpoint).toBeGreaterThan(0);
  });

  it('two nodes’ HTTP answers are byte-identical but region and takenAt', async () => {
    const steps: Step[] = Array.from({ length: 24 }, (_, i) => ({
      kind: i % 5 === 0 ? 'grant' : i % 7 === 0 ? 'refund' : 'debit',
      region: i % 3,
      tenant: i % 2,
      amount: 5 + i,
      wait: i % 3,
    }));
    const { c, times } = await convergedCluster(steps);
    const tokens = [{ token: 'audit-token', role: 'auditor' as const }];
    const apps = await Promise.all(
      ['eu', 'us'].map((region) =>
        buildApp({
          replica: c.node(region),
          tokens,
          logger: false,
          metrics: createMetrics({ defaultMetrics: false }),
        }),
      ),
    );
    try {
      const get = (url: string) =>
        Promise.all(apps.map((app) => app.inject({ url, headers: { authorization: 'Bearer audit-token' } })));
      const at = new Date(times[Math.floor(times.length / 2)] as number).toISOString();
      const balances = await get(`/v1/tenants/acme/balance?at=${at}`);
      expect(balances.map((response) => response.statusCode)).toEqual([200, 200]);
      const [eu, us] = balances.map((response) => response.body);
      expect(eu?.replace('"region":"eu"', '"region":"us"')).toBe(us);
      const vector = c.node('eu').versionVector();
      const snapshots = await get(`/v1/snapshot?at=${encodeURIComponent(JSON.stringify(vector))}`);
      expect(snapshots.map((response) => response.statusCode)).toEqual([200, 200]);
      const strip = (body: string) => body.replace(/"region":"[a-z]+","takenAt":"[^"]+"/, '');
      const [euSnapshot, usSnapshot] = snapshots.map((response) => strip(response.body));
      expect(euSnapshot).toBe(usSnapshot);
      expect(euSnapshot).not.toContain('takenAt');
    } finally {
      for (const app of apps) await app.close();
      for (const region of ['eu', 'us', 'ap']) await c.node(region).close();
    }
  });
});
