/**
 * The client's as-of reads against a real node (in-process, on a loopback port): `balanceAt` gives
 * the figures of then, `snapshot({ at })` the snapshot at a version vector, and a vector past what
 * the node holds is an AllotApiError naming what it holds.
 */
import { AllotApiError, AllotClient } from '@allot/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { T0, type TestNode, TOKENS, testNode } from '../../packages/server/test/support.js';

let node: TestNode;
let url: string;

beforeAll(async () => {
  node = await testNode();
  url = await node.app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => node.close());

describe('the client’s as-of reads', () => {
  it('balanceAt and snapshot({ at }) answer the figures of then', async () => {
    const admin = new AllotClient({ urls: [url], token: TOKENS.admin });
    const auditor = new AllotClient({ urls: [url], token: TOKENS.auditor });
    await admin.grant('acme', { grantId: 'g1', amount: 100 });
    const then = await auditor.snapshot();
    node.clock.advance(1_000);
    await admin.debit('acme', 30);

    const before = await auditor.balanceAt('acme', new Date(T0));
    expect(before).toMatchObject({ balance: 100, debited: 0, asOf: new Date(T0).toISOString() });
    const after = await auditor.balanceAt('acme', '2026-11-01T00:00:01Z');
    expect(after).toMatchObject({ balance: 70, debited: 30 });
    expect(await auditor.balance('acme')).toMatchObject({ balance: 70 });

    const atThen = await auditor.snapshot({ at: then.versionVector });
    expect(atThen.tenants).toEqual(then.tenants);
    expect(atThen.heads).toEqual(then.heads);
    expect((await auditor.snapshot()).tenants[0]).toMatchObject({ tenant: 'acme', balance: 70 });
  });

  it('a vector past what the node holds is an AllotApiError 404 with what it holds', async () => {
    const auditor = new AllotClient({ urls: [url], token: TOKENS.auditor });
    const origin = node.replica.origin;
    const failed = await auditor.snapshot({ at: { [origin]: 1_000 } }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(AllotApiError);
    expect(failed).toMatchObject({ status: 404, code: 'not_found', details: { origin, seq: 1_000 } });
  });
});
