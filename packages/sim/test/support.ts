/** Small scenarios for the simulator's tests. */
import {
  type Fault,
  type HistoryRecord,
  type Scenario,
  type SimulationResult,
  type TenantSpec,
  validateScenario,
} from '@allot/sim';
import { expect } from 'vitest';

/** Three regions, one tenant with 3,000 credits granted at eu, 20 debits/s at each region. */
export function smallScenario(
  faults: readonly Fault[],
  overrides: Partial<Scenario> = {},
  tenant: Partial<TenantSpec> = {},
): Scenario {
  return validateScenario({
    name: 'small',
    regions: ['eu', 'us', 'ap'],
    durationS: 8,
    quietS: 12,
    network: { delayMs: { min: 10, max: 30 } },
    tenants: [
      {
        tenant: 'acme',
        grants: [{ grantId: 'g1', amount: 3_000, region: 'eu', atS: 0 }],
        rates: [
          { region: 'eu', perSecond: 20 },
          { region: 'us', perSecond: 20 },
          { region: 'ap', perSecond: 20 },
        ],
        debitAmount: { min: 1, max: 5 },
        ...tenant,
      },
    ],
    faults,
    ...overrides,
  });
}

/** The debit answers of a region within [fromMs, toMs), by result. */
export function debitResults(
  history: readonly HistoryRecord[],
  region: string,
  fromMs = 0,
  toMs = Number.POSITIVE_INFINITY,
): Record<string, number> {
  const results: Record<string, number> = {};
  for (const record of history) {
    if (record.type !== 'debit' || record.region !== region || record.t < fromMs || record.t >= toMs)
      continue;
    results[record.result] = (results[record.result] ?? 0) + 1;
  }
  return results;
}

/** The samples of one tenant. */
export function samples(
  history: readonly HistoryRecord[],
  tenant = 'acme',
): Extract<HistoryRecord, { type: 'sample' }>[] {
  return history.filter(
    (record): record is Extract<HistoryRecord, { type: 'sample' }> =>
      record.type === 'sample' && record.tenant === tenant,
  );
}

/** Asserts that every invariant holds, printing the failing verdicts and the replay command otherwise. */
export function expectAllHold(result: SimulationResult): void {
  const failing = result.verdicts.filter((verdict) => !verdict.holds);
  if (failing.length > 0) console.error(`replay: ${result.replay}\n${JSON.stringify(failing, null, 2)}`);
  expect(failing).toEqual([]);
}
