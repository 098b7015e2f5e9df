/**
 * Holds in core (issue 12): decided like debits, counted as held, ended exactly once by a capture
 * (≤ the hold, the rest released) or a release (void, expiry), only by the holding region.
 */
import {
  activeHolds,
  applyEvent,
  cloneState,
  decideHold,
  decideHoldExpiries,
  decideSettle,
  eventProblem,
  eventRecordId,
  HOLD_TTL_MS_MAX,
  type HoldRecord,
  type LedgerEvent,
  makeEvent,
  mergeStates,
  type OriginId,
  stateText,
} from '@allot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  append,
  commit,
  debit,
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

const RUNS = Number(process.env.ALLOT_PROPERTY_RUNS ?? 200);

function hold(
  r: Replica,
  origin: OriginId,
  amount: number,
  key: string,
  options: { ttlMs?: number; now?: number; overdraftLimit?: number } = {},
): LedgerEvent {
  const now = options.now ?? T0;
  const decision = decideHold(
    r.state,
    { origin, now, overdraftLimit: options.overdraftLimit ?? 0 },
    { tenant: TENANT, amount, idempotencyKey: key, ttlMs: options.ttlMs ?? 60_000, metadata: null },
  );
  return commit(r, origin, decision, now);
}

const settle = (
  r: Replica,
  origin: OriginId,
  holdId: string,
  action: 'capture' | 'void',
  amount?: number,
  now = T0,
) =>
  decideSettle(
    r.state,
    { origin, now },
    { tenant: TENANT, holdId, action, ...(amount === undefined ? {} : { amount }) },
  );

const idOf = (event: LedgerEvent) => eventRecordId(event.origin, event.seq);

