/**
 * The as-of reads (issue 11): GET /v1/tenants/{tenant}/balance?at=<time> answers what the balance
 * was when the node had folded the tenant's events up to then, and GET /v1/snapshot?at=<vector>
 * what the snapshot was at that vector; bad input is a 400 that changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, debit, errorOf, fingerprint, grant, T0, type TestNode, testNode } from '../support.js';

/** The balance body without the fields that say when and by what vector it was read. */
function figuresOf(body: Record<string, unknown>): Record<string, unknown> {
  const { versionVector: _vv, asOf: _asOf, ...figures } = body;
  return figures;
}

/** The snapshot body without the fields that say where and when it was taken. */
function snapshotBodyOf(body: Record<string, unknown>): Record<string, unknown> {
  const { region: _region, takenAt: _takenAt, ...rest } = body;
  return rest;
}

const iso = (ms: number) => new Date(ms).toISOString();

let node: TestNode;
/** The live balance of acme after each step, with the time and the snapshot then. */
const seen: { at: number; balance: Record<string, unknown>; snapshot: Record<string, unknown> }[] = [];

async function look(): Promise<void> {
  const balance = (await call(node.app, 'GET', '/v1/tenants/acme/balance')).json();
  const snapshot = (await call(node.app, 'GET', '/v1/snapshot', { who: 'auditor' })).json();
  seen.push({ at: node.clock.time, balance, snapshot });
}

beforeAll(async () => {
  node = await testNode();
  await grant(node.app, 'acme', 'g1', 1_000);
  await grant(node.app, 'other', 'g1', 50);
  await look(); // T0
  node.clock.advance(1_000);
  await debit(node.app, 'acme', 10, 'k1');
  await debit(node.app, 'other', 5, 'k1');
  await look(); // T0 + 1 s
  node.clock.advance(1_000);
  // One commit of three debits: one segment of three events.
  const batch = await call(node.app, 'POST', '/v1/debits/batch', {
    who: 'service',
    body: {
      debits: [1, 2, 3].map((amount) => ({ tenant: 'acme', amount, idempotencyKey: `b${amount}` })),
    },
  });
  expect(batch.statusCode).toBe(200);
  await look(); // T0 + 2 s
  node.clock.advance(1_000);
  await grant(node.app, 'acme', 'g2', 500);
  await look(); // T0 + 3 s
});
afterAll(async () => node.close());

