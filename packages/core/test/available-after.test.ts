import { availableAt, decideDebit } from '@allot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commit, debit, EU, EU_NEXT, grant, replica, T0, TENANT, US } from './support.js';

// decideDebit's `availableAfter` lets the replica answer a debit's balance without a second pass
// over the grants: it must be what availableAt says once the debit is folded, whatever the grants,
// expiries, earlier overdraft and other incarnations of the region.
describe('debit: availableAfter', () => {
  it('equals availableAt after the fold when no overdraft is taken, and is null when some is', () => {
    const grantArb = fc.record({
      amount: fc.integer({ min: 1, max: 50 }),
      priority: fc.integer({ min: 0, max: 3 }),
      expired: fc.boolean(),
      at: fc.constantFrom(EU, US, EU_NEXT),
    });
    fc.assert(
      fc.property(
        fc.array(grantArb, { minLength: 0, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 3 }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 1, max: 80 }),
        (grants, earlier, overdraftLimit, amount) => {
          const r = replica();
          for (const [i, g] of grants.entries()) {
            grant(r, g.at, `g${i}`, g.amount, {
              priority: g.priority,
              expiresAt: g.expired ? T0 + 10 : null,
              now: T0,
            });
          }
          const now = T0 + 20;
          earlier.forEach((value, i) => {
            const d = decideDebit(
              r.state,
              { origin: EU, now, overdraftLimit },
              { tenant: TENANT, amount: value, idempotencyKey: `e${i}`, metadata: null },
            );
            if (d.status === 'accepted') commit(r, EU, d, now);
          });
          const decision = decideDebit(
            r.state,
            { origin: EU, now, overdraftLimit },
            { tenant: TENANT, amount, idempotencyKey: 'last', metadata: null },
          );
          if (decision.status !== 'accepted') return;
          expect(decision.availableAfter === null).toBe(decision.body.overdraft > 0);
          commit(r, EU, decision, now);
          if (decision.availableAfter !== null)
            expect(decision.availableAfter).toBe(availableAt(r.state, TENANT, EU, now, overdraftLimit));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('is the rights left after a plain debit', () => {
    const r = replica();
    grant(r, EU, 'g1', 10);
    debit(r, EU, 3, 'k1');
    const decision = decideDebit(
      r.state,
      { origin: EU, now: T0, overdraftLimit: 0 },
      { tenant: TENANT, amount: 4, idempotencyKey: 'k2', metadata: null },
    );
    expect(decision.status === 'accepted' && decision.availableAfter).toBe(3);
  });
});