describe('holds', () => {
  it('a hold burns like a debit and shows as held; a capture debits part and releases the rest', () => {
    const r = replica();
    grant(r, EU, 'g1', 1000);
    const h = hold(r, EU, 400, 'h1');
    expect(h).toMatchObject({ kind: 'hold', parts: [{ grantId: 'g1', amount: 400 }], overdraft: 0 });
    expect(figures(r)).toMatchObject({ balance: 600, held: 400, debited: 0 });
    const capture = settle(r, EU, idOf(h), 'capture', 150);
    expect(capture).toMatchObject({
      status: 'accepted',
      body: { kind: 'capture', amount: 150, released: 250 },
    });
    commit(r, EU, capture);
    expect(figures(r)).toMatchObject({ balance: 850, held: 0, debited: 150 });
    expect(activeHolds(r.state, TENANT)).toEqual([]);
  });

  it('a hold ends once: settling again is not_active, the same settlement again a replay', () => {
    const r = replica();
    grant(r, EU, 'g1', 1000);
    const h = hold(r, EU, 100, 'h1');
    commit(r, EU, settle(r, EU, idOf(h), 'capture', 100));
    expect(settle(r, EU, idOf(h), 'capture', 100).status).toBe('replayed');
    expect(settle(r, EU, idOf(h), 'capture', 99).status).toBe('not_active');
    expect(settle(r, EU, idOf(h), 'void').status).toBe('not_active');
    // A log that ends a hold twice does not fold.
    const again = makeEvent(
      { origin: EU, seq: 4, at: T0 },
      {
        kind: 'release',
        tenant: TENANT,
        holdId: idOf(h),
        amount: 100,
        cause: 'void',
        parts: [{ grantId: 'g1', amount: 100 }],
        overdraft: 0,
      },
    );
    const before = stateText(r.state);
    expect(() => applyEvent(r.state, again)).toThrow(/ended already/);
    expect(stateText(r.state)).toBe(before);
  });

  it('a capture above the hold is refused; only the holding region settles', () => {
    const r = replica();
    grant(r, EU, 'g1', 1000);
    const h = hold(r, EU, 100, 'h1');
    expect(settle(r, EU, idOf(h), 'capture', 101)).toEqual({
      status: 'exceeds_hold',
      requested: 101,
      held: 100,
    });
    expect(settle(r, US, idOf(h), 'void')).toEqual({ status: 'wrong_region', region: 'eu' });
    // Another incarnation of the holding region settles it only once the holding one is retired:
    // until then the hold is stranded with it (its lost disk may have ended it already).
    expect(settle(r, EU_NEXT, idOf(h), 'void').status).toBe('stranded');
    expect(decideHoldExpiries(r.state, { origin: EU_NEXT, now: T0 + 60_000 }, TENANT)).toEqual([]);
    append(r, EU_NEXT, { kind: 'retire', tenant: TENANT, retired: EU, through: 2, parts: [] });
    expect(settle(r, EU_NEXT, idOf(h), 'void').status).toBe('accepted');
    expect(decideHoldExpiries(r.state, { origin: EU_NEXT, now: T0 + 60_000 }, TENANT)).toHaveLength(1);
    expect(settle(r, EU, 'eu.zzzzzzzz.9', 'void').status).toBe('not_found');
  });

  it('past its expiry a hold is released whole, by the holding region, and can no longer be captured', () => {
    const r = replica();
    grant(r, EU, 'g1', 1000);
    const h = hold(r, EU, 300, 'h1', { ttlMs: 1_000 });
    expect(decideHoldExpiries(r.state, { origin: EU, now: T0 + 999 }, TENANT)).toEqual([]);
    expect(decideHoldExpiries(r.state, { origin: US, now: T0 + 1_000 }, TENANT)).toEqual([]);
    expect(settle(r, EU, idOf(h), 'capture', 10, T0 + 1_000).status).toBe('expired');
    const [release] = decideHoldExpiries(r.state, { origin: EU, now: T0 + 1_000 }, TENANT);
    expect(release).toMatchObject({ kind: 'release', cause: 'expiry', amount: 300 });
    append(r, EU, release as never, T0 + 1_000);
    expect(figures(r, { now: T0 + 1_000 })).toMatchObject({ balance: 1000, held: 0, debited: 0 });
  });

  it('replays and conflicts by key; bad requests are invalid; a hold past the rights is declined', () => {
    const r = replica();
    grant(r, EU, 'g1', 100);
    hold(r, EU, 40, 'h1');
    const ctx = { origin: EU, now: T0 + 5, overdraftLimit: 0 };
    const request = { tenant: TENANT, amount: 40, idempotencyKey: 'h1', ttlMs: 60_000, metadata: null };
    expect(decideHold(r.state, ctx, request).status).toBe('replayed');
    expect(decideHold(r.state, ctx, { ...request, amount: 41 }).status).toBe('conflict');
    expect(decideHold(r.state, ctx, { ...request, idempotencyKey: 'h2', amount: 61 })).toMatchObject({
      status: 'declined',
      available: 60,
    });
    expect(decideHold(r.state, ctx, { ...request, idempotencyKey: 'h3', ttlMs: 0 }).status).toBe('invalid');
    expect(
      decideHold(r.state, ctx, { ...request, idempotencyKey: 'h3', ttlMs: HOLD_TTL_MS_MAX + 1 }).status,
    ).toBe('invalid');
    // A debit's key is not a hold's: the same key holds anew.
    debit(r, EU, 1, 'shared');
    expect(decideHold(r.state, ctx, { ...request, idempotencyKey: 'shared' }).status).toBe('accepted');
  });

  it('a hold in overdraft clears it when released', () => {
    const r = replica();
    grant(r, EU, 'g1', 10);
    const h = hold(r, EU, 15, 'h1', { overdraftLimit: 5 });
    expect(h).toMatchObject({ overdraft: 5 });
    expect(figures(r, { overdraft: { eu: 5 } }).regions.eu).toMatchObject({ overdraftInUse: 5 });
    commit(r, EU, settle(r, EU, idOf(h), 'void'));
    expect(figures(r, { overdraft: { eu: 5 } })).toMatchObject({ balance: 10, held: 0 });
    expect(figures(r, { overdraft: { eu: 5 } }).regions.eu).toMatchObject({ overdraftInUse: 0, rights: 10 });
  });

  it('structural checks refuse malformed hold events', () => {
    const base = { origin: EU, seq: 1, at: T0, tenant: TENANT };
    const good = {
      ...base,
      kind: 'hold',
      amount: 5,
      idempotencyKey: 'k',
      parts: [{ grantId: 'g', amount: 5 }],
      overdraft: 0,
      expiresAt: T0 + 1,
      metadata: null,
    } as LedgerEvent;
    expect(eventProblem(good)).toBeNull();
    expect(eventProblem({ ...good, expiresAt: T0 } as LedgerEvent)).toBe('invalid expiresAt');
    expect(eventProblem({ ...good, overdraft: 1 } as LedgerEvent)).toMatch(/do not add up/);
    const capture = {
      ...base,
      kind: 'capture',
      holdId: 'eu.aaaaaaaa.1',
      amount: 3,
      released: 2,
      parts: [{ grantId: 'g', amount: 2 }],
      overdraft: 0,
    } as LedgerEvent;
    expect(eventProblem(capture)).toBeNull();
    expect(eventProblem({ ...capture, released: 3 } as LedgerEvent)).toMatch(/released/);
    expect(eventProblem({ ...capture, holdId: 'x' } as LedgerEvent)).toBe('invalid holdId');
    const release = {
      ...base,
      kind: 'release',
      holdId: 'eu.aaaaaaaa.1',
      amount: 2,
      cause: 'oops',
      parts: [{ grantId: 'g', amount: 2 }],
      overdraft: 0,
    } as unknown as LedgerEvent;
    expect(eventProblem(release)).toBe('invalid cause');
  });
});

