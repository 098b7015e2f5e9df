import {
  availableAt,
  type DebitRequest,
  decideDebit,
  decideExpire,
  decideGrant,
  decideMove,
  decideRefund,
  decideRepay,
  eventRecordId,
  GRANTS_PER_TENANT_MAX,
  type GrantRequest,
  type LedgerEvent,
  mergeStates,
  type OriginId,
  originId,
  type RefundRequest,
  stateText,
} from '@allot/core';
import { describe, expect, it } from 'vitest';
import {
  commit,
  debit,
  deliver,
  EU,
  EU_NEXT,
  figures,
  grant,
  type Replica,
  replica,
  T0,
  TENANT,
  US,
} from './support.js';

const debitRequest = (amount: number, idempotencyKey: string, metadata: DebitRequest['metadata'] = null) => ({
  tenant: TENANT,
  amount,
  idempotencyKey,
  metadata,
});

const debitAt = (
  r: Replica,
  origin: OriginId,
  request: DebitRequest,
  options: { overdraftLimit?: number; now?: number } = {},
) =>
  decideDebit(
    r.state,
    { origin, now: options.now ?? T0, overdraftLimit: options.overdraftLimit ?? 0 },
    request,
  );

const refundAt = (r: Replica, origin: OriginId, request: Omit<RefundRequest, 'tenant'>) =>
  decideRefund(r.state, { origin, now: T0 }, { tenant: TENANT, ...request });

const grantRequest = (grantId: string, amount: number, extra: Partial<GrantRequest> = {}): GrantRequest => ({
  tenant: TENANT,
  grantId,
  amount,
  priority: 100,
  expiresAt: null,
  ...extra,
});

const idOf = (event: LedgerEvent) => eventRecordId(event.origin, event.seq);

const remainingOf = (r: Replica, now = T0) =>
  Object.fromEntries(figures(r, { now }).grants.map((g) => [g.grantId, g.remaining]));

describe('debit: burn order', () => {
  it('burns by priority, then earliest expiry with never-expiring last, then grant id', () => {
    const r = replica();
    grant(r, EU, 'never-b', 10);
    grant(r, EU, 'never-a', 10);
    grant(r, EU, 'late', 10, { expiresAt: T0 + 2_000 });
    grant(r, EU, 'soon', 10, { expiresAt: T0 + 1_000 });
    grant(r, EU, 'cheap', 10, { priority: 50 });

    const decision = debitAt(r, EU, debitRequest(50, 'all'));

    expect(decision).toEqual({
      status: 'accepted',
      body: {
        kind: 'debit',
        tenant: TENANT,
        amount: 50,
        idempotencyKey: 'all',
        parts: [
          { grantId: 'cheap', amount: 10 },
          { grantId: 'soon', amount: 10 },
          { grantId: 'late', amount: 10 },
          { grantId: 'never-a', amount: 10 },
          { grantId: 'never-b', amount: 10 },
        ],
        overdraft: 0,
        metadata: null,
      },
      availableAfter: 0,
    });
  });

  it('orders equal grants by grant id in code-unit order (upper case before lower case)', () => {
    const r = replica();
    grant(r, EU, 'a', 5);
    grant(r, EU, 'B', 5);
    grant(r, EU, '9', 5);

    const decision = debitAt(r, EU, debitRequest(15, 'k'));

    expect(decision.status === 'accepted' && decision.body.parts.map((p) => p.grantId)).toEqual([
      '9',
      'B',
      'a',
    ]);
  });

  it('spans several grants and takes only what it needs from the last one', () => {
    const r = replica();
    grant(r, EU, 'first', 10, { priority: 1 });
    grant(r, EU, 'second', 10, { priority: 2 });
    grant(r, EU, 'third', 10, { priority: 3 });

    commit(r, EU, debitAt(r, EU, debitRequest(15, 'k1')));
    const next = debitAt(r, EU, debitRequest(10, 'k2'));

    expect(r.events.at(-1)).toMatchObject({
      parts: [
        { grantId: 'first', amount: 10 },
        { grantId: 'second', amount: 5 },
      ],
      overdraft: 0,
    });
    expect(next).toMatchObject({
      status: 'accepted',
      body: {
        parts: [
          { grantId: 'second', amount: 5 },
          { grantId: 'third', amount: 5 },
        ],
      },
    });
    expect(remainingOf(r)).toEqual({ first: 0, second: 5, third: 10 });
    expect(figures(r).balance).toBe(15);
  });
});

