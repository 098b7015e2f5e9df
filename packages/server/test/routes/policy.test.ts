/** GET and PUT /v1/tenants/{tenant}/policy. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_REGIONS_MAX, POLICY_WEIGHT_MAX } from '../../src/limits.js';
import { bearer, call, errorOf, fingerprint, type TestNode, testNode } from '../support.js';

let node: TestNode;

beforeAll(async () => {
  node = await testNode();
});
afterAll(async () => node.close());

describe('a tenant policy', () => {
  it('of a tenant known here by neither a grant nor a policy is 404 tenant_not_found, as its balance', async () => {
    const before = await fingerprint(node.replica);
    const policy = await call(node.app, 'GET', '/v1/tenants/nobody/policy', { who: 'service' });
    expect(errorOf(policy)).toEqual({ status: 404, code: 'tenant_not_found' });
    expect(policy.json().error.details).toEqual({ tenant: 'nobody' });
    const balance = await call(node.app, 'GET', '/v1/tenants/nobody/balance', { who: 'service' });
    expect(errorOf(balance)).toEqual({ status: 404, code: 'tenant_not_found' });
    expect(await fingerprint(node.replica)).toBe(before);
  });

  it('reads as the default for a granted tenant that has none set', async () => {
    const granted = await call(node.app, 'POST', '/v1/tenants/granted-co/grants', {
      body: { grantId: 'g-1', amount: 10 },
    });
    expect(granted.statusCode).toBe(201);
    const response = await call(node.app, 'GET', '/v1/tenants/granted-co/policy', { who: 'service' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ overdraft: {}, weights: {}, blocked: false });
  });

  it('written before any grant reads back (the tenant is known by its policy)', async () => {
    const put = await call(node.app, 'PUT', '/v1/tenants/early-co/policy', {
      body: { overdraft: { eu: 5 } },
    });
    expect(put.statusCode).toBe(200);
    const get = await call(node.app, 'GET', '/v1/tenants/early-co/policy', { who: 'auditor' });
    expect(get.statusCode).toBe(200);
    expect(get.json()).toEqual({ overdraft: { eu: 5 }, weights: {}, blocked: false });
    // Its balance is still 404: a balance is about credits, and none is known here.
    const balance = await call(node.app, 'GET', '/v1/tenants/early-co/balance', { who: 'auditor' });
    expect(errorOf(balance)).toEqual({ status: 404, code: 'tenant_not_found' });
  });

  it('is set by PUT and read back by GET', async () => {
    const policy = { overdraft: { eu: 500 }, weights: { eu: 2, us: 1 }, blocked: false };
    const put = await call(node.app, 'PUT', '/v1/tenants/acme/policy', { body: policy });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toEqual(policy);
    const get = await call(node.app, 'GET', '/v1/tenants/acme/policy', { who: 'auditor' });
    expect(get.json()).toEqual(policy);
  });

  it('keeps the fields a PUT leaves out, replaces those it gives', async () => {
    const blocked = await call(node.app, 'PUT', '/v1/tenants/acme/policy', { body: { blocked: true } });
    expect(blocked.json()).toEqual({ overdraft: { eu: 500 }, weights: { eu: 2, us: 1 }, blocked: true });
    const overdraft = await call(node.app, 'PUT', '/v1/tenants/acme/policy', {
      body: { overdraft: { us: 7 } },
    });
    expect(overdraft.json()).toEqual({ overdraft: { us: 7 }, weights: { eu: 2, us: 1 }, blocked: true });
    const same = await call(node.app, 'PUT', '/v1/tenants/acme/policy', { body: {} });
    expect(same.json()).toEqual(overdraft.json());
  });

  it.each([
    ['a negative overdraft', { overdraft: { eu: -1 } }],
    ['a float overdraft', { overdraft: { eu: 1.5 } }],
    ['a string overdraft', { overdraft: { eu: '5' } }],
    ['an overdraft past 2^53 − 1', { overdraft: { eu: 2 ** 53 } }],
    ['overdraft not an object', { overdraft: 5 }],
    ['a zero weight', { weights: { eu: 0 } }],
    ['a weight past its limit', { weights: { eu: POLICY_WEIGHT_MAX + 1 } }],
    ['an invalid region', { weights: { EU: 1 } }],
    ['a region with a space', { overdraft: { 'e u': 1 } }],
    [
      'too many regions',
      { weights: Object.fromEntries(Array.from({ length: POLICY_REGIONS_MAX + 1 }, (_, i) => [`r${i}`, 1])) },
    ],
    ['blocked as a string', { blocked: 'true' }],
    ['an unknown field', { lowWater: 3 }],
    ['null', null],
    ['an array', []],
  ])('refuses %s with 400 and changes nothing', async (_, body) => {
    const before = await fingerprint(node.replica);
    const response = await node.app.inject({
      method: 'PUT',
      url: '/v1/tenants/acme/policy',
      headers: { ...bearer('admin'), 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(await fingerprint(node.replica)).toBe(before);
  });

  it('of an invalid tenant id is 400', async () => {
    const response = await call(node.app, 'GET', `/v1/tenants/${'x'.repeat(129)}/policy`);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
  });
});
