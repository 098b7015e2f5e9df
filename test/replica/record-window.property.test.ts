/**
 * Property (issue 18): a replica with any record window (0, 1, a few records) answers every
 * sequence of debits, batches with repeated keys, replays, refunds and restarts exactly as one
 * that keeps every record in memory, and ends with the same balance: records off the heap are read
 * back from its log (pending batches or the store) whenever a decision needs them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Harness, harness, settle } from './support.js';

type Op =
  | { kind: 'debit'; tenant: number; key: number; amount: number; meta: number }
  | { kind: 'batch'; keys: number[]; amount: number }
  | { kind: 'refund'; debit: number; amount: number | null; key: number }
  | { kind: 'restart' };

const TENANTS = ['acme', 'beta'];

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('debit' as const),
      tenant: fc.integer({ min: 0, max: 1 }),
      key: fc.integer({ min: 0, max: 8 }),
      amount: fc.integer({ min: 1, max: 30 }),
      meta: fc.integer({ min: 0, max: 1 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('batch' as const),
      keys: fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 5 }),
      amount: fc.integer({ min: 1, max: 5 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      debit: fc.nat(),
      amount: fc.option(fc.integer({ min: 1, max: 15 })),
      key: fc.integer({ min: 0, max: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

/** What a client sees of an outcome: status, and the record it names (no clock-dependent figures). */
function seen(outcome: { status: string; debit?: unknown; refund?: unknown; requested?: unknown }): string {
  const { status, debit, refund, requested } = outcome as Record<string, unknown>;
  return JSON.stringify({ status, debit, refund, requested });
}

async function play(records: number | undefined, ops: readonly Op[]): Promise<string[]> {
  const h: Harness = await harness(records === undefined ? {} : { recordWindowRecords: records });
  for (const tenant of TENANTS)
    await settle(
      h.clock,
      h.replica.grant({ tenant, grantId: 'g', amount: 1_000, priority: 1, expiresAt: null }),
    );
  const answers: string[] = [];
  const debitIds: string[] = [];
  const note = (outcome: { status: string; debit?: { debitId: string } }) => {
    if (outcome.status === 'accepted' && outcome.debit !== undefined) debitIds.push(outcome.debit.debitId);
    answers.push(seen(outcome));
  };
  for (const step of ops) {
    if (step.kind === 'debit') {
      const request = {
        tenant: TENANTS[step.tenant] as string,
        amount: step.amount,
        idempotencyKey: `k${step.key}`,
        metadata: { m: step.meta } as never,
      };
      note(await settle(h.clock, h.replica.debit(request)));
    } else if (step.kind === 'batch') {
      const outcomes = await settle(
        h.clock,
        h.replica.debitMany(
          step.keys.map((key) => ({
            tenant: 'acme',
            amount: step.amount,
            idempotencyKey: `k${key}`,
            metadata: { m: 0 } as never,
          })),
        ),
      );
      for (const outcome of outcomes) note(outcome);
    } else if (step.kind === 'refund') {
      const debitId = debitIds[step.debit % Math.max(1, debitIds.length)] ?? 'eu.aaaaaaaa.999';
      const outcome = await settle(
        h.clock,
        h.replica.refund({
          tenant: 'acme',
          debitId,
          idempotencyKey: `r${step.key}`,
          ...(step.amount === null ? {} : { amount: step.amount }),
        }),
      );
      answers.push(seen(outcome));
    } else {
      await h.reopen(h.store.crash());
    }
  }
  for (const tenant of TENANTS) {
    const balance = h.replica.balance(tenant);
    answers.push(JSON.stringify([balance?.balance, balance?.debited, balance?.refunded]));
  }
  await h.replica.close();
  return answers;
}

describe('record window (replica)', () => {
  it('with any window size, answers and balances equal those with every record in memory', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 1, maxLength: 25 }),
        fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 6 })),
        async (ops, records) => {
          expect(await play(records, ops)).toEqual(await play(undefined, ops));
        },
      ),
      { numRuns: 40 },
    );
  });
});
