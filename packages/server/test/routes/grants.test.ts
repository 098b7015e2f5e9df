/** POST /v1/tenants/{tenant}/grants: created, replayed, refused — and refusals change nothing. */
import { GRANTS_PER_TENANT_MAX } from '@allot/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BAD_AMOUNTS, BAD_CONTENT_TYPES, BAD_JSON_BODIES, BAD_KEYS, BAD_TENANTS } from '../bad-input.js';
import { bearer, call, errorOf, fingerprint, type TestNode, testNode } from '../support.js';

let node: TestNode;
let before: string;

beforeAll(async () => {
  node = await testNode();
});
afterAll(async () => node.close());
beforeEach(async () => {
  before = await fingerprint(node.replica, ['acme', 'limits']);
});

async function expectUnchanged(): Promise<void> {
  expect(await fingerprint(node.replica, ['acme', 'limits'])).toBe(before);
}

function postRaw(
  text: string,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  tenant = 'acme',
) {
  return node.app.inject({
    method: 'POST',
    url: `/v1/tenants/${tenant}/grants`,
    headers: { ...bearer('admin'), ...headers },
    payload: text,
  });
}

describe('a grant', () => {
  it('is created: 201 with the grant and the full balance, times in RFC 3339', async () => {
    const response = await call(node.app, 'POST', '/v1/tenants/acme/grants', {
      body: { grantId: 'g-2026-11', amount: 100_000, priority: 100, expiresAt: '2027-01-01T01:00:00+01:00' },
    });
    expect(response.statusCode).toBe(201);
    expect(response.headers['idempotent-replayed']).toBeUndefined();
    const body = response.json();
    expect(body.grant).toEqual({
      grantId: 'g-2026-11',
      tenant: 'acme',
      amount: 100_000,
      priority: 100,
      expiresAt: '2027-01-01T00:00:00.000Z',
      region: 'eu',
      origin: node.replica.origin,
      at: '2026-11-01T00:00:00.000Z',
    });
    expect(Object.keys(body.balance)).toEqual([
      'tenant',
      'balance',
      'granted',
      'debited',
      'refunded',
      'expired',
      'region',
      'regions',
      'grants',
      'versionVector',
      'asOf',
      'held',
    ]);
    expect(body.balance).toMatchObject({ tenant: 'acme', balance: 100_000, granted: 100_000, region: 'eu' });
    expect(body.balance.grants).toEqual([
      {
        grantId: 'g-2026-11',
        amount: 100_000,
        remaining: 100_000,
        priority: 100,
        expiresAt: '2027-01-01T00:00:00.000Z',
        status: 'active',
      },
    ]);
  });

  it('defaults its priority to 100 and never expires without expiresAt (null too)', async () => {
    const response = await call(node.app, 'POST', '/v1/tenants/acme/grants', {
      body: { grantId: 'plain', amount: 5 },
    });
    expect(response.statusCode).toBe(201);
    expect(response.json().grant).toMatchObject({ priority: 100, expiresAt: null });
    const withNull = await call(node.app, 'POST', '/v1/tenants/acme/grants', {
      body: { grantId: 'plain-null', amount: 5, expiresAt: null, priority: 0 },
    });
    expect(withNull.json().grant).toMatchObject({ priority: 0, expiresAt: null });
  });

  it('again with the same id and terms is replayed: 200, same grant, the header, nothing added', async () => {
    const first = await call(node.app, 'POST', '/v1/tenants/acme/grants', {
      body: { grantId: 'twice', amount: 7 },
    });
    const afterFirst = await fingerprint(node.replica, ['acme', 'limits']);
    // An explicit default priority is the same terms.
    const again = await call(node.app, 'POST', '/v1/tenants/acme/grants', {
      body: { grantId: 'twice', amount: 7, priority: 100 },
    });
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().grant).toEqual(first.json().grant);
    expect(await fingerprint(node.replica, ['acme', 'limits'])).toBe(afterFirst);
  });

  it('with the id of another grant and other terms is 409 grant_id_conflict, nothing changed', async () => {
    for (const body of [
      { grantId: 'twice', amount: 8 },
      { grantId: 'twice', amount: 7, priority: 1 },
      { grantId: 'twice', amount: 7, expiresAt: '2030-01-01T00:00:00Z' },
    ]) {
      const response = await call(node.app, 'POST', '/v1/tenants/acme/grants', { body });
      expect(errorOf(response)).toEqual({ status: 409, code: 'grant_id_conflict' });
      expect(response.json().error.details).toMatchObject({ grantId: 'twice', grant: { amount: 7 } });
    }
    await expectUnchanged();
  });

  it('that has expired already is 400 invalid_request, nothing changed', async () => {
    const response = await call(node.app, 'POST', '/v1/tenants/acme/grants', {
      body: { grantId: 'late', amount: 5, expiresAt: '2026-10-31T23:59:59Z' },
    });
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(response.json().error.details).toMatchObject({ field: '/expiresAt', rule: 'expires_in_past' });
    await expectUnchanged();
  });

  it('that would take the tenant past 2^53 − 1 is 409 amount_limit, nothing changed', async () => {
    const big = await call(node.app, 'POST', '/v1/tenants/limits/grants', {
      body: { grantId: 'max', amount: Number.MAX_SAFE_INTEGER },
    });
    expect(big.statusCode).toBe(201);
    before = await fingerprint(node.replica, ['acme', 'limits']);
    const response = await call(node.app, 'POST', '/v1/tenants/limits/grants', {
      body: { grantId: 'one', amount: 1 },
    });
    expect(errorOf(response)).toEqual({ status: 409, code: 'amount_limit' });
    expect(response.json().error.details).toEqual({ limit: Number.MAX_SAFE_INTEGER });
    await expectUnchanged();
  });

  it(`past ${GRANTS_PER_TENANT_MAX} grants of a tenant is 409 grant_limit, nothing changed`, async () => {
    const created = await Promise.all(
      Array.from({ length: GRANTS_PER_TENANT_MAX }, (_, index) =>
        call(node.app, 'POST', '/v1/tenants/many/grants', { body: { grantId: `g${index}`, amount: 1 } }),
      ),
    );
    expect(created.every((response) => response.statusCode === 201)).toBe(true);
    before = await fingerprint(node.replica, ['acme', 'limits']);
    const response = await call(node.app, 'POST', '/v1/tenants/many/grants', {
      body: { grantId: 'one-more', amount: 1 },
    });
    expect(errorOf(response)).toEqual({ status: 409, code: 'grant_limit' });
    expect(response.json().error.details).toEqual({ limit: GRANTS_PER_TENANT_MAX });
    await expectUnchanged();
  });

  it('accepts ids of 255 printable characters and tenants of 128', async () => {
    const grantId = `${'~!'.repeat(127)}z`;
    const tenant = `${'a.b:c-d_'.repeat(16)}`;
    expect(grantId).toHaveLength(255);
    expect(tenant).toHaveLength(128);
    const response = await call(node.app, 'POST', `/v1/tenants/${tenant}/grants`, {
      body: { grantId, amount: 1 },
    });
    expect(response.statusCode).toBe(201);
    expect(response.json().grant).toMatchObject({ grantId, tenant });
  });
});

