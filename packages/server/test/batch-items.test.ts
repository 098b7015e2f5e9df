/**
 * Property: the fast check of a batch item never admits an item the item's schema (BatchDebit,
 * compiled by Ajv with the server's options) refuses, and admits every plain item the schema takes,
 * so a batch answers the same whichever way an item is checked.
 */
import { AMOUNT_MAX } from '@allot/core';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPlainBatchItem } from '../src/batch-items.js';
import { BATCH_DEBIT_ITEM } from '../src/write-schemas.js';

// The server's Ajv options (app.ts): no coercion, no removal, the first error only.
const schemaAccepts = new Ajv({
  coerceTypes: false,
  removeAdditional: false,
  allErrors: false,
  useDefaults: true,
  strict: false,
}).compile(BATCH_DEBIT_ITEM);

const text = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.stringMatching(/^[A-Za-z0-9._:-]{1,8}$/),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.constantFrom('', ' ', 'a b', 'é', 'x'.repeat(128), 'x'.repeat(129), 'k'.repeat(255), 'k'.repeat(256)),
);
const number = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(0.5, 1.5, -0, AMOUNT_MAX, AMOUNT_MAX + 1, 2 ** 60, Number.NaN, Number.POSITIVE_INFINITY),
  fc.double(),
);
const anyValue = fc.oneof(text, number, fc.constant(null), fc.boolean(), fc.constant([]), fc.constant({}));
const field = (value: fc.Arbitrary<unknown>) => fc.option(value, { nil: undefined });

const item = fc.oneof(
  fc
    .record({
      tenant: field(fc.oneof(text, anyValue)),
      amount: field(fc.oneof(number, anyValue)),
      idempotencyKey: field(fc.oneof(text, anyValue)),
      metadata: field(fc.oneof(fc.constant({ n: 1 }), anyValue)),
      extra: field(anyValue),
    })
    .map((fields) => Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined))),
  anyValue,
  fc.constant(Object.assign(Object.create({ amount: 1 }), { tenant: 't', idempotencyKey: 'k' })),
);

describe('the fast check of a batch item', () => {
  it('admits only what the schema admits, and every plain valid item', () => {
    fc.assert(
      fc.property(item, (value) => {
        const fast = isPlainBatchItem(value);
        const schema = schemaAccepts(structuredClone(value)) === true;
        if (fast) expect(schema).toBe(true);
        const plain =
          typeof value === 'object' &&
          value !== null &&
          Object.keys(value).sort().join() === 'amount,idempotencyKey,tenant';
        if (plain && schema) expect(fast).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it('takes a plain item and leaves one with metadata or an unknown field to the schema', () => {
    expect(isPlainBatchItem({ tenant: 'acme', amount: 5, idempotencyKey: 'k-1' })).toBe(true);
    expect(isPlainBatchItem({ idempotencyKey: 'k-1', amount: AMOUNT_MAX, tenant: 'a.b:c-d_e' })).toBe(true);
    expect(isPlainBatchItem({ tenant: 'acme', amount: 5, idempotencyKey: 'k-1', metadata: {} })).toBe(false);
    expect(isPlainBatchItem({ tenant: 'acme', amount: 5, idempotencyKey: 'k-1', x: 1 })).toBe(false);
    expect(isPlainBatchItem({ tenant: 'acme', amount: 0, idempotencyKey: 'k-1' })).toBe(false);
    expect(isPlainBatchItem({ tenant: 'ac me', amount: 5, idempotencyKey: 'k-1' })).toBe(false);
    expect(isPlainBatchItem({ tenant: 'acme', amount: '5', idempotencyKey: 'k-1' })).toBe(false);
  });
});