describe('debit: declined', () => {
  it('declines with what is available and what was requested, and changes nothing', () => {
    const r = replica();
    grant(r, EU, 'g1', 12);
    grant(r, EU, 'g2', 8);
    const before = stateText(r.state);

    expect(debitAt(r, EU, debitRequest(21, 'k'))).toEqual({
      status: 'declined',
      reason: 'insufficient_credits',
      requested: 21,
      available: 20,
    });
    expect(availableAt(r.state, TENANT, EU, T0)).toBe(20);
    expect(debitAt(r, EU, debitRequest(20, 'k')).status).toBe('accepted');
    expect(stateText(r.state)).toBe(before);
  });

  it('counts the overdraft allowance as available', () => {
    const r = replica();
    grant(r, EU, 'g', 20);

    expect(debitAt(r, EU, debitRequest(26, 'k'), { overdraftLimit: 5 })).toEqual({
      status: 'declined',
      reason: 'insufficient_credits',
      requested: 26,
      available: 25,
    });
    expect(availableAt(r.state, TENANT, EU, T0, 5)).toBe(25);
  });

  it('declines a debit on an unknown tenant with nothing available', () => {
    const r = replica();
    grant(r, EU, 'g', 100, { tenant: 'someone-else' });

    expect(debitAt(r, EU, { ...debitRequest(1, 'k'), tenant: 'nobody' })).toEqual({
      status: 'declined',
      reason: 'insufficient_credits',
      requested: 1,
      available: 0,
    });
    expect(availableAt(r.state, 'nobody', EU, T0)).toBe(0);
  });

  it('accepts a debit on an unknown tenant purely from overdraft when the policy allows it', () => {
    const r = replica();

    const decision = debitAt(r, EU, debitRequest(7, 'k'), { overdraftLimit: 10 });
    expect(decision).toEqual({
      status: 'accepted',
      body: {
        kind: 'debit',
        tenant: TENANT,
        amount: 7,
        idempotencyKey: 'k',
        parts: [],
        overdraft: 7,
        metadata: null,
      },
      availableAfter: null,
    });
    commit(r, EU, decision);

    expect(figures(r, { overdraft: { eu: 10 } })).toMatchObject({
      balance: -7,
      debited: 7,
      regions: { eu: { rights: 0, overdraft: 10, overdraftInUse: 7 } },
      grants: [],
    });
    expect(debitAt(r, EU, debitRequest(4, 'k2'), { overdraftLimit: 10 })).toMatchObject({
      status: 'declined',
      available: 3,
    });
  });
});

describe('debit: only the origin spends its own rights', () => {
  it('does not count rights that another origin holds', () => {
    const r = replica();
    grant(r, US, 'g', 100);

    expect(debitAt(r, EU, debitRequest(1, 'k'))).toEqual({
      status: 'declined',
      reason: 'insufficient_credits',
      requested: 1,
      available: 0,
    });
    expect(availableAt(r.state, TENANT, EU, T0)).toBe(0);
    expect(availableAt(r.state, TENANT, US, T0)).toBe(100);
    expect(debitAt(r, US, debitRequest(100, 'k')).status).toBe('accepted');
  });

  it('spends only its own share of a grant whose rights were split by a move', () => {
    const r = replica();
    grant(r, EU, 'g', 10);
    commit(r, EU, decideMove(r.state, { origin: EU, now: T0 }, { tenant: TENANT, to: US, amount: 4 }));

    expect(debitAt(r, EU, debitRequest(7, 'k'))).toMatchObject({ status: 'declined', available: 6 });
    expect(debitAt(r, US, debitRequest(5, 'k'))).toMatchObject({ status: 'declined', available: 4 });
    expect(debitAt(r, US, debitRequest(4, 'k'))).toMatchObject({
      status: 'accepted',
      body: { parts: [{ grantId: 'g', amount: 4 }], overdraft: 0 },
    });
  });
});

describe('debit: expired grants', () => {
  it('never burns a grant at or after its expiry', () => {
    const r = replica();
    grant(r, EU, 'short', 10, { expiresAt: T0 + 1_000 });
    grant(r, EU, 'long', 10);

    expect(debitAt(r, EU, debitRequest(15, 'k'), { now: T0 + 999 })).toMatchObject({
      status: 'accepted',
      body: {
        parts: [
          { grantId: 'short', amount: 10 },
          { grantId: 'long', amount: 5 },
        ],
      },
    });
    expect(debitAt(r, EU, debitRequest(15, 'k'), { now: T0 + 1_000 })).toEqual({
      status: 'declined',
      reason: 'insufficient_credits',
      requested: 15,
      available: 10,
    });
    expect(debitAt(r, EU, debitRequest(10, 'k'), { now: T0 + 5_000 })).toMatchObject({
      status: 'accepted',
      body: { parts: [{ grantId: 'long', amount: 10 }] },
    });
  });
});

