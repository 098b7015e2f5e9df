/** POST /v1/tenants/{tenant}/debits/{debitId}/refunds: all or part, once, at the debit's region. */
import type { RefundOutcome } from '@allot/replica';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BAD_AMOUNTS, BAD_KEYS } from '../bad-input.js';
import { bearer, call, debit, errorOf, fingerprint, grant, type TestNode, testNode } from '../support.js';

let node: TestNode;
let before: string;
let debitId: string;

beforeAll(async () => {
  node = await testNode();
  await grant(node.app, 'acme', 'g1', 100);
  await grant(node.app, 'beta', 'g1', 100);
  debitId = (await debit(node.app, 'acme', 10, 'to-refund')).debitId;
});
afterAll(async () => node.close());
beforeEach(async () => {
  before = await fingerprint(node.replica, ['acme', 'beta']);
});

async function expectUnchanged(): Promise<void> {
  expect(await fingerprint(node.replica, ['acme', 'beta'])).toBe(before);
}

function refund(body: unknown, id = debitId, tenant = 'acme') {
  return call(node.app, 'POST', `/v1/tenants/${tenant}/debits/${encodeURIComponent(id)}/refunds`, { body });
}

describe('a refund', () => {
  it('of part of a debit is 201 with the refund and the balance', async () => {
    const response = await refund({ amount: 4, idempotencyKey: 'r-1' });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body.refund).toEqual({
      refundId: expect.stringMatching(/^eu\.[a-z2-7]+\.\d+$/),
      debitId,
      tenant: 'acme',
      amount: 4,
      region: 'eu',
      parts: [{ grantId: 'g1', amount: 4 }],
      overdraft: 0,
      at: '2026-11-01T00:00:00.000Z',
      origin: node.replica.origin,
      idempotencyKey: 'r-1',
    });
    expect(body.balance).toMatchObject({ tenant: 'acme', balance: 94, debited: 10, refunded: 4 });
  });

  it('again with the same key is replayed: 200 and the header, nothing added', async () => {
    const response = await refund({ amount: 4, idempotencyKey: 'r-1' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['idempotent-replayed']).toBe('true');
    expect(response.json().refund.amount).toBe(4);
    await expectUnchanged();
  });

  it('with the same key and another amount is 409 idempotency_key_conflict', async () => {
    const response = await refund({ amount: 5, idempotencyKey: 'r-1' });
    expect(errorOf(response)).toEqual({ status: 409, code: 'idempotency_key_conflict' });
    expect(response.json().error.details).toMatchObject({ idempotencyKey: 'r-1', debitId });
    await expectUnchanged();
  });

  it('past what is left of the debit is 409 refund_exceeds_debit', async () => {
    const response = await refund({ amount: 7, idempotencyKey: 'r-2' });
    expect(errorOf(response)).toEqual({ status: 409, code: 'refund_exceeds_debit' });
    expect(response.json().error.details).toEqual({ requested: 7, refundable: 6, debitId });
    await expectUnchanged();
  });

  it('without an amount gives back all that is left, then nothing more', async () => {
    const all = await refund({ idempotencyKey: 'r-3' });
    expect(all.statusCode).toBe(201);
    expect(all.json().refund.amount).toBe(6);
    expect(all.json().balance).toMatchObject({ balance: 100, refunded: 10 });
    before = await fingerprint(node.replica, ['acme', 'beta']);
    const more = await refund({ idempotencyKey: 'r-4' });
    expect(errorOf(more)).toEqual({ status: 409, code: 'refund_exceeds_debit' });
    expect(more.json().error.details).toMatchObject({ refundable: 0 });
    const one = await refund({ amount: 1, idempotencyKey: 'r-5' });
    expect(errorOf(one)).toEqual({ status: 409, code: 'refund_exceeds_debit' });
    await expectUnchanged();
  });

  it('of a debit not known here, of another tenant, or of no debit id is 404 not_found', async () => {
    const [, incarnation] = debitId.split('.');
    for (const [id, tenant] of [
      [`eu.${incarnation}.999`, 'acme'],
      [debitId, 'beta'],
      [debitId, 'nobody'],
      ['not-a-debit', 'acme'],
      ['eu.x.1', 'acme'],
      ['a/b', 'acme'],
    ] as const) {
      const response = await refund({ amount: 1, idempotencyKey: 'r-404' }, id, tenant);
      expect(errorOf(response), `${tenant} ${id}`).toEqual({ status: 404, code: 'not_found' });
    }
    await expectUnchanged();
  });

  it('of a debit taken by another region is 409 wrong_region with details.region', async () => {
    // No second region is reachable yet: a replica that knows the debit as another region's.
    const other = await testNode({
      wrap: (replica) =>
        Object.assign(Object.create(replica), {
          refund: async (): Promise<RefundOutcome> => ({ status: 'wrong_region', region: 'us' }),
        }),
    });
    try {
      const response = await call(other.app, 'POST', `/v1/tenants/acme/debits/us.abcdefgh.3/refunds`, {
        body: { idempotencyKey: 'r' },
      });
      expect(errorOf(response)).toEqual({ status: 409, code: 'wrong_region' });
      expect(response.json().error.details).toEqual({ region: 'us', debitId: 'us.abcdefgh.3' });
    } finally {
      await other.close();
    }
  });

  it.each([
    [{ status: 'rejected', reason: 'nothing_to_credit' }, 409, 'refund_not_creditable'],
    [{ status: 'rejected', reason: 'amount_limit' }, 409, 'amount_limit'],
    [
      { status: 'invalid', reason: 'invalid_request', detail: 'the refund is invalid' },
      400,
      'invalid_request',
    ],
    [{ status: 'unavailable', reason: 'overloaded' }, 503, 'unavailable'],
  ] as const)('answers the replica outcome %j as %i %s', async (outcome, status, code) => {
    const other = await testNode({
      wrap: (replica) =>
        Object.assign(Object.create(replica), { refund: async (): Promise<RefundOutcome> => outcome }),
    });
    try {
      const response = await call(other.app, 'POST', '/v1/tenants/acme/debits/eu.abcdefgh.3/refunds', {
        body: { idempotencyKey: 'r' },
      });
      expect(errorOf(response)).toEqual({ status, code });
    } finally {
      await other.close();
    }
  });

  it.each(BAD_AMOUNTS)('with amount %s is 400, nothing changed', async (_, amount) => {
    const response = await node.app.inject({
      method: 'POST',
      url: `/v1/tenants/acme/debits/${debitId}/refunds`,
      headers: { ...bearer('admin'), 'content-type': 'application/json' },
      payload: `{"amount":${amount},"idempotencyKey":"bad"}`,
    });
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    await expectUnchanged();
  });

  it.each(BAD_KEYS)('with idempotencyKey %s is 400, nothing changed', async (_, key) => {
    const response = await node.app.inject({
      method: 'POST',
      url: `/v1/tenants/acme/debits/${debitId}/refunds`,
      headers: { ...bearer('admin'), 'content-type': 'application/json' },
      payload: `{"amount":1,"idempotencyKey":${key}}`,
    });
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    await expectUnchanged();
  });

  it('without a key, or with an unknown field, or a debit id of 256 characters, is 400', async () => {
    for (const [body, id] of [
      [{ amount: 1 }, debitId],
      [{ amount: 1, idempotencyKey: 'k', reason: 'x' }, debitId],
      [{ amount: 1, idempotencyKey: 'k' }, 'd'.repeat(256)],
    ] as const) {
      const response = await refund(body, id);
      expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    }
    await expectUnchanged();
  });
});
