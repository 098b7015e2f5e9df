/**
 * The batch answer written result by result (batch-body.ts) is byte for byte what the route's
 * compiled serializer writes for the whole body: every status, with and without a debit, a
 * balance or an error, and text in any script (UTF-8 of more than one byte per character).
 */
import fc from 'fast-check';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchBody } from '../src/batch-body.js';
import { SHARED_SCHEMAS } from '../src/schemas.js';
import { postDebitBatchSchema } from '../src/write-schemas.js';

const app = Fastify();
let whole: (body: { results: unknown[] }) => string = () => '';
let one: (result: Record<string, unknown>) => string = () => '';

beforeAll(async () => {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  app.post(
    '/batch',
    { schema: { response: { 200: postDebitBatchSchema.response[200] } } },
    (_request, reply) => {
      whole = (body) => reply.serialize(body) as string;
      one = reply.compileSerializationSchema(
        postDebitBatchSchema.response[200].properties.results.items,
        '200',
      );
      return reply.send({ results: [] });
    },
  );
  await app.inject({ method: 'POST', url: '/batch' });
});
afterAll(() => app.close());

const text = fc.string({ unit: 'binary', maxLength: 12 });
const debit = fc.record({
  debitId: text,
  tenant: text,
  amount: fc.integer({ min: 1, max: 2 ** 53 - 1 }),
  region: text,
  parts: fc.array(fc.record({ grantId: text, amount: fc.integer({ min: 1, max: 2 ** 53 - 1 }) }), {
    maxLength: 3,
  }),
  overdraft: fc.nat(),
  at: fc.constant('2026-12-03T19:00:00.000Z'),
  origin: text,
  idempotencyKey: text,
});
const balance = fc.record({ available: fc.integer(), tenant: fc.integer() });
const error = fc.record({
  code: fc.constantFrom('insufficient_credits', 'idempotency_conflict', 'validation'),
  message: text,
  details: fc.dictionary(text, fc.oneof(text, fc.integer())),
});
const result = fc.oneof(
  fc.record({ status: fc.constantFrom('accepted', 'replayed'), debit, balance }),
  fc.record({ status: fc.constantFrom('declined', 'conflict', 'invalid', 'unavailable'), error }),
);

describe('the batch answer in pieces', () => {
  it('is byte for byte the whole body as the route serializer writes it', () => {
    fc.assert(
      fc.property(fc.array(result, { maxLength: 30 }), (results) => {
        const pieced = batchBody(results, one);
        expect(pieced.equals(Buffer.from(whole({ results })))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