describe('debit: idempotency', () => {
  const setup = () => {
    const r = replica();
    grant(r, EU, 'g', 100);
    const event = debit(r, EU, 30, 'order-1', { metadata: { order: 1, items: ['a', 'b'] } });
    return { r, debitId: idOf(event) };
  };

  it('replays a repeated key with the same body without a second debit', () => {
    const { r, debitId } = setup();

    const decision = debitAt(r, EU, debitRequest(30, 'order-1', { items: ['a', 'b'], order: 1 }));

    expect(decision).toMatchObject({
      status: 'replayed',
      debit: { debitId, amount: 30, idempotencyKey: 'order-1', parts: [{ grantId: 'g', amount: 30 }] },
    });
    expect(figures(r).debited).toBe(30);
  });

  it('replays even when the credits left would not cover the request any more', () => {
    const { r, debitId } = setup();
    debit(r, EU, 70, 'order-2');

    expect(debitAt(r, EU, debitRequest(30, 'order-1', { order: 1, items: ['a', 'b'] }))).toMatchObject({
      status: 'replayed',
      debit: { debitId },
    });
  });

  it('replays at another region once the debit has replicated there', () => {
    const { r, debitId } = setup();
    const peer = replica(...r.events);

    expect(debitAt(peer, US, debitRequest(30, 'order-1', { order: 1, items: ['a', 'b'] }))).toMatchObject({
      status: 'replayed',
      debit: { debitId },
    });
  });

  it('is a conflict for the same key with another amount or other metadata', () => {
    const { r, debitId } = setup();
    const before = stateText(r.state);

    expect(debitAt(r, EU, debitRequest(31, 'order-1', { order: 1, items: ['a', 'b'] }))).toMatchObject({
      status: 'conflict',
      debit: { debitId, amount: 30 },
    });
    expect(debitAt(r, EU, debitRequest(30, 'order-1', { order: 1, items: ['b', 'a'] }))).toMatchObject({
      status: 'conflict',
      debit: { debitId },
    });
    expect(debitAt(r, EU, debitRequest(30, 'order-1'))).toMatchObject({
      status: 'conflict',
      debit: { debitId },
    });
    expect(stateText(r.state)).toBe(before);
  });

  it('after a cut-off race, replays the debit that comes first by time, then origin, then seq', () => {
    const base = replica();
    grant(base, EU, 'g-eu', 10);
    grant(base, US, 'g-us', 10);
    const eu = replica(...base.events);
    const us = replica(...base.events);
    debit(eu, EU, 5, 'twice', { now: T0 + 5 });
    const first = debit(us, US, 5, 'twice', { now: T0 + 3 });
    const merged = mergeStates(eu.state, us.state);

    const decision = decideDebit(
      merged,
      { origin: EU, now: T0 + 10, overdraftLimit: 0 },
      debitRequest(5, 'twice'),
    );

    expect(decision).toMatchObject({ status: 'replayed', debit: { debitId: idOf(first), origin: US } });
  });
});

