/**
 * Borrowing (issue 12, DESIGN.md §3): a debit that a region cannot cover from its own rights while
 * its reachable peers can waits for rights instead of being declined; declines say why.
 */
import type { DebitOutcome, ReplicaObserver } from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { type Cluster, cluster } from './cluster.js';

const REGIONS = ['eu', 'us', 'ap'];
const grant = (amount: number, grantId = 'g1', tenant = 'acme') => ({
  tenant,
  grantId,
  amount,
  priority: 100,
  expiresAt: null,
});
const debit = (key: string, amount: number, tenant = 'acme') => ({
  tenant,
  amount,
  idempotencyKey: key,
  metadata: null,
});

/** Runs simulated time until `outcome` settles; returns it. */
async function settle<T>(c: Cluster, outcome: Promise<T>, maxMs = 2_000): Promise<T> {
  let done: T | undefined;
  let settled = false;
  void outcome.then((value) => {
    done = value;
    settled = true;
  });
  await c.until(() => settled, maxMs);
  return done as T;
}

function rightsAt(c: Cluster, at: string, tenant = 'acme'): Record<string, number | undefined> {
  const regions = c.node(at).balance(tenant)?.regions ?? {};
  return Object.fromEntries(REGIONS.map((region) => [region, regions[region]?.rights]));
}

function recorder() {
  const waited: { seconds: number; result: string }[] = [];
  const declined: string[] = [];
  const observer: ReplicaObserver = {
    debitDecided: () => {},
    batchCommitted: () => {},
    debitWaited: (seconds, result) => waited.push({ seconds, result }),
    debitDeclined: (reason) => declined.push(reason),
  };
  return { waited, declined, observer };
}

