import {
  AMOUNT_MAX,
  AMOUNT_MIN,
  AmountLimitError,
  addChecked,
  applyEvent,
  createLedgerState,
  decideDebit,
  decideGrant,
  decideRefund,
  eventProblem,
  eventRecordId,
  fitsSum,
  isAmount,
  isIncarnationId,
  isKey,
  isOriginId,
  isRegionId,
  isTenantId,
  KEY_LENGTH_MAX,
  type LedgerEvent,
  LedgerInvariantError,
  ORIGINS_MAX,
  originId,
  PARTS_MAX,
  PRIORITY_MAX,
  PRIORITY_MIN,
  parseEventRecordId,
  parseOrigin,
  regionOf,
  seqOf,
  stateText,
  TENANT_ID_LENGTH_MAX,
  TIME_MS_MAX,
} from '@allot/core';
import { describe, expect, it } from 'vitest';
import { commit, debit, EU, figures, grant, replica, T0, TENANT, US } from './support.js';

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

const debitEvent = (fields: Partial<Record<string, unknown>> = {}): LedgerEvent =>
  ({
    kind: 'debit',
    origin: EU,
    seq: 1,
    at: T0,
    tenant: TENANT,
    amount: 10,
    idempotencyKey: 'k',
    parts: [{ grantId: 'g', amount: 10 }],
    overdraft: 0,
    metadata: null,
    ...fields,
  }) as LedgerEvent;

