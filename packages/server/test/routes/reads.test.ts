/** GET balance, events and cluster: the shapes of API.md, RFC 3339 times, bounded pages. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/index.js';
import { BAD_TENANTS } from '../bad-input.js';
import { call, debit, errorOf, fingerprint, grant, type TestNode, testNode } from '../support.js';

const RFC3339_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let node: TestNode;

beforeAll(async () => {
  node = await testNode();
  await call(node.app, 'POST', '/v1/tenants/acme/grants', {
    body: { grantId: 'promo', amount: 50, priority: 10, expiresAt: '2026-12-01T00:00:00Z' },
  });
  await grant(node.app, 'acme', 'paid', 100_000);
  await call(node.app, 'POST', '/v1/tenants/acme/debits', {
    who: 'service',
    body: { amount: 53, idempotencyKey: 'req-1', metadata: { model: 'x', tokens: [1, 2] } },
  });
});
afterAll(async () => node.close());

describe('GET /v1/tenants/{tenant}/balance', () => {
  it('answers the shape of API.md exactly', async () => {
    node.clock.advance(1_500);
    const response = await call(node.app, 'GET', '/v1/tenants/acme/balance', { who: 'service' });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toEqual({
      tenant: 'acme',
      balance: 99_997,
      granted: 100_050,
      debited: 53,
      refunded: 0,
      expired: 0,
      held: 0,
      region: 'eu',
      regions: { eu: { rights: 99_997, overdraft: 0, overdraftInUse: 0 } },
      grants: [
        {
          grantId: 'paid',
          amount: 100_000,
          remaining: 99_997,
          priority: 100,
          expiresAt: null,
          status: 'active',
        },
        {
          grantId: 'promo',
          amount: 50,
          remaining: 0,
          priority: 10,
          expiresAt: '2026-12-01T00:00:00.000Z',
          status: 'exhausted',
        },
      ],
      versionVector: { [node.replica.origin]: 3 },
      asOf: '2026-11-01T00:00:01.500Z',
    });
    expect(Object.keys(body)).toEqual([
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
  });

  it('of a tenant never granted anything here is 404 tenant_not_found', async () => {
    const response = await call(node.app, 'GET', '/v1/tenants/nobody/balance', { who: 'auditor' });
    expect(errorOf(response)).toEqual({ status: 404, code: 'tenant_not_found' });
    expect(response.json().error.details).toEqual({ tenant: 'nobody' });
  });

  it.each(BAD_TENANTS)('of tenant %s is 400', async (_, segment) => {
    const response = await call(node.app, 'GET', `/v1/tenants/${segment}/balance`);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
  });
});

describe('GET /v1/tenants/{tenant}/events', () => {
  it('shows every event with origin, seq, hash, kind, its fields and RFC 3339 times', async () => {
    const response = await call(node.app, 'GET', '/v1/tenants/acme/events', { who: 'auditor' });
    expect(response.statusCode).toBe(200);
    const { events, next } = response.json();
    expect(next).toBeNull();
    expect(events.map((event: { kind: string }) => event.kind)).toEqual(['grant', 'grant', 'debit']);
    for (const [index, event] of events.entries()) {
      expect(event).toMatchObject({ origin: node.replica.origin, seq: index + 1, tenant: 'acme' });
      expect(event.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(event.at).toMatch(RFC3339_MS);
    }
    expect(events[0]).toEqual({
      origin: node.replica.origin,
      seq: 1,
      hash: events[0].hash,
      kind: 'grant',
      tenant: 'acme',
      at: '2026-11-01T00:00:00.000Z',
      grantId: 'promo',
      amount: 50,
      priority: 10,
      expiresAt: '2026-12-01T00:00:00.000Z',
    });
    expect(events[2]).toMatchObject({
      kind: 'debit',
      debitId: expect.stringMatching(/^eu\./),
      amount: 53,
      idempotencyKey: 'req-1',
      parts: [
        { grantId: 'promo', amount: 50 },
        { grantId: 'paid', amount: 3 },
      ],
      overdraft: 0,
      metadata: { model: 'x', tokens: [1, 2] },
    });
  });

  it('pages with limit and the next cursor', async () => {
    const seen: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page++) {
      const query: string = after === null ? '?limit=1' : `?limit=1&after=${encodeURIComponent(after)}`;
      const response = await call(node.app, 'GET', `/v1/tenants/acme/events${query}`);
      expect(response.statusCode).toBe(200);
      const body: { events: { seq: number }[]; next: string | null } = response.json();
      seen.push(...body.events.map((event) => event.seq));
      after = body.next;
      if (after === null) break;
    }
    expect(seen).toEqual([1, 2, 3]);
  });

  it('of a tenant with no events is an empty page', async () => {
    const response = await call(node.app, 'GET', '/v1/tenants/nobody/events');
    expect(response.json()).toEqual({ events: [], next: null });
  });

  it.each([
    ['limit=0'],
    ['limit=1001'],
    ['limit=-1'],
    ['limit=1.5'],
    ['limit=ten'],
    ['limit=01'],
    ['limit='],
    ['limit=1&limit=2'],
    ['after='],
    ['after=%20'],
    ['after=not-a-cursor'],
    ['after=zzzzzzzzzzzz'],
    ['cursor=abc'],
  ])('with %s is 400 invalid_request', async (query) => {
    const before = await fingerprint(node.replica);
    const response = await call(node.app, 'GET', `/v1/tenants/acme/events?${query}`);
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(await fingerprint(node.replica)).toBe(before);
  });

  it('tells a made-up cursor (after=abc) from one past the end', async () => {
    const madeUp = await call(node.app, 'GET', '/v1/tenants/acme/events?after=abc');
    expect(errorOf(madeUp)).toEqual({ status: 400, code: 'invalid_request' });
    expect(madeUp.json().error.message).toMatch(/is not a cursor/);
    expect(madeUp.json().error.details).toEqual({ location: 'querystring', field: '/after' });
    const farAway = await call(node.app, 'GET', '/v1/tenants/acme/events?after=00000zzzzzz');
    expect(errorOf(farAway)).toEqual({ status: 400, code: 'invalid_request' });
    expect(farAway.json().error.message).toMatch(/past the last event/);
  });

  it('accepts the largest page', async () => {
    const response = await call(node.app, 'GET', '/v1/tenants/acme/events?limit=1000');
    expect(response.statusCode).toBe(200);
  });
});

describe('GET /v1/cluster', () => {
  it('shows this node and, without replication, no peers and nothing stranded', async () => {
    const response = await call(node.app, 'GET', '/v1/cluster', { who: 'service' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      cluster: 'test',
      region: 'eu',
      origin: node.replica.origin,
      versionVector: { [node.replica.origin]: 3 },
      peers: [],
      stranded: [],
      grantConflicts: [],
    });
  });

  it('shows the peers and stranded rights a replica reports', async () => {
    const view: ClusterView = {
      peers: [
        {
          region: 'us',
          url: 'ws://127.0.0.1:7002/v1/replication',
          connected: true,
          lastHeardMs: 12,
          lagEvents: 3,
          rttMs: 1.5,
        },
      ],
      stranded: [{ origin: 'us#aaaaaaaa', region: 'us', tenants: 2, rights: 40, held: 5 }],
      grantConflicts: [{ tenant: 'acme', grantId: 'topup-7', winner: 'eu#aaaaaaaa', loser: 'us#aaaaaaaa' }],
    };
    const other = await testNode({
      wrap: (replica) => Object.assign(Object.create(replica), { clusterView: () => view }),
    });
    try {
      const response = await call(other.app, 'GET', '/v1/cluster', { who: 'auditor' });
      expect(response.json()).toMatchObject({
        peers: view.peers,
        stranded: view.stranded,
        grantConflicts: view.grantConflicts,
        versionVector: {},
      });
    } finally {
      await other.close();
    }
  });
});

describe('reads change nothing', () => {
  it('balance, events, cluster, policy and snapshot leave the ledger as it was', async () => {
    const before = await fingerprint(node.replica);
    await debit(node.app, 'acme', 1, 'read-check');
    const afterDebit = await fingerprint(node.replica);
    expect(afterDebit).not.toBe(before);
    for (const url of [
      '/v1/tenants/acme/balance',
      '/v1/tenants/acme/events',
      '/v1/cluster',
      '/v1/tenants/acme/policy',
      '/v1/snapshot',
    ]) {
      expect((await call(node.app, 'GET', url)).statusCode).toBe(200);
    }
    expect(await fingerprint(node.replica)).toBe(afterDebit);
  });
});
