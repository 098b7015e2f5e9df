/**
 * POST /v1/tenants/{tenant}/debits: answers as API.md writes them, and every bad input answered
 * 4xx with a code and nothing changed.
 */
import type { DebitOutcome } from '@allot/replica';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BODY_BYTES_MAX, METADATA_BYTES_MAX } from '../../src/limits.js';
import { BAD_AMOUNTS, BAD_CONTENT_TYPES, BAD_JSON_BODIES, BAD_KEYS, BAD_TENANTS } from '../bad-input.js';
import { bearer, call, errorOf, fingerprint, grant, type TestNode, testNode } from '../support.js';

const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let node: TestNode;
let before: string;

beforeAll(async () => {
  node = await testNode();
  await grant(node.app, 'acme', 'g1', 1_000);
});
afterAll(async () => node.close());
beforeEach(async () => {
  before = await fingerprint(node.replica);
});

async function expectUnchanged(): Promise<void> {
  expect(await fingerprint(node.replica)).toBe(before);
}

/** A debit request with a raw JSON body text. */
function postRaw(
  text: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  tenant = 'acme',
) {
  return node.app.inject({
    method: 'POST',
    url: `/v1/tenants/${tenant}/debits`,
    headers: { ...bearer('service'), ...headers },
    payload: text,
  });
}

