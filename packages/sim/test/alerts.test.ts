/**
 * Alerts in the simulator (issue 13): a workload sets alert thresholds; regions spend the tenant
 * down across a partition; once links heal, A1 holds (every threshold the truth crossed and ends
 * below was alerted at some region), and alerts of one crossing carry one id wherever raised.
 */
import { crossingsOf, runSimulation, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';

const SPEND_DOWN = validateScenario({
  name: 'alerts-spend-down',
  regions: ['eu', 'us', 'ap'],
  durationS: 12,
  quietS: 15,
  rebalancing: 'adaptive',
  network: { delayMs: { min: 10, max: 60 }, loss: 0.01, duplicate: 0.01, reorder: 0.02 },
  tenants: [
    {
      tenant: 'acme',
      grants: [
        { grantId: 'base', amount: 6000, region: 'us', atS: 1 },
        { grantId: 'topup', amount: 1500, region: 'eu', atS: 6 },
      ],
      alerts: [{ below: 2500 }, { belowPercent: 20 }],
      rates: [
        { region: 'eu', perSecond: 20, shape: 'steady', fromS: 2 },
        { region: 'us', perSecond: 15, shape: 'steady', fromS: 2 },
        { region: 'ap', perSecond: 25, shape: 'bursty', fromS: 2 },
      ],
      debitAmount: { min: 5, max: 20 },
    },
  ],
  faults: [{ kind: 'isolate', region: 'ap', atS: 3, forS: 5 }],
});

describe('alerts in the simulator', () => {
  it('every threshold the truth crossed is alerted once links heal, with one id per crossing', async () => {
    const result = await runSimulation(SPEND_DOWN, 3);
    expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
    const a1 = result.verdicts.find((verdict) => verdict.invariant === 'A1');
    expect(a1?.holds).toBe(true);
    expect(a1?.note).toMatch(/^[1-9]\d* crossed thresholds checked/);
    const alerts = result.history.filter((record) => record.type === 'alert');
    expect(alerts.length).toBeGreaterThan(0);
    // Each id names one (tenant, threshold): a receiver deduping by id never merges two thresholds.
    const ruleOf = new Map<string, string>();
    for (const alert of alerts) {
      if (alert.type !== 'alert') continue;
      expect(ruleOf.get(alert.alertId) ?? alert.rule).toBe(alert.rule);
      ruleOf.set(alert.alertId, alert.rule);
    }
  });

  it('counts crossings of the truth with hysteresis', () => {
    const ledger = (balance: number) => ({ granted: 1000, debited: 1000 - balance, refunded: 0, expired: 0 });
    const series = [1000, 400, 520, 480, 600, 300].map((balance, t) => ({ t, ledger: ledger(balance) }));
    expect(crossingsOf(series, { below: 500 })).toEqual([1, 5]);
  });
});