describe('grant', () => {
  it('accepts a new grant as rights of the deciding origin', () => {
    const r = replica();

    const decision = decideGrant(r.state, { origin: EU, now: T0 }, grantRequest('g', 50, { priority: 7 }));
    expect(decision).toEqual({
      status: 'accepted',
      body: { kind: 'grant', tenant: TENANT, grantId: 'g', amount: 50, priority: 7, expiresAt: null },
    });
    commit(r, EU, decision);

    expect(figures(r)).toMatchObject({ balance: 50, granted: 50, regions: { eu: { rights: 50 } } });
  });

  it('replays the same grant, here and at a region that has folded it', () => {
    const r = replica();
    grant(r, EU, 'g', 50, { priority: 7, expiresAt: T0 + 10_000 });
    const definition = { amount: 50, priority: 7, expiresAt: T0 + 10_000, origin: EU, seq: 1, at: T0 };
    const request = grantRequest('g', 50, { priority: 7, expiresAt: T0 + 10_000 });

    expect(decideGrant(r.state, { origin: EU, now: T0 + 1 }, request)).toEqual({
      status: 'replayed',
      definition,
    });
    expect(decideGrant(r.state, { origin: US, now: T0 + 1 }, request)).toEqual({
      status: 'replayed',
      definition,
    });
  });

  it('replays a grant whose expiry has passed since (replay takes precedence over expires_in_past)', () => {
    const r = replica();
    grant(r, EU, 'g', 50, { expiresAt: T0 + 10 });

    expect(
      decideGrant(r.state, { origin: EU, now: T0 + 20 }, grantRequest('g', 50, { expiresAt: T0 + 10 })),
    ).toMatchObject({ status: 'replayed' });
  });

  it('is a conflict for a known grant id with other terms', () => {
    const r = replica();
    grant(r, EU, 'g', 50, { priority: 7 });
    const definition = { amount: 50, priority: 7, expiresAt: null, origin: EU, seq: 1, at: T0 };
    const ctx = { origin: EU, now: T0 };

    expect(decideGrant(r.state, ctx, grantRequest('g', 51, { priority: 7 }))).toEqual({
      status: 'conflict',
      definition,
    });
    expect(decideGrant(r.state, ctx, grantRequest('g', 50, { priority: 8 }))).toEqual({
      status: 'conflict',
      definition,
    });
    expect(decideGrant(r.state, ctx, grantRequest('g', 50, { priority: 7, expiresAt: T0 + 1 }))).toEqual({
      status: 'conflict',
      definition,
    });
  });

  it('is a conflict for an id known only as a placeholder, before its grant event arrived', () => {
    const full = replica();
    const granted = grant(full, EU, 'g', 10);
    const moved = commit(
      full,
      EU,
      decideMove(full.state, { origin: EU, now: T0 }, { tenant: TENANT, to: US, amount: 6 }),
    );
    const spent = debit(full, US, 4, 'k');
    const partial = replica(spent);

    const request = grantRequest('g', 10);
    expect(decideGrant(partial.state, { origin: US, now: T0 }, request)).toEqual({
      status: 'conflict',
      definition: null,
    });
    expect(decideGrant(partial.state, { origin: EU, now: T0 }, request)).toEqual({
      status: 'conflict',
      definition: null,
    });

    deliver(partial, granted, moved);
    expect(decideGrant(partial.state, { origin: US, now: T0 }, request)).toMatchObject({
      status: 'replayed',
    });
  });

  it('is invalid when it expires at or before now', () => {
    const r = replica();
    const ctx = { origin: EU, now: T0 };
    const invalid = { status: 'invalid', reason: 'expires_in_past' };

    expect(decideGrant(r.state, ctx, grantRequest('g', 5, { expiresAt: T0 - 1 }))).toEqual(invalid);
    expect(decideGrant(r.state, ctx, grantRequest('g', 5, { expiresAt: T0 }))).toEqual(invalid);
    expect(decideGrant(r.state, ctx, grantRequest('g', 5, { expiresAt: T0 + 1 })).status).toBe('accepted');
  });

  it(`accepts up to ${GRANTS_PER_TENANT_MAX} grants per tenant and rejects the next`, () => {
    const r = replica();
    for (let i = 0; i < GRANTS_PER_TENANT_MAX; i++) grant(r, EU, `g${i}`, 1);
    const before = stateText(r.state);

    expect(decideGrant(r.state, { origin: EU, now: T0 }, grantRequest('one-more', 1))).toEqual({
      status: 'rejected',
      reason: 'grant_limit',
      limit: GRANTS_PER_TENANT_MAX,
    });
    expect(decideGrant(r.state, { origin: EU, now: T0 }, grantRequest('g0', 1)).status).toBe('replayed');
    expect(
      decideGrant(r.state, { origin: EU, now: T0 }, { ...grantRequest('one-more', 1), tenant: 'other' })
        .status,
    ).toBe('accepted');
    expect(figures(r).granted).toBe(GRANTS_PER_TENANT_MAX);
    expect(stateText(r.state)).toBe(before);
  });
});

