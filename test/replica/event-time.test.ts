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
});
