/** POST /v1/debits/batch: one result per item, in order; bad items fail alone, a bad batch whole. */
import type { DebitOutcome } from '@allot/replica';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BATCH_DEBITS_MAX, METADATA_BYTES_MAX } from '../../src/limits.js';
import { BAD_CONTENT_TYPES, BAD_JSON_BODIES } from '../bad-input.js';
import { bearer, call, errorOf, fingerprint, grant, type TestNode, testNode } from '../support.js';

let node: TestNode;
let before: string;

beforeAll(async () => {
  node = await testNode();
  await grant(node.app, 'acme', 'g1', 100);
  await grant(node.app, 'beta', 'g1', 100_000);
});
afterAll(async () => node.close());
beforeEach(async () => {
  before = await fingerprint(node.replica, ['acme', 'beta']);
});

async function expectUnchanged(): Promise<void> {
  expect(await fingerprint(node.replica, ['acme', 'beta'])).toBe(before);
}

function batch(debits: unknown, who: 'service' | 'acme' | 'admin' = 'service') {
  return call(node.app, 'POST', '/v1/debits/batch', { who, body: { debits } });
}

describe('a batch of debits', () => {
  it('answers one result per item, in order, with every status', async () => {
    const taken = await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'service',
      body: { amount: 1, idempotencyKey: 'before-batch' },
    });
    const overhead = JSON.stringify({ x: '' }).length;
    const response = await batch([
      { tenant: 'acme', amount: 2, idempotencyKey: 'b-1', metadata: { n: 1 } },
      { tenant: 'acme', amount: 1, idempotencyKey: 'before-batch' },
      { tenant: 'acme', amount: 1_000, idempotencyKey: 'b-2' },
      { tenant: 'acme', amount: 5, idempotencyKey: 'before-batch' },
      { tenant: 'acme', amount: 0, idempotencyKey: 'b-3' },
      'not a debit',
      { tenant: 'bad tenant', amount: 1, idempotencyKey: 'b-4' },
      { tenant: 'acme', amount: 1, idempotencyKey: 'b-5', extra: true },
      {
        tenant: 'acme',
        amount: 1,
        idempotencyKey: 'b-6',
        metadata: { x: 'm'.repeat(METADATA_BYTES_MAX - overhead + 1) },
      },
      { tenant: 'beta', amount: 3, idempotencyKey: 'b-1' },
      { tenant: 'nobody', amount: 1, idempotencyKey: 'b-7' },
    ]);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(response.headers['content-length'])).toBe(Buffer.byteLength(response.body));
    const { results } = response.json();
    expect(results.map((result: { status: string }) => result.status)).toEqual([
      'accepted',
      'replayed',
      'declined',
      'conflict',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'accepted',
      'declined',
    ]);
    expect(results[0]).toEqual({
      status: 'accepted',
      debit: expect.objectContaining({ tenant: 'acme', amount: 2, idempotencyKey: 'b-1', region: 'eu' }),
      balance: { available: 97, tenant: 97 },
    });
    expect(results[1].debit).toEqual(taken.json().debit);
    expect(results[2].error).toMatchObject({
      code: 'insufficient_credits',
      details: { requested: 1_000, available: 97 },
    });
    expect(results[3].error).toMatchObject({
      code: 'idempotency_key_conflict',
      details: { idempotencyKey: 'before-batch' },
    });
    expect(results[4].error).toMatchObject({
      code: 'invalid_request',
      details: { field: '/debits/4/amount' },
    });
    expect(results[5].error).toMatchObject({
      code: 'invalid_request',
      details: { field: '/debits/5', rule: 'type' },
    });
    expect(results[6].error).toMatchObject({
      code: 'invalid_request',
      details: { field: '/debits/6/tenant' },
    });
    expect(results[7].error).toMatchObject({
      code: 'invalid_request',
      details: { field: '/debits/7/extra' },
    });
    expect(results[8].error).toMatchObject({
      code: 'payload_too_large',
      details: { field: '/debits/8/metadata' },
    });
    expect(results[9].debit).toMatchObject({ tenant: 'beta', amount: 3 });
    expect(results[10].error).toMatchObject({
      code: 'insufficient_credits',
      details: { requested: 1, available: 0 },
    });
    for (const result of results)
      expect(result.error === undefined).toBe(['accepted', 'replayed'].includes(result.status));
    const acme = (await call(node.app, 'GET', '/v1/tenants/acme/balance')).json();
    expect(acme.debited).toBe(3);
  });

  it('of only invalid items changes nothing', async () => {
    const response = await batch([{ tenant: 'acme' }, { amount: 1 }, null, [], 7]);
    expect(response.statusCode).toBe(200);
    expect(response.json().results.every((result: { status: string }) => result.status === 'invalid')).toBe(
      true,
    );
    await expectUnchanged();
  });

  it(`of ${BATCH_DEBITS_MAX} debits is taken whole`, async () => {
    const debits = Array.from({ length: BATCH_DEBITS_MAX }, (_, index) => ({
      tenant: 'beta',
      amount: 1,
      idempotencyKey: `full-${index}`,
    }));
    const response = await batch(debits);
    expect(response.statusCode).toBe(200);
    const { results } = response.json();
    expect(results).toHaveLength(BATCH_DEBITS_MAX);
    expect(results.every((result: { status: string }) => result.status === 'accepted')).toBe(true);
    expect(results[BATCH_DEBITS_MAX - 1].debit.idempotencyKey).toBe(`full-${BATCH_DEBITS_MAX - 1}`);
  });
});

