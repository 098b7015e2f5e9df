/**
 * @allot/client against a real node (the server in-process, listening on a loopback port): every
 * helper's answer, typed; a declined debit is not retried; a lost answer is retried with the same
 * idempotency key and debits once; a region that cannot be reached fails over to the next URL; a
 * node not ready yet (503) and a rate limit (429) are retried after the server's Retry-After.
 */
import { createServer } from 'node:net';
import { AllotApiError, AllotClient, AllotNetworkError } from '@allot/client';
import type { Replica } from '@allot/replica';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServedReplica } from '../../packages/server/src/index.js';
import { type TestNode, TOKENS, testNode } from '../../packages/server/test/support.js';

const nodes: TestNode[] = [];
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.close();
});

/** A node listening on loopback; its base URL. */
async function listening(
  options: Parameters<typeof testNode>[0] = {},
): Promise<{ node: TestNode; url: string }> {
  const node = await testNode(options);
  nodes.push(node);
  const url = await node.app.listen({ host: '127.0.0.1', port: 0 });
  return { node, url };
}

/** A loopback URL where nothing listens (a port taken and released). */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** A fetch that records each request's method, URL and body, and forwards it. */
function recordingFetch(forward: typeof fetch = fetch) {
  const calls: { method: string; url: string; body: Record<string, unknown> | null }[] = [];
  const wrapped: typeof fetch = async (input, init) => {
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : null;
    calls.push({ method: init?.method ?? 'GET', url: String(input), body });
    return forward(input, init);
  };
  return { calls, fetch: wrapped };
}

