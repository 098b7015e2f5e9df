import {
  AMOUNT_MAX,
  applyEvent,
  type Canonical,
  canonicalBytes,
  canonicalJson,
  cloneState,
  compareVersions,
  createLedgerState,
  decideDebit,
  decideExpire,
  decideGrant,
  decideMove,
  decideRefund,
  decideRepay,
  dominates,
  eventProblem,
  eventRecordId,
  type LedgerEvent,
  LedgerInvariantError,
  mergeStates,
  mergeVersions,
  seqOf,
  stateText,
  tenantBalance,
  tenantFigures,
} from '@allot/core';
import { describe, expect, it } from 'vitest';
import {
  append,
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

const grantEvent = (fields: Partial<Record<string, unknown>> = {}): LedgerEvent =>
  ({
    kind: 'grant',
    origin: EU,
    seq: 1,
    at: T0,
    tenant: TENANT,
    grantId: 'g',
    amount: 10,
    priority: 100,
    expiresAt: null,
    ...fields,
  }) as LedgerEvent;

describe('applyEvent: order and duplicates', () => {
  it("applies the origin's next event, ignores what it has folded, and reports a gap", () => {
    const state = createLedgerState();

    expect(applyEvent(state, grantEvent({ seq: 1 }))).toBe('applied');
    const afterFirst = stateText(state);
    expect(applyEvent(state, grantEvent({ seq: 1 }))).toBe('duplicate');
    expect(applyEvent(state, grantEvent({ seq: 1, grantId: 'other', amount: 99 }))).toBe('duplicate');
    expect(stateText(state)).toBe(afterFirst);

    const third = grantEvent({ seq: 3, grantId: 'g3' });
    expect(applyEvent(state, third)).toBe('gap');
    expect(stateText(state)).toBe(afterFirst);
    expect(seqOf(state.versionVector, EU)).toBe(1);

    expect(applyEvent(state, grantEvent({ seq: 2, grantId: 'g2' }))).toBe('applied');
    expect(applyEvent(state, third)).toBe('applied');
    expect(state.versionVector).toEqual({ [EU]: 3 });
    expect(tenantBalance(state, TENANT)).toBe(30);
  });

  it("keeps each origin's log separate", () => {
    const state = createLedgerState();

    expect(applyEvent(state, grantEvent({ origin: US, seq: 2 }))).toBe('gap');
    expect(applyEvent(state, grantEvent({ origin: US, seq: 1 }))).toBe('applied');
    expect(applyEvent(state, grantEvent({ origin: EU, seq: 1, grantId: 'h' }))).toBe('applied');
    expect(state.versionVector).toEqual({ [EU]: 1, [US]: 1 });
  });
});

describe('applyEvent: malformed events', () => {
  const base = { origin: EU, seq: 2, at: T0, tenant: TENANT };
  const debitBase = { ...base, kind: 'debit', amount: 10, idempotencyKey: 'k', overdraft: 0, metadata: null };
  const refundBase = {
    ...base,
    kind: 'refund',
    debitId: 'eu.aaaaaaaa.1',
    amount: 10,
    idempotencyKey: 'r',
    overdraft: 0,
  };
  const cases: { name: string; event: object; problem: string }[] = [
    {
      name: 'an origin without incarnation',
      event: grantEvent({ origin: 'eu', grantId: 'h' }),
      problem: 'invalid origin',
    },
    {
      name: 'an origin with an upper-case incarnation',
      event: grantEvent({ origin: 'eu#AAAAAAAA', grantId: 'h' }),
      problem: 'invalid origin',
    },
    { name: 'a negative time', event: grantEvent({ seq: 2, at: -1 }), problem: 'invalid time' },
    { name: 'an invalid tenant', event: grantEvent({ seq: 2, tenant: 'a b' }), problem: 'invalid tenant' },
    { name: 'a grant without id', event: grantEvent({ seq: 2, grantId: '' }), problem: 'invalid grantId' },
    {
      name: 'a grant of 0',
      event: grantEvent({ seq: 2, grantId: 'h', amount: 0 }),
      problem: 'invalid amount',
    },
    {
      name: 'a negative priority',
      event: grantEvent({ seq: 2, grantId: 'h', priority: -1 }),
      problem: 'invalid priority',
    },
    {
      name: 'a fractional expiry',
      event: grantEvent({ seq: 2, grantId: 'h', expiresAt: 1.5 }),
      problem: 'invalid expiresAt',
    },
    {
      name: 'a debit of 0',
      event: { ...debitBase, amount: 0, parts: [] },
      problem: 'invalid amount',
    },
    {
      name: 'a debit without key',
      event: { ...debitBase, idempotencyKey: '', parts: [{ grantId: 'g', amount: 10 }] },
      problem: 'invalid idempotencyKey',
    },
    {
      name: 'a negative overdraft',
      event: { ...debitBase, overdraft: -1, parts: [{ grantId: 'g', amount: 11 }] },
      problem: 'invalid overdraft',
    },
    {
      name: 'parts that are no array',
      event: { ...debitBase, parts: null },
      problem: 'parts is not an array',
    },
    {
      name: 'a part that is no object',
      event: { ...debitBase, parts: [null] },
      problem: 'a part is not an object',
    },
    {
      name: 'a part without grant id',
      event: { ...debitBase, parts: [{ grantId: '', amount: 10 }] },
      problem: 'a part has an invalid grantId',
    },
    {
      name: 'a negative part',
      event: { ...debitBase, parts: [{ grantId: 'g', amount: -1 }] },
      problem: 'part g has an invalid amount',
    },
    {
      name: 'duplicate grant ids in parts',
      event: {
        ...debitBase,
        parts: [
          { grantId: 'g', amount: 5 },
          { grantId: 'g', amount: 5 },
        ],
      },
      problem: 'grant g appears in two parts',
    },
    {
      name: 'parts past the amount limit',
      event: {
        ...debitBase,
        amount: AMOUNT_MAX,
        parts: [
          { grantId: 'g', amount: AMOUNT_MAX },
          { grantId: 'h', amount: 1 },
        ],
      },
      problem: 'parts add up past the amount limit',
    },
    {
      name: 'debit parts not adding up',
      event: { ...debitBase, overdraft: 5, parts: [{ grantId: 'g', amount: 4 }] },
      problem: 'parts and overdraft do not add up to the amount',
    },
    {
      name: 'a debit without metadata',
      event: { ...debitBase, metadata: undefined, parts: [{ grantId: 'g', amount: 10 }] },
      problem: 'metadata is missing',
    },
    {
      name: 'a refund of no debit id',
      event: { ...refundBase, debitId: 'd1', parts: [{ grantId: 'g', amount: 10 }] },
      problem: 'invalid debitId',
    },
    {
      name: 'a refund with a fractional overdraft',
      event: { ...refundBase, overdraft: 0.5, parts: [{ grantId: 'g', amount: 10 }] },
      problem: 'invalid overdraft',
    },
    {
      name: 'refund parts not adding up',
      event: { ...refundBase, parts: [{ grantId: 'g', amount: 9 }] },
      problem: 'parts and overdraft do not add up to the amount',
    },
    {
      name: 'a move to no origin',
      event: { ...base, kind: 'move', to: 'us', parts: [{ grantId: 'g', amount: 1 }] },
      problem: 'invalid target origin',
    },
    {
      name: 'a move to self',
      event: { ...base, kind: 'move', to: EU, parts: [{ grantId: 'g', amount: 1 }] },
      problem: 'a move to the origin itself',
    },
    {
      name: 'a move of nothing',
      event: { ...base, kind: 'move', to: US, parts: [] },
      problem: 'parts is empty',
    },
    {
      name: 'an expiry without grant id',
      event: { ...base, kind: 'expire', grantId: ' ', amount: 1 },
      problem: 'invalid grantId',
    },
    {
      name: 'an expiry of 0',
      event: { ...base, kind: 'expire', grantId: 'g', amount: 0 },
      problem: 'invalid amount',
    },
    {
      name: 'a repay of nothing',
      event: { ...base, kind: 'repay', amount: 1, parts: [] },
      problem: 'parts is empty',
    },
    {
      name: 'repay parts not adding up',
      event: { ...base, kind: 'repay', amount: 2, parts: [{ grantId: 'g', amount: 1 }] },
      problem: 'parts do not add up to the amount',
    },
    { name: 'an unknown kind', event: { ...base, kind: 'mint', amount: 1 }, problem: 'unknown event kind' },
  ];

  it.each(cases)('rejects $name and changes nothing', ({ event, problem }) => {
    const state = createLedgerState();
    applyEvent(state, grantEvent());
    const before = stateText(state);

    expect(eventProblem(event as LedgerEvent)).toBe(problem);
    expect(() => applyEvent(state, event as LedgerEvent)).toThrow(LedgerInvariantError);
    expect(() => applyEvent(state, event as LedgerEvent)).toThrow(problem);

    expect(stateText(state)).toBe(before);
    expect(state.versionVector).toEqual({ [EU]: 1 });
  });

  it('finds an invalid seq and a value that is not an object', () => {
    for (const seq of [0, -1, 1.5, Number.NaN, '1']) {
      expect(eventProblem(grantEvent({ seq })), String(seq)).toBe('invalid seq');
    }
    expect(eventProblem(null as unknown as LedgerEvent)).toBe('event is not an object');
  });

  it('throws for a grant granted twice by the same origin, and changes nothing', () => {
    const state = createLedgerState();
    applyEvent(state, grantEvent({ seq: 1 }));
    const before = stateText(state);

    expect(() => applyEvent(state, grantEvent({ seq: 2 }))).toThrow(LedgerInvariantError);
    expect(() => applyEvent(state, grantEvent({ seq: 2, amount: 20 }))).toThrow(/granted twice/);

    expect(stateText(state)).toBe(before);
    expect(applyEvent(state, grantEvent({ seq: 2, grantId: 'h' }))).toBe('applied');
  });
});

describe('applyEvent: grants known only through other origins', () => {
  /** EU_NEXT granted `far` and moved 6 of it to US, which spent 4 of it. */
  const history = () => {
    const full = replica();
    const granted = grant(full, EU_NEXT, 'far', 10);
    const moved = commit(
      full,
      EU_NEXT,
      decideMove(full.state, { origin: EU_NEXT, now: T0 }, { tenant: TENANT, to: US, amount: 6 }),
    );
    const spent = debit(full, US, 4, 'k');
    return { full, granted, moved, spent };
  };

  it("creates a pending grant for an unknown grant that another origin's event names", () => {
    const { spent } = history();
    const partial = replica(spent);

    expect(figures(partial)).toEqual({
      tenant: TENANT,
      balance: -4,
      granted: 0,
      debited: 4,
      refunded: 0,
      expired: 0,
      held: 0,
      regions: { us: { rights: -4, overdraft: 0, overdraftInUse: 0 } },
      grants: [
        { grantId: 'far', amount: 0, remaining: -4, priority: null, expiresAt: null, status: 'pending' },
      ],
    });
  });

  it('defines the pending grant once its grant event arrives, as if it had come first', () => {
    const { full, granted, moved, spent } = history();
    const partial = replica(spent);

    deliver(partial, granted, moved);

    expect(stateText(partial.state)).toBe(stateText(full.state));
    expect(figures(partial).grants).toEqual([
      { grantId: 'far', amount: 10, remaining: 6, priority: 100, expiresAt: null, status: 'active' },
    ]);
  });

  it('chooses the same definition whichever order two origins that define one grant id arrive in', () => {
    const eu = replica();
    const fromEu = grant(eu, EU, 'g', 10, { priority: 1 });
    const us = replica();
    const fromUs = grant(us, US, 'g', 20, { priority: 2, expiresAt: T0 + 5_000 });

    const a = replica(fromEu, fromUs);
    const b = replica(fromUs, fromEu);

    expect(stateText(a.state)).toBe(stateText(b.state));
    expect(stateText(mergeStates(eu.state, us.state))).toBe(stateText(a.state));
    expect(stateText(mergeStates(us.state, eu.state))).toBe(stateText(a.state));
    const request = { tenant: TENANT, grantId: 'g', amount: 10, priority: 1, expiresAt: null };
    for (const r of [a, b]) {
      expect(decideGrant(r.state, { origin: US, now: T0 }, request)).toEqual({
        status: 'replayed',
        definition: { amount: 10, priority: 1, expiresAt: null, origin: EU, seq: 1, at: T0 },
      });
    }
  });
});

describe('version vectors', () => {
  it('compares as equal, before, after or concurrent, an absent origin counting as 0', () => {
    expect(compareVersions({}, {})).toBe('equal');
    expect(compareVersions({ [EU]: 2 }, { [EU]: 2 })).toBe('equal');
    expect(compareVersions({ [EU]: 0 }, {})).toBe('equal');
    expect(compareVersions({ [EU]: 1 }, { [EU]: 2 })).toBe('before');
    expect(compareVersions({}, { [US]: 1 })).toBe('before');
    expect(compareVersions({ [EU]: 2, [US]: 1 }, { [EU]: 2 })).toBe('after');
    expect(compareVersions({ [EU]: 2 }, { [US]: 1 })).toBe('concurrent');
    expect(compareVersions({ [EU]: 3, [US]: 1 }, { [EU]: 2, [US]: 2 })).toBe('concurrent');
  });

  it('merges pointwise by max, with origins sorted and zeros left out', () => {
    const merged = mergeVersions({ [US]: 1, [EU]: 3, [EU_NEXT]: 0 }, { [EU]: 2, [EU_NEXT]: 5 });

    expect(merged).toEqual({ [EU]: 3, [EU_NEXT]: 5, [US]: 1 });
    expect(Object.keys(merged)).toEqual([EU, EU_NEXT, US]);
    expect(mergeVersions({}, {})).toEqual({});
  });

  it('dominates when it has folded everything the other has', () => {
    expect(dominates({ [EU]: 1 }, { [EU]: 1 })).toBe(true);
    expect(dominates({ [EU]: 2, [US]: 1 }, { [EU]: 1 })).toBe(true);
    expect(dominates({ [EU]: 1 }, { [EU]: 2 })).toBe(false);
    expect(dominates({ [EU]: 2 }, { [US]: 1 })).toBe(false);
  });

  it('reads the seq of an origin, 0 when absent (also for names of Object.prototype)', () => {
    expect(seqOf({ [EU]: 3 }, EU)).toBe(3);
    expect(seqOf({ [EU]: 3 }, US)).toBe(0);
    expect(seqOf({}, 'toString')).toBe(0);
    expect(seqOf({}, '__proto__')).toBe(0);
  });
});

describe('canonicalJson', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1, 2], c: null } })).toBe('{"a":{"c":null,"d":[3,1,2]},"b":1}');
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
    expect(canonicalJson([{ y: true, x: false }, 'é"\n'])).toBe('[{"x":false,"y":true},"é\\"\\n"]');
  });

  it('leaves undefined fields out', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson({ a: undefined })).toBe('{}');
  });

  it('refuses NaN and infinities, also nested', () => {
    expect(() => canonicalJson(Number.NaN)).toThrow(TypeError);
    expect(() => canonicalJson(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => canonicalJson({ a: [1, Number.NEGATIVE_INFINITY] })).toThrow(TypeError);
    expect(() => canonicalJson((() => 1) as unknown as Canonical)).toThrow(TypeError);
  });

  it('encodes as UTF-8 bytes', () => {
    expect([...canonicalBytes({ k: 'é' })]).toEqual([...new TextEncoder().encode('{"k":"é"}')]);
  });
});