describe('amounts: 1 .. 2^53 − 1', () => {
  it('names the edges', () => {
    expect(AMOUNT_MIN).toBe(1);
    expect(AMOUNT_MAX).toBe(2 ** 53 - 1);
  });

  it('accepts 1 and 2^53 − 1, rejects 0, 2^53 and what is not a positive integer', () => {
    expect(isAmount(1)).toBe(true);
    expect(isAmount(AMOUNT_MAX)).toBe(true);
    for (const value of [0, 2 ** 53, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1', 1n, null]) {
      expect(isAmount(value), String(value)).toBe(false);
    }
  });

  it('holds at the edges in events of every kind', () => {
    expect(eventProblem(grantEvent({ amount: 1 }))).toBeNull();
    expect(eventProblem(grantEvent({ amount: AMOUNT_MAX }))).toBeNull();
    expect(eventProblem(grantEvent({ amount: 0 }))).toBe('invalid amount');
    expect(eventProblem(grantEvent({ amount: 2 ** 53 }))).toBe('invalid amount');
    expect(
      eventProblem(debitEvent({ amount: AMOUNT_MAX, parts: [{ grantId: 'g', amount: AMOUNT_MAX }] })),
    ).toBeNull();
    expect(eventProblem(debitEvent({ amount: 2 ** 53, parts: [{ grantId: 'g', amount: 2 ** 53 }] }))).toBe(
      'invalid amount',
    );
    expect(eventProblem(debitEvent({ amount: 0, parts: [] }))).toBe('invalid amount');
    expect(eventProblem(debitEvent({ parts: [{ grantId: 'g', amount: 0 }] }))).toBe(
      'part g has an invalid amount',
    );
    const expire = { kind: 'expire', origin: EU, seq: 1, at: T0, tenant: TENANT, grantId: 'g' };
    expect(eventProblem({ ...expire, amount: 1 } as LedgerEvent)).toBeNull();
    expect(eventProblem({ ...expire, amount: 0 } as LedgerEvent)).toBe('invalid amount');
  });

  it('addChecked sums up to 2^53 − 1 and throws AmountLimitError past it', () => {
    expect(addChecked(AMOUNT_MAX - 1, 1, 'cell')).toBe(AMOUNT_MAX);
    expect(addChecked(AMOUNT_MAX, 0, 'cell')).toBe(AMOUNT_MAX);
    expect(() => addChecked(AMOUNT_MAX, 1, 'debited of grant g')).toThrow(AmountLimitError);
    expect(() => addChecked(AMOUNT_MAX, AMOUNT_MAX, 'cell')).toThrow(AmountLimitError);
    try {
      addChecked(AMOUNT_MAX, 2, 'debited of grant g');
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({
        name: 'AmountLimitError',
        what: 'debited of grant g',
        left: AMOUNT_MAX,
        right: 2,
      });
      expect((error as Error).message).toBe(
        `debited of grant g: ${AMOUNT_MAX} + 2 exceeds the amount limit ${AMOUNT_MAX}`,
      );
    }
    expect(fitsSum(AMOUNT_MAX - 1, 1)).toBe(true);
    expect(fitsSum(AMOUNT_MAX, 1)).toBe(false);
  });

  it('rejects a debit whose grant cell would pass 2^53 − 1, and changes nothing', () => {
    const r = replica();
    grant(r, EU, 'g', AMOUNT_MAX);
    const debited = debit(r, EU, AMOUNT_MAX, 'all');
    const ctx = { origin: EU, now: T0 };
    commit(
      r,
      EU,
      decideRefund(r.state, ctx, {
        tenant: TENANT,
        debitId: eventRecordId(EU, debited.seq),
        idempotencyKey: 'r',
      }),
    );
    expect(figures(r)).toMatchObject({ balance: AMOUNT_MAX, debited: AMOUNT_MAX, refunded: AMOUNT_MAX });
    const before = stateText(r.state);

    const decision = decideDebit(
      r.state,
      { ...ctx, overdraftLimit: 0 },
      { tenant: TENANT, amount: 1, idempotencyKey: 'one', metadata: null },
    );

    expect(decision).toEqual({ status: 'rejected', reason: 'amount_limit', limit: AMOUNT_MAX });
    expect(stateText(r.state)).toBe(before);
  });

  it("rejects a grant that would take the tenant's granted total past 2^53 − 1", () => {
    const r = replica();
    grant(r, EU, 'big', AMOUNT_MAX - 1);
    grant(r, US, 'last', 1);
    expect(figures(r).granted).toBe(AMOUNT_MAX);
    const before = stateText(r.state);

    const request = { tenant: TENANT, grantId: 'more', amount: 1, priority: 100, expiresAt: null };
    expect(decideGrant(r.state, { origin: EU, now: T0 }, request)).toEqual({
      status: 'rejected',
      reason: 'amount_limit',
      limit: AMOUNT_MAX,
    });
    expect(
      decideGrant(r.state, { origin: EU, now: T0 }, { ...request, tenant: 'other', amount: AMOUNT_MAX })
        .status,
    ).toBe('accepted');
    expect(stateText(r.state)).toBe(before);
  });

  it('applyEvent throws AmountLimitError for an event that would overflow a grant cell, and changes nothing', () => {
    const r = replica();
    grant(r, EU, 'g', AMOUNT_MAX);
    const debited = debit(r, EU, AMOUNT_MAX, 'all');
    commit(
      r,
      EU,
      decideRefund(
        r.state,
        { origin: EU, now: T0 },
        { tenant: TENANT, debitId: eventRecordId(EU, debited.seq), idempotencyKey: 'r' },
      ),
    );
    const before = stateText(r.state);
    const seq = seqOf(r.state.versionVector, EU) + 1;

    const overflowing = debitEvent({
      seq,
      amount: 1,
      idempotencyKey: 'one',
      parts: [{ grantId: 'g', amount: 1 }],
    });
    expect(eventProblem(overflowing)).toBeNull();
    expect(() => applyEvent(r.state, overflowing)).toThrow(AmountLimitError);

    expect(stateText(r.state)).toBe(before);
    expect(seqOf(r.state.versionVector, EU)).toBe(seq - 1);
  });

  it('applyEvent throws AmountLimitError for an event that would overflow a tenant cell, and changes nothing', () => {
    const r = replica();
    debit(r, EU, AMOUNT_MAX, 'all', { overdraftLimit: AMOUNT_MAX });
    expect(figures(r).regions.eu).toMatchObject({ overdraftInUse: AMOUNT_MAX });
    const before = stateText(r.state);

    const overflowing = debitEvent({ seq: 2, amount: 1, idempotencyKey: 'one', parts: [], overdraft: 1 });
    expect(() => applyEvent(r.state, overflowing)).toThrow(AmountLimitError);

    expect(stateText(r.state)).toBe(before);
  });
});

describe('tenant ids: 1..128 of [A-Za-z0-9._:-]', () => {
  it('accepts 128 characters and rejects 129', () => {
    expect(TENANT_ID_LENGTH_MAX).toBe(128);
    expect(isTenantId('t'.repeat(128))).toBe(true);
    expect(isTenantId('t'.repeat(129))).toBe(false);
    expect(isTenantId('')).toBe(false);
    expect(eventProblem(grantEvent({ tenant: 't'.repeat(128) }))).toBeNull();
    expect(eventProblem(grantEvent({ tenant: 't'.repeat(129) }))).toBe('invalid tenant');
  });

  it('accepts every allowed character and rejects the others', () => {
    expect(isTenantId('Acme.Corp_2:prod-eu')).toBe(true);
    expect(isTenantId('AZaz09._:-')).toBe(true);
    for (const id of ['a/b', 'a b', 'a#b', 'a@b', 'a%2F', 'é', 'a\nb', 'a+b', '*']) {
      expect(isTenantId(id), JSON.stringify(id)).toBe(false);
    }
    expect(isTenantId(42)).toBe(false);
  });
});

describe('grant ids and idempotency keys: 1..255 printable ASCII', () => {
  it('accepts 255 characters and rejects 256', () => {
    expect(KEY_LENGTH_MAX).toBe(255);
    expect(isKey('k'.repeat(255))).toBe(true);
    expect(isKey('k'.repeat(256))).toBe(false);
    expect(isKey('')).toBe(false);
    expect(eventProblem(debitEvent({ idempotencyKey: 'k'.repeat(255) }))).toBeNull();
    expect(eventProblem(debitEvent({ idempotencyKey: 'k'.repeat(256) }))).toBe('invalid idempotencyKey');
    expect(eventProblem(grantEvent({ grantId: 'g'.repeat(256) }))).toBe('invalid grantId');
  });

  it('accepts printable ASCII from ! to ~ and rejects space, control and non-ASCII characters', () => {
    expect(isKey('!')).toBe(true);
    expect(isKey('~')).toBe(true);
    expect(isKey('order/42?x=1#y')).toBe(true);
    for (const key of ['a b', ' ', 'a\tb', 'a\nb', '\u0000', '\u007f', 'é', 'k\u2028']) {
      expect(isKey(key), JSON.stringify(key)).toBe(false);
    }
  });
});

describe('regions, incarnations and origins', () => {
  it('region ids are 1..32 of [a-z0-9-]', () => {
    for (const region of ['eu', 'us-east-1', '0', 'r'.repeat(32)])
      expect(isRegionId(region), region).toBe(true);
    for (const region of ['', 'r'.repeat(33), 'EU', 'eu_west', 'eu.west', 'eu#1', 'eu west']) {
      expect(isRegionId(region), region).toBe(false);
    }
  });

  it('incarnation ids are 8..32 characters of lowercase base32', () => {
    for (const id of ['aaaaaaaa', 'abcdefg2', 'k3x7ab2c', 'z'.repeat(32)]) {
      expect(isIncarnationId(id), id).toBe(true);
    }
    for (const id of [
      'aaaaaaa',
      'z'.repeat(33),
      'abcdefg1',
      'abcdefg8',
      'abcdefg0',
      'ABCDEFGH',
      'abcd-efg',
    ]) {
      expect(isIncarnationId(id), id).toBe(false);
    }
  });

  it('builds and parses origin ids', () => {
    expect(originId('eu', 'aaaaaaaa')).toBe('eu#aaaaaaaa');
    expect(parseOrigin('us-east-1#bbbbbbbb')).toEqual({ region: 'us-east-1', incarnation: 'bbbbbbbb' });
    expect(regionOf('us-east-1#bbbbbbbb')).toBe('us-east-1');
    expect(isOriginId(EU)).toBe(true);
    for (const value of [
      'eu',
      'eu#',
      '#aaaaaaaa',
      'eu#aaaaaaaa#b',
      'EU#aaaaaaaa',
      'eu#aaaaaaa',
      'eu aaaaaaaa',
    ]) {
      expect(parseOrigin(value), value).toBeNull();
      expect(isOriginId(value), value).toBe(false);
    }
    expect(isOriginId(7)).toBe(false);
  });

  it('parses the same, in any order and past what its memo keeps, and never remembers an invalid id', () => {
    // More distinct origins than the memo holds (1,024), each asked twice, interleaved with
    // invalid ids that share their text up to the last character.
    const regions = Array.from({ length: 1_500 }, (_, i) => `r${i.toString(36)}`);
    for (let round = 0; round < 2; round++)
      for (const region of regions) {
        const origin = `${region}#aaaaaaaa`;
        expect(parseOrigin(origin)).toEqual({ region, incarnation: 'aaaaaaaa' });
        expect(regionOf(origin)).toBe(region);
        expect(parseOrigin(`${region}#aaaaaaa`)).toBeNull();
        expect(parseOrigin(`${region.toUpperCase()}#aaaaaaaa`)).toBeNull();
      }
  });

  it('refuses to build or read invalid origin ids', () => {
    expect(() => originId('EU', 'aaaaaaaa')).toThrow(TypeError);
    expect(() => originId('eu', 'aaaa')).toThrow(TypeError);
    expect(() => originId('eu', 'aaaaaaa1')).toThrow(TypeError);
    expect(() => regionOf('eu')).toThrow(TypeError);
  });
});

describe('debit and refund ids', () => {
  it('round-trips (origin, seq) through its id', () => {
    expect(eventRecordId(EU, 42)).toBe('eu.aaaaaaaa.42');
    for (const seq of [1, 42, AMOUNT_MAX]) {
      expect(parseEventRecordId(eventRecordId(US, seq))).toEqual({ origin: US, seq });
    }
    const region = originId('us-east-1', 'bbbbbbbb');
    expect(parseEventRecordId(eventRecordId(region, 7))).toEqual({ origin: region, seq: 7 });
  });

  it('rejects what is not an id', () => {
    for (const id of [
      '',
      'eu.aaaaaaaa',
      'eu.aaaaaaaa.0',
      'eu.aaaaaaaa.042',
      'eu.aaaaaaaa.-1',
      'eu.aaaaaaaa.1.5',
      'eu.aaaaaaaa.1e3',
      'eu.aaaaaaaa. 1',
      'eu.aaaaaaaa.9007199254740992',
      'eu.aaaaaaaa.12345678901234567',
      'eu#aaaaaaaa.1',
      'EU.aaaaaaaa.1',
      'eu.aaaaaaa.1',
      'eu.AAAAAAAA.1',
    ]) {
      expect(parseEventRecordId(id), id).toBeNull();
    }
    expect(eventProblem({ ...debitEvent(), kind: 'refund', debitId: 'eu.aaaaaaaa.0' } as LedgerEvent)).toBe(
      'invalid debitId',
    );
  });

  it('refuses an invalid origin', () => {
    expect(() => eventRecordId('eu', 1)).toThrow(TypeError);
  });
});

describe('other limits of an event', () => {
  it(`priority ${PRIORITY_MIN}..${PRIORITY_MAX}`, () => {
    expect(eventProblem(grantEvent({ priority: PRIORITY_MIN }))).toBeNull();
    expect(eventProblem(grantEvent({ priority: PRIORITY_MAX }))).toBeNull();
    for (const priority of [PRIORITY_MIN - 1, PRIORITY_MAX + 1, 1.5, null]) {
      expect(eventProblem(grantEvent({ priority })), String(priority)).toBe('invalid priority');
    }
  });

  it(`times 0..${TIME_MS_MAX} ms`, () => {
    expect(eventProblem(grantEvent({ at: 0 }))).toBeNull();
    expect(eventProblem(grantEvent({ at: TIME_MS_MAX, expiresAt: TIME_MS_MAX }))).toBeNull();
    expect(eventProblem(grantEvent({ at: -1 }))).toBe('invalid time');
    expect(eventProblem(grantEvent({ at: TIME_MS_MAX + 1 }))).toBe('invalid time');
    expect(eventProblem(grantEvent({ expiresAt: TIME_MS_MAX + 1 }))).toBe('invalid expiresAt');
    expect(eventProblem(grantEvent({ expiresAt: -1 }))).toBe('invalid expiresAt');
  });

  it(`at most ${PARTS_MAX} parts`, () => {
    const parts = (n: number) => Array.from({ length: n }, (_, i) => ({ grantId: `g${i}`, amount: 1 }));

    expect(eventProblem(debitEvent({ amount: PARTS_MAX, parts: parts(PARTS_MAX) }))).toBeNull();
    expect(eventProblem(debitEvent({ amount: PARTS_MAX + 1, parts: parts(PARTS_MAX + 1) }))).toBe(
      `more than ${PARTS_MAX} parts`,
    );
  });

  it(`at most ${ORIGINS_MAX} origins in one ledger`, () => {
    const state = createLedgerState();
    const origin = (i: number) => originId(`r${i}`, 'aaaaaaaa');
    let applied = 0;
    for (let i = 0; i < ORIGINS_MAX; i++) {
      if (applyEvent(state, grantEvent({ origin: origin(i), amount: 1 })) === 'applied') applied++;
    }
    expect(applied).toBe(ORIGINS_MAX);
    const before = stateText(state);

    expect(() => applyEvent(state, grantEvent({ origin: origin(ORIGINS_MAX), amount: 1 }))).toThrow(
      LedgerInvariantError,
    );
    expect(stateText(state)).toBe(before);
  });
});