describe('a debit', () => {
  it('is answered 201 with the debit and the balances, once', async () => {
    const response = await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'service',
      body: { amount: 3, idempotencyKey: 'req-8f14e45f', metadata: { model: 'x' } },
    });
    expect(response.statusCode).toBe(201);
    expect(response.headers['idempotent-replayed']).toBeUndefined();
    const body = response.json();
    expect(Object.keys(body)).toEqual(['debit', 'balance']);
    expect(body.debit).toEqual({
      debitId: expect.stringMatching(/^eu\.[a-z2-7]+\.\d+$/),
      tenant: 'acme',
      amount: 3,
      region: 'eu',
      parts: [{ grantId: 'g1', amount: 3 }],
      overdraft: 0,
      at: '2026-11-01T00:00:00.000Z',
      origin: node.replica.origin,
      idempotencyKey: 'req-8f14e45f',
    });
    expect(body.balance).toEqual({ available: 997, tenant: 997 });
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
  });

  it('with the same key and body again is replayed: 200, the same debit, the header, no second debit', async () => {
    const first = await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'service',
      body: { amount: 4, idempotencyKey: 'replay-me', metadata: { a: 1, b: [1, 2] } },
    });
    const afterFirst = await fingerprint(node.replica);
    // The same metadata with its keys in another order is the same body.
    const again = await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'admin',
      body: { idempotencyKey: 'replay-me', metadata: { b: [1, 2], a: 1 }, amount: 4 },
    });
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().debit).toEqual(first.json().debit);
    expect(await fingerprint(node.replica)).toBe(afterFirst);
  });

  it('with the same key and another body is 409 idempotency_key_conflict, nothing changed', async () => {
    const first = await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'service',
      body: { amount: 2, idempotencyKey: 'conflicting' },
    });
    before = await fingerprint(node.replica);
    for (const body of [
      { amount: 3, idempotencyKey: 'conflicting' },
      { amount: 2, idempotencyKey: 'conflicting', metadata: { other: true } },
    ]) {
      const response = await call(node.app, 'POST', '/v1/tenants/acme/debits', { who: 'service', body });
      expect(errorOf(response)).toEqual({ status: 409, code: 'idempotency_key_conflict' });
      expect(response.json().error.details).toEqual({
        idempotencyKey: 'conflicting',
        debitId: first.json().debit.debitId,
      });
    }
    await expectUnchanged();
  });

  it('past what the region can spend is 402 insufficient_credits with requested and available', async () => {
    const balance = (await call(node.app, 'GET', '/v1/tenants/acme/balance')).json().balance;
    const response = await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'service',
      body: { amount: balance + 1, idempotencyKey: 'too-much' },
    });
    expect(errorOf(response)).toEqual({ status: 402, code: 'insufficient_credits' });
    expect(response.json().error.details).toEqual({
      requested: balance + 1,
      available: balance,
      reason: 'insufficient',
    });
    expect(response.json().error.message).toMatch(
      /^Tenant acme cannot spend \d+ at this region: \d+ available/,
    );
    await expectUnchanged();
  });

  it('of a tenant with no credits known here is 402, not 404', async () => {
    const response = await call(node.app, 'POST', '/v1/tenants/nobody/debits', {
      who: 'service',
      body: { amount: 1, idempotencyKey: 'k' },
    });
    expect(errorOf(response)).toEqual({ status: 402, code: 'insufficient_credits' });
    expect(response.json().error.details).toEqual({ requested: 1, available: 0, reason: 'insufficient' });
    await expectUnchanged();
  });

  it('of a blocked tenant is 402 with details.reason blocked', async () => {
    await grant(node.app, 'blocked-co', 'g1', 100);
    const blocked = await call(node.app, 'PUT', '/v1/tenants/blocked-co/policy', { body: { blocked: true } });
    expect(blocked.statusCode).toBe(200);
    before = await fingerprint(node.replica);
    const response = await call(node.app, 'POST', '/v1/tenants/blocked-co/debits', {
      who: 'service',
      body: { amount: 1, idempotencyKey: 'k' },
    });
    expect(errorOf(response)).toEqual({ status: 402, code: 'insufficient_credits' });
    expect(response.json().error.details).toEqual({ requested: 1, available: 100, reason: 'blocked' });
    await expectUnchanged();
  });

  it('may take the overdraft its policy allows, and says so', async () => {
    await grant(node.app, 'od-co', 'g1', 10);
    await call(node.app, 'PUT', '/v1/tenants/od-co/policy', { body: { overdraft: { eu: 5 } } });
    const response = await call(node.app, 'POST', '/v1/tenants/od-co/debits', {
      who: 'service',
      body: { amount: 13, idempotencyKey: 'k' },
    });
    expect(response.statusCode).toBe(201);
    expect(response.json().debit).toMatchObject({
      amount: 13,
      overdraft: 3,
      parts: [{ grantId: 'g1', amount: 10 }],
    });
    expect(response.json().balance).toEqual({ available: 2, tenant: -3 });
  });

  it('of the largest amount is accepted where credits allow it', async () => {
    await grant(node.app, 'rich', 'g1', Number.MAX_SAFE_INTEGER);
    const response = await call(node.app, 'POST', '/v1/tenants/rich/debits', {
      who: 'service',
      body: { amount: Number.MAX_SAFE_INTEGER, idempotencyKey: 'all' },
    });
    expect(response.statusCode).toBe(201);
    expect(response.json().debit.amount).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('keeps metadata of exactly 4 KiB, and answers with RFC 3339 times', async () => {
    const overhead = JSON.stringify({ x: '' }).length;
    const metadata = { x: 'm'.repeat(METADATA_BYTES_MAX - overhead) };
    const response = await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'service',
      body: { amount: 1, idempotencyKey: 'meta-4k', metadata },
    });
    expect(response.statusCode).toBe(201);
    expect(response.json().debit.at).toMatch(RFC3339_MS);
  });
});

describe('replica outcomes of a debit', () => {
  it.each([
    [{ status: 'rejected', reason: 'amount_limit', limit: Number.MAX_SAFE_INTEGER }, 409, 'amount_limit'],
    [
      { status: 'invalid', reason: 'invalid_request', detail: 'the debit is invalid' },
      400,
      'invalid_request',
    ],
    [{ status: 'unavailable', reason: 'overloaded' }, 503, 'unavailable'],
    [{ status: 'unavailable', reason: 'closing' }, 503, 'unavailable'],
  ] as const)('answers %j as %i %s', async (outcome, status, code) => {
    const other = await testNode({
      wrap: (replica) =>
        Object.assign(Object.create(replica), { debit: async (): Promise<DebitOutcome> => outcome }),
    });
    try {
      const response = await call(other.app, 'POST', '/v1/tenants/acme/debits', {
        who: 'service',
        body: { amount: 1, idempotencyKey: 'k' },
      });
      expect(errorOf(response)).toEqual({ status, code });
      if (status === 503) expect(response.headers['retry-after']).toBe('1');
    } finally {
      await other.close();
    }
  });
});

