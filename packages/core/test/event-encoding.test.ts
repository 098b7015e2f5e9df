import { type Canonical, canonicalJson, eventCanonicalJson, type LedgerEvent } from '@allot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { opArbitrary, overdraftArbitrary, propertyRuns, runWorld } from './properties/world.js';

describe('fast canonical event encoding', () => {
  it('equals the generic canonical JSON for every event a world produces', () => {
    fc.assert(
      fc.property(
        fc.array(opArbitrary, { minLength: 1, maxLength: 150, size: 'large' }),
        overdraftArbitrary,
        (ops, overdraft) => {
          for (const log of runWorld(ops, overdraft).logs.values()) {
            for (const event of log) {
              if (eventCanonicalJson(event) !== canonicalJson(event as unknown as Canonical)) return false;
            }
          }
          return true;
        },
      ),
      { numRuns: Math.max(1, Math.floor(propertyRuns / 4)) },
    );
  });

  it('falls back to the generic encoder for an event with other fields, and handles odd metadata', () => {
    const base = {
      kind: 'debit',
      tenant: 't',
      origin: 'eu#aaaaaaaa',
      seq: 1,
      at: 5,
      amount: 2,
      idempotencyKey: 'k"\\',
      parts: [{ grantId: 'g', amount: 2 }],
      overdraft: 0,
      metadata: { z: [1, { b: null, a: 'é\u2028' }], a: -1.5 },
    } as const;
    const extra = { ...base, extra: true } as unknown as LedgerEvent;
    for (const event of [base as unknown as LedgerEvent, extra]) {
      expect(eventCanonicalJson(event)).toBe(canonicalJson(event as unknown as Canonical));
    }
  });
});
