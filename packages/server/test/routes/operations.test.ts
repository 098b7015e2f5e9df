/**
 * Operations and failures: health and readiness (no token), 503 before the replica is ready, the
 * store failing, our own bugs (500 without a stack, logged), unknown routes, the OpenAPI document.
 */
import { Writable } from 'node:stream';
import type { Replica } from '@allot/replica';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { buildApp, createMetrics } from '../../src/index.js';
import {
  call,
  errorOf,
  fingerprint,
  grant,
  openReplica,
  type TestNode,
  TOKEN_CONFIG,
  testNode,
} from '../support.js';

let node: TestNode | undefined;
afterEach(async () => {
  await node?.close();
  node = undefined;
});

/** A pino logger that keeps its lines. */
function capturingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line));
      callback();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('health and readiness', () => {
  it('are 200 once the replica serves, without a token', async () => {
    node = await testNode();
    expect((await call(node.app, 'GET', '/healthz', { who: null })).json()).toEqual({ status: 'ok' });
    expect((await call(node.app, 'GET', '/readyz', { who: null })).json()).toEqual({ status: 'ready' });
  });

  it('before the replica is open: /healthz 200, /readyz and every /v1 route 503 not_ready', async () => {
    let replica: Replica | undefined;
    const app = await buildApp({ replica: () => replica, tokens: TOKEN_CONFIG, logger: false });
    try {
      expect((await call(app, 'GET', '/healthz', { who: null })).statusCode).toBe(200);
      const ready = await call(app, 'GET', '/readyz', { who: null });
      expect(errorOf(ready)).toEqual({ status: 503, code: 'not_ready' });
      expect(ready.headers['retry-after']).toBe('1');
      for (const [method, url, body] of [
        ['GET', '/v1/tenants/acme/balance', undefined],
        ['GET', '/v1/cluster', undefined],
        ['GET', '/v1/snapshot', undefined],
        ['POST', '/v1/tenants/acme/debits', { amount: 1, idempotencyKey: 'k' }],
        ['POST', '/v1/debits/batch', { debits: [{ tenant: 'acme', amount: 1, idempotencyKey: 'k' }] }],
        ['POST', '/v1/tenants/acme/grants', { grantId: 'g', amount: 1 }],
        ['PUT', '/v1/tenants/acme/policy', { blocked: true }],
      ] as const) {
        expect(errorOf(await call(app, method, url, { body })), url).toEqual({
          status: 503,
          code: 'not_ready',
        });
        // Authentication still comes first.
        expect(errorOf(await call(app, method, url, { who: null, body })).status).toBe(401);
      }
      replica = await openReplica();
      expect((await call(app, 'GET', '/readyz', { who: null })).statusCode).toBe(200);
      await grant(app, 'acme', 'g1', 10);
      expect((await call(app, 'GET', '/v1/tenants/acme/balance')).json().balance).toBe(10);
      await replica.close();
      expect(errorOf(await call(app, 'GET', '/readyz', { who: null }))).toEqual({
        status: 503,
        code: 'not_ready',
      });
    } finally {
      await app.close();
    }
  });
});

describe('failures that are not the client’s', () => {
  it('a store that fails a commit: 503 unavailable with Retry-After, and the debit did not happen', async () => {
    node = await testNode();
    await grant(node.app, 'acme', 'g1', 100);
    node.store.failNextCommit(new Error('disk on fire'));
    const response = await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'service',
      body: { amount: 5, idempotencyKey: 'k' },
    });
    expect(errorOf(response)).toEqual({ status: 503, code: 'unavailable' });
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json().error.details).toEqual({ reason: 'store_failed' });
    expect(response.body).not.toMatch(/disk on fire/);
    const events = await call(node.app, 'GET', '/v1/tenants/acme/events');
    expect(events.json().events.map((event: { kind: string }) => event.kind)).toEqual(['grant']);
    expect((await call(node.app, 'GET', '/v1/tenants/acme/balance')).json().debited).toBe(0);
    const retried = await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'service',
      body: { amount: 5, idempotencyKey: 'k' },
    });
    expect(retried.statusCode).toBe(201);
  });

  it('a batch whose group commit fails: 503 unavailable as a whole, nothing of it happened', async () => {
    node = await testNode();
    await grant(node.app, 'acme', 'g1', 100);
    const before = await fingerprint(node.replica);
    node.store.failNextCommit(new Error('disk on fire'));
    const response = await call(node.app, 'POST', '/v1/debits/batch', {
      who: 'service',
      body: {
        debits: [
          { tenant: 'acme', amount: 1, idempotencyKey: 'a' },
          { tenant: 'acme', amount: 2, idempotencyKey: 'b' },
          { tenant: 'acme', amount: 0, idempotencyKey: 'c' },
        ],
      },
    });
    expect(errorOf(response)).toEqual({ status: 503, code: 'unavailable' });
    expect(await fingerprint(node.replica)).toBe(before);
  });

  it('a bug: 500 internal without a stack or message, logged at error level with its stack', async () => {
    const { logger, lines } = capturingLogger();
    node = await testNode({
      logger,
      wrap: (replica) =>
        Object.assign(Object.create(replica), {
          durableBalance: () => {
            throw new Error('secret internal detail');
          },
        }),
    });
    const response = await call(node.app, 'GET', '/v1/tenants/acme/balance');
    expect(errorOf(response)).toEqual({ status: 500, code: 'internal' });
    expect(response.body).not.toMatch(/secret internal detail|\bat\b.*\.ts/);
    expect(response.json().error.details).toEqual({});
    const logged = lines.find((line) => line.level === 50);
    expect(logged).toMatchObject({ msg: 'request failed', route: '/v1/tenants/:tenant/balance' });
    expect(JSON.stringify(logged)).toMatch(/secret internal detail/);
    expect((logged?.err as { stack?: string } | undefined)?.stack).toMatch(/Error: secret internal detail/);
  });

  it('logs nothing per request, and a client’s mistake not above info', async () => {
    const { logger, lines } = capturingLogger();
    node = await testNode({ logger });
    await grant(node.app, 'acme', 'g1', 100);
    await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'service',
      body: { amount: 1, idempotencyKey: 'k' },
    });
    await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      who: 'service',
      body: { amount: -1, idempotencyKey: 'k' },
    });
    await call(node.app, 'GET', '/v1/nowhere');
    expect(lines.filter((line) => (line.level as number) >= 30)).toEqual([]);
  });
});