describe('refund', () => {
  /** EU holds g1 (burnt first) and g2, 10 each; a debit of 15 burnt g1:10 then g2:5. */
  const setup = () => {
    const r = replica();
    grant(r, EU, 'g1', 10, { priority: 1 });
    grant(r, EU, 'g2', 10, { priority: 2 });
    const event = debit(r, EU, 15, 'd');
    return { r, debitId: idOf(event) };
  };

  it('refunds all that is left by default, last-burnt grant first', () => {
    const { r, debitId } = setup();

    const decision = refundAt(r, EU, { debitId, idempotencyKey: 'r' });
    expect(decision).toMatchObject({
      status: 'accepted',
      debit: { debitId },
      body: {
        kind: 'refund',
        tenant: TENANT,
        debitId,
        amount: 15,
        idempotencyKey: 'r',
        parts: [
          { grantId: 'g2', amount: 5 },
          { grantId: 'g1', amount: 10 },
        ],
        overdraft: 0,
      },
    });
    commit(r, EU, decision);

    expect(figures(r)).toMatchObject({ balance: 20, debited: 15, refunded: 15 });
    expect(remainingOf(r)).toEqual({ g1: 10, g2: 10 });
  });

  it('refunds in parts, each continuing where the last one stopped', () => {
    const { r, debitId } = setup();

    const first = refundAt(r, EU, { debitId, amount: 3, idempotencyKey: 'r1' });
    expect(first).toMatchObject({
      status: 'accepted',
      body: { amount: 3, parts: [{ grantId: 'g2', amount: 3 }] },
    });
    commit(r, EU, first);
    expect(remainingOf(r)).toEqual({ g1: 0, g2: 8 });

    const second = refundAt(r, EU, { debitId, amount: 5, idempotencyKey: 'r2' });
    expect(second).toMatchObject({
      status: 'accepted',
      body: {
        amount: 5,
        parts: [
          { grantId: 'g2', amount: 2 },
          { grantId: 'g1', amount: 3 },
        ],
      },
    });
    commit(r, EU, second);

    const rest = refundAt(r, EU, { debitId, idempotencyKey: 'r3' });
    expect(rest).toMatchObject({
      status: 'accepted',
      body: { amount: 7, parts: [{ grantId: 'g1', amount: 7 }] },
    });
    commit(r, EU, rest);

    expect(remainingOf(r)).toEqual({ g1: 10, g2: 10 });
    expect(figures(r)).toMatchObject({ balance: 20, refunded: 15 });
  });

  it('refuses to refund more than the debit, also across refunds', () => {
    const { r, debitId } = setup();

    expect(refundAt(r, EU, { debitId, amount: 16, idempotencyKey: 'r1' })).toMatchObject({
      status: 'exceeds_debit',
      requested: 16,
      refundable: 15,
      debit: { debitId },
    });
    commit(r, EU, refundAt(r, EU, { debitId, amount: 10, idempotencyKey: 'r1' }));
    expect(refundAt(r, EU, { debitId, amount: 6, idempotencyKey: 'r2' })).toMatchObject({
      status: 'exceeds_debit',
      requested: 6,
      refundable: 5,
    });
    commit(r, EU, refundAt(r, EU, { debitId, amount: 5, idempotencyKey: 'r2' }));
    expect(refundAt(r, EU, { debitId, idempotencyKey: 'r3' })).toMatchObject({
      status: 'exceeds_debit',
      requested: 0,
      refundable: 0,
    });
    expect(figures(r).refunded).toBe(15);
  });

  it('does not find an unknown debit or tenant', () => {
    const { r } = setup();

    expect(refundAt(r, EU, { debitId: eventRecordId(EU, 99), idempotencyKey: 'r' })).toEqual({
      status: 'not_found',
    });
    expect(
      decideRefund(
        r.state,
        { origin: EU, now: T0 },
        { tenant: 'nobody', debitId: eventRecordId(EU, 3), idempotencyKey: 'r' },
      ),
    ).toEqual({ status: 'not_found' });
  });

  it("leaves a debit to its own region: another region's origin is refused", () => {
    const { r, debitId } = setup();

    expect(refundAt(r, US, { debitId, idempotencyKey: 'r' })).toEqual({
      status: 'wrong_region',
      region: 'eu',
    });
  });

  it('lets another incarnation of the debit region refund it, into its own rights', () => {
    const { r, debitId } = setup();

    const decision = refundAt(r, EU_NEXT, { debitId, amount: 6, idempotencyKey: 'r' });
    expect(decision).toMatchObject({
      status: 'accepted',
      body: {
        amount: 6,
        parts: [
          { grantId: 'g2', amount: 5 },
          { grantId: 'g1', amount: 1 },
        ],
        overdraft: 0,
      },
    });
    commit(r, EU_NEXT, decision);

    expect(availableAt(r.state, TENANT, EU, T0)).toBe(5);
    expect(availableAt(r.state, TENANT, EU_NEXT, T0)).toBe(6);
    expect(figures(r)).toMatchObject({ balance: 11, regions: { eu: { rights: 11 } } });
    expect(refundAt(r, EU, { debitId, amount: 10, idempotencyKey: 'r2' })).toMatchObject({
      status: 'exceeds_debit',
      refundable: 9,
    });
  });

  it('replays a repeated refund key and is a conflict when the key is reused for another refund', () => {
    const { r, debitId } = setup();
    const event = commit(r, EU, refundAt(r, EU, { debitId, amount: 3, idempotencyKey: 'r' }));
    const refund = { refundId: idOf(event), debitId, amount: 3, idempotencyKey: 'r' };
    const other = idOf(debit(r, EU, 1, 'd2'));
    const before = stateText(r.state);

    expect(refundAt(r, EU, { debitId, amount: 3, idempotencyKey: 'r' })).toMatchObject({
      status: 'replayed',
      refund,
    });
    expect(refundAt(r, EU, { debitId, idempotencyKey: 'r' })).toMatchObject({ status: 'replayed', refund });
    expect(refundAt(r, EU, { debitId, amount: 4, idempotencyKey: 'r' })).toMatchObject({
      status: 'conflict',
      refund,
    });
    expect(refundAt(r, EU, { debitId: other, amount: 3, idempotencyKey: 'r' })).toMatchObject({
      status: 'conflict',
      refund,
    });
    expect(stateText(r.state)).toBe(before);
  });
});