describe('GET /v1/tenants/{tenant}/balance?at=', () => {
  it('answers, at each time, the figures the live balance showed then, asOf saying `at`', async () => {
    for (const { at, balance } of seen) {
      for (const when of [at, at + 999]) {
        const response = await call(node.app, 'GET', `/v1/tenants/acme/balance?at=${iso(when)}`, {
          who: 'service',
        });
        expect(response.statusCode).toBe(200);
        const body = response.json();
        expect(figuresOf(body)).toEqual(figuresOf(balance));
        expect(body.asOf).toBe(iso(when));
      }
    }
  });

  it('names in versionVector the last event of the tenant it folded', async () => {
    const origin = node.replica.origin;
    const at = (ms: number) => call(node.app, 'GET', `/v1/tenants/acme/balance?at=${iso(ms)}`);
    // seqs: 1 grant acme, 2 grant other, 3 debit acme, 4 debit other, 5–7 batch, 8 grant acme.
    expect((await at(T0)).json().versionVector).toEqual({ [origin]: 1 });
    expect((await at(T0 + 1_500)).json().versionVector).toEqual({ [origin]: 3 });
    expect((await at(T0 + 2_000)).json().versionVector).toEqual({ [origin]: 7 });
    expect((await at(T0 + 60_000)).json().versionVector).toEqual({ [origin]: 8 });
  });

  it('accepts any RFC 3339 offset: the same instant gives the same figures', async () => {
    const utc = (await call(node.app, 'GET', `/v1/tenants/acme/balance?at=${iso(T0 + 1_000)}`)).json();
    const offset = await call(node.app, 'GET', '/v1/tenants/acme/balance?at=2026-11-01T02:00:01%2B02:00');
    expect(offset.statusCode).toBe(200);
    expect(figuresOf(offset.json())).toEqual(figuresOf(utc));
    expect(offset.json().asOf).toBe(utc.asOf);
  });

  it('answers 404 tenant_not_found before the tenant’s first grant, as for a tenant never granted', async () => {
    const before = await call(node.app, 'GET', `/v1/tenants/acme/balance?at=${iso(T0 - 1)}`);
    expect(errorOf(before)).toEqual({ status: 404, code: 'tenant_not_found' });
    const unknown = await call(node.app, 'GET', `/v1/tenants/nobody/balance?at=${iso(T0 + 5_000)}`);
    expect(errorOf(unknown)).toEqual({ status: 404, code: 'tenant_not_found' });
    expect(errorOf(await call(node.app, 'GET', '/v1/tenants/nobody/balance'))).toEqual(errorOf(unknown));
  });

  it('refuses a bad `at` with 400 invalid_request and changes nothing', async () => {
    const before = await fingerprint(node.replica, ['acme', 'other']);
    for (const at of [
      'yesterday',
      '2026-11-01',
      '2026-11-01 00:00:00Z',
      '2026-02-30T00:00:00Z',
      '2026-11-01T24:00:00Z',
      '1969-12-31T23:59:59Z',
      `2026-11-01T00:00:00.${'1'.repeat(80)}Z`,
      '',
    ]) {
      const response = await call(node.app, 'GET', `/v1/tenants/acme/balance?at=${encodeURIComponent(at)}`);
      expect(errorOf(response), at).toEqual({ status: 400, code: 'invalid_request' });
      expect(response.json().error.details.location).toBe('querystring');
    }
    const twice = await call(node.app, 'GET', `/v1/tenants/acme/balance?at=${iso(T0)}&at=${iso(T0)}`);
    expect(errorOf(twice)).toEqual({ status: 400, code: 'invalid_request' });
    const unknownParam = await call(node.app, 'GET', `/v1/tenants/acme/balance?when=${iso(T0)}`);
    expect(errorOf(unknownParam)).toEqual({ status: 400, code: 'invalid_request' });
    expect(await fingerprint(node.replica, ['acme', 'other'])).toBe(before);
  });

  it('keeps the plain balance’s roles and scopes', async () => {
    const url = `/v1/tenants/acme/balance?at=${iso(T0 + 1_000)}`;
    for (const who of ['admin', 'service', 'auditor', 'acme', 'acmeAuditor'] as const) {
      expect((await call(node.app, 'GET', url, { who })).statusCode, who).toBe(200);
    }
    const scoped = await call(node.app, 'GET', `/v1/tenants/other/balance?at=${iso(T0 + 1_000)}`, {
      who: 'acme',
    });
    expect(errorOf(scoped)).toEqual({ status: 403, code: 'forbidden' });
    expect(errorOf(await call(node.app, 'GET', url, { who: null }))).toEqual({
      status: 401,
      code: 'unauthorized',
    });
  });
});