type Step =
  | { kind: 'hold'; amount: number; ttl: number; origin: 0 | 1 }
  | { kind: 'capture'; which: number; amount: number; at: 0 | 1 | 2 }
  | { kind: 'void'; which: number; at: 0 | 1 | 2 }
  | { kind: 'debit'; amount: number; origin: 0 | 1 }
  | { kind: 'tick'; ms: number };

const ORIGINS = [EU, US, EU_NEXT] as const;

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('hold' as const),
    amount: fc.integer({ min: 1, max: 400 }),
    ttl: fc.integer({ min: 1, max: 5_000 }),
    origin: fc.constantFrom(0 as const, 1 as const),
  }),
  fc.record({
    kind: fc.constant('capture' as const),
    which: fc.nat(20),
    amount: fc.integer({ min: 1, max: 450 }),
    at: fc.constantFrom(0 as const, 1 as const, 2 as const),
  }),
  fc.record({
    kind: fc.constant('void' as const),
    which: fc.nat(20),
    at: fc.constantFrom(0 as const, 1 as const, 2 as const),
  }),
  fc.record({
    kind: fc.constant('debit' as const),
    amount: fc.integer({ min: 1, max: 200 }),
    origin: fc.constantFrom(0 as const, 1 as const),
  }),
  fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 3_000 }) }),
);

describe('hold properties', () => {
  it('each hold ends at most once, capture ≤ hold, release = hold − captured, held counts in the balance', () => {
    fc.assert(
      fc.property(
        fc.array(stepArb, { maxLength: 40 }),
        fc.integer({ min: 0, max: 50 }),
        (steps, overdraft) => {
          const r = replica();
          grant(r, EU, 'g1', 1000);
          grant(r, US, 'g2', 500);
          let now = T0;
          const holds: string[] = [];
          let captured = 0;
          let debited = 0;
          const expire = () => {
            for (const origin of [EU, US]) {
              for (;;) {
                const [release] = decideHoldExpiries(r.state, { origin, now }, TENANT);
                if (release === undefined) break;
                append(r, origin, release, now);
              }
            }
          };
          for (const [i, step] of steps.entries()) {
            if (step.kind === 'tick') {
              now += step.ms;
              expire();
              continue;
            }
            if (step.kind === 'hold' || step.kind === 'debit') {
              const origin = ORIGINS[step.origin];
              const ctx = { origin, now, overdraftLimit: overdraft };
              if (step.kind === 'hold') {
                const decision = decideHold(r.state, ctx, {
                  tenant: TENANT,
                  amount: step.amount,
                  idempotencyKey: `h${i}`,
                  ttlMs: step.ttl,
                  metadata: null,
                });
                if (decision.status === 'accepted') holds.push(idOf(append(r, origin, decision.body, now)));
              } else {
                try {
                  debit(r, origin, step.amount, `d${i}`, { now, overdraftLimit: overdraft });
                  debited += step.amount;
                } catch {
                  // declined
                }
              }
              continue;
            }
            const holdId = holds[step.which % Math.max(1, holds.length)];
            if (holdId === undefined) continue;
            const origin = ORIGINS[step.at];
            const decision = decideSettle(
              r.state,
              { origin, now },
              {
                tenant: TENANT,
                holdId,
                action: step.kind,
                ...(step.kind === 'capture' ? { amount: step.amount } : {}),
              },
            );
            const record = r.state.tenants.get(TENANT)?.holds?.get(holdId) as HoldRecord;
            if (decision.status !== 'accepted') {
              if (record.end !== null)
                expect(['replayed', 'not_active', 'wrong_region']).toContain(decision.status);
              if (decision.status === 'exceeds_hold')
                expect(step.kind === 'capture' && step.amount > record.amount).toBe(true);
              continue;
            }
            expect(record.end).toBeNull();
            append(r, origin, decision.body, now);
            if (decision.body.kind === 'capture') captured += decision.body.amount;
          }
          // Every hold ended at most once, and ended the way the laws say.
          const records = [...(r.state.tenants.get(TENANT)?.holds?.values() ?? [])];
          let held = 0;
          for (const record of records) {
            if (record.end === null) {
              held += record.amount;
              continue;
            }
            expect(record.end.captured).toBeLessThanOrEqual(record.amount);
            expect(record.end.released).toBe(record.amount - record.end.captured);
          }
          const seen = figures(r, { now, overdraft: { eu: overdraft, us: overdraft } });
          expect(seen.held).toBe(held);
          expect(seen.debited).toBe(debited + captured);
          expect(seen.balance).toBe(1500 - debited - captured - held);
          expect(seen.balance).toBeGreaterThanOrEqual(-2 * overdraft);
          // The fold of the whole log equals the merge of two prefixes of it.
          const cut = Math.floor(r.events.length / 2);
          const merged = mergeStates(replica(...r.events.slice(0, cut)).state, r.state);
          expect(stateText(merged)).toBe(stateText(cloneState(r.state)));
        },
      ),
      { numRuns: RUNS },
    );
  });
});
