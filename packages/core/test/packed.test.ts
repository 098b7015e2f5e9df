import {
  cloneState,
  encodeState,
  grantDefinition,
  type LedgerEvent,
  makeEvent,
  type OriginId,
  type TenantEventBody,
  tenantFigures,
} from '@allot/core';
import { describe, expect, it } from 'vitest';
import { EU, replica, T0, TENANT, US } from './support.js';

/** Events of one origin's log, seq 1… in order. */
function log(origin: OriginId, bodies: TenantEventBody[], at = T0): LedgerEvent[] {
  return bodies.map((body, i) => makeEvent({ origin, seq: i + 1, at }, body));
}

/** Every interleaving step keeps each origin's order: alternate the two logs. */
function interleave(a: LedgerEvent[], b: LedgerEvent[]): LedgerEvent[] {
  const out: LedgerEvent[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i] as LedgerEvent);
    if (i < b.length) out.push(b[i] as LedgerEvent);
  }
  return out;
}

describe('the packed state', () => {
  it('keeps a tenant with many grants exact, whatever the arrival order', () => {
    // 160 grants × (granted, two debited cells, one moved cell, terms) is past every threshold of
    // the packed layout: the scanned grant ids, the shared shapes and the exact-size copies.
    const grants = Array.from({ length: 160 }, (_, i) => ({ grantId: `g${i}`, amount: 100 + i }));
    const eu = log(EU, [
      ...grants.map(
        ({ grantId, amount }): TenantEventBody => ({
          kind: 'grant',
          tenant: TENANT,
          grantId,
          amount,
          priority: grantId.length,
          expiresAt: null,
        }),
      ),
      ...grants.map(
        ({ grantId }): TenantEventBody => ({
          kind: 'move',
          tenant: TENANT,
          to: US,
          parts: [{ grantId, amount: 10 }],
        }),
      ),
      ...grants.map(
        ({ grantId }, i): TenantEventBody => ({
          kind: 'debit',
          tenant: TENANT,
          amount: 5,
          idempotencyKey: `eu-${i}`,
          parts: [{ grantId, amount: 5 }],
          overdraft: 0,
          metadata: null,
        }),
      ),
    ]);
    // US spends rights moved to it; here its events arrive before the moves that gave them.
    const us = log(
      US,
      grants.map(
        ({ grantId }, i): TenantEventBody => ({
          kind: 'debit',
          tenant: TENANT,
          amount: 3,
          idempotencyKey: `us-${i}`,
          parts: [{ grantId, amount: 3 }],
          overdraft: 0,
          metadata: null,
        }),
      ),
    );
    const inOrder = replica(...eu, ...us);
    const usFirst = replica(...us, ...eu);
    const mixed = replica(...interleave(us, eu));

    const bytes = encodeState(inOrder.state);
    expect(encodeState(usFirst.state)).toEqual(bytes);
    expect(encodeState(mixed.state)).toEqual(bytes);
    expect(encodeState(cloneState(mixed.state))).toEqual(bytes);

    const figures = tenantFigures(usFirst.state, TENANT, { now: T0 });
    const granted = grants.reduce((sum, { amount }) => sum + amount, 0);
    expect(figures?.granted).toBe(granted);
    expect(figures?.debited).toBe(160 * 8);
    expect(figures?.balance).toBe(granted - 160 * 8);
    expect(figures?.regions.eu?.rights).toBe(granted - 160 * 15);
    expect(figures?.regions.us?.rights).toBe(160 * 7);
    expect(figures?.grants).toHaveLength(160);
    const g42 = figures?.grants.find((grant) => grant.grantId === 'g42');
    expect(g42).toMatchObject({ amount: 142, remaining: 142 - 8, priority: 3, status: 'active' });
  });

  it('replaces the terms whole when an earlier duplicate definition arrives, its expiry included', () => {
    const expiring = log(
      EU,
      [{ kind: 'grant', tenant: TENANT, grantId: 'g1', amount: 50, priority: 7, expiresAt: T0 + 60_000 }],
      T0 + 10,
    );
    const forever = log(
      US,
      [{ kind: 'grant', tenant: TENANT, grantId: 'g1', amount: 80, priority: 0, expiresAt: null }],
      T0,
    );
    const late = replica(...expiring, ...forever);
    const early = replica(...forever, ...expiring);

    expect(encodeState(late.state)).toEqual(encodeState(early.state));
    expect(grantDefinition(late.state, TENANT, 'g1')).toEqual({
      amount: 80,
      priority: 0,
      expiresAt: null,
      origin: US,
      seq: 1,
      at: T0,
    });
    const [only] = tenantFigures(late.state, TENANT, { now: T0 + 120_000 })?.grants ?? [];
    expect(only).toMatchObject({ grantId: 'g1', expiresAt: null, priority: 0, status: 'active' });
  });
});
