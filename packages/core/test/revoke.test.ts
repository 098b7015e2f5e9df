/**
 * Duplicate grant ids (issue 17): the same grant id accepted at two regions while they were cut
 * off. After the merge one definition wins (earliest origin time, then origin, then seq) and the
 * loser's region takes its credits back with `revoke` events, by the debit rule at the bound.
 */
import { decideExpire, decideGrant, decideRevoke, type LedgerEvent, unsettledDuplicates } from '@allot/core';
import { describe, expect, it } from 'vitest';
import { commit, debit, deliver, EU, figures, grant, replica, T0, TENANT, US } from './support.js';

/** eu and us each accept grant `g` of `amount` while cut off (us a second later), then merge. */
function partitionedDuplicate(amount: number, usAmount = amount) {
  const eu = replica();
  const us = replica();
  const euGrant = grant(eu, EU, 'g', amount, { now: T0 });
  const usGrant = grant(us, US, 'g', usAmount, { now: T0 + 1_000 });
  return { eu, us, euGrant, usGrant };
}

function revoke(r: ReturnType<typeof replica>, origin: string, overdraftLimit = 0, now = T0 + 2_000) {
  return decideRevoke(r.state, { origin, now, overdraftLimit }, { tenant: TENANT, grantId: 'g', loser: US });
}

describe('revoke of a duplicate grant id', () => {
  it('the earlier definition wins everywhere; the loser region takes its unspent credits back', () => {
    const { eu, us, euGrant, usGrant } = partitionedDuplicate(1_000);
    deliver(eu, usGrant);
    deliver(us, euGrant);
    expect(figures(eu).granted).toBe(2_000); // both count until the revoke
    expect(unsettledDuplicates(us.state.tenants.get(TENANT) as never)).toMatchObject([
      { grantId: 'g', winner: { origin: EU }, loser: { origin: US }, owed: null },
    ]);
    // Only the loser's region revokes.
    expect(revoke(eu, EU)).toEqual({ status: 'none', reason: 'wrong_region' });
    const event = commit(us, US, revoke(us, US), T0 + 2_000);
    expect(event).toMatchObject({ kind: 'revoke', loser: US, total: 1_000, amount: 1_000, overdraft: 0 });
    deliver(eu, event);
    for (const r of [eu, us]) {
      expect(figures(r)).toMatchObject({ balance: 1_000, granted: 1_000 });
      expect(figures(r).grants).toMatchObject([{ grantId: 'g', amount: 1_000, remaining: 1_000 }]);
    }
    expect(revoke(us, US)).toEqual({ status: 'none', reason: 'settled' });
    // A replay of either body answers the winner.
    const replay = decideGrant(
      us.state,
      { origin: US, now: T0 + 3_000 },
      { tenant: TENANT, grantId: 'g', amount: 1_000, priority: 100, expiresAt: null },
    );
    expect(replay).toMatchObject({ status: 'replayed', definition: { origin: EU } });
  });

  it('what was spent of the duplicate is charged to the region’s other rights, in burn order', () => {
    const { eu, us, euGrant, usGrant } = partitionedDuplicate(100);
    grant(us, US, 'h', 50, { now: T0 + 1_100, priority: 10 });
    debit(us, US, 140, 'k1', { now: T0 + 1_200 }); // burns h (priority 10) then 90 of g
    deliver(eu, usGrant);
    deliver(us, euGrant);
    const event = commit(us, US, revoke(us, US), T0 + 2_000) as LedgerEvent & { kind: 'revoke' };
    expect(event.parts).toEqual([{ grantId: 'g', amount: 10 }]);
    // us holds nothing else: 90 stays owed, never below the bound (0 without overdraft).
    expect(event).toMatchObject({ total: 100, amount: 10, overdraft: 0 });
    // Credited once: 150 − 140 = 10; the 90 still owed shows until us receives rights to take it from.
    expect(figures(us).balance).toBe(10 + 90);
    expect(unsettledDuplicates(us.state.tenants.get(TENANT) as never)).toMatchObject([{ owed: 90 }]);
  });

  it('at the bound: the revoke takes only what keeps the balance ≥ −Σ overdraft; the rest is taken later', () => {
    const { eu, us } = partitionedDuplicate(100);
    debit(eu, EU, 100, 'k-eu', { now: T0 + 1_500 });
    debit(us, US, 100, 'k-us', { now: T0 + 1_500 });
    const [fromEu, fromUs] = [[...eu.events], [...us.events]];
    deliver(eu, ...fromUs);
    deliver(us, ...fromEu);
    expect(figures(us).balance).toBe(0); // 200 granted, 200 spent: the duplicate was spent
    // With 30 of overdraft at us: 30 now (the same headroom a debit has), 70 owed.
    const first = commit(us, US, revoke(us, US, 30), T0 + 2_000);
    expect(first).toMatchObject({ kind: 'revoke', total: 100, amount: 30, parts: [], overdraft: 30 });
    expect(figures(us).balance).toBe(-30);
    expect(revoke(us, US, 30)).toEqual({ status: 'none', reason: 'no_rights' });
    // A later top-up at us: the owed 70 comes out of it, not below the bound.
    grant(us, US, 'top-up', 500, { now: T0 + 3_000 });
    const second = commit(us, US, revoke(us, US, 30, T0 + 3_000), T0 + 3_000);
    expect(second).toMatchObject({ total: 100, amount: 70, parts: [{ grantId: 'top-up', amount: 70 }] });
    expect(figures(us).balance).toBe(500 - 100);
    expect(unsettledDuplicates(us.state.tenants.get(TENANT) as never)).toEqual([]);
  });

  it('a grant that expired before the revoke is not taken back twice', () => {
    const eu = replica();
    const us = replica();
    grant(eu, EU, 'g', 100, { now: T0, expiresAt: T0 + 1_500 });
    grant(us, US, 'g', 100, { now: T0 + 1_000, expiresAt: T0 + 1_500 });
    debit(us, US, 30, 'k', { now: T0 + 1_200 });
    for (const [r, origin] of [
      [eu, EU],
      [us, US],
    ] as const) {
      for (const body of decideExpire(r.state, { origin, now: T0 + 1_600 }, TENANT).bodies)
        commit(r, origin, { status: 'accepted', body }, T0 + 1_600);
    }
    const [fromEu, fromUs] = [[...eu.events], [...us.events]];
    deliver(eu, ...fromUs);
    deliver(us, ...fromEu);
    // 170 expired of the 200 granted: what the duplicate added was spent (30) or expired already.
    const event = commit(us, US, revoke(us, US, 0, T0 + 2_000), T0 + 2_000);
    expect(event).toMatchObject({ kind: 'revoke', total: 0, amount: 0 });
    expect(figures(us, { now: T0 + 2_000 })).toMatchObject({ balance: 0 });
    expect(figures(us, { now: T0 + 2_000 }).grants).toMatchObject([{ grantId: 'g', amount: 100 }]);
    expect(unsettledDuplicates(us.state.tenants.get(TENANT) as never)).toEqual([]);
  });
});
