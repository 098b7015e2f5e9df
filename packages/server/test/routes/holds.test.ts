/** Holds over HTTP (API.md "Holds", issue 12): reserve, capture, void; errors from the catalogue. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { call, errorOf, fingerprint, grant, type TestNode, testNode } from '../support.js';

let node: TestNode;
let before: string;

beforeAll(async () => {
  node = await testNode();
  await grant(node.app, 'acme', 'g1', 10_000);
});
afterAll(async () => node.close());
beforeEach(async () => {
  before = await fingerprint(node.replica, ['acme']);
});

async function expectUnchanged(): Promise<void> {
  expect(await fingerprint(node.replica, ['acme'])).toBe(before);
}

const hold = (body: unknown, tenant = 'acme') =>
  call(node.app, 'POST', `/v1/tenants/${tenant}/holds`, { who: 'service', body });
const settle = (holdId: string, action: 'capture' | 'void', body: unknown = {}) =>
  call(node.app, 'POST', `/v1/tenants/acme/holds/${encodeURIComponent(holdId)}/${action}`, {
    who: 'service',
    body,
  });

describe('holds', () => {
  it('a hold is 201 with the hold and the balance; the balance shows it as held', async () => {
    const response = await hold({
      amount: 4000,
      idempotencyKey: 'h-1',
      ttlSeconds: 300,
      metadata: { model: 'x' },
    });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body.hold).toEqual({
      holdId: expect.stringMatching(/^eu\.[a-z2-7]+\.\d+$/),
      tenant: 'acme',
      amount: 4000,
      region: 'eu',
      expiresAt: '2026-11-01T00:05:00.000Z',
      status: 'active',
      captured: null,
    });
    expect(body.balance).toEqual({ available: 6000, tenant: 6000 });
    const balance = (await call(node.app, 'GET', '/v1/tenants/acme/balance')).json();
    expect(balance).toMatchObject({ balance: 6000, held: 4000, debited: 0 });
    // Same key and body: replayed; another body: conflict.
    const replay = await hold({
      amount: 4000,
      idempotencyKey: 'h-1',
      ttlSeconds: 300,
      metadata: { model: 'x' },
    });
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.json().hold.holdId).toBe(body.hold.holdId);
    const conflict = await hold({ amount: 4001, idempotencyKey: 'h-1', ttlSeconds: 300 });
    expect(errorOf(conflict)).toEqual({ status: 409, code: 'idempotency_key_conflict' });
  });

  it('a capture is 201: a debit of that amount, the rest released; settling again is 409 hold_not_active', async () => {
    const created = (await hold({ amount: 1000, idempotencyKey: 'h-2', ttlSeconds: 60 })).json().hold;
    const response = await settle(created.holdId, 'capture', { amount: 1234 });
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    const captured = await settle(created.holdId, 'capture', { amount: 250 });
    expect(captured.statusCode).toBe(201);
    expect(captured.json().hold).toMatchObject({ status: 'captured', captured: 250 });
    const balance = (await call(node.app, 'GET', '/v1/tenants/acme/balance')).json();
    expect(balance).toMatchObject({ debited: 250, held: 4000, balance: 10_000 - 250 - 4000 });
    const replay = await settle(created.holdId, 'capture', { amount: 250 });
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    const twice = await settle(created.holdId, 'void');
    expect(errorOf(twice)).toEqual({ status: 409, code: 'hold_not_active' });
    expect(twice.json().error.details).toMatchObject({ holdId: created.holdId, status: 'captured' });
  });

  it('a void is 200 and releases all of it', async () => {
    const created = (await hold({ amount: 500, idempotencyKey: 'h-3', ttlSeconds: 60 })).json().hold;
    const voided = await settle(created.holdId, 'void');
    expect(voided.statusCode).toBe(200);
    expect(voided.json().hold).toMatchObject({ status: 'voided', captured: null });
    expect((await call(node.app, 'GET', '/v1/tenants/acme/balance')).json()).toMatchObject({ held: 4000 });
  });

  it('bad input is 400 and changes nothing; past the credits is 402 with a reason; unknown holds are 404', async () => {
    for (const body of [
      { amount: 0, idempotencyKey: 'x', ttlSeconds: 1 },
      { amount: 1, idempotencyKey: 'x', ttlSeconds: 0 },
      { amount: 1, idempotencyKey: 'x', ttlSeconds: 30 * 86_400 + 1 },
      { amount: 1, idempotencyKey: 'x' },
      { amount: 1, idempotencyKey: 'x', ttlSeconds: 1, extra: true },
    ]) {
      expect(errorOf(await hold(body))).toEqual({ status: 400, code: 'invalid_request' });
    }
    const tooMuch = await hold({ amount: 1_000_000, idempotencyKey: 'big', ttlSeconds: 1 });
    expect(errorOf(tooMuch)).toEqual({ status: 402, code: 'insufficient_credits' });
    expect(tooMuch.json().error.details).toMatchObject({ requested: 1_000_000, reason: 'insufficient' });
    expect(errorOf(await settle('eu.aaaaaaaaaaaaaaaa.999', 'void'))).toEqual({
      status: 404,
      code: 'not_found',
    });
    expect(errorOf(await settle('nonsense', 'void'))).toEqual({ status: 404, code: 'not_found' });
    await expectUnchanged();
  });
});

describe('a hold of a lost incarnation', () => {
  it('is 409 hold_not_active with details.status stranded and the incarnation, until it is retired', async () => {
    const holdId = 'eu.aaaaaaaaaaaaaaaa.7';
    const view = {
      holdId,
      tenant: 'acme',
      amount: 40,
      region: 'eu',
      expiresAt: 1_790_000_000_000,
      at: 1_789_999_000_000,
      status: 'active' as const,
      captured: null,
    };
    const stranded = await testNode({
      wrap: (replica) =>
        Object.assign(Object.create(replica), {
          settleHold: async () => ({ status: 'stranded', hold: view }),
        }),
    });
    try {
      const response = await call(stranded.app, 'POST', `/v1/tenants/acme/holds/${holdId}/void`, {
        who: 'service',
        body: {},
      });
      expect(errorOf(response)).toEqual({ status: 409, code: 'hold_not_active' });
      expect(response.json().error.details).toEqual({
        holdId,
        status: 'stranded',
        origin: 'eu#aaaaaaaaaaaaaaaa',
      });
      expect(response.json().error.message).toContain('lost incarnation eu#aaaaaaaaaaaaaaaa');
    } finally {
      await stranded.close();
    }
  });
});