describe('overdraft', () => {
  it('takes what rights do not cover from the overdraft, and no more than the allowance', () => {
    const r = replica();
    grant(r, EU, 'g', 10);

    const decision = debitAt(r, EU, debitRequest(15, 'k'), { overdraftLimit: 10 });
    expect(decision).toMatchObject({
      status: 'accepted',
      body: { amount: 15, parts: [{ grantId: 'g', amount: 10 }], overdraft: 5 },
    });
    commit(r, EU, decision);

    expect(figures(r, { overdraft: { eu: 10 } })).toMatchObject({
      balance: -5,
      regions: { eu: { rights: 0, overdraft: 10, overdraftInUse: 5 } },
    });
    expect(debitAt(r, EU, debitRequest(6, 'k2'), { overdraftLimit: 10 })).toMatchObject({
      status: 'declined',
      requested: 6,
      available: 5,
    });
  });

  /** US holds h1 (burnt first, 5) and h2 (10); EU has no rights and overdraws 7. */
  const overdrawn = () => {
    const r = replica();
    grant(r, US, 'h1', 5, { priority: 1 });
    grant(r, US, 'h2', 10, { priority: 2 });
    const event = debit(r, EU, 7, 'k', { overdraftLimit: 10 });
    expect(event).toMatchObject({ parts: [], overdraft: 7 });
    return { r, debitId: idOf(event) };
  };

  const moveToEu = (r: Replica, amount: number) =>
    commit(r, US, decideMove(r.state, { origin: US, now: T0 }, { tenant: TENANT, to: EU, amount }));

  it('repays overdraft in use from rights moved in, in burn order', () => {
    const { r } = overdrawn();
    expect(decideRepay(r.state, { origin: EU, now: T0 }, TENANT)).toEqual({ status: 'none' });
    moveToEu(r, 8);

    const decision = decideRepay(r.state, { origin: EU, now: T0 }, TENANT);
    expect(decision).toEqual({
      status: 'accepted',
      body: {
        kind: 'repay',
        tenant: TENANT,
        amount: 7,
        parts: [
          { grantId: 'h1', amount: 5 },
          { grantId: 'h2', amount: 2 },
        ],
      },
    });
    commit(r, EU, decision);

    expect(figures(r)).toMatchObject({
      balance: 8,
      debited: 7,
      regions: { eu: { rights: 1, overdraftInUse: 0 }, us: { rights: 7, overdraftInUse: 0 } },
    });
    expect(decideRepay(r.state, { origin: EU, now: T0 }, TENANT)).toEqual({ status: 'none' });
  });

  it('repays only what the rights received cover', () => {
    const { r } = overdrawn();
    moveToEu(r, 4);

    commit(r, EU, decideRepay(r.state, { origin: EU, now: T0 }, TENANT));

    expect(r.events.at(-1)).toMatchObject({
      kind: 'repay',
      amount: 4,
      parts: [{ grantId: 'h1', amount: 4 }],
    });
    expect(figures(r).regions.eu).toMatchObject({ rights: 0, overdraftInUse: 3 });
    expect(decideRepay(r.state, { origin: EU, now: T0 }, TENANT)).toEqual({ status: 'none' });
  });

  it('clears overdraft in use when an overdraft debit is refunded', () => {
    const r = replica();
    grant(r, EU, 'g', 10);
    const debitId = idOf(debit(r, EU, 15, 'k', { overdraftLimit: 10 }));

    const decision = refundAt(r, EU, { debitId, idempotencyKey: 'r' });
    expect(decision).toMatchObject({
      status: 'accepted',
      body: { amount: 15, parts: [{ grantId: 'g', amount: 10 }], overdraft: 5 },
    });
    commit(r, EU, decision);

    expect(figures(r)).toMatchObject({ balance: 10, regions: { eu: { rights: 10, overdraftInUse: 0 } } });
  });

  it('clears overdraft in use when a debit taken purely from overdraft is refunded', () => {
    const { r, debitId } = overdrawn();

    const decision = refundAt(r, EU, { debitId, idempotencyKey: 'r' });
    expect(decision).toMatchObject({ status: 'accepted', body: { amount: 7, parts: [], overdraft: 7 } });
    commit(r, EU, decision);

    expect(figures(r)).toMatchObject({ balance: 15, regions: { eu: { rights: 0, overdraftInUse: 0 } } });
  });

  it("credits an already repaid overdraft portion to the tenant's last grant in burn order", () => {
    const { r, debitId } = overdrawn();
    moveToEu(r, 8);
    commit(r, EU, decideRepay(r.state, { origin: EU, now: T0 }, TENANT));

    const decision = refundAt(r, EU, { debitId, idempotencyKey: 'r' });
    expect(decision).toMatchObject({
      status: 'accepted',
      body: { amount: 7, parts: [{ grantId: 'h2', amount: 7 }], overdraft: 0 },
    });
    commit(r, EU, decision);

    expect(figures(r)).toMatchObject({
      balance: 15,
      regions: { eu: { rights: 8, overdraftInUse: 0 } },
    });
    expect(remainingOf(r)).toEqual({ h1: 0, h2: 15 });
  });

  it('clears what is still in use of a partly repaid overdraft and credits the rest to the last grant', () => {
    const { r, debitId } = overdrawn();
    moveToEu(r, 4);
    commit(r, EU, decideRepay(r.state, { origin: EU, now: T0 }, TENANT));

    const decision = refundAt(r, EU, { debitId, idempotencyKey: 'r' });
    expect(decision).toMatchObject({
      status: 'accepted',
      body: { amount: 7, parts: [{ grantId: 'h2', amount: 4 }], overdraft: 3 },
    });
    commit(r, EU, decision);

    expect(figures(r)).toMatchObject({ balance: 15, regions: { eu: { rights: 4, overdraftInUse: 0 } } });
  });
});

