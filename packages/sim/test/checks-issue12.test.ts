/** The checks of issue 12 over hand-made histories: S7 (holds end once) and F1 (no false declines while whole). */
import {
  checkF1,
  checkS7,
  type FinalState,
  type HistoryRecord,
  type Scenario,
  SIM_EPOCH_MS,
} from '@allot/sim';
import { describe, expect, it } from 'vitest';

const scenario: Scenario = {
  name: 'hand-made',
  description: '',
  regions: ['eu', 'us'],
  durationS: 1,
  quietS: 1,
  rebalancing: 'adaptive',
  network: { delayMs: { min: 1, max: 1 }, loss: 0, duplicate: 0, reorder: 0 },
  tenants: [],
  faults: [],
};

function finalWith(holds: NonNullable<FinalState['ledger'][string]['holds']>, t = 10_000): FinalState {
  return {
    t,
    wallClockMs: SIM_EPOCH_MS + t,
    lostOrigins: [],
    down: [],
    regions: {},
    ledger: { acme: { grants: { g1: 1000 }, debits: {}, refunds: {}, holds } },
  };
}

describe('S7: holds end once, within the bound', () => {
  it('holds for holds that ended once, capture ≤ hold and release = hold − captured', () => {
    const final = finalWith({
      'eu.a.1': {
        amount: 100,
        expiresAt: SIM_EPOCH_MS + 5_000,
        ends: [{ kind: 'capture', captured: 40, released: 60 }],
      },
      'eu.a.2': {
        amount: 100,
        expiresAt: SIM_EPOCH_MS + 5_000,
        ends: [{ kind: 'release', captured: 0, released: 100 }],
      },
      'eu.a.3': { amount: 100, expiresAt: SIM_EPOCH_MS + 9_000, ends: [] }, // active, not yet past its bound
    });
    expect(checkS7({ scenario, history: [], final })).toMatchObject({
      invariant: 'S7',
      holds: true,
      violations: 0,
    });
  });

  it('fails on a hold ended twice, a capture above the hold, a release that is not the rest, and one held too long', () => {
    const final = finalWith(
      {
        twice: {
          amount: 100,
          expiresAt: SIM_EPOCH_MS,
          ends: [
            { kind: 'capture', captured: 100, released: 0 },
            { kind: 'release', captured: 0, released: 100 },
          ],
        },
        over: {
          amount: 100,
          expiresAt: SIM_EPOCH_MS,
          ends: [{ kind: 'capture', captured: 101, released: 0 }],
        },
        leak: {
          amount: 100,
          expiresAt: SIM_EPOCH_MS,
          ends: [{ kind: 'capture', captured: 30, released: 60 }],
        },
        stuck: { amount: 100, expiresAt: SIM_EPOCH_MS, ends: [] },
      },
      120_000,
    );
    const verdict = checkS7({ scenario, history: [], final });
    expect(verdict.holds).toBe(false);
    expect(verdict.violations).toBe(5);
    expect(verdict.first?.detail).toMatch(/twice|2 times/);
    expect(verdict.worst?.detail).toMatch(/stuck|captured 101|ended 2/);
  });
});

describe('S7 and lost incarnations', () => {
  const lost = 'eu#aaaaaaaa';
  const stranded = { amount: 100, expiresAt: SIM_EPOCH_MS, ends: [] };
  const retire = (t: number): HistoryRecord => ({
    type: 'retire',
    t,
    region: 'eu',
    origin: lost,
    result: 'retired',
    through: 1,
    detail: '',
  });
  const final = { ...finalWith({ 'eu.aaaaaaaa.1': stranded }, 120_000), lostOrigins: [lost] };

  it('a hold of a lost incarnation not retired stays held: stranded, not late', () => {
    const verdict = checkS7({ scenario, history: [], final });
    expect(verdict).toMatchObject({ holds: true, violations: 0 });
    expect(verdict.note).toContain('1 held by lost incarnations not retired (stranded)');
  });

  it('once retired, the bound runs from the retire', () => {
    expect(checkS7({ scenario, history: [retire(100_000)], final })).toMatchObject({ holds: true });
    const late = checkS7({ scenario, history: [retire(10_000)], final });
    expect(late).toMatchObject({ holds: false, violations: 1 });
    expect(late.first?.detail).toContain('still held');
  });
});

