/**
 * Bearer tokens, roles and tenant scopes (API.md, DESIGN.md §7): the token table on its own, then
 * every /v1 route against no token, unknown and malformed tokens, every role and foreign scopes.
 * A refused request changes nothing.
 */
import { createHash } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, type Principal, type Role, TokenTable } from '../src/auth.js';
import { ApiError } from '../src/errors.js';
import { call, debit, fingerprint, grant, type TestNode, TOKENS, testNode } from './support.js';

describe('the token table', () => {
  const table = new TokenTable([
    { token: 'svc', role: 'service' },
    { token: 'adm', role: 'admin' },
    { token: 'scoped', role: 'service', tenants: ['acme', 'beta'] },
  ]);

  it('refuses invalid token configs with the entry named', () => {
    expect(() => new TokenTable([{ token: '', role: 'admin' }])).toThrow(/tokens\[0\]\.token/);
    expect(() => new TokenTable([{ token: 'a b', role: 'admin' }])).toThrow(/tokens\[0\]\.token/);
    expect(() => new TokenTable([{ token: 'x'.repeat(4097), role: 'admin' }])).toThrow(/longer/);
    expect(() => new TokenTable([{ token: 'a', role: 'root' as Role }])).toThrow(/tokens\[0\]\.role/);
    expect(
      () =>
        new TokenTable([
          { token: 'a', role: 'admin' },
          { token: 'a', role: 'service' },
        ]),
    ).toThrow(/tokens\[1\]\.token is listed twice/);
    expect(() => new TokenTable([{ token: 'a', role: 'admin', tenants: [] }])).toThrow(/tenants is empty/);
    expect(() => new TokenTable([{ token: 'a', role: 'admin', tenants: ['no spaces'] }])).toThrow(
      /tenant id/,
    );
  });

  it('answers 401 with a Bearer challenge for a missing, malformed or unknown token', () => {
    const cases: [string | undefined, string][] = [
      [undefined, 'Bearer realm="allot"'],
      ['', 'Bearer realm="allot"'],
      ['Basic c3ZjOg==', 'Bearer realm="allot", error="invalid_request"'],
      ['Bearer', 'Bearer realm="allot", error="invalid_request"'],
      ['Bearer ', 'Bearer realm="allot", error="invalid_request"'],
      ['Bearer a b', 'Bearer realm="allot", error="invalid_request"'],
      ['Bearer svc\u00e9', 'Bearer realm="allot", error="invalid_request"'],
      [`Bearer ${'x'.repeat(5000)}`, 'Bearer realm="allot", error="invalid_request"'],
      ['Bearer sv', 'Bearer realm="allot", error="invalid_token"'],
      ['Bearer svcc', 'Bearer realm="allot", error="invalid_token"'],
      ['Bearer SVC', 'Bearer realm="allot", error="invalid_token"'],
    ];
    for (const [header, challenge] of cases) {
      const result = table.authenticate(header);
      expect(result, String(header)).toBeInstanceOf(ApiError);
      const error = result as ApiError;
      expect(error.statusCode).toBe(401);
      expect(error.code).toBe('unauthorized');
      expect(error.headers['www-authenticate']).toBe(challenge);
    }
  });

  it('finds the principal of a known token; the scheme is case-insensitive', () => {
    expect(table.authenticate('Bearer svc')).toEqual({ id: 'tokens[0]', role: 'service', tenants: null });
    expect(table.authenticate('bearer adm')).toEqual({ id: 'tokens[1]', role: 'admin', tenants: null });
    expect(table.authenticate('BEARER  scoped')).toEqual({
      id: 'tokens[2]',
      role: 'service',
      tenants: new Set(['acme', 'beta']),
    });
  });

  it('accepts a token given as sha256:<hex> of the token, and never the hash itself as a token', () => {
    const hex = createHash('sha256').update('hashed-secret').digest('hex');
    const hashed = new TokenTable([{ token: `sha256:${hex}`, role: 'auditor' }]);
    expect(hashed.authenticate('Bearer hashed-secret')).toEqual({
      id: 'tokens[0]',
      role: 'auditor',
      tenants: null,
    });
    for (const wrong of [`sha256:${hex}`, hex, 'hashed-secreT']) {
      expect(hashed.authenticate(`Bearer ${wrong}`), wrong).toBeInstanceOf(ApiError);
    }
    // Upper-case hex digits name the same digest.
    const upper = new TokenTable([{ token: `sha256:${hex.toUpperCase()}`, role: 'admin' }]);
    expect(upper.authenticate('Bearer hashed-secret')).toMatchObject({ role: 'admin' });
  });

  it('refuses a malformed sha256: token and a token listed both hashed and in clear', () => {
    const hex = createHash('sha256').update('twice-listed').digest('hex');
    for (const token of ['sha256:', `sha256:${hex.slice(1)}`, `sha256:${hex}0`, `sha256:${hex.slice(1)}g`]) {
      expect(() => new TokenTable([{ token, role: 'admin' }]), token).toThrow(
        /tokens\[0\]\.token starts with sha256: but is not followed by 64 hex digits/,
      );
    }
    expect(
      () =>
        new TokenTable([
          { token: 'twice-listed', role: 'admin' },
          { token: `sha256:${hex}`, role: 'service' },
        ]),
    ).toThrow(/tokens\[1\]\.token is listed twice/);
  });

  it('authorizes by role, then by tenant scope', () => {
    const service: Principal = { id: 'tokens[0]', role: 'service', tenants: null };
    const scoped: Principal = { id: 'tokens[1]', role: 'auditor', tenants: new Set(['acme']) };
    expect(authorize(service, { roles: ['service', 'admin'], scope: 'tenant' }, 'any')).toBeNull();
    expect(authorize(service, { roles: ['admin'], scope: 'tenant' }, 'any')?.body.details).toMatchObject({
      reason: 'role',
    });
    expect(authorize(scoped, { roles: ['auditor'], scope: 'tenant' }, 'acme')).toBeNull();
    expect(authorize(scoped, { roles: ['auditor'], scope: 'tenant' }, 'beta')?.body.details).toEqual({
      reason: 'tenant_scope',
      tenant: 'beta',
    });
    expect(authorize(scoped, { roles: ['auditor'], scope: 'every-tenant' }, undefined)?.statusCode).toBe(403);
    expect(authorize(scoped, { roles: ['auditor'], scope: 'none' }, undefined)).toBeNull();
    expect(authorize(scoped, { roles: ['auditor'], scope: 'per-item' }, undefined)).toBeNull();
  });
});

