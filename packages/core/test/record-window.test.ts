/**
 * Issue 18: a ledger with a record window answers every debit, replay and refund as one that keeps
 * every record in memory, given the records it asks to recall; a fingerprint collision never
 * answers the wrong record; the key index stays within its byte budget.
 */
import {
  applyEvent,
  canonicalJson,
  createLedgerState,
  decideDebit,
  decideGrant,
  decideRefund,
  eventRecordId,
  type Fingerprinter,
  KeyIndex,
  type LedgerEvent,
  type LedgerState,
  makeEvent,
  mayHoldDebitOf,
  type RecalledRecord,
  type RecordWindowOptions,
  recordFromEvent,
  seqOf,
  type TenantEventBody,
  tenantFigures,
} from '@allot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EU, T0 } from './support.js';

const HOUR = 60 * 60 * 1000;

/** A one-origin ledger whose decisions recall what they ask for from its own log. */
class Ledger {
  readonly state: LedgerState;
  readonly log = new Map<string, LedgerEvent>();
  recalls = 0;

  constructor(recordWindow?: RecordWindowOptions) {
    this.state = createLedgerState(recordWindow === undefined ? {} : { recordWindow });
  }

  /** Runs `decide` until it stops asking for records (each round recalls what it named). */
  decide<T extends { readonly status: string }>(decide: (recalled: Map<string, RecalledRecord>) => T): T {
    const recalled = new Map<string, RecalledRecord>();
    for (let round = 0; round < 10; round++) {
      const decision = decide(recalled);
      if (decision.status !== 'recall') return decision;
      this.recalls += 1;
      for (const id of (decision as unknown as { ids: string[] }).ids) {
        const event = this.log.get(id);
        recalled.set(id, event === undefined ? null : recordFromEvent(event));
      }
    }
    throw new Error('recall did not converge');
  }

  append(body: TenantEventBody, at: number): void {
    const event = makeEvent({ origin: EU, seq: seqOf(this.state.versionVector, EU) + 1, at }, body);
    expect(applyEvent(this.state, event)).toBe('applied');
    this.log.set(eventRecordId(event.origin, event.seq), event);
  }

  /** Decides and appends an accepted decision; returns the decision's JSON for comparison. */
  run<T extends { readonly status: string }>(
    decide: (recalled: Map<string, RecalledRecord>) => T,
    at: number,
  ): string {
    const decision = this.decide(decide);
    if (decision.status === 'accepted')
      this.append((decision as unknown as { body: TenantEventBody }).body, at);
    return canonicalJson(decision as never);
  }
}

type Op =
  | { kind: 'debit'; tenant: number; key: number; amount: number; meta: number }
  | { kind: 'refund'; tenant: number; debit: number; amount: number | null; key: number };

const TENANTS = ['acme', 'beta'];

function play(ledger: Ledger, ops: readonly Op[], debitIds: string[]): string[] {
  const answers: string[] = [];
  for (const tenant of TENANTS)
    ledger.run(
      (_recalled) =>
        decideGrant(
          ledger.state,
          { origin: EU, now: T0 },
          { tenant, grantId: 'g', amount: 1_000, priority: 1, expiresAt: null },
        ),
      T0,
    );
  ops.forEach((op, i) => {
    const now = T0 + i * 1000;
    const tenant = TENANTS[op.tenant] as string;
    if (op.kind === 'debit') {
      const request = { tenant, amount: op.amount, idempotencyKey: `k${op.key}`, metadata: { m: op.meta } };
      const answer = ledger.run(
        (recalled) => decideDebit(ledger.state, { origin: EU, now, overdraftLimit: 5 }, request, recalled),
        now,
      );
      const accepted = JSON.parse(answer) as { status: string };
      if (accepted.status === 'accepted')
        debitIds.push(eventRecordId(EU, seqOf(ledger.state.versionVector, EU)));
      answers.push(answer);
    } else {
      const debitId = debitIds[op.debit % Math.max(1, debitIds.length)] ?? 'eu.aaaaaaaa.999';
      const request = {
        tenant,
        debitId,
        idempotencyKey: `r${op.key}`,
        ...(op.amount === null ? {} : { amount: op.amount }),
      };
      answers.push(
        ledger.run((recalled) => decideRefund(ledger.state, { origin: EU, now }, request, recalled), now),
      );
    }
  });
  for (const tenant of TENANTS)
    answers.push(canonicalJson(tenantFigures(ledger.state, tenant, { now: T0 }) as never));
  return answers;
}

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('debit' as const),
    tenant: fc.integer({ min: 0, max: 1 }),
    key: fc.integer({ min: 0, max: 6 }),
    amount: fc.integer({ min: 1, max: 40 }),
    meta: fc.integer({ min: 0, max: 1 }),
  }),
  fc.record({
    kind: fc.constant('refund' as const),
    tenant: fc.integer({ min: 0, max: 1 }),
    debit: fc.nat(),
    amount: fc.option(fc.integer({ min: 1, max: 20 })),
    key: fc.integer({ min: 0, max: 4 }),
  }),
);

/** Three checks only: nearly every pair of keys collides. */
const weak: Fingerprinter = (_tenant, key) => ({ check: 1 + (key.length % 3), extra: 0 });