describe('borrowing rights from peers', () => {
  it('the issue: a grant split while ap was cut off still lets ap take a covered debit once it is up', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    c.network.cutLink('eu', 'ap');
    c.network.cutLink('us', 'ap');
    await settle(c, c.node('eu').grant(grant(1000)));
    await c.until(() => c.node('us').balance('acme')?.balance === 1000);
    // ap's share stays at eu while ap is cut off: never pushed to a region that is unreachable.
    expect(rightsAt(c, 'eu')).toEqual({ eu: 667, us: 333, ap: undefined });
    c.network.healAll();
    // At once, before anything replicated to ap: the debit waits for rights and is accepted.
    const outcome = await settle(c, c.node('ap').debit(debit('first', 7)));
    expect(outcome.status).toBe('accepted');
    // And the owed share reaches ap: rights follow the split the tenant's weights ask for.
    await c.until(() => (rightsAt(c, 'ap').ap ?? 0) >= 300);
    await c.until(() => REGIONS.every((region) => c.node(region).balance('acme')?.balance === 993));
  });

  it('a region holding no rights borrows from its peers, with the wait counted (static rebalancing)', async () => {
    const metrics = recorder();
    const c = await cluster(REGIONS, { rebalancing: 'static' }, { ap: metrics.observer });
    await c.run(5);
    await settle(c, c.node('eu').grant(grant(1000)));
    await c.until(() => c.node('ap').balance('acme')?.balance === 1000);
    expect(rightsAt(c, 'ap')).toEqual({ eu: 1000, us: undefined, ap: 0 });
    const outcome = await settle(c, c.node('ap').debit(debit('d1', 7)));
    expect(outcome.status).toBe('accepted');
    expect(metrics.waited).toEqual([{ seconds: expect.any(Number), result: 'accepted' }]);
    expect(metrics.waited[0]?.seconds).toBeLessThanOrEqual(0.05);
    await c.until(() => REGIONS.every((region) => c.node(region).balance('acme')?.balance === 993));
  });

  it('a debit larger than any one region holds borrows from several peers', async () => {
    const c = await cluster(REGIONS, { rebalancing: 'static' });
    await c.run(5);
    await settle(c, c.node('eu').grant(grant(500, 'g-eu')));
    await settle(c, c.node('us').grant(grant(500, 'g-us')));
    await c.until(() => c.node('ap').balance('acme')?.balance === 1000);
    const outcome = await settle(c, c.node('ap').debit(debit('big', 900)));
    expect(outcome.status).toBe('accepted');
    await c.until(() => REGIONS.every((region) => c.node(region).balance('acme')?.balance === 100));
  });

  it('past what the whole cluster holds the decline is immediate, reason insufficient', async () => {
    const metrics = recorder();
    const c = await cluster(REGIONS, {}, { ap: metrics.observer });
    await c.run(5);
    await settle(c, c.node('eu').grant(grant(90)));
    await c.until(() => c.node('ap').balance('acme')?.balance === 90);
    const before = c.clock.now();
    const outcome = (await c.node('ap').debit(debit('too-much', 91))) as Extract<
      DebitOutcome,
      { status: 'declined' }
    >;
    expect(outcome).toMatchObject({
      status: 'declined',
      reason: 'insufficient_credits',
      declineReason: 'insufficient',
    });
    expect(c.clock.now()).toBe(before); // nothing waited
    expect(metrics.waited).toEqual([]);
    expect(metrics.declined).toEqual(['insufficient']);
  });

  it('credits held only at regions cut off from this one: reason unreachable', async () => {
    const c = await cluster(REGIONS, { rebalancing: 'static' });
    await c.run(5);
    await settle(c, c.node('eu').grant(grant(1000)));
    await c.until(() => c.node('ap').balance('acme')?.balance === 1000);
    c.network.cutLink('eu', 'ap');
    const outcome = await settle(c, c.node('ap').debit(debit('cut', 10)));
    expect(outcome).toMatchObject({ status: 'declined', declineReason: 'unreachable', available: 0 });
  });

  it('with borrowWaitMs 0 nothing waits: a debit the peers could cover is declined, reason timeout', async () => {
    const c = await cluster(REGIONS, { rebalancing: 'static', borrowWaitMs: 0 });
    await c.run(5);
    await settle(c, c.node('eu').grant(grant(1000)));
    await c.until(() => c.node('ap').balance('acme')?.balance === 1000);
    const outcome = await c.node('ap').debit(debit('no-wait', 10));
    expect(outcome).toMatchObject({ status: 'declined', declineReason: 'timeout' });
  });

  it("a waiting debit does not hold up another tenant's debits, and ends within borrowWaitMs", async () => {
    const c = await cluster(REGIONS, { rebalancing: 'static', borrowWaitMs: 40 });
    await c.run(5);
    await settle(c, c.node('ap').grant(grant(100, 'g', 'other')));
    const start = c.clock.now();
    // Nothing of `ghost` is known anywhere: ap asks its peers and waits for what never comes.
    let ghostAt: number | null = null;
    const ghost = c.node('ap').debit(debit('ghost', 5, 'ghost'));
    void ghost.then(() => {
      ghostAt = c.clock.now();
    });
    const other = await settle(c, c.node('ap').debit(debit('other-1', 5, 'other')));
    expect(other.status).toBe('accepted');
    expect(ghostAt).toBeNull(); // still waiting while the other tenant's debit went through
    const outcome = await settle(c, ghost);
    expect(outcome).toMatchObject({ status: 'declined', declineReason: 'insufficient' });
    expect((ghostAt ?? Number.POSITIVE_INFINITY) - start).toBeLessThanOrEqual(41);
  });

  it('in a batch, the debits after one that waits for rights are decided once it is, in order, sharing commits', async () => {
    const commits: number[] = [];
    const observer: ReplicaObserver = {
      debitDecided: () => {},
      batchCommitted: (events) => commits.push(events),
    };
    const c = await cluster(REGIONS, { rebalancing: 'static' }, { ap: observer });
    await c.run(5);
    await settle(c, c.node('eu').grant(grant(1000)));
    await settle(c, c.node('ap').grant(grant(1000, 'g', 'other')));
    await c.until(() => c.node('ap').balance('acme')?.balance === 1000);
    expect(rightsAt(c, 'ap')).toEqual({ eu: 1000, us: undefined, ap: 0 });
    const before = commits.length;
    const outcomes = await settle(
      c,
      c
        .node('ap')
        .debitMany([
          debit('borrowed', 7),
          ...Array.from({ length: 50 }, (_, i) => debit(`other-${i}`, 1, 'other')),
          debit('borrowed-too', 3),
        ]),
    );
    expect(outcomes[0]).toMatchObject({ status: 'accepted', waited: true });
    expect(outcomes.slice(1).every((outcome) => outcome.status === 'accepted')).toBe(true);
    const seqs = outcomes.map((outcome) => (outcome.status === 'accepted' ? outcome.debit.seq : 0));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // The waiting debit's own commit, then the rest of the batch: not a commit per debit.
    expect(commits.length - before).toBeLessThanOrEqual(3);
    await c.until(() => REGIONS.every((region) => c.node(region).balance('acme')?.balance === 990));
  });

  it('two regions short of the same last credits: the rights gather at one, which pays (no hand-back)', async () => {
    const c = await cluster(REGIONS, { rebalancing: 'static', borrowWaitMs: 200 });
    await c.run(5);
    await settle(c, c.node('us').grant(grant(4, 'g-us')));
    await settle(c, c.node('ap').grant(grant(4, 'g-ap')));
    await c.until(() => REGIONS.every((region) => c.node(region).balance('acme')?.balance === 8));
    // Both wait for the other's 4; handing them back and forth would time both out.
    const atUs = c.node('us').debit(debit('us-7', 7));
    const atAp = c.node('ap').debit(debit('ap-7', 7));
    const [us, ap] = await settle(c, Promise.all([atUs, atAp]));
    // ap comes first in the order every region agrees on: us lends to it, it keeps what it has.
    expect(ap.status).toBe('accepted');
    expect(us).toMatchObject({ status: 'declined', reason: 'insufficient_credits' });
    await c.until(() => REGIONS.every((region) => c.node(region).balance('acme')?.balance === 1));
  });

  it('a refund at the waiting region pays its waiting debit at once (swarm seed 812)', async () => {
    const c = await cluster(REGIONS, { rebalancing: 'static', borrowWaitMs: 200 });
    await c.run(5);
    await settle(c, c.node('us').grant(grant(10, 'g-us')));
    const first = await settle(c, c.node('us').debit(debit('first', 10)));
    if (first.status !== 'accepted') throw new Error(`first debit ${first.status}`);
    await settle(c, c.node('eu').grant(grant(100, 'g-eu')));
    await c.until(() => REGIONS.every((region) => c.node(region).balance('acme')?.balance === 100));
    // us holds nothing; it asks eu, but the links go down before the asks arrive.
    const start = c.clock.now();
    let paidAt: number | null = null;
    const waiting = c.node('us').debit(debit('second', 8));
    void waiting.then(() => {
      paidAt = c.clock.now();
    });
    // Decided (it waits, its asks are sent) within microtasks; the asks are delivered later.
    const sentBefore = c.network.sent;
    for (let turn = 0; turn < 100 && c.network.sent === sentBefore; turn += 1) await Promise.resolve();
    expect(c.network.sent).toBeGreaterThan(sentBefore);
    c.network.isolateAll();
    const refunded = await settle(
      c,
      c.node('us').refund({ tenant: 'acme', debitId: first.debit.debitId, idempotencyKey: 'r1' }),
    );
    expect(refunded.status).toBe('accepted');
    const outcome = await settle(c, waiting);
    expect(outcome.status).toBe('accepted');
    // Paid from the refunded rights as they came back, not when the wait ran out 200 ms later.
    expect((paidAt ?? Number.POSITIVE_INFINITY) - start).toBeLessThan(50);
  });

  it('borrowWaitMs out of bounds refuses to open', async () => {
    await expect(cluster(['eu'], { borrowWaitMs: 1_001 })).rejects.toThrow(/borrowWaitMs/);
    await expect(cluster(['eu'], { borrowWaitMs: -1 })).rejects.toThrow(/borrowWaitMs/);
  });
});
