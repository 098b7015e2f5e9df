import {
  applyCheckedEvent,
  applyEvent,
  createLedgerState,
  type GRANT_CELLS,
  grantCellTotal,
  keyFingerprint,
  type LedgerEvent,
  type LedgerState,
  makeEvent,
  stateText,
  TENANT_CELLS,
  type TenantEventBody,
  tenantCellTotal,
  tenantSums,
  tenantTotals,
} from '@allot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logsOf, opArbitrary, overdraftArbitrary, propertyRuns, runWorld } from './properties/world.js';

/** Folds `logs` origin by origin, with `apply`. */
function foldAll(
  logs: LedgerEvent[][],
  apply: (state: LedgerState, event: LedgerEvent) => unknown,
): LedgerState {
  const state = createLedgerState();
  for (const log of logs) for (const event of log) apply(state, event);
  return state;
}

const worlds = fc.tuple(
  fc.array(opArbitrary, { minLength: 1, maxLength: 120, size: 'large' }),
  overdraftArbitrary,
);
const runs = { numRuns: Math.max(1, Math.floor(propertyRuns / 4)) };

describe('the debit path fast paths (issue 10) fold and read exactly as the general ones', () => {
  it('applyCheckedEvent gives the state applyEvent gives, for every log a world produces', () => {
    fc.assert(
      fc.property(worlds, ([ops, overdraft]) => {
        const logs = logsOf(runWorld(ops, overdraft));
        const checked = foldAll(logs, applyCheckedEvent);
        const general = foldAll(logs, applyEvent);
        expect(stateText(checked)).toBe(stateText(general));
      }),
      runs,
    );
  });

  it('makeEvent writes the fields of a spread of body and envelope, in the same order, for every kind', () => {
    fc.assert(
      fc.property(worlds, ([ops, overdraft]) => {
        for (const log of logsOf(runWorld(ops, overdraft))) {
          for (const event of log) {
            const { origin, seq, at, ...body } = event;
            const made = makeEvent({ origin, seq, at }, body as TenantEventBody);
            const spread = { ...body, origin, seq, at };
            expect(Object.keys(made)).toEqual(Object.keys(spread));
            expect(made).toStrictEqual(spread);
          }
        }
      }),
      runs,
    );
  });

  it("one pass over a tenant's packed cells sums what the per-kind totals sum", () => {
    fc.assert(
      fc.property(worlds, ([ops, overdraft]) => {
        const world = runWorld(ops, overdraft);
        for (const replica of world.replicas) {
          for (const tenant of replica.state.tenants.values()) {
            const sums = tenantSums(tenant);
            const grants = [...tenant.grants.values()];
            const perGrant = (kind: (typeof GRANT_CELLS)[number]) =>
              grants.reduce((total, grant) => total + grantCellTotal(grant, kind), 0);
            expect(sums.granted).toBe(perGrant('granted'));
            expect(sums.expired).toBe(perGrant('expired'));
            for (const kind of ['debited', 'refunded', 'revoked', 'held', 'heldSettled'] as const) {
              expect(TENANT_CELLS).toContain(kind);
              expect(sums[kind]).toBe(tenantCellTotal(tenant, kind));
            }
            const totals = tenantTotals(tenant);
            expect(totals.granted).toBe(sums.granted - sums.revoked);
            expect(totals.held).toBe(sums.held - sums.heldSettled);
          }
        }
      }),
      runs,
    );
  });

  it('a key fingerprint is the FNV-1a (with its avalanche) of `tenant NUL key`, as checkpoints store it', () => {
    const fnv = (text: string, seed: number) => {
      let hash = seed >>> 0;
      for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
      hash ^= hash >>> 16;
      hash = Math.imul(hash, 0x85ebca6b) >>> 0;
      hash ^= hash >>> 13;
      hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
      hash ^= hash >>> 16;
      return hash >>> 0;
    };
    fc.assert(
      fc.property(fc.string(), fc.string(), (tenant, key) => {
        const text = `${tenant}\u0000${key}`;
        expect(keyFingerprint(tenant, key)).toEqual({
          check: fnv(text, 0x811c9dc5) || 1,
          extra: fnv(text, 0x9747b28c) & 0xff,
        });
      }),
      runs,
    );
  });

  it('a sum past the amount limit is an error naming the figure and the tenant', () => {
    const state = createLedgerState();
    const origins = ['eu#aaaaaaaa', 'us#bbbbbbbb'];
    for (const [i, origin] of origins.entries()) {
      applyEvent(
        state,
        makeEvent(
          { origin, seq: 1, at: 1 },
          { kind: 'grant', tenant: 't', grantId: `g${i}`, amount: 2 ** 52, priority: 0, expiresAt: null },
        ),
      );
    }
    const tenant = state.tenants.get('t');
    expect(tenant).toBeDefined();
    if (tenant !== undefined) expect(() => tenantSums(tenant)).toThrow(/granted of t/);
  });
});