describe('F1: no false declines while the cluster is whole', () => {
  const decline = (extra: Partial<Extract<HistoryRecord, { type: 'debit' }>>): HistoryRecord => ({
    type: 'debit',
    t: 100,
    region: 'eu',
    tenant: 'acme',
    key: 'k',
    amount: 10,
    result: 'declined',
    falseDecline: true,
    latencyMs: 50,
    ...extra,
  });

  it('counts a decline the whole cluster could have paid, and only that', () => {
    const history = [
      decline({ healthyCovered: true, declineReason: 'timeout', waited: true }),
      decline({ declineReason: 'unreachable' }), // during a fault: not counted here
      decline({ healthyCovered: true, falseDecline: false }), // the true ledger could not pay it
    ];
    const verdict = checkF1({ scenario, history });
    expect(verdict).toMatchObject({ invariant: 'F1', holds: false, violations: 1 });
    expect(verdict.first?.detail).toMatch(/declined at eu \(timeout\)/);
    expect(checkF1({ scenario, history: history.slice(1) }).holds).toBe(true);
  });

  it('a decline that lost the last credits to debits still in flight is contention, not a false one', () => {
    // 12 credits at the answer (t 100); two debits of 5, requested before it and accepted after it,
    // take 10 of them: 2 are left, less than the 10 declined.
    const inFlight = (key: string, t: number, latencyMs: number): HistoryRecord => ({
      type: 'debit',
      t,
      region: 'ap',
      tenant: 'acme',
      key,
      amount: 5,
      result: 'accepted',
      falseDecline: false,
      latencyMs,
    });
    const declined = decline({ healthyCovered: true, declineReason: 'timeout', trueCredits: 12 });
    const contended = [declined, inFlight('a', 130, 60), inFlight('b', 150, 70)];
    expect(checkF1({ scenario, history: contended })).toMatchObject({ holds: true, violations: 0 });
    expect(checkF1({ scenario, history: contended }).note).toMatch(/1 lost the last credits/);
    // Accepted before the answer (already out of the 12), or requested after it: they took nothing
    // the declined debit could have had, so it is a false decline.
    const unrelated = [declined, inFlight('a', 90, 20), inFlight('b', 150, 40)];
    expect(checkF1({ scenario, history: unrelated })).toMatchObject({ holds: false, violations: 1 });
    // Enough left after what was in flight: false.
    const plenty = [{ ...declined, trueCredits: 20 } as HistoryRecord, inFlight('a', 130, 60)];
    expect(checkF1({ scenario, history: plenty })).toMatchObject({ holds: false, violations: 1 });
  });

  it('credits made at another region within the maximum one-way delay could not be seen: an older one could', () => {
    // Links of up to 124 ms; eu declines 10 at t 1,000 with 20 live credits in the true ledger,
    // 15 of them from a grant at us.
    const slow: Scenario = { ...scenario, network: { ...scenario.network, delayMs: { min: 10, max: 124 } } };
    const declined = decline({ t: 1_000, healthyCovered: true, declineReason: 'timeout', trueCredits: 20 });
    const credit = (type: 'grant' | 'refund', region: string, t: number): HistoryRecord =>
      type === 'grant'
        ? { type, t, region, tenant: 'acme', grantId: 'g9', amount: 15, result: 'accepted' }
        : { type, t, region, tenant: 'acme', debitId: 'us.a.1', amount: 15, result: 'accepted' };
    for (const type of ['grant', 'refund'] as const) {
      // 19 ms before the decline (seed 3487): no frame from us could have reached eu yet.
      const fresh = checkF1({ scenario: slow, history: [credit(type, 'us', 981), declined] });
      expect(fresh).toMatchObject({ holds: true, violations: 0 });
      expect(fresh.note).toMatch(/1 needed credits made elsewhere too recently/);
      // 124 ms before (the maximum delay) or earlier: eu could have known of it, so a false decline.
      for (const t of [876, 500])
        expect(checkF1({ scenario: slow, history: [credit(type, 'us', t), declined] })).toMatchObject({
          holds: false,
          violations: 1,
        });
      // Made at eu itself: known there at once.
      expect(checkF1({ scenario: slow, history: [credit(type, 'eu', 981), declined] })).toMatchObject({
        holds: false,
        violations: 1,
      });
      // Made after the answer: not in trueCredits' reckoning of what eu could not see.
      expect(checkF1({ scenario: slow, history: [declined, credit(type, 'us', 1_001)] })).toMatchObject({
        holds: false,
        violations: 1,
      });
    }
  });

  it('credits a hold frees at another region count as made when it ends: settled, or at its expiry (holds seed 6886)', () => {
    // Links of up to 124 ms; eu declines 10 at t 1,000 with 20 live credits, 15 of them freed by a
    // hold of 15 at us. us holds with a time to live of 0.5 s.
    const holding: Scenario = {
      ...scenario,
      network: { ...scenario.network, delayMs: { min: 10, max: 124 } },
      tenants: [
        {
          tenant: 'acme',
          grants: [{ grantId: 'g1', amount: 1000, region: 'us', atS: 0 }],
          rates: [],
          debitAmount: { min: 1, max: 1 },
          holds: { region: 'us', perSecond: 1, maxAmount: 15, ttlS: 0.5 },
        },
      ],
    };
    const declined = decline({ t: 1_000, healthyCovered: true, declineReason: 'timeout', trueCredits: 20 });
    const hold = (t: number): HistoryRecord => ({
      type: 'hold',
      t,
      region: 'us',
      tenant: 'acme',
      key: 'h1',
      amount: 15,
      result: 'accepted',
      holdId: 'us.a.7',
      latencyMs: 2,
    });
    const voided = (t: number): HistoryRecord => ({
      type: 'settle',
      t,
      region: 'eu',
      tenant: 'acme',
      holdId: 'us.a.7',
      action: 'void',
      result: 'accepted',
      latencyMs: 40,
    });
    // Left to expire 490 ms after it was asked (at 992 ms): eu could not have seen it by 1,000.
    const expired = checkF1({ scenario: holding, history: [hold(502), declined] });
    expect(expired).toMatchObject({ holds: true, violations: 0 });
    expect(expired.note).toMatch(/1 needed credits made elsewhere too recently/);
    // Expired long before (asked at 100 ms): a false decline.
    expect(checkF1({ scenario: holding, history: [hold(102), declined] })).toMatchObject({ violations: 1 });
    // Voided (forwarded to us) and answered 20 ms before: unseen. Voided long before: false.
    expect(checkF1({ scenario: holding, history: [hold(102), voided(980), declined] }).holds).toBe(true);
    expect(checkF1({ scenario: holding, history: [hold(102), voided(600), declined] })).toMatchObject({
      violations: 1,
    });
  });

  it('credits made at the declining region less than a round trip before, payable only with credits elsewhere, are left out', () => {
    // Links of up to 46 ms; us declines 19 at t 1,000 with 28 live credits, 16 of them from a refund
    // at us itself and 12 at eu (soak seed 5913): the rest is an ask and a move away.
    const links: Scenario = { ...scenario, network: { ...scenario.network, delayMs: { min: 26, max: 46 } } };
    const declined = decline({ t: 1_000, region: 'us', amount: 19, healthyCovered: true, trueCredits: 28 });
    const refund = (amount: number, t: number): HistoryRecord => ({
      type: 'refund',
      t,
      region: 'us',
      tenant: 'acme',
      debitId: 'us.a.1',
      amount,
      result: 'accepted',
    });
    const gathering = checkF1({ scenario: links, history: [refund(16, 982), declined] });
    expect(gathering).toMatchObject({ holds: true, violations: 0 });
    expect(gathering.note).toMatch(
      /1 were payable only with credits made at the region less than a round trip/,
    );
    // A round trip (92 ms) before or earlier: there was time to gather the rest, so a false decline.
    for (const t of [908, 500])
      expect(checkF1({ scenario: links, history: [refund(16, t), declined] })).toMatchObject({
        holds: false,
        violations: 1,
      });
    // Enough alone to pay it: the region pays its waiting debits from its own refunds at once.
    expect(
      checkF1({
        scenario: links,
        history: [refund(19, 982), { ...declined, trueCredits: 31 } as HistoryRecord],
      }),
    ).toMatchObject({ holds: false, violations: 1 });
    // The cluster could pay it without the refund: false.
    expect(
      checkF1({
        scenario: links,
        history: [refund(16, 982), { ...declined, trueCredits: 40 } as HistoryRecord],
      }),
    ).toMatchObject({ holds: false, violations: 1 });
  });
});