/** A sleep that waits no time and records what it was asked to wait. */
function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe('the client against a real node', () => {
  it('grants, debits, replays, batches, refunds and reads, typed from the OpenAPI document', async () => {
    const { url } = await listening();
    const admin = new AllotClient({ urls: [url], token: TOKENS.admin });
    const service = new AllotClient({ urls: [url], token: TOKENS.service });
    const granted = await admin.grant('acme', { grantId: 'g1', amount: 1_000 });
    expect(granted.replayed).toBe(false);
    expect(granted.grant.amount).toBe(1_000);
    expect((await admin.grant('acme', { grantId: 'g1', amount: 1_000 })).replayed).toBe(true);

    const first = await service.debit('acme', 30, { idempotencyKey: 'order-1', metadata: { model: 'x' } });
    expect(first.replayed).toBe(false);
    expect(first.debit.amount).toBe(30);
    expect(first.balance.tenant).toBe(970);
    const again = await service.debit('acme', 30, { idempotencyKey: 'order-1', metadata: { model: 'x' } });
    expect(again.replayed).toBe(true);
    expect(again.debit.debitId).toBe(first.debit.debitId);

    const results = await service.debitBatch([
      { tenant: 'acme', amount: 5 },
      { tenant: 'acme', amount: 5 },
      { tenant: 'acme', amount: 10_000 },
    ]);
    expect(results.map((result) => result.status)).toEqual(['accepted', 'accepted', 'declined']);
    // Each item got its own key: two debits, not one replayed.
    expect(results[0]?.debit?.debitId).not.toBe(results[1]?.debit?.debitId);

    const refund = await admin.refund('acme', first.debit.debitId, { amount: 10 });
    expect(refund.refund.amount).toBe(10);
    const balance = await service.balance('acme');
    expect(balance.balance).toBe(1_000 - 30 - 10 + 10);
    expect(balance.grants.map((grant) => grant.grantId)).toEqual(['g1']);

    const page = await admin.events('acme', { limit: 2 });
    expect(page.events.map((event) => event.kind)).toEqual(['grant', 'debit']);
    expect(page.next).not.toBeNull();
    const event = page.events[1];
    if (event?.kind !== 'debit') throw new Error('the second event is the debit');
    expect(event.idempotencyKey).toBe('order-1');
    expect(event.metadata).toEqual({ model: 'x' });

    expect(await admin.setPolicy('acme', { blocked: false })).toMatchObject({ blocked: false });
    expect((await service.policy('acme')).blocked).toBe(false);
    expect((await service.cluster()).region).toBe(balance.region);
  });

  it('does not retry a 4xx: a declined debit is one request, answered as the catalogue’s error', async () => {
    const { url } = await listening();
    await new AllotClient({ urls: [url], token: TOKENS.admin }).grant('acme', { grantId: 'g1', amount: 10 });
    const recorder = recordingFetch();
    const service = new AllotClient({ urls: [url], token: TOKENS.service, fetch: recorder.fetch });
    const declined = await service.debit('acme', 11).catch((error: unknown) => error);
    expect(declined).toBeInstanceOf(AllotApiError);
    expect(declined).toMatchObject({ status: 402, code: 'insufficient_credits', details: { requested: 11 } });
    expect(recorder.calls).toHaveLength(1);
  });

  it('retries an answer lost on the way back with the same idempotency key: one debit', async () => {
    const { url } = await listening();
    await new AllotClient({ urls: [url], token: TOKENS.admin }).grant('acme', { grantId: 'g1', amount: 100 });
    let lost = 1;
    const recorder = recordingFetch(async (input, init) => {
      const response = await fetch(input, init);
      if (lost-- > 0) throw new TypeError('fetch failed: the connection dropped before the answer');
      return response;
    });
    const { sleep } = recordingSleep();
    const service = new AllotClient({ urls: [url], token: TOKENS.service, fetch: recorder.fetch, sleep });
    const answer = await service.debit('acme', 7);
    expect(answer.replayed).toBe(true);
    expect(recorder.calls).toHaveLength(2);
    const [firstKey, secondKey] = recorder.calls.map((call) => call.body?.idempotencyKey);
    expect(typeof firstKey).toBe('string');
    expect(secondKey).toBe(firstKey);
    expect((await service.balance('acme')).debited).toBe(7);
    // A new call is a new key.
    await service.debit('acme', 7);
    expect(recorder.calls[2]?.body?.idempotencyKey).not.toBe(firstKey);
    expect((await service.balance('acme')).debited).toBe(14);
  });

  it('fails over to the next region when one cannot be reached, and keeps to the one that answered', async () => {
    const { url } = await listening();
    const dead = await deadUrl();
    await new AllotClient({ urls: [url], token: TOKENS.admin }).grant('acme', { grantId: 'g1', amount: 100 });
    const recorder = recordingFetch();
    const { waits, sleep } = recordingSleep();
    const service = new AllotClient({
      urls: [dead, url],
      token: TOKENS.service,
      fetch: recorder.fetch,
      sleep,
    });
    expect((await service.debit('acme', 1)).debit.amount).toBe(1);
    expect(recorder.calls.map((call) => new URL(call.url).origin)).toEqual([dead, url]);
    // The next region was tried at once, without a backoff.
    expect(waits).toEqual([]);
    expect(service.region).toBe(url);
    await service.balance('acme');
    expect(recorder.calls.at(-1)?.url.startsWith(url)).toBe(true);

    const nowhere = new AllotClient({ urls: [dead], token: TOKENS.service, sleep, attempts: 3 });
    const error = await nowhere.balance('acme').catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(AllotNetworkError);
    expect((error as AllotNetworkError).tried).toEqual([dead, dead, dead]);
  });

  it('retries a 503 of a node not ready yet after its Retry-After, then succeeds', async () => {
    let ready = false;
    const { url } = await listening({
      wrap: (replica: Replica) =>
        new Proxy(replica, {
          get(target, property) {
            if (property === 'ready') return ready && target.ready;
            const value: unknown = Reflect.get(target, property, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }) as ServedReplica,
    });
    const waits: number[] = [];
    const sleep = async (ms: number) => {
      waits.push(ms);
      if (waits.length === 2) ready = true;
    };
    const client = new AllotClient({ urls: [url], token: TOKENS.admin, sleep });
    const answer = await client.grant('acme', { grantId: 'g1', amount: 5 });
    expect(answer.grant.amount).toBe(5);
    expect(waits).toEqual([1_000, 1_000]);

    ready = false;
    const refused = await new AllotClient({
      urls: [url],
      token: TOKENS.admin,
      sleep: async () => {},
      attempts: 2,
    })
      .balance('acme')
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ status: 503, code: 'not_ready' });
  });

  it('retries a 429 of the rate limit after the window passes', async () => {
    const windowMs = 200;
    const { url } = await listening({ http: { rateLimitTokenRequests: 1, rateLimitWindowMs: windowMs } });
    const waits: number[] = [];
    // Waits the window out (not the whole second Retry-After asks for: the window is shorter).
    const sleep = async (ms: number) => {
      waits.push(ms);
      await new Promise((resolve) => setTimeout(resolve, windowMs + 50));
    };
    const client = new AllotClient({ urls: [url], token: TOKENS.admin, sleep });
    await client.grant('acme', { grantId: 'g1', amount: 5 });
    const answer = await client.grant('acme', { grantId: 'g2', amount: 5 });
    expect(answer.grant.grantId).toBe('g2');
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waits[0]).toBe(1_000);
  });
});