describe('move', () => {
  it('hands on only the live rights the origin holds, in burn order', () => {
    const r = replica();
    grant(r, EU, 'short', 10, { expiresAt: T0 + 1_000 });
    grant(r, EU, 'long', 10);
    grant(r, US, 'theirs', 50);
    const ctx = { origin: EU, now: T0 };

    expect(decideMove(r.state, ctx, { tenant: TENANT, to: US, amount: 21 })).toEqual({
      status: 'declined',
      reason: 'insufficient_rights',
      available: 20,
    });
    expect(
      decideMove(r.state, { origin: EU, now: T0 + 1_000 }, { tenant: TENANT, to: US, amount: 11 }),
    ).toEqual({
      status: 'declined',
      reason: 'insufficient_rights',
      available: 10,
    });

    const decision = decideMove(r.state, ctx, { tenant: TENANT, to: US, amount: 12 });
    expect(decision).toEqual({
      status: 'accepted',
      body: {
        kind: 'move',
        tenant: TENANT,
        to: US,
        parts: [
          { grantId: 'short', amount: 10 },
          { grantId: 'long', amount: 2 },
        ],
      },
    });
    commit(r, EU, decision);

    expect(availableAt(r.state, TENANT, EU, T0)).toBe(8);
    expect(availableAt(r.state, TENANT, US, T0)).toBe(62);
    expect(figures(r)).toMatchObject({ balance: 70, regions: { eu: { rights: 8 }, us: { rights: 62 } } });
  });

  it('is invalid to self and declined for an unknown tenant', () => {
    const r = replica();
    grant(r, EU, 'g', 10);

    expect(decideMove(r.state, { origin: EU, now: T0 }, { tenant: TENANT, to: EU, amount: 1 })).toEqual({
      status: 'invalid',
      reason: 'move_to_self',
    });
    expect(decideMove(r.state, { origin: EU, now: T0 }, { tenant: 'nobody', to: US, amount: 1 })).toEqual({
      status: 'declined',
      reason: 'insufficient_rights',
      available: 0,
    });
  });

  it('never moves overdraft', () => {
    const r = replica();
    grant(r, EU, 'g', 10);
    debit(r, EU, 12, 'k', { overdraftLimit: 5 });

    expect(decideMove(r.state, { origin: EU, now: T0 }, { tenant: TENANT, to: US, amount: 1 })).toEqual({
      status: 'declined',
      reason: 'insufficient_rights',
      available: 0,
    });
  });
});