describe('a bad grant request is 4xx with a code and changes nothing', () => {
  it.each(BAD_AMOUNTS)('amount: %s', async (_, amount) => {
    const response = await postRaw(`{"grantId":"bad","amount":${amount}}`);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(response.json().error.details).toMatchObject({ field: '/amount' });
    await expectUnchanged();
  });

  it.each(BAD_KEYS)('grantId: %s', async (_, key) => {
    const response = await postRaw(`{"grantId":${key},"amount":1}`);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(response.json().error.details).toMatchObject({ field: '/grantId' });
    await expectUnchanged();
  });

  it.each([
    ['below 0', '-1'],
    ['above 1,000,000', '1000001'],
    ['a float', '0.5'],
    ['a string', '"100"'],
    ['null', 'null'],
  ])('priority: %s', async (_, priority) => {
    const response = await postRaw(`{"grantId":"p","amount":1,"priority":${priority}}`);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(response.json().error.details).toMatchObject({ field: '/priority' });
    await expectUnchanged();
  });

  it.each([
    ['a date only', '"2027-01-01"'],
    ['no zone', '"2027-01-01T00:00:00"'],
    ['30 February', '"2027-02-30T00:00:00Z"'],
    ['hour 25', '"2027-01-01T25:00:00Z"'],
    ['a number of ms', '1798761600000'],
    ['prose', '"next year"'],
    ['a five-digit year', '"10000-01-01T00:00:00Z"'],
  ])('expiresAt: %s', async (_, expiresAt) => {
    const response = await postRaw(`{"grantId":"e","amount":1,"expiresAt":${expiresAt}}`);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(response.json().error.details).toMatchObject({ field: '/expiresAt' });
    await expectUnchanged();
  });

  it('missing fields and unknown fields', async () => {
    for (const [text, field] of [
      ['{"amount":1}', '/grantId'],
      ['{"grantId":"x"}', '/amount'],
      ['{"grantId":"x","amount":1,"region":"us"}', '/region'],
    ] as const) {
      const response = await postRaw(text);
      expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
      expect(response.json().error.details).toMatchObject({ field });
    }
    await expectUnchanged();
  });

  it.each(BAD_TENANTS)('tenant: %s', async (_, segment) => {
    const response = await postRaw('{"grantId":"t","amount":1}', undefined, segment);
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
        '{"grantId":"c","amount":1}',
        type === null ? {} : { 'content-type': type },
      );
      expect(errorOf(response)).toEqual({ status: 415, code: 'unsupported_media_type' });
      await expectUnchanged();
    },
  );
});