describe('merge and clone', () => {
  /** Two regions, every kind of event: grants, moves, debits (one with overdraft), a refund, a repay, an expiry. */
  const history = (): Replica => {
    const r = replica();
    grant(r, EU, 'g1', 120, { priority: 1 });
    grant(r, US, 'g2', 50);
    grant(r, US, 'g3', 20, { priority: 200, expiresAt: T0 + 5_000 });
    commit(r, EU, decideMove(r.state, { origin: EU, now: T0 }, { tenant: TENANT, to: US, amount: 30 }));
    const spent = debit(r, US, 60, 'd1', { metadata: { order: 7 } });
    commit(
      r,
      US,
      decideRefund(
        r.state,
        { origin: US, now: T0 },
        { tenant: TENANT, debitId: eventRecordId(US, spent.seq), amount: 10, idempotencyKey: 'r1' },
      ),
    );
    debit(r, EU, 95, 'd2', { overdraftLimit: 10 });
    commit(r, US, decideMove(r.state, { origin: US, now: T0 }, { tenant: TENANT, to: EU, amount: 15 }));
    commit(r, EU, decideRepay(r.state, { origin: EU, now: T0 }, TENANT));
    for (const body of decideExpire(r.state, { origin: US, now: T0 + 5_000 }, TENANT).bodies) {
      append(r, US, body, T0 + 5_000);
    }
    grant(r, EU, 'o1', 5, { tenant: 'other' });
    return r;
  };

  const logOf = (r: Replica, origin: string) => r.events.filter((event) => event.origin === origin);

  it('covers every kind of event', () => {
    const r = history();

    expect(new Set(r.events.map((event) => event.kind))).toEqual(
      new Set(['grant', 'debit', 'refund', 'move', 'expire', 'repay']),
    );
    expect(figures(r, { now: T0 + 5_000 })).toMatchObject({
      granted: 190,
      debited: 155,
      refunded: 10,
      expired: 20,
      balance: 25,
    });
  });

  it('gives the same state text whatever order the origins are folded in', () => {
    const r = history();
    const usFirst = replica(...logOf(r, US), ...logOf(r, EU));

    expect(stateText(usFirst.state)).toBe(stateText(r.state));
  });

  it('merges the folds of two logs into the fold of both', () => {
    const r = history();
    const eu = replica(...logOf(r, EU));
    const us = replica(...logOf(r, US));
    const euText = stateText(eu.state);

    expect(stateText(mergeStates(eu.state, us.state))).toBe(stateText(r.state));
    expect(stateText(mergeStates(us.state, eu.state))).toBe(stateText(r.state));
    expect(stateText(eu.state)).toBe(euText);
  });

  it('merges log prefixes into the fold of their union', () => {
    const r = history();
    const euLog = logOf(r, EU);
    const usLog = logOf(r, US);
    const a = replica(...euLog.slice(0, 2), ...usLog.slice(0, 3));
    const b = replica(...euLog.slice(0, 3), ...usLog.slice(0, 1));

    const merged = mergeStates(a.state, b.state);

    expect(stateText(merged)).toBe(stateText(replica(...euLog.slice(0, 3), ...usLog.slice(0, 3)).state));
    expect(stateText(mergeStates(merged, r.state))).toBe(stateText(r.state));
    expect(stateText(mergeStates(r.state, r.state))).toBe(stateText(r.state));
  });

  it('clones to the same state text, and the clone folds on independently', () => {
    const r = history();
    const text = stateText(r.state);
    const copy = cloneState(r.state);

    expect(stateText(copy)).toBe(text);
    expect(applyEvent(copy, grantEvent({ seq: seqOf(copy.versionVector, EU) + 1, grantId: 'late' }))).toBe(
      'applied',
    );
    expect(stateText(r.state)).toBe(text);
    expect(stateText(copy)).not.toBe(text);
  });

  it('decides on a merged state as on the folded one', () => {
    const r = history();
    const merged = mergeStates(replica(...logOf(r, EU)).state, replica(...logOf(r, US)).state);
    const spent = r.events.find((event) => event.kind === 'debit' && event.origin === US);
    const debitId = eventRecordId(US, spent?.seq ?? 0);

    for (const [origin, to] of [
      [EU, US],
      [US, EU],
    ] as const) {
      const ctx = { origin, now: T0 + 1_000 };
      const request = { tenant: TENANT, amount: 8, idempotencyKey: 'next', metadata: null };
      expect(decideDebit(merged, { ...ctx, overdraftLimit: 10 }, request)).toEqual(
        decideDebit(r.state, { ...ctx, overdraftLimit: 10 }, request),
      );
      expect(decideMove(merged, ctx, { tenant: TENANT, to, amount: 3 })).toEqual(
        decideMove(r.state, ctx, { tenant: TENANT, to, amount: 3 }),
      );
    }
    const refund = { tenant: TENANT, debitId, idempotencyKey: 'r9' };
    const refundDecision = decideRefund(merged, { origin: US, now: T0 }, refund);
    expect(refundDecision).toMatchObject({ status: 'accepted', body: { amount: 50 } });
    expect(refundDecision).toEqual(decideRefund(r.state, { origin: US, now: T0 }, refund));
  });
});