describe('expire', () => {
  /** EU granted short (10, expires at T0+1000) and long (20); it spent 4 of short and moved 2 of it to US. */
  const setup = () => {
    const r = replica();
    grant(r, EU, 'short', 10, { expiresAt: T0 + 1_000 });
    grant(r, EU, 'long', 20);
    debit(r, EU, 4, 'k');
    commit(r, EU, decideMove(r.state, { origin: EU, now: T0 }, { tenant: TENANT, to: US, amount: 2 }));
    return r;
  };

  it('returns nothing while grants are live', () => {
    const r = setup();

    expect(decideExpire(r.state, { origin: EU, now: T0 + 999 }, TENANT)).toEqual({ bodies: [], limited: [] });
  });

  it("returns what is left at the deciding origin of each expired grant, not other origins' share", () => {
    const r = setup();
    const at = T0 + 1_000;

    const atEu = decideExpire(r.state, { origin: EU, now: at }, TENANT);
    expect(atEu).toEqual({
      bodies: [{ kind: 'expire', tenant: TENANT, grantId: 'short', amount: 4 }],
      limited: [],
    });
    expect(decideExpire(r.state, { origin: US, now: at }, TENANT)).toEqual({
      bodies: [{ kind: 'expire', tenant: TENANT, grantId: 'short', amount: 2 }],
      limited: [],
    });

    for (const body of atEu.bodies) commit(r, EU, { status: 'accepted', body }, at);
    expect(decideExpire(r.state, { origin: EU, now: at }, TENANT)).toEqual({ bodies: [], limited: [] });
    expect(figures(r, { now: at })).toMatchObject({ balance: 22, expired: 4 });

    for (const body of decideExpire(r.state, { origin: US, now: at }, TENANT).bodies) {
      commit(r, US, { status: 'accepted', body }, at);
    }
    expect(figures(r, { now: at })).toMatchObject({ balance: 20, granted: 30, debited: 4, expired: 6 });
    expect(remainingOf(r, at)).toEqual({ long: 20, short: 0 });
  });

  it('returns nothing for an unknown tenant or an origin that holds nothing', () => {
    const r = setup();
    const ctx = { origin: originId('ap', 'dddddddd'), now: T0 + 5_000 };

    expect(decideExpire(r.state, ctx, TENANT)).toEqual({ bodies: [], limited: [] });
    expect(decideExpire(r.state, { origin: EU, now: T0 + 5_000 }, 'nobody')).toEqual({
      bodies: [],
      limited: [],
    });
  });
});

describe('overdraft belongs to the region, not to one incarnation', () => {
  it('a new incarnation of a region cannot overdraw again while the old one still owes', async () => {
    const { availableAt, decideDebit } = await import('@allot/core');
    const { EU, EU_NEXT, replica, debit, TENANT, T0 } = await import('./support.js');
    const r = replica();
    debit(r, EU, 20, 'k-old', { overdraftLimit: 20 }); // the old incarnation overdraws its whole allowance
    expect(availableAt(r.state, TENANT, EU_NEXT, T0, 20)).toBe(0);
    const again = decideDebit(
      r.state,
      { origin: EU_NEXT, now: T0, overdraftLimit: 20 },
      { tenant: TENANT, amount: 1, idempotencyKey: 'k-new', metadata: null },
    );
    expect(again).toMatchObject({ status: 'declined', available: 0 });
  });

  it('a lost incarnation counts as having used its whole allowance, even with none seen in use (issue 16)', async () => {
    const { availableAt, decideDebit, regionOverdraftInUse } = await import('@allot/core');
    const { EU, EU_NEXT, US, replica, grant, TENANT, T0 } = await import('./support.js');
    const r = replica();
    grant(r, US, 'g1', 10);
    grant(r, EU, 'g0', 5, { tenant: 'other' }); // the old incarnation is known here
    // Its overdrafts of TENANT, if any, never left its disk: the new one may not take them again.
    expect(regionOverdraftInUse(r.state, r.state.tenants.get(TENANT), EU_NEXT, 30)).toBe(30);
    expect(availableAt(r.state, TENANT, EU_NEXT, T0, 30)).toBe(0);
    expect(availableAt(r.state, 'never-seen', EU_NEXT, T0, 30)).toBe(0);
    const declined = decideDebit(
      r.state,
      { origin: EU_NEXT, now: T0, overdraftLimit: 30 },
      { tenant: TENANT, amount: 1, idempotencyKey: 'k-new', metadata: null },
    );
    expect(declined).toMatchObject({ status: 'declined', available: 0 });
    // Rights the new incarnation holds are still its own to spend; another region's allowance is untouched.
    expect(availableAt(r.state, TENANT, US, T0, 30)).toBe(40);
  });
});
