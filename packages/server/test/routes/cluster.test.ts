/**
 * POST /v1/cluster/incarnations/{origin}/retire (API.md "Cluster (admin)"): admin only, the origin
 * checked by the path schema, and each replica outcome as its status and body. What a retire does
 * in a cluster is tested with real replicas (test/replica/retire.test.ts) and real processes
 * (test/process/retire.test.ts).
 */
import type { RetireOutcome, RetireView } from '@allot/replica';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, errorOf, type TestNode, testNode } from '../support.js';

const LOST = 'eu#llllllllllllllll';
const path = (origin: string) => `/v1/cluster/incarnations/${encodeURIComponent(origin)}/retire`;

let node: TestNode;
beforeAll(async () => {
  node = await testNode();
});
afterAll(async () => node.close());

/** A node whose replica answers every retire with `outcome` (and records what it was asked). */
async function answering(outcome: RetireOutcome): Promise<{ node: TestNode; asked: string[] }> {
  const asked: string[] = [];
  const other = await testNode({
    wrap: (replica) =>
      Object.assign(Object.create(replica), {
        retire: async (origin: string) => {
          asked.push(origin);
          return outcome;
        },
      }),
  });
  return { node: other, asked };
}

describe('POST /v1/cluster/incarnations/{origin}/retire', () => {
  it('is for admins of every tenant only', async () => {
    for (const who of ['service', 'auditor', 'acmeAdmin'] as const)
      expect(errorOf(await call(node.app, 'POST', path(LOST), { who })).status).toBe(403);
    expect(errorOf(await call(node.app, 'POST', path(LOST), { who: null })).status).toBe(401);
  });

  it('refuses a path that is no origin id with 400, before the replica is asked', async () => {
    for (const bad of [
      'eu',
      'eu#',
      'EU#llllllll',
      'eu#short',
      'eu#llllllll#x',
      `${'r'.repeat(33)}#llllllll`,
    ]) {
      const response = await call(node.app, 'POST', path(bad), { who: 'admin' });
      expect(errorOf(response), bad).toEqual({ status: 400, code: 'invalid_request' });
    }
  });

  it('answers 404 for an origin that is no lost incarnation of this region, changing nothing', async () => {
    const before = node.replica.versionVector();
    for (const origin of [node.replica.origin, 'us#llllllllllllllll', LOST]) {
      const response = await call(node.app, 'POST', path(origin), { who: 'admin' });
      expect(errorOf(response), origin).toEqual({ status: 404, code: 'not_found' });
    }
    const own = await call(node.app, 'POST', path(node.replica.origin), { who: 'admin' });
    expect(own.json().error.message).toContain('cannot retire itself');
    const other = await call(node.app, 'POST', path('us#llllllllllllllll'), { who: 'admin' });
    expect(other.json().error.message).toContain('only its own region retires it');
    expect(node.replica.versionVector()).toEqual(before);
  });

  it('answers 200 with what moved, the retired seq and the risk', async () => {
    const view: RetireView = {
      origin: LOST,
      region: 'eu',
      by: 'eu#nnnnnnnnnnnnnnnn',
      through: 7,
      rights: 70,
      overdraftInUse: 4,
      held: 25,
      tenants: 1,
      moved: [{ tenant: 'acme', rights: 70, overdraftInUse: 4 }],
      events: 1,
      peersAsked: ['ap', 'us'],
      risk: `Debits that ${LOST} acknowledged after seq 7 and never replicated are unknown here.`,
    };
    const { node: other, asked } = await answering({ status: 'accepted', retire: view });
    try {
      const response = await call(other.app, 'POST', path(LOST), { who: 'admin' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual(view);
      expect(asked).toEqual([LOST]);
    } finally {
      await other.close();
    }
  });

  it('answers 409 retired for an incarnation retired already, naming who retired it and where', async () => {
    const { node: other } = await answering({
      status: 'retired',
      origin: LOST,
      retired: { by: 'eu#nnnnnnnnnnnnnnnn', through: 7 },
    });
    try {
      const response = await call(other.app, 'POST', path(LOST), { who: 'admin' });
      expect(errorOf(response)).toEqual({ status: 409, code: 'retired' });
      expect(response.json().error).toMatchObject({
        message: `Incarnation ${LOST} was retired at seq 7.`,
        details: { origin: LOST, by: 'eu#nnnnnnnnnnnnnnnn', through: 7 },
      });
    } finally {
      await other.close();
    }
  });

  it('answers 503 region_unreachable while a peer region cannot say how much of it it holds', async () => {
    const { node: other } = await answering({ status: 'unreachable', regions: ['ap', 'us'] });
    try {
      const response = await call(other.app, 'POST', path(LOST), { who: 'admin' });
      expect(errorOf(response)).toEqual({ status: 503, code: 'region_unreachable' });
      expect(response.headers['retry-after']).toBe('1');
      expect(response.json().error.details).toEqual({ regions: ['ap', 'us'] });
    } finally {
      await other.close();
    }
  });

  it('answers 503 not_ready while a peer holds more of the lost incarnation than this node', async () => {
    const { node: other } = await answering({
      status: 'behind',
      region: 'us',
      origin: LOST,
      held: 9,
      here: 7,
    });
    try {
      const response = await call(other.app, 'POST', path(LOST), { who: 'admin' });
      expect(errorOf(response)).toEqual({ status: 503, code: 'not_ready' });
      expect(response.headers['retry-after']).toBe('1');
      expect(response.json().error.details).toEqual({
        reason: 'catching_up',
        region: 'us',
        origin: LOST,
        held: 9,
        here: 7,
      });
    } finally {
      await other.close();
    }
  });
});
