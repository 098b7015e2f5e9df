/** A hand-made clean run the checker tests break one way at a time. */
import type { CheckInput, FinalState, HistoryRecord, Scenario } from '@allot/sim';

export const EU = 'eu#aaaaaaaa';
export const US = 'us#bbbbbbbb';

export const scenario: Scenario = {
  name: 'hand-made',
  description: '',
  regions: ['eu', 'us'],
  durationS: 1,
  quietS: 1,
  rebalancing: 'adaptive',
  network: { delayMs: { min: 1, max: 1 }, loss: 0, duplicate: 0, reorder: 0 },
  tenants: [
    {
      tenant: 'acme',
      grants: [{ grantId: 'g1', amount: 100, region: 'eu', atS: 0 }],
      overdraft: { us: 5 },
      rates: [],
      debitAmount: { min: 1, max: 50 },
    },
  ],
  faults: [],
};

export const ledger = (granted: number, debited: number, refunded = 0, expired = 0) => ({
  granted,
  debited,
  refunded,
  expired,
});

/** A clean run: a grant of 100 at eu, a debit of 30 at eu, one of 10 at us, a refund of 5. */
export function clean(): { history: HistoryRecord[]; final: FinalState } {
  const history: HistoryRecord[] = [
    {
      type: 'grant',
      t: 0,
      region: 'eu',
      tenant: 'acme',
      grantId: 'g1',
      amount: 100,
      result: 'accepted',
      origin: EU,
    },
    {
      type: 'debit',
      t: 10,
      region: 'eu',
      tenant: 'acme',
      key: 'k1',
      amount: 30,
      result: 'accepted',
      falseDecline: false,
      latencyMs: 2,
      debitId: 'eu.aaaaaaaa.3',
      ledger: ledger(100, 30),
    },
    {
      type: 'debit',
      t: 20,
      region: 'us',
      tenant: 'acme',
      key: 'k2',
      amount: 10,
      result: 'accepted',
      falseDecline: false,
      latencyMs: 2,
      debitId: 'us.bbbbbbbb.1',
      ledger: ledger(100, 40),
    },
    {
      type: 'refund',
      t: 30,
      region: 'eu',
      tenant: 'acme',
      debitId: 'eu.aaaaaaaa.3',
      amount: 5,
      result: 'accepted',
      refundId: 'eu.aaaaaaaa.4',
      key: 'refund:eu.aaaaaaaa.3',
    },
    {
      type: 'sample',
      t: 100,
      tenant: 'acme',
      truth: 65,
      views: { eu: { balance: 65, rights: 45 }, us: { balance: 65, rights: 20 } },
      ledger: ledger(100, 40, 5),
      overdraftBound: 5,
      origins: {
        [EU]: { region: 'eu', rightsMin: 0, overdraftInUseMax: 0 },
        [US]: { region: 'us', rightsMin: 0, overdraftInUseMax: 0 },
      },
    },
    { type: 'converged', t: 150, afterHealMs: 150, healAt: 0, final: true },
  ];
  const region = (origin: string) => ({
    origin,
    versionVector: { [EU]: 4, [US]: 1 },
    snapshotSha256: 'same',
    tenants: [{ tenant: 'acme', balance: 65, granted: 100, debited: 40, refunded: 5, expired: 0 }],
  });
  const final: FinalState = {
    t: 200,
    lostOrigins: [],
    down: [],
    regions: { eu: region(EU), us: region(US) },
    written: { [EU]: [['e1'], ['e2'], ['e3'], ['e4']], [US]: [['u1']] },
    hostile: { tampered: 0, forgedPolicies: [], policies: { eu: { acme: null }, us: { acme: null } } },
    ledger: {
      acme: {
        grants: { g1: 100 },
        debits: { 'eu.aaaaaaaa.3': { key: 'k1', amount: 30 }, 'us.bbbbbbbb.1': { key: 'k2', amount: 10 } },
        refunds: { 'eu.aaaaaaaa.4': { debitId: 'eu.aaaaaaaa.3', amount: 5, key: 'refund:eu.aaaaaaaa.3' } },
      },
    },
  };
  return { history, final };
}

export function input(change?: (run: { history: HistoryRecord[]; final: FinalState }) => void): CheckInput {
  const run = clean();
  change?.(run);
  return { scenario, history: run.history, final: run.final };
}
