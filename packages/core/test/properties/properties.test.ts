/**
 * The laws of the ledger core as fast-check properties (issue 3). Each runs `propertyRuns` cases
 * (1,000 by default; ALLOT_PROPERTY_RUNS for long runs). A failure prints fast-check's seed and
 * path: replay with `fc.assert(..., { seed, path })` and keep the case as a regression example.
 */
import {
  applyEvent,
  cellEntries,
  createLedgerState,
  type LedgerEvent,
  type LedgerState,
  mergeStates,
  stateText,
  tenantFigures,
} from '@allot/core';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { figuresMismatch, referenceFigures } from './figures-reference.js';
import { logsOf, opArbitrary, overdraftArbitrary, propertyRuns, runWorld, type World } from './world.js';

const history = fc.record({
  ops: fc.array(opArbitrary, { minLength: 1, maxLength: 150, size: 'large' }),
  overdraft: overdraftArbitrary,
});

/** The fold of the first `prefix[i]` events of log i. */
function foldPrefixes(logs: readonly LedgerEvent[][], prefix: readonly number[]): LedgerState {
  const state = createLedgerState();
  logs.forEach((log, i) => {
    for (const event of log.slice(0, prefix[i])) applyEvent(state, event);
  });
  return state;
}

/** Prefix lengths for each log from arbitrary naturals. */
function prefixes(logs: readonly LedgerEvent[][], picks: readonly number[], offset: number): number[] {
  return logs.map((log, i) => (picks[(offset + i) % picks.length] ?? 0) % (log.length + 1));
}

function noCellDecreases(before: LedgerState, after: LedgerState): boolean {
  const later = cellEntries(after);
  for (const [name, value] of cellEntries(before)) {
    if ((later.get(name) ?? 0) < value) return false;
  }
  return true;
}

const options = { numRuns: propertyRuns };