describe('replica outcomes in a batch', () => {
  it('answers a refused amount as declined/amount_limit and a replica-refused item as invalid', async () => {
    const other = await testNode({
      wrap: (replica) =>
        Object.assign(Object.create(replica), {
          debitMany: async (): Promise<DebitOutcome[]> => [
            { status: 'rejected', reason: 'amount_limit', limit: Number.MAX_SAFE_INTEGER },
            { status: 'invalid', reason: 'invalid_request', detail: 'the debit is invalid' },
            { status: 'unavailable', reason: 'overloaded' },
          ],
        }),
    });
    try {
      const debits = ['x', 'y', 'z'].map((key) => ({ tenant: 'acme', amount: 1, idempotencyKey: key }));
      const response = await call(other.app, 'POST', '/v1/debits/batch', {
        who: 'service',
        body: { debits },
      });
      expect(response.statusCode).toBe(200);
      expect(response.json().results).toEqual([
        { status: 'declined', error: expect.objectContaining({ code: 'amount_limit' }) },
        {
          status: 'invalid',
          error: expect.objectContaining({
            code: 'invalid_request',
            message: expect.stringMatching(/the debit is invalid/),
          }),
        },
        {
          status: 'unavailable',
          error: expect.objectContaining({ code: 'unavailable', details: { reason: 'overloaded' } }),
        },
      ]);
    } finally {
      await other.close();
    }
  });
});

describe('a bad batch is 4xx as a whole and changes nothing', () => {
  it(`of ${BATCH_DEBITS_MAX + 1} debits: 400`, async () => {
    const debits = Array.from({ length: BATCH_DEBITS_MAX + 1 }, (_, index) => ({
      tenant: 'acme',
      amount: 1,
      idempotencyKey: `over-${index}`,
    }));
    const response = await batch(debits);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(response.json().error.details).toMatchObject({ field: '/debits', rule: 'maxItems' });
    await expectUnchanged();
  });

  it.each([
    ['no debits', {}],
    ['an empty list', { debits: [] }],
    ['debits not a list', { debits: { tenant: 'acme', amount: 1, idempotencyKey: 'k' } }],
    ['debits null', { debits: null }],
    ['an unknown field', { debits: [{ tenant: 'acme', amount: 1, idempotencyKey: 'k' }], atomic: true }],
  ])('%s: 400', async (_, body) => {
    const response = await call(node.app, 'POST', '/v1/debits/batch', { who: 'service', body });
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    await expectUnchanged();
  });

  it.each(BAD_JSON_BODIES)('body: %s', async (_, text) => {
    const response = await node.app.inject({
      method: 'POST',
      url: '/v1/debits/batch',
      headers: { ...bearer('service'), 'content-type': 'application/json' },
      payload: text,
    });
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    await expectUnchanged();
  });

  it.each(BAD_CONTENT_TYPES.map((type) => [String(type), type] as const))(
    'content type: %s',
    async (_, type) => {
      const response = await node.app.inject({
        method: 'POST',
        url: '/v1/debits/batch',
        headers: { ...bearer('service'), ...(type === null ? {} : { 'content-type': type }) },
        payload: JSON.stringify({ debits: [{ tenant: 'acme', amount: 1, idempotencyKey: 'ct' }] }),
      });
      expect(errorOf(response)).toEqual({ status: 415, code: 'unsupported_media_type' });
      await expectUnchanged();
    },
  );

  it('a body past the batch limit: 413', async () => {
    const small = await testNode({ batchBodyLimitBytes: 1_024 });
    try {
      const debits = Array.from({ length: 30 }, (_, index) => ({
        tenant: 'acme',
        amount: 1,
        idempotencyKey: `k${index}`,
      }));
      const response = await call(small.app, 'POST', '/v1/debits/batch', {
        who: 'service',
        body: { debits },
      });
      expect(errorOf(response)).toEqual({ status: 413, code: 'payload_too_large' });
      expect(response.json().error.details).toEqual({ limitBytes: 1_024 });
    } finally {
      await small.close();
    }
  });
});
