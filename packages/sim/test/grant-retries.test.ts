/**
 * Issue 17 in the simulator: clients retry a grant at another region across a partition. Both
 * regions accept it; after the merge each grant id counts once (S5), every losing definition is
 * revoked (S6), and the bound holds (S1) also when the duplicate was spent before the revoke.
 */
import { runSimulation, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';

/** simulations/duplicate-grants.yaml, as its YAML reads. */
const DUPLICATE_GRANTS = validateScenario({
  name: 'duplicate-grants',
  regions: ['eu', 'us', 'ap'],
  durationS: 15,
  quietS: 20,
  rebalancing: 'adaptive',
  network: { delayMs: { min: 10, max: 60 }, loss: 0, duplicate: 0.01, reorder: 0.02 },
  tenants: [
    {
      tenant: 'acme',
      grants: [
        { grantId: 'acme-base', amount: 2000, region: 'us', atS: 0 },
        {
          grantId: 'topup-2026-11',
          amount: 3000,
          region: 'eu',
          atS: 3,
          retry: { region: 'ap', afterS: 0.5 },
        },
        { grantId: 'topup-2026-12', amount: 1500, region: 'ap', atS: 5, retry: { region: 'us', afterS: 1 } },
      ],
      overdraft: { eu: 20, us: 20, ap: 20 },
      rates: [
        { region: 'eu', perSecond: 20, shape: 'steady' },
        { region: 'us', perSecond: 10, shape: 'steady' },
        { region: 'ap', perSecond: 25, shape: 'bursty' },
      ],
      debitAmount: { min: 5, max: 25 },
    },
  ],
  faults: [{ kind: 'isolate', region: 'ap', atS: 2, forS: 6 }],
});

describe('grants retried at another region', () => {
  it('simulations/duplicate-grants.yaml: both regions accept, each grant id counts once', async () => {
    const result = await runSimulation(DUPLICATE_GRANTS, 1);
    expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
    const accepted = result.history.filter(
      (record) =>
        record.type === 'grant' && record.grantId.startsWith('topup') && record.result === 'accepted',
    );
    expect(accepted.map((record) => (record.type === 'grant' ? record.region : null)).sort()).toEqual([
      'ap',
      'ap',
      'eu',
      'us',
    ]);
    expect(result.verdicts.find((verdict) => verdict.invariant === 'S6')?.note).toContain(
      '2 grant ids defined at two regions, revoked',
    );
  });

  it('a duplicate spent in full while cut off: revoked within the bound, S1–S6 hold', async () => {
    const scenario = validateScenario({
      name: 'spent-duplicate',
      regions: ['eu', 'us', 'ap'],
      durationS: 8,
      quietS: 15,
      rebalancing: 'static',
      network: { delayMs: { min: 5, max: 20 }, loss: 0, duplicate: 0, reorder: 0 },
      tenants: [
        {
          tenant: 't',
          grants: [
            { grantId: 'topup', amount: 300, region: 'eu', atS: 0, retry: { region: 'ap', afterS: 0.5 } },
          ],
          overdraft: { ap: 10 },
          rates: [
            { region: 'eu', perSecond: 30, shape: 'steady' },
            { region: 'ap', perSecond: 30, shape: 'steady' },
          ],
          debitAmount: { min: 5, max: 15 },
        },
      ],
      faults: [{ kind: 'isolate', region: 'ap', atS: 0, forS: 6 }],
    });
    const result = await runSimulation(scenario, 7);
    expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
  });
});
