import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AlertState,
  alertIdOf,
  evaluateAlert,
  parseStreamCursor,
  rearmLevel,
  streamCursorOf,
} from '../../src/index.js';

/** A tenant's history as inflows (grants, refunds) and spends, each step's figures after it. */
const history = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('in' as const), amount: fc.integer({ min: 1, max: 2_000 }) }),
    fc.record({ kind: fc.constant('spend' as const), amount: fc.integer({ min: 1, max: 2_000 }) }),
  ),
  { maxLength: 60 },
);

describe('alert crossings (properties)', () => {
  it('fire only below the line, once per crossing, re-armed only past the hysteresis, with ids every replay repeats', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 3_000 }), (steps, below) => {
        const rule = { below };
        let granted = 0;
        let spent = 0;
        let state: AlertState | undefined;
        let armedAt: number | null = null; // the balance that last (re-)armed it
        const fired: string[] = [];
        let lastFiredBalance: number | null = null;
        let rose = true;
        for (const step of steps) {
          if (step.kind === 'in') granted += step.amount;
          else spent += step.amount;
          const balance = granted - spent;
          const figures = { balance, granted, refunded: 0 };
          const next = evaluateAlert('acme', rule, state, figures);
          if (next.crossing !== null) {
            // Below the line, armed before, and the balance had risen past the re-arm level since
            // the last alert (or it is the first).
            expect(balance).toBeLessThan(below);
            expect(state?.armed).toBe(true);
            expect(rose).toBe(true);
            expect(next.crossing.alertId).toBe(alertIdOf('acme', rule, granted));
            fired.push(next.crossing.alertId);
            lastFiredBalance = balance;
            rose = false;
          }
          if (lastFiredBalance !== null && balance >= rearmLevel(below)) rose = true;
          if (next.state.armed && !(state?.armed ?? false)) armedAt = balance;
          state = next.state;
        }
        // Distinct crossings have distinct ids: a receiver's dedupe never drops a real one.
        expect(new Set(fired).size).toBe(fired.length);
        if (armedAt !== null) expect(armedAt).toBeGreaterThanOrEqual(below);
      }),
      { numRuns: 300 },
    );
  });

  it('a balance hovering at the line alerts once', () => {
    let state: AlertState | undefined;
    let alerts = 0;
    for (const balance of [1_000, 499, 501, 499, 520, 499, 524, 480]) {
      const next = evaluateAlert('acme', { below: 500 }, state, { balance, granted: 1_000, refunded: 0 });
      if (next.crossing !== null) alerts += 1;
      state = next.state;
    }
    expect(alerts).toBe(1);
    expect(rearmLevel(500)).toBe(525);
    expect(rearmLevel(1)).toBe(2);
  });

  it('percent thresholds are exact integer shares of what was granted', () => {
    const state: AlertState = { armed: true, alertId: null };
    const granted = Number.MAX_SAFE_INTEGER;
    const threshold = Number((BigInt(granted) * 10n) / 100n);
    const at = evaluateAlert('acme', { belowPercent: 10 }, state, {
      balance: threshold,
      granted,
      refunded: 0,
    });
    expect(at.crossing).toBeNull();
    const below = evaluateAlert('acme', { belowPercent: 10 }, state, {
      balance: threshold - 1,
      granted,
      refunded: 0,
    });
    expect(below.crossing?.threshold).toBe(threshold);
  });

  it('stream cursors round-trip, and every other string is refused', () => {
    const origin = fc
      .tuple(fc.stringMatching(/^[a-z0-9-]{1,8}$/), fc.stringMatching(/^[a-z2-7]{8,16}$/))
      .map(([region, incarnation]) => `${region}#${incarnation}`);
    fc.assert(
      fc.property(fc.dictionary(origin, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), (vector) => {
        const map = new Map(Object.entries(vector));
        expect(parseStreamCursor(streamCursorOf(map))).toEqual(map);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const parsed = parseStreamCursor(text);
        if (parsed instanceof Map) expect(streamCursorOf(parsed)).toBe(text);
      }),
      { numRuns: 500 },
    );
  });

  it('gives a second crossing after a voided hold its own id (a release raises the balance, not granted + refunded)', () => {
    const rule = { below: 50 };
    // 100 granted; a hold of 80 takes the balance to 20: the first crossing.
    let step = evaluateAlert('acme', rule, undefined, {
      balance: 100,
      granted: 100,
      refunded: 0,
      holdsEnded: 0,
    });
    step = evaluateAlert('acme', rule, step.state, { balance: 20, granted: 100, refunded: 0, holdsEnded: 0 });
    const first = step.crossing;
    expect(first).not.toBeNull();
    // The hold is voided (80 back): re-armed. Then a debit of 60: a second, genuine crossing.
    step = evaluateAlert('acme', rule, step.state, {
      balance: 100,
      granted: 100,
      refunded: 0,
      holdsEnded: 80,
    });
    expect(step.state.armed).toBe(true);
    step = evaluateAlert('acme', rule, step.state, {
      balance: 40,
      granted: 100,
      refunded: 0,
      holdsEnded: 80,
    });
    expect(step.crossing).not.toBeNull();
    expect(step.crossing?.alertId).not.toBe(first?.alertId);
    // Another region that saw the same second crossing computes the same id.
    expect(step.crossing?.alertId).toBe(alertIdOf('acme', rule, 100 + 0 + 80));
  });
});