describe('GET /v1/snapshot?at=', () => {
  const at = (vector: Record<string, number>) =>
    `/v1/snapshot?at=${encodeURIComponent(JSON.stringify(vector))}`;

  it('at each vector the node had, answers the snapshot it gave then (but region and takenAt)', async () => {
    for (const { snapshot } of seen) {
      const response = await call(node.app, 'GET', at(snapshot.versionVector as Record<string, number>), {
        who: 'auditor',
      });
      expect(response.statusCode).toBe(200);
      expect(snapshotBodyOf(response.json())).toEqual(snapshotBodyOf(snapshot));
      expect(response.json().takenAt).toBe(iso(node.clock.time));
    }
  });

  it('with NDJSON, the same header line and tenant lines', async () => {
    const vector = seen[1]?.snapshot.versionVector as Record<string, number>;
    const json = (await call(node.app, 'GET', at(vector))).json();
    const response = await call(node.app, 'GET', at(vector), { headers: { accept: 'application/x-ndjson' } });
    expect(response.statusCode).toBe(200);
    const [header, ...tenants] = response.body
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    const { tenants: jsonTenants, ...jsonHeader } = json;
    expect(header).toEqual(jsonHeader);
    expect(tenants).toEqual(jsonTenants);
  });

  it('an empty vector is the empty ledger; origins at 0 are left out', async () => {
    const empty = (await call(node.app, 'GET', at({ [node.replica.origin]: 0 }))).json();
    expect(empty).toMatchObject({ versionVector: {}, heads: {}, tenants: [] });
  });

  it('a seq inside a segment is a 400 naming the segment’s bounds, and changes nothing', async () => {
    const before = await fingerprint(node.replica, ['acme', 'other']);
    const origin = node.replica.origin;
    const response = await call(node.app, 'GET', at({ [origin]: 6 }));
    expect(errorOf(response)).toEqual({ status: 400, code: 'invalid_request' });
    expect(response.json().error.message).toContain('5–7');
    expect(response.json().error.details).toMatchObject({
      origin,
      seq: 6,
      segment: { firstSeq: 5, lastSeq: 7 },
    });
    expect(await fingerprint(node.replica, ['acme', 'other'])).toBe(before);
  });

  it('a vector past what this node holds is a 404 not_found saying what it holds', async () => {
    const origin = node.replica.origin;
    const past = await call(node.app, 'GET', at({ [origin]: 9 }));
    expect(errorOf(past)).toEqual({ status: 404, code: 'not_found' });
    expect(past.json().error.details).toEqual({ origin, seq: 9, held: 8 });
    const stranger = await call(node.app, 'GET', at({ 'us#aaaaaaaaaaaaaaaa': 1 }));
    expect(errorOf(stranger)).toEqual({ status: 404, code: 'not_found' });
    expect(stranger.json().error.details).toMatchObject({ held: 0 });
  });

  it('refuses a vector that is not one with 400 invalid_request, and changes nothing', async () => {
    const before = await fingerprint(node.replica, ['acme', 'other']);
    const origin = node.replica.origin;
    for (const text of [
      '{',
      '[]',
      'null',
      '42',
      '"eu"',
      JSON.stringify({ eu: 1 }),
      JSON.stringify({ [origin]: -1 }),
      JSON.stringify({ [origin]: 1.5 }),
      JSON.stringify({ [origin]: '1' }),
      JSON.stringify({ [origin]: 2 ** 53 }),
      JSON.stringify(
        Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`r${i}#aaaaaaaaaaaaaaaa`, 1])),
      ),
      'x'.repeat(9_000),
      '',
    ]) {
      const response = await call(node.app, 'GET', `/v1/snapshot?at=${encodeURIComponent(text)}`);
      expect(errorOf(response), text.slice(0, 40)).toEqual({ status: 400, code: 'invalid_request' });
    }
    expect(await fingerprint(node.replica, ['acme', 'other'])).toBe(before);
  });

  it('folds one snapshot at a vector at a time: a second meanwhile is a 503 unavailable with Retry-After', async () => {
    const vector = seen[2]?.snapshot.versionVector as Record<string, number>;
    const first = node.replica.snapshotAt(vector);
    const second = node.replica.snapshotAt(vector);
    expect(await second).toEqual({ status: 'busy', limit: 1 });
    expect('header' in (await first)).toBe(true);
    expect('header' in (await node.replica.snapshotAt(vector))).toBe(true);

    // The route's answer while a fold runs, from a replica that says it is busy.
    const busy = await testNode({
      wrap: (replica) => Object.assign(Object.create(replica), { snapshotAt: async () => second }),
    });
    try {
      const response = await call(busy.app, 'GET', at(vector));
      expect(errorOf(response)).toEqual({ status: 503, code: 'unavailable' });
      expect(response.headers['retry-after']).toBe('1');
      expect(response.json().error.details).toEqual({ reason: 'snapshot_busy' });
    } finally {
      await busy.close();
    }
  });

  it('keeps the plain snapshot’s roles: no service token, no scoped token', async () => {
    const url = at({ [node.replica.origin]: 1 });
    expect(errorOf(await call(node.app, 'GET', url, { who: 'service' }))).toEqual({
      status: 403,
      code: 'forbidden',
    });
    expect(errorOf(await call(node.app, 'GET', url, { who: 'acmeAuditor' }))).toEqual({
      status: 403,
      code: 'forbidden',
    });
  });
});

describe('a node whose clock stepped back', () => {
  it('dates its next events at its last one, so as of a time is still every event up to it', async () => {
    const back = await testNode();
    try {
      await grant(back.app, 'acme', 'g1', 100); // seq 1 at T0
      back.clock.advance(5_000);
      await debit(back.app, 'acme', 10, 'late'); // seq 2 at T0 + 5 s
      back.clock.time = T0 + 1_000; // the clock steps back
      await debit(back.app, 'acme', 20, 'early'); // seq 3, dated T0 + 5 s too
      const events = (await call(back.app, 'GET', '/v1/tenants/acme/events', { who: 'auditor' })).json()
        .events;
      expect(events.map((event: { at: string }) => event.at)).toEqual([
        iso(T0),
        iso(T0 + 5_000),
        iso(T0 + 5_000),
      ]);
      const origin = back.replica.origin;
      const asOf = await call(back.app, 'GET', `/v1/tenants/acme/balance?at=${iso(T0 + 2_000)}`);
      expect(asOf.json()).toMatchObject({ balance: 100, debited: 0, versionVector: { [origin]: 1 } });
      const later = await call(back.app, 'GET', `/v1/tenants/acme/balance?at=${iso(T0 + 5_000)}`);
      expect(later.json()).toMatchObject({ balance: 70, debited: 30, versionVector: { [origin]: 3 } });
    } finally {
      await back.close();
    }
  });
});