interface RouteCase {
  readonly name: string;
  readonly method: 'GET' | 'POST' | 'PUT';
  /** The URL, for a tenant. */
  readonly url: (tenant: string) => string;
  readonly body?: (tenant: string) => unknown;
  readonly roles: readonly Role[];
}

const ROUTES: readonly RouteCase[] = [
  {
    name: 'create a grant',
    method: 'POST',
    url: (t) => `/v1/tenants/${t}/grants`,
    body: () => ({ grantId: 'g-auth', amount: 5 }),
    roles: ['admin'],
  },
  {
    name: 'debit',
    method: 'POST',
    url: (t) => `/v1/tenants/${t}/debits`,
    body: () => ({ amount: 1, idempotencyKey: 'auth-k' }),
    roles: ['service', 'admin'],
  },
  {
    name: 'debit a batch',
    method: 'POST',
    url: () => '/v1/debits/batch',
    body: (t) => ({ debits: [{ tenant: t, amount: 1, idempotencyKey: 'auth-b' }] }),
    roles: ['service', 'admin'],
  },
  {
    name: 'refund',
    method: 'POST',
    url: (t) => `/v1/tenants/${t}/debits/DEBIT/refunds`,
    body: () => ({ amount: 1, idempotencyKey: 'auth-r' }),
    roles: ['admin'],
  },
  {
    name: 'read a balance',
    method: 'GET',
    url: (t) => `/v1/tenants/${t}/balance`,
    roles: ['service', 'admin', 'auditor'],
  },
  { name: 'read events', method: 'GET', url: (t) => `/v1/tenants/${t}/events`, roles: ['admin', 'auditor'] },
  { name: 'read the snapshot', method: 'GET', url: () => '/v1/snapshot', roles: ['admin', 'auditor'] },
  {
    name: 'read the cluster',
    method: 'GET',
    url: () => '/v1/cluster',
    roles: ['service', 'admin', 'auditor'],
  },
  {
    name: 'read a policy',
    method: 'GET',
    url: (t) => `/v1/tenants/${t}/policy`,
    roles: ['service', 'admin', 'auditor'],
  },
  {
    name: 'set a policy',
    method: 'PUT',
    url: (t) => `/v1/tenants/${t}/policy`,
    body: () => ({ blocked: true }),
    roles: ['admin'],
  },
];

const WHO_OF_ROLE = { service: 'service', admin: 'admin', auditor: 'auditor' } as const;
const SCOPED_OF_ROLE = { service: 'acme', admin: 'acmeAdmin', auditor: 'acmeAuditor' } as const;