describe('routing', () => {
  it('answers an unknown route 404 not_found, with or without a token', async () => {
    node = await testNode();
    for (const [method, url, who] of [
      ['GET', '/v1/nowhere', 'admin'],
      ['GET', '/v1/nowhere', null],
      ['POST', '/v1/tenants/acme/debit', 'service'],
      ['PUT', '/v1/tenants/acme/debits', 'service'],
      ['GET', '/v1/tenants/acme/debits', 'service'],
      ['GET', '/', null],
    ] as const) {
      const response = await call(node.app, method, url, { who });
      expect(errorOf(response), `${method} ${url}`).toEqual({ status: 404, code: 'not_found' });
    }
  });

  it('echoes at most a bounded path in a 404', async () => {
    node = await testNode();
    const response = await call(node.app, 'GET', `/${'x'.repeat(10_000)}`);
    expect(errorOf(response).status).toBe(404);
    expect(response.body.length).toBeLessThan(1_000);
  });

  it('answers HEAD on the reads', async () => {
    node = await testNode();
    await grant(node.app, 'acme', 'g1', 1);
    const response = await node.app.inject({
      method: 'HEAD',
      url: '/v1/tenants/acme/balance',
      headers: { authorization: 'Bearer service-s3cret' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('');
  });
});

describe('the API documentation', () => {
  it('serves a browsable page at /docs', async () => {
    node = await testNode();
    const response = await call(node.app, 'GET', '/docs', { who: null });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toMatch(/swagger-ui/i);
  });

  it('serves the OpenAPI 3 document of every route at /docs/json, built from the route schemas', async () => {
    node = await testNode();
    const response = await call(node.app, 'GET', '/docs/json', { who: null });
    expect(response.statusCode).toBe(200);
    const doc = response.json();
    expect(doc.openapi).toMatch(/^3\./);
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(
      [
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'POST /v1/tenants/{tenant}/grants',
        'POST /v1/tenants/{tenant}/debits',
        'POST /v1/debits/batch',
        'POST /v1/tenants/{tenant}/debits/{debitId}/refunds',
        'POST /v1/tenants/{tenant}/holds',
        'POST /v1/tenants/{tenant}/holds/{holdId}/capture',
        'POST /v1/tenants/{tenant}/holds/{holdId}/void',
        'GET /v1/tenants/{tenant}/balance',
        'GET /v1/tenants/{tenant}/events',
        'GET /v1/snapshot',
        'GET /v1/audit/keys',
        'GET /v1/audit/checkpoint',
        'GET /v1/audit/segments',
        'GET /v1/cluster',
        'GET /v1/tenants/{tenant}/policy',
        'POST /v1/cluster/incarnations/{origin}/retire',
        'PUT /v1/tenants/{tenant}/policy',
      ].sort(),
    );
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining([
        'Error',
        'Balance',
        'Grant',
        'Debit',
        'Refund',
        'Policy',
        'Event',
        'BatchDebit',
      ]),
    );
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    const debit = doc.paths['/v1/tenants/{tenant}/debits'].post;
    expect(debit.security).toEqual([{ bearer: [] }]);
    expect(debit.requestBody.content['application/json'].schema.properties.amount).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: Number.MAX_SAFE_INTEGER,
    });
    expect(Object.keys(debit.responses)).toEqual(
      expect.arrayContaining(['200', '201', '400', '401', '402', '403', '409', '413', '415', '429', '503']),
    );
    expect(debit.responses['402'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/Error',
    });
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    expect(debit.responses['200'].headers['idempotent-replayed'].schema).toMatchObject({ type: 'string' });
  });
});

describe('separate apps', () => {
  it('keep separate metrics registries, so one process can build many', async () => {
    const a = await testNode({ metrics: createMetrics({ defaultMetrics: true }) });
    const b = await testNode({ metrics: createMetrics({ defaultMetrics: true }) });
    try {
      await grant(a.app, 'acme', 'g1', 10);
      await call(a.app, 'POST', '/v1/tenants/acme/debits', {
        who: 'service',
        body: { amount: 1, idempotencyKey: 'k' },
      });
      const textA = (await call(a.app, 'GET', '/metrics', { who: null })).body;
      const textB = (await call(b.app, 'GET', '/metrics', { who: null })).body;
      expect(textA).toMatch(/^allot_debits_total\{result="accepted"\} 1$/m);
      expect(textB).not.toMatch(/^allot_debits_total\{result="accepted"\}/m);
      expect(await fingerprint(b.replica)).not.toBe(await fingerprint(a.replica));
    } finally {
      await a.close();
      await b.close();
    }
  });
});
