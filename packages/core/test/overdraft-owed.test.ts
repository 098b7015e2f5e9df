import { availableAt, decideMove, decideRepay, rightsOwedToOverdraft } from '@allot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commit, debit, deliver, EU, EU_NEXT, grant, replica, T0, TENANT, US } from './support.js';

// Borrowing asks for what a debit lacks plus what arriving rights repay first (issue 12, swarm seed
// 16071): `rightsOwedToOverdraft` must be exactly the part of arriving rights that buys nothing a
// debit could use, whatever the overdraft in use, the allowance now and an earlier incarnation's use.
describe('rightsOwedToOverdraft', () => {
  it('is what arriving rights repay before the spendable figure grows: it grows by max(0, X − owed)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }), // overdraft the spender took, under the allowance then
        fc.integer({ min: 0, max: 40 }), // the allowance now (lowered, kept or raised)
        fc.option(fc.integer({ min: 0, max: 20 }), { nil: null }), // an earlier incarnation's overdraft
        fc.integer({ min: 1, max: 100 }), // rights that arrive
        (taken, limitNow, earlier, arriving) => {
          const r = replica();
          const granted = grant(r, US, 'g1', 200);
          if (taken > 0) debit(r, EU_NEXT, taken, 'taken', { overdraftLimit: 40 });
          // A lost earlier incarnation's overdraft, heard of after the spender took its own.
          if (earlier !== null) {
            const lost = replica(granted);
            if (earlier > 0) deliver(r, debit(lost, EU, earlier, 'earlier', { overdraftLimit: earlier }));
            else deliver(r, grant(lost, EU, 'g0', 1), debit(lost, EU, 1, 'earlier'));
          }
          const owed = rightsOwedToOverdraft(r.state, TENANT, EU_NEXT, limitNow);
          const before = availableAt(r.state, TENANT, EU_NEXT, T0, limitNow);
          commit(
            r,
            US,
            decideMove(r.state, { origin: US, now: T0 }, { tenant: TENANT, to: EU_NEXT, amount: arriving }),
          );
          const repay = decideRepay(r.state, { origin: EU_NEXT, now: T0 }, TENANT);
          if (repay.status === 'accepted') commit(r, EU_NEXT, repay);
          const after = availableAt(r.state, TENANT, EU_NEXT, T0, limitNow);
          expect(after - before).toBe(Math.max(0, arriving - owed));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('is 0 within the allowance and the whole use past an allowance lowered to 0', () => {
    const r = replica();
    grant(r, US, 'g1', 100);
    debit(r, EU, 30, 'k1', { overdraftLimit: 30 });
    expect(rightsOwedToOverdraft(r.state, TENANT, EU, 30)).toBe(0);
    expect(rightsOwedToOverdraft(r.state, TENANT, EU, 20)).toBe(10);
    expect(rightsOwedToOverdraft(r.state, TENANT, EU, 0)).toBe(30);
    expect(rightsOwedToOverdraft(r.state, TENANT, US, 0)).toBe(0);
    expect(rightsOwedToOverdraft(r.state, 'nobody', EU, 0)).toBe(0);
  });
});
