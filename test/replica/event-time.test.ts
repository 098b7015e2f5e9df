/**
 * Own event times never go back (event-time.ts): a node whose clock steps back (NTP, or a restart
 * on a host whose clock is behind) dates its next events no earlier than the last one it wrote, so
 * its log's times rise with seq and a balance as of a time is exactly "every event with a time ≤ it".
 */
import type { ManualClock } from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { harness, settle } from './support.js';

/** Sets a manual clock back (a ManualClock only moves forward on its own: this is the host's step). */
function stepBack(clock: ManualClock, ms: number): void {
  const held = clock as unknown as { time: number };
  held.time -= ms;
}

const grant = { tenant: 'acme', grantId: 'g1', amount: 100, priority: 100, expiresAt: null };
const debit = (key: string) => ({ tenant: 'acme', amount: 1, idempotencyKey: key, metadata: null });
const hold = (key: string) => ({
  tenant: 'acme',
  amount: 5,
  idempotencyKey: key,
  ttlMs: 2_000,
  metadata: null,
});

describe('own event times', () => {
  it('after the clock steps back, and after a restart on it, new events are dated no earlier than the last', async () => {
    const h = await harness();
    expect((await settle(h.clock, h.replica.grant(grant))).status).toBe('accepted');
    h.clock.advance(60_000);
    expect((await settle(h.clock, h.replica.debit(debit('late')))).status).toBe('accepted');
    const origin = h.replica.origin;
    const timesOf = async () => (await h.store.readLog(origin, 1, 100)).map((stored) => stored.event.at);
    const latest = (await timesOf()).at(-1) as number;

    stepBack(h.clock, 50_000);
    expect((await settle(h.clock, h.replica.debit(debit('stepped')))).status).toBe('accepted');
    expect((await timesOf()).at(-1)).toBe(latest);

    await settle(h.clock, h.replica.close());
    stepBack(h.clock, 50_000);
    const again = await h.reopen(h.store.crash());
    expect((await settle(h.clock, again.debit(debit('restarted')))).status).toBe('accepted');
    const times = await timesOf();
    expect(times).toHaveLength(4);
    expect(times.at(-1)).toBe(latest);
    expect(times).toEqual([...times].sort((a, b) => a - b));

    // Once the clock passes the last event's time, events follow it again.
    h.clock.advance(120_000);
    expect((await settle(h.clock, again.debit(debit('caught-up')))).status).toBe('accepted');
    expect((await timesOf()).at(-1)).toBeGreaterThan(latest);
    await settle(h.clock, again.close());
  });

  it('a hold after the clock stepped back further than its time to live expires that long after its event', async () => {
    // Dated by the clock alone, its expiry fell before its event's own time: a malformed event, and
    // the request failed (swarm seeds 33, 50, 78 with holds drawn, a clock-step fault).
    const h = await harness();
    expect((await settle(h.clock, h.replica.grant(grant))).status).toBe('accepted');
    h.clock.advance(60_000);
    expect((await settle(h.clock, h.replica.debit(debit('late')))).status).toBe('accepted');
    stepBack(h.clock, 50_000);
    const held = await settle(h.clock, h.replica.hold(hold('h1')));
    expect(held.status).toBe('accepted');
    const [stored] = (await h.store.readLog(h.replica.origin, 3, 1)).map((one) => one.event);
    expect(stored?.kind).toBe('hold');
    if (stored?.kind !== 'hold') return;
    expect(stored.expiresAt - stored.at).toBe(2_000);
    // The same request again is that hold (its time to live is what was asked), not a conflict.
    expect((await settle(h.clock, h.replica.hold(hold('h1')))).status).toBe('replayed');
    await settle(h.clock, h.replica.close());
  });
});