describe('ledger core properties', () => {
  it('1. merge is commutative, associative, idempotent, equals the fold of the union; no cell decreases', () => {
    fc.assert(
      fc.property(
        history,
        fc.array(fc.nat(), { minLength: 9, maxLength: 9 }),
        ({ ops, overdraft }, picks) => {
          const logs = logsOf(runWorld(ops, overdraft));
          const [p, q, r] = [0, 3, 6].map((offset) => prefixes(logs, picks, offset)) as [
            number[],
            number[],
            number[],
          ];
          const [a, b, c] = [p, q, r].map((prefix) => foldPrefixes(logs, prefix)) as [
            LedgerState,
            LedgerState,
            LedgerState,
          ];
          const ab = mergeStates(a, b);
          if (stateText(ab) !== stateText(mergeStates(b, a))) return false;
          if (stateText(mergeStates(ab, c)) !== stateText(mergeStates(a, mergeStates(b, c)))) return false;
          if (stateText(mergeStates(a, a)) !== stateText(a)) return false;
          const union = foldPrefixes(
            logs,
            p.map((n, i) => Math.max(n, q[i] ?? 0)),
          );
          if (stateText(ab) !== stateText(union)) return false;
          return noCellDecreases(a, ab) && noCellDecreases(b, ab);
        },
      ),
      options,
    );
  });

  it('1b. folding one more event never decreases a cell', () => {
    fc.assert(
      fc.property(
        history,
        fc.array(fc.nat(), { minLength: 1, maxLength: 200 }),
        ({ ops, overdraft }, choices) => {
          const logs = logsOf(runWorld(ops, overdraft));
          const state = createLedgerState();
          const next = logs.map(() => 0);
          let previous = createLedgerState();
          for (const choice of choices) {
            const open = logs.map((_, i) => i).filter((i) => (next[i] ?? 0) < (logs[i]?.length ?? 0));
            if (open.length === 0) break;
            const i = open[choice % open.length] as number;
            applyEvent(state, (logs[i] as LedgerEvent[])[next[i] as number] as LedgerEvent);
            next[i] = (next[i] as number) + 1;
            if (!noCellDecreases(previous, state)) return false;
            previous = mergeStates(state, createLedgerState());
          }
          return true;
        },
      ),
      { numRuns: Math.max(1, Math.floor(propertyRuns / 4)) },
    );
  });

  it('2. any interleaving that keeps each origin’s order, with duplicates, folds to byte-identical state', () => {
    fc.assert(
      fc.property(
        history,
        fc.array(fc.nat(), { minLength: 1, maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        ({ ops, overdraft }, choices, duplicates) => {
          const logs = logsOf(runWorld(ops, overdraft));
          const reference = foldPrefixes(
            logs,
            logs.map((log) => log.length),
          );
          const state = createLedgerState();
          const next = logs.map(() => 0);
          let step = 0;
          for (;;) {
            const open = logs.map((_, i) => i).filter((i) => (next[i] ?? 0) < (logs[i]?.length ?? 0));
            if (open.length === 0) break;
            const choice = choices[step % choices.length] as number;
            const i = open[(choice + step) % open.length] as number;
            step += 1;
            applyEvent(state, (logs[i] as LedgerEvent[])[next[i] as number] as LedgerEvent);
            next[i] = (next[i] as number) + 1;
            const again = duplicates[step % Math.max(1, duplicates.length)];
            if (again !== undefined && (next[i] as number) > 0) {
              // Re-deliver an event already folded: a duplicate, which must change nothing.
              const event = (logs[i] as LedgerEvent[])[again % (next[i] as number)] as LedgerEvent;
              if (applyEvent(state, event) !== 'duplicate') return false;
            }
          }
          return stateText(state) === stateText(reference);
        },
      ),
      options,
    );
  });

  it('3. no origin spends beyond its rights plus overdraft (S2); balance ≥ −Σ overdraft, ≥ 0 without (S1)', () => {
    // The checks run inside the world after every step (World.step and World.checkTruth).
    fc.assert(
      fc.property(history, ({ ops, overdraft }) => {
        runWorld(ops, overdraft);
      }),
      options,
    );
  });

  it('4. once every event is delivered everywhere, replicas are equal and balances add up (S5)', () => {
    fc.assert(
      fc.property(history, ({ ops, overdraft }) => {
        const world = runWorld(ops, overdraft);
        world.deliverAll();
        world.checkConverged();
      }),
      options,
    );
  });

  it('6. duplicate grant ids: after the merge each loser is revoked, a grant id counts once, the laws hold', () => {
    // Histories where grant ids collide across regions (few ids, many grants), revoked along the
    // way (op 'revoke') and settled at the end. Revokes obey S1/S2 in every step (World.step).
    const colliding = fc.array(
      fc.oneof(
        { weight: 4, arbitrary: opArbitrary },
        {
          weight: 2,
          arbitrary: fc.record({
            op: fc.constant('grant' as const),
            node: fc.nat({ max: 2 }),
            tenant: fc.constant(0),
            grant: fc.nat({ max: 1 }),
            amount: fc.integer({ min: 1, max: 200 }),
            priority: fc.constantFrom(10, 100),
            expiresInMs: fc.option(fc.integer({ min: 1, max: 5_000 }), { nil: null }),
          }),
        },
      ),
      { minLength: 1, maxLength: 150, size: 'large' },
    );
    fc.assert(
      fc.property(colliding, overdraftArbitrary, (ops, overdraft) => {
        const world = runWorld(ops, overdraft);
        world.deliverAll();
        world.checkConverged();
        world.settleDuplicates();
        world.checkTruth();
        world.checkConverged();
        world.checkGrantsCountOnce();
        // Merge laws with revokes in the logs: the merge of any two prefixes is their union's fold.
        const logs = logsOf(world);
        const half = logs.map((log) => Math.floor(log.length / 2));
        const merged = mergeStates(
          foldPrefixes(logs, half),
          foldPrefixes(
            logs,
            logs.map((log) => log.length),
          ),
        );
        const whole = foldPrefixes(
          logs,
          logs.map((log) => log.length),
        );
        if (stateText(merged) !== stateText(whole))
          throw new Error('merge with revokes ≠ the fold of the union');
      }),
      options,
    );
  });

  it('5. refunds never exceed their debit; an expired grant is never burnt at that origin', () => {
    // Refunds are bounded in World.checkTruth after every step; burns of expired grants fail the
    // S2 check of every debit (an expired grant has no live rights). Here: refund-heavy histories.
    const refundHeavy = fc.array(
      fc.oneof(
        { weight: 2, arbitrary: opArbitrary },
        {
          weight: 3,
          arbitrary: fc.record({
            op: fc.constant('refund' as const),
            node: fc.nat({ max: 2 }),
            tenant: fc.nat({ max: 1 }),
            pick: fc.nat(),
            amount: fc.option(fc.integer({ min: 1, max: 40 }), { nil: null }),
            key: fc.nat({ max: 50 }),
          }),
        },
      ),
      { minLength: 1, maxLength: 150, size: 'large' },
    );
    fc.assert(
      fc.property(refundHeavy, overdraftArbitrary, (ops, overdraft) => {
        const world = runWorld(ops, overdraft);
        world.deliverAll();
        world.checkTruth();
        world.checkConverged();
      }),
      options,
    );
  });

  it('7. a balance read (one pass per grant) gives the figures of the per-origin, per-cell lookups', () => {
    const sameFigures = (world: World, overdraft: Record<string, number>) => {
      for (const replica of world.replicas)
        for (const tenant of replica.state.tenants.keys()) {
          const options = { now: replica.now, overdraft, regions: [replica.region] };
          const mismatch = figuresMismatch(
            tenantFigures(replica.state, tenant, options),
            referenceFigures(replica.state, tenant, options),
          );
          if (mismatch !== null) throw new Error(`${replica.origin}, ${tenant}:\n${mismatch}`);
        }
    };
    fc.assert(
      fc.property(history, ({ ops, overdraft }) => {
        const world = runWorld(ops, overdraft);
        sameFigures(world, overdraft);
        world.deliverAll();
        sameFigures(world, overdraft);
      }),
      options,
    );
  });
});