describe('record window', () => {
  it('with any window size, or debits kept off the heap, every sequence answers as with every record in memory', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 40 }),
        fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 0, max: 8 })),
        fc.boolean(),
        fc.boolean(),
        (ops, records, collide, offHeap) => {
          const whole = play(new Ledger(), ops, []);
          const windowed = new Ledger({
            records,
            bucketMs: HOUR,
            ...(collide ? { fingerprint: weak } : {}),
            // As a replica keeps a peer's debits: indexed only, never on the heap.
            ...(offHeap ? { onHeap: () => false } : {}),
          });
          expect(play(windowed, ops, [])).toEqual(whole);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a debit of an origin the window does not keep on the heap is indexed only, and found by its origin's region", () => {
    const ledger = new Ledger({ records: 100, bucketMs: HOUR, onHeap: (origin) => origin !== EU });
    ledger.run(
      () =>
        decideGrant(
          ledger.state,
          { origin: EU, now: T0 },
          { tenant: 'acme', grantId: 'g', amount: 100, priority: 1, expiresAt: null },
        ),
      T0,
    );
    const debitK = () =>
      ledger.decide((recalled) =>
        decideDebit(
          ledger.state,
          { origin: EU, now: T0, overdraftLimit: 0 },
          { tenant: 'acme', amount: 5, idempotencyKey: 'k', metadata: null },
          recalled,
        ),
      );
    const decision = debitK();
    if (decision.status !== 'accepted') throw new Error(decision.status);
    ledger.append(decision.body, T0);
    const tenant = ledger.state.tenants.get('acme');
    if (tenant === undefined) throw new Error('no tenant');
    expect(tenant.debits).toBeNull();
    expect(tenantFigures(ledger.state, 'acme', { now: T0 })).toMatchObject({ debited: 5, balance: 95 });
    expect(mayHoldDebitOf(tenant, 'k', (origin) => origin === EU)).toBe(true);
    expect(mayHoldDebitOf(tenant, 'k', (origin) => origin !== EU)).toBe(false);
    expect(mayHoldDebitOf(tenant, 'other', () => true)).toBe(false);
    // A replay reads it back from the log.
    ledger.recalls = 0;
    const replay = debitK();
    expect(replay).toMatchObject({ status: 'replayed', debit: { idempotencyKey: 'k', amount: 5 } });
    expect(ledger.recalls).toBe(1);
  });

  it('a fingerprint collision never answers the wrong debit', () => {
    const ledger = new Ledger({ records: 0, bucketMs: HOUR, fingerprint: () => ({ check: 7, extra: 1 }) });
    for (const tenant of ['acme', 'beta'])
      ledger.run(
        () =>
          decideGrant(
            ledger.state,
            { origin: EU, now: T0 },
            { tenant, grantId: 'g', amount: 100, priority: 1, expiresAt: null },
          ),
        T0,
      );
    const debit = (key: string, amount: number, tenant = 'acme') =>
      ledger.decide((recalled) =>
        decideDebit(
          ledger.state,
          { origin: EU, now: T0, overdraftLimit: 10 },
          { tenant, amount, idempotencyKey: key, metadata: null },
          recalled,
        ),
      );
    for (const [key, amount] of [
      ['a', 1],
      ['b', 2],
    ] as const) {
      const decision = debit(key, amount);
      if (decision.status !== 'accepted') throw new Error(decision.status);
      ledger.append(decision.body, T0);
    }
    ledger.recalls = 0;
    // Every key collides with both debits: each is read back and found to be another key's.
    expect(debit('c', 3).status).toBe('accepted');
    expect(debit('b', 2, 'beta').status).toBe('accepted'); // same key, another tenant
    expect(debit('b', 2)).toMatchObject({ status: 'replayed', debit: { idempotencyKey: 'b', amount: 2 } });
    expect(debit('a', 2)).toMatchObject({ status: 'conflict', debit: { idempotencyKey: 'a', amount: 1 } });
    expect(ledger.recalls).toBe(4);
  });

  it('keeps a closed bucket within 16 bytes a key, and drops whole buckets past retention', () => {
    const index = new KeyIndex(HOUR, (tenant, key) => {
      let hash = 0;
      for (const text of [tenant, key])
        for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) >>> 0;
      return { check: hash || 1, extra: hash >>> 24 };
    });
    const perBucket = 50_000;
    for (let i = 0; i < perBucket; i++) index.add('acme', `key-${i}`, 0, i + 1, T0);
    for (let i = 0; i < 10; i++) index.add('acme', `next-${i}`, 0, perBucket + i + 1, T0 + HOUR);
    const { entries, bytes } = index.footprint;
    expect(entries).toBe(perBucket + 10);
    expect(bytes / entries).toBeLessThanOrEqual(16);
    const found: number[] = [];
    index.find('acme', 'key-123', (_origin, seq) => found.push(seq));
    expect(found).toContain(124);
    expect(index.oldestSeq(0)).toBe(1);
    expect(index.forgetBefore(T0 + HOUR)).toBe(perBucket);
    expect(index.oldestSeq(0)).toBe(perBucket + 1);
    found.length = 0;
    index.find('acme', 'key-123', (_origin, seq) => found.push(seq));
    expect(found).toEqual([]);
  });
});
