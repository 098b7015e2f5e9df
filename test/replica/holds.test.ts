/** Holds across replicas (issue 12): settled only by the holding region, forwarded from others. */
import { describe, expect, it } from 'vitest';
import { type Cluster, cluster } from './cluster.js';

const REGIONS = ['eu', 'us', 'ap'];
const grant = (amount: number) => ({ tenant: 'acme', grantId: 'g1', amount, priority: 100, expiresAt: null });
const hold = (key: string, amount: number, ttlMs = 60_000) => ({
  tenant: 'acme',
  amount,
  idempotencyKey: key,
  ttlMs,
  metadata: { model: 'x' },
});

async function settle<T>(c: Cluster, outcome: Promise<T>, maxMs = 10_000): Promise<T> {
  let done: T | undefined;
  let settled = false;
  void outcome.then((value) => {
    done = value;
    settled = true;
  });
  await c.until(() => settled, maxMs);
  return done as T;
}

async function fresh(): Promise<Cluster> {
  const c = await cluster(REGIONS);
  await c.run(5);
  await settle(c, c.node('eu').grant(grant(900)));
  await c.until(() => REGIONS.every((region) => c.node(region).balance('acme')?.balance === 900));
  return c;
}

describe('holds across regions', () => {
  it('a hold at eu shows as held everywhere; a capture sent to us is forwarded to eu and settles it', async () => {
    const c = await fresh();
    const held = await settle(c, c.node('eu').hold(hold('h1', 200)));
    expect(held).toMatchObject({ status: 'accepted', hold: { amount: 200, region: 'eu', status: 'active' } });
    const holdId = held.status === 'accepted' ? held.hold.holdId : '';
    await c.until(() => c.node('us').balance('acme')?.held === 200);
    expect(c.node('us').balance('acme')).toMatchObject({ balance: 700, held: 200 });
    const captured = await settle(
      c,
      c.node('us').settleHold({ tenant: 'acme', holdId, action: 'capture', amount: 150 }),
    );
    expect(captured).toMatchObject({
      status: 'accepted',
      hold: { status: 'captured', captured: 150, region: 'eu' },
    });
    await c.until(() => REGIONS.every((region) => c.node(region).balance('acme')?.balance === 750));
    expect(c.node('ap').balance('acme')).toMatchObject({ held: 0, debited: 150 });
    // Settling again: the same capture replays, anything else is not active.
    const again = await settle(
      c,
      c.node('ap').settleHold({ tenant: 'acme', holdId, action: 'capture', amount: 150 }),
    );
    expect(again.status).toBe('replayed');
    const voided = await settle(c, c.node('eu').settleHold({ tenant: 'acme', holdId, action: 'void' }));
    expect(voided).toMatchObject({ status: 'not_active', hold: { status: 'captured' } });
  });

  it('a capture at a region cut off from the holder is region_unreachable and changes nothing', async () => {
    const c = await fresh();
    const held = await settle(c, c.node('eu').hold(hold('h1', 100)));
    const holdId = held.status === 'accepted' ? held.hold.holdId : '';
    await c.until(() => c.node('ap').balance('acme')?.held === 100);
    c.network.cutLink('eu', 'ap');
    const outcome = await settle(c, c.node('ap').settleHold({ tenant: 'acme', holdId, action: 'void' }));
    expect(outcome).toEqual({ status: 'region_unreachable', region: 'eu' });
    expect(c.node('eu').balance('acme')).toMatchObject({ held: 100 });
  });

  it('a capture above the hold is refused; a hold left alone is released at its expiry by its region', async () => {
    const c = await fresh();
    const held = await settle(c, c.node('us').hold(hold('h1', 100, 500)));
    const holdId = held.status === 'accepted' ? held.hold.holdId : '';
    const over = await settle(
      c,
      c.node('eu').settleHold({ tenant: 'acme', holdId, action: 'capture', amount: 101 }),
    );
    expect(over).toMatchObject({ status: 'exceeds_hold', requested: 101, held: 100 });
    await c.run(600);
    await c.until(() => REGIONS.every((region) => c.node(region).balance('acme')?.held === 0));
    expect(c.node('eu').balance('acme')).toMatchObject({ balance: 900, debited: 0 });
    const late = await settle(
      c,
      c.node('us').settleHold({ tenant: 'acme', holdId, action: 'capture', amount: 1 }),
    );
    expect(late).toMatchObject({ status: 'not_active', hold: { status: 'expired' } });
  });

  it('a hold replays by key, borrows like a debit, and an unknown hold is not found', async () => {
    const c = await cluster(REGIONS, { rebalancing: 'static' });
    await c.run(5);
    await settle(c, c.node('eu').grant(grant(900)));
    await c.until(() => c.node('ap').balance('acme')?.balance === 900);
    const first = await settle(c, c.node('ap').hold(hold('h1', 300)));
    expect(first).toMatchObject({ status: 'accepted', waited: true });
    const replay = await settle(c, c.node('ap').hold(hold('h1', 300)));
    expect(replay.status).toBe('replayed');
    const conflict = await settle(c, c.node('ap').hold(hold('h1', 301)));
    expect(conflict.status).toBe('conflict');
    const unknown = await settle(
      c,
      c.node('ap').settleHold({ tenant: 'acme', holdId: 'ap.zzzzzzzzzzzzzzzz.99', action: 'void' }),
    );
    expect(unknown).toEqual({ status: 'not_found' });
  });
});
