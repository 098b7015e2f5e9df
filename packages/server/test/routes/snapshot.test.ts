/** GET /v1/snapshot: JSON, or NDJSON (header line, then one tenant per line), streamed. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SNAPSHOT_CHUNK_TENANTS } from '../../src/limits.js';
import { prefersNdjson } from '../../src/routes/snapshot.js';
import { call, debit, grant, type TestNode, testNode } from '../support.js';

const TENANTS = SNAPSHOT_CHUNK_TENANTS * 2 + 7;

let node: TestNode;

beforeAll(async () => {
  node = await testNode();
  const batch = Array.from({ length: TENANTS }, (_, index) =>
    call(node.app, 'POST', `/v1/tenants/t${String(index).padStart(5, '0')}/grants`, {
      body: { grantId: 'g', amount: index + 1 },
    }),
  );
  expect((await Promise.all(batch)).every((response) => response.statusCode === 201)).toBe(true);
  await grant(node.app, 'acme', 'g1', 100);
  await debit(node.app, 'acme', 9, 'k');
  node.clock.advance(60_000);
});
afterAll(async () => node.close());

describe('GET /v1/snapshot', () => {
  it('answers JSON with the header fields and every tenant, sorted', async () => {
    const response = await call(node.app, 'GET', '/v1/snapshot', { who: 'auditor' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    const body = response.json();
    expect(Object.keys(body)).toEqual(['cluster', 'region', 'takenAt', 'versionVector', 'heads', 'tenants']);
    const origin = node.replica.origin;
    expect(body).toMatchObject({
      cluster: 'test',
      region: 'eu',
      takenAt: '2026-11-01T00:01:00.000Z',
      versionVector: { [origin]: TENANTS + 2 },
    });
    expect(body.heads[origin]).toEqual({
      seq: TENANTS + 2,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      signature: expect.stringMatching(/^[0-9a-f]{128}$/),
    });
    expect(body.tenants).toHaveLength(TENANTS + 1);
    expect(body.tenants[0]).toEqual({
      tenant: 'acme',
      balance: 91,
      granted: 100,
      debited: 9,
      refunded: 0,
      expired: 0,
      held: 0,
    });
    expect(body.tenants[1]).toEqual({
      tenant: 't00000',
      balance: 1,
      granted: 1,
      debited: 0,
      refunded: 0,
      expired: 0,
      held: 0,
    });
    const names = body.tenants.map((tenant: { tenant: string }) => tenant.tenant);
    expect(names).toEqual([...names].sort());
  });

  it('with Accept: application/x-ndjson answers the header line, then one tenant per line', async () => {
    const json = (await call(node.app, 'GET', '/v1/snapshot')).json();
    const response = await call(node.app, 'GET', '/v1/snapshot', {
      who: 'admin',
      headers: { accept: 'application/x-ndjson' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-ndjson');
    expect(response.body.endsWith('\n')).toBe(true);
    const lines = response.body
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(TENANTS + 2);
    const { tenants, ...header } = json;
    expect(lines[0]).toEqual(header);
    expect(lines.slice(1)).toEqual(tenants);
  });

  it('is empty but well-formed for an empty ledger', async () => {
    const empty = await testNode();
    try {
      const json = (await call(empty.app, 'GET', '/v1/snapshot')).json();
      expect(json).toMatchObject({ versionVector: {}, heads: {}, tenants: [] });
      const ndjson = await call(empty.app, 'GET', '/v1/snapshot', {
        headers: { accept: 'application/x-ndjson' },
      });
      expect(ndjson.body.trimEnd().split('\n')).toHaveLength(1);
    } finally {
      await empty.close();
    }
  });

  it('negotiates NDJSON only when the client prefers it', () => {
    expect(prefersNdjson(undefined)).toBe(false);
    expect(prefersNdjson('*/*')).toBe(false);
    expect(prefersNdjson('application/json')).toBe(false);
    expect(prefersNdjson('application/x-ndjson')).toBe(true);
    expect(prefersNdjson('application/json;q=0.5, application/x-ndjson')).toBe(true);
    expect(prefersNdjson('application/json, application/x-ndjson;q=0.5')).toBe(false);
    expect(prefersNdjson('application/x-ndjson;q=0')).toBe(false);
    expect(prefersNdjson('APPLICATION/X-NDJSON; charset=utf-8')).toBe(true);
  });
});