describe('a bad debit request is 4xx with a code and changes nothing', () => {
  it.each(BAD_AMOUNTS)('amount: %s', async (_, amount) => {
    const response = await postRaw(`{"amount":${amount},"idempotencyKey":"bad-amount"}`);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(response.json().error.details).toMatchObject({ location: 'body', field: '/amount' });
    await expectUnchanged();
  });

  it.each(BAD_KEYS)('idempotencyKey: %s', async (_, key) => {
    const response = await postRaw(`{"amount":1,"idempotencyKey":${key}}`);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(response.json().error.details).toMatchObject({ location: 'body', field: '/idempotencyKey' });
    await expectUnchanged();
  });

  it('a missing amount or key', async () => {
    for (const [text, field] of [
      ['{"idempotencyKey":"k"}', '/amount'],
      ['{"amount":1}', '/idempotencyKey'],
      ['{}', '/amount'],
    ] as const) {
      const response = await postRaw(text);
      expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
      expect(response.json().error.details).toMatchObject({ field, rule: 'required' });
    }
    await expectUnchanged();
  });

  it('an unknown field', async () => {
    const response = await postRaw('{"amount":1,"idempotencyKey":"k","tenant":"other"}');
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(response.json().error.details).toMatchObject({ field: '/tenant', rule: 'additionalProperties' });
    await expectUnchanged();
  });

  it.each(BAD_TENANTS)('tenant: %s', async (_, segment) => {
    const response = await postRaw('{"amount":1,"idempotencyKey":"k"}', undefined, segment);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    await expectUnchanged();
  });

  it.each(BAD_JSON_BODIES)('body: %s', async (_, text) => {
    const response = await postRaw(text);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    await expectUnchanged();
  });

  it.each(BAD_CONTENT_TYPES.map((type) => [String(type), type] as const))(
    'content type: %s',
    async (_, type) => {
      const response = await postRaw(
        '{"amount":1,"idempotencyKey":"k"}',
        type === null ? {} : { 'content-type': type },
      );
      expect(errorOf(response)).toEqual({ status: 415, code: 'unsupported_media_type' });
      await expectUnchanged();
    },
  );

  it.each([
    ['an array', '[1]'],
    ['a string', '"x"'],
    ['null', 'null'],
    ['a number', '1'],
  ])('metadata: %s', async (_, metadata) => {
    const response = await postRaw(`{"amount":1,"idempotencyKey":"k","metadata":${metadata}}`);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(response.json().error.details).toMatchObject({ field: '/metadata' });
    await expectUnchanged();
  });

  it('metadata one byte past 4 KiB: 413 payload_too_large', async () => {
    const overhead = JSON.stringify({ x: '' }).length;
    const metadata = { x: 'm'.repeat(METADATA_BYTES_MAX - overhead + 1) };
    const response = await postRaw(JSON.stringify({ amount: 1, idempotencyKey: 'k', metadata }));
    expect(errorOf(response)).toEqual({ status: 413, code: 'payload_too_large' });
    expect(response.json().error.details).toEqual({
      field: '/metadata',
      bytes: METADATA_BYTES_MAX + 1,
      limitBytes: METADATA_BYTES_MAX,
    });
    await expectUnchanged();
  });

  it('metadata too deep, or with numbers that cannot be kept exactly', async () => {
    for (const metadata of [
      `${'{"a":'.repeat(40)}1${'}'.repeat(40)}`,
      `{"deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
      '{"x":1e400}',
      '{"id":12345678901234567890}',
    ]) {
      const response = await postRaw(`{"amount":1,"idempotencyKey":"k","metadata":${metadata}}`);
      expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    }
    await expectUnchanged();
  });

  it('a body past its limit: 413 payload_too_large', async () => {
    const response = await postRaw(
      JSON.stringify({ amount: 1, idempotencyKey: 'k', pad: 'p'.repeat(BODY_BYTES_MAX) }),
    );
    expect(errorOf(response)).toEqual({ status: 413, code: 'payload_too_large' });
    expect(response.json().error.details).toEqual({ limitBytes: BODY_BYTES_MAX });
    await expectUnchanged();
  });
});