describe('auth on every /v1 route', () => {
  let node: TestNode;
  let debitId: string;
  let before: string;

  beforeAll(async () => {
    node = await testNode();
    await grant(node.app, 'acme', 'g1', 1_000);
    await grant(node.app, 'other', 'g1', 1_000);
    debitId = (await debit(node.app, 'other', 5, 'seed')).debitId;
    before = await fingerprint(node.replica, ['acme', 'other']);
  });
  afterAll(async () => node.close());

  async function send(
    route: RouteCase,
    tenant: string,
    headers: Record<string, string>,
  ): Promise<LightMyRequestResponse> {
    return node.app.inject({
      method: route.method,
      url: route.url(tenant).replace('DEBIT', debitId),
      headers: { ...headers, ...(route.body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(route.body === undefined ? {} : { payload: JSON.stringify(route.body(tenant)) }),
    });
  }

  it.each(ROUTES.map((route) => [route.name, route] as const))(
    '%s: 401 without a valid token',
    async (_, route) => {
      const attempts: Record<string, string>[] = [
        {},
        { authorization: 'Bearer nope' },
        { authorization: `Basic ${TOKENS.admin}` },
        { authorization: `Bearer${TOKENS.admin}` },
        { authorization: `Bearer ${TOKENS.admin}x` },
      ];
      for (const headers of attempts) {
        const response = await send(route, 'other', headers);
        expect(response.statusCode, JSON.stringify(headers)).toBe(401);
        expect(response.json().error.code).toBe('unauthorized');
        expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="allot"/);
      }
      expect(await fingerprint(node.replica, ['acme', 'other'])).toBe(before);
    },
  );

  it.each(ROUTES.map((route) => [route.name, route] as const))(
    '%s: 403 for a role without the right',
    async (_, route) => {
      for (const role of (['service', 'admin', 'auditor'] as const).filter((r) => !route.roles.includes(r))) {
        const response = await send(route, 'other', { authorization: `Bearer ${TOKENS[WHO_OF_ROLE[role]]}` });
        expect(response.statusCode, role).toBe(403);
        expect(response.json().error).toMatchObject({ code: 'forbidden', details: { reason: 'role', role } });
      }
      expect(await fingerprint(node.replica, ['acme', 'other'])).toBe(before);
    },
  );

  it.each(
    ROUTES.filter((route) => route.url('x').includes('/tenants/')).map(
      (route) => [route.name, route] as const,
    ),
  )('%s: 403 for a token scoped to another tenant', async (_, route) => {
    for (const role of route.roles) {
      const response = await send(route, 'other', {
        authorization: `Bearer ${TOKENS[SCOPED_OF_ROLE[role]]}`,
      });
      expect(response.statusCode, role).toBe(403);
      expect(response.json().error).toMatchObject({
        code: 'forbidden',
        details: { reason: 'tenant_scope', tenant: 'other' },
      });
    }
    expect(await fingerprint(node.replica, ['acme', 'other'])).toBe(before);
  });

  it('lets a scoped token act on its own tenant', async () => {
    const balance = await call(node.app, 'GET', '/v1/tenants/acme/balance', { who: 'acme' });
    expect(balance.statusCode).toBe(200);
    const policy = await call(node.app, 'GET', '/v1/tenants/acme/policy', { who: 'acmeAuditor' });
    expect(policy.statusCode).toBe(200);
    const events = await call(node.app, 'GET', '/v1/tenants/acme/events', { who: 'acmeAuditor' });
    expect(events.statusCode).toBe(200);
    const debited = await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'acme',
      body: { amount: 1, idempotencyKey: 'scoped-own' },
    });
    expect(debited.statusCode).toBe(201);
    before = await fingerprint(node.replica, ['acme', 'other']);
  });

  it('refuses /v1/snapshot and /v1/cluster to a scoped token (they span every tenant)', async () => {
    const snapshot = await call(node.app, 'GET', '/v1/snapshot', { who: 'acmeAuditor' });
    expect(snapshot.statusCode).toBe(403);
    expect(snapshot.json().error.details).toEqual({ reason: 'tenant_scope' });
    for (const who of ['acme', 'acmeAdmin', 'acmeAuditor'] as const) {
      const cluster = await call(node.app, 'GET', '/v1/cluster', { who });
      expect(cluster.statusCode, who).toBe(403);
      expect(cluster.json().error).toMatchObject({ code: 'forbidden', details: { reason: 'tenant_scope' } });
    }
    expect((await call(node.app, 'GET', '/v1/cluster', { who: 'service' })).statusCode).toBe(200);
  });

  it('answers a scoped token’s batch item for a foreign tenant as invalid/forbidden, and runs the others', async () => {
    const response = await call(node.app, 'POST', '/v1/debits/batch', {
      who: 'acme',
      body: {
        debits: [
          { tenant: 'other', amount: 1, idempotencyKey: 'foreign' },
          { tenant: 'acme', amount: 1, idempotencyKey: 'own' },
        ],
      },
    });
    expect(response.statusCode).toBe(200);
    const [foreign, own] = response.json().results;
    expect(foreign).toEqual({
      status: 'invalid',
      error: expect.objectContaining({
        code: 'forbidden',
        details: { reason: 'tenant_scope', tenant: 'other' },
      }),
    });
    expect(own.status).toBe('accepted');
    const other = await call(node.app, 'GET', '/v1/tenants/other/balance');
    expect(other.json().debited).toBe(5);
  });

  it('needs no token for operations and docs', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/docs', '/docs/json']) {
      const response = await call(node.app, 'GET', url, { who: null });
      expect(response.statusCode, url).toBe(200);
    }
  });
});