describe('tenantFigures', () => {
  it('is undefined for an unknown tenant, whose balance is 0', () => {
    const state = createLedgerState();

    expect(tenantFigures(state, 'nobody', { now: T0 })).toBeUndefined();
    expect(tenantBalance(state, 'nobody')).toBe(0);
  });

  it('reports balance = granted − debited + refunded − expired and every grant status', () => {
    const side = replica();
    grant(side, EU_NEXT, 'far', 10);
    commit(
      side,
      EU_NEXT,
      decideMove(side.state, { origin: EU_NEXT, now: T0 }, { tenant: TENANT, to: US, amount: 6 }),
    );
    const farDebit = debit(side, US, 4, 'kf');

    const r = replica();
    grant(r, EU, 'used', 10, { priority: 0 });
    grant(r, EU, 'active', 50, { priority: 1 });
    grant(r, EU, 'old', 20, { priority: 2, expiresAt: T0 + 1_000 });
    const spent = debit(r, EU, 15, 'k');
    commit(
      r,
      EU,
      decideRefund(
        r.state,
        { origin: EU, now: T0 },
        { tenant: TENANT, debitId: eventRecordId(EU, spent.seq), amount: 3, idempotencyKey: 'r' },
      ),
    );
    deliver(r, farDebit);
    const at = T0 + 1_000;

    expect(figures(r, { now: at - 1 }).grants.find((g) => g.grantId === 'old')).toMatchObject({
      remaining: 20,
      status: 'active',
    });
    expect(figures(r, { now: at }).grants.find((g) => g.grantId === 'old')).toMatchObject({
      remaining: 20,
      status: 'expired',
    });

    for (const body of decideExpire(r.state, { origin: EU, now: at }, TENANT).bodies)
      commit(r, EU, { status: 'accepted', body }, at);

    expect(figures(r, { now: at })).toEqual({
      tenant: TENANT,
      granted: 80,
      debited: 19,
      refunded: 3,
      expired: 20,
      held: 0,
      balance: 80 - 19 + 3 - 20,
      regions: {
        eu: { rights: 48, overdraft: 0, overdraftInUse: 0 },
        us: { rights: -4, overdraft: 0, overdraftInUse: 0 },
      },
      grants: [
        { grantId: 'active', amount: 50, remaining: 48, priority: 1, expiresAt: null, status: 'active' },
        { grantId: 'far', amount: 0, remaining: -4, priority: null, expiresAt: null, status: 'pending' },
        { grantId: 'old', amount: 20, remaining: 0, priority: 2, expiresAt: at, status: 'expired' },
        { grantId: 'used', amount: 10, remaining: 0, priority: 0, expiresAt: null, status: 'exhausted' },
      ],
    });
    expect(tenantBalance(r.state, TENANT)).toBe(44);
  });

  it('keys regions by region: incarnations add up, overdraft comes from the policy, listed regions show', () => {
    const r = replica();
    grant(r, EU, 'g', 30);
    grant(r, US, 'h', 10);
    commit(r, EU, decideMove(r.state, { origin: EU, now: T0 }, { tenant: TENANT, to: EU_NEXT, amount: 12 }));
    // Decided when EU_NEXT did not know of EU yet (a lost incarnation's allowance counts as used since issue 16).
    append(r, EU_NEXT, {
      kind: 'debit',
      tenant: TENANT,
      amount: 15,
      idempotencyKey: 'k',
      parts: [{ grantId: 'g', amount: 12 }],
      overdraft: 3,
      metadata: null,
    });

    expect(figures(r, { overdraft: { eu: 5, ap: 7 }, regions: ['sa'] }).regions).toEqual({
      eu: { rights: 18, overdraft: 5, overdraftInUse: 3 },
      us: { rights: 10, overdraft: 0, overdraftInUse: 0 },
      ap: { rights: 0, overdraft: 7, overdraftInUse: 0 },
      sa: { rights: 0, overdraft: 0, overdraftInUse: 0 },
    });
    expect(figures(r).balance).toBe(40 - 15);
  });
});
