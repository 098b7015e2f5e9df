import { decideDebit, decideRefund, eventRecordId, forgetRecordsBefore, type TenantState } from '@allot/core';
import { describe, expect, it } from 'vitest';
import { debit, EU, figures, grant, replica, T0, TENANT } from './support.js';

describe('forgetting records after the idempotency retention', () => {
  it('forgets old debits and refunds, keeps the cells, and treats an old key as new', () => {
    const r = replica();
    grant(r, EU, 'g1', 100);
    const old = debit(r, EU, 10, 'k-old', { now: T0 + 1 });
    debit(r, EU, 5, 'k-new', { now: T0 + 1_000 });
    const tenant = r.state.tenants.get(TENANT) as TenantState;
    const before = figures(r, { now: T0 + 2_000 });

    expect(forgetRecordsBefore(tenant, T0 + 500)).toBe(1);
    expect(figures(r, { now: T0 + 2_000 })).toEqual(before); // balances never forget
    expect(tenant.debits?.has(eventRecordId(old.origin, old.seq))).toBe(false);
    const ctx = { origin: EU, now: T0 + 2_000, overdraftLimit: 0 };
    expect(
      decideDebit(r.state, ctx, { tenant: TENANT, amount: 10, idempotencyKey: 'k-old', metadata: null })
        .status,
    ).toBe('accepted');
    expect(
      decideDebit(r.state, ctx, { tenant: TENANT, amount: 5, idempotencyKey: 'k-new', metadata: null })
        .status,
    ).toBe('replayed');
    const refund = decideRefund(r.state, ctx, {
      tenant: TENANT,
      debitId: eventRecordId(old.origin, old.seq),
      idempotencyKey: 'r',
    });
    expect(refund.status).toBe('not_found');
  });

  it('drops emptied indexes entirely', () => {
    const r = replica();
    grant(r, EU, 'g1', 100);
    debit(r, EU, 1, 'k', { now: T0 });
    const tenant = r.state.tenants.get(TENANT) as TenantState;
    expect(forgetRecordsBefore(tenant, T0 + 1)).toBe(1);
    expect([
      tenant.debits,
      tenant.debitsByKey,
      tenant.refunds,
      tenant.refundsByKey,
      tenant.refundedByDebit,
    ]).toEqual([null, null, null, null, null]);
  });
});
