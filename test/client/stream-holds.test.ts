/**
 * The client's stream and holds helpers against fixture servers on loopback. The stream fixture
 * writes what the node's GET /v1/stream writes (stream-hub.ts: an id-only block at connect, ledger
 * events as `id:` + `data:`, `event: alert`, `event: overflow` with `{ cursor, reason }`) but drops
 * the connection and overflows on cue, which a real node does only under load: the iterator
 * resumes from the last id and from the overflow's cursor (stream.test.ts runs it against a real
 * node). The holds routes (branch `holds`) were not on main when the client was written: the
 * fixture answers as API.md says they do, and the calls are retried on a 503 with their
 * idempotency key unchanged.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { AllotClient, type StreamEvent } from '@allot/client';
import { afterEach, describe, expect, it } from 'vitest';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function deadUrl(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

const ledger = (id: string, data: unknown) => `id: ${id}\ndata: ${JSON.stringify(data)}\n\n`;

describe('client.stream()', () => {
  it('yields every event once, in order, across a dropped connection and an overflow, after failing over', async () => {
    const seen: {
      after: string | null;
      lastEventId: string | undefined;
      tenant: string | null;
      auth?: string;
    }[] = [];
    const url = await serve((request, response) => {
      const query = new URL(request.url ?? '/', 'http://x').searchParams;
      seen.push({
        after: query.get('after'),
        lastEventId: request.headers['last-event-id'] as string | undefined,
        tenant: query.get('tenant'),
        ...(request.headers.authorization === undefined ? {} : { auth: request.headers.authorization }),
      });
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      switch (seen.length) {
        case 1:
          response.write('retry: 1000\nid: c0\n\n');
          response.write(ledger('c1', { kind: 'debit', amount: 1 }));
          response.write(ledger('c2', { kind: 'debit', amount: 2 }));
          // Events of other tenants move the cursor without an event for this consumer.
          response.write(': heartbeat\n\nid: c2b\n\n');
          // The connection drops mid-stream, in the middle of a block.
          response.write('id: c9\ndata: {"kind":');
          setTimeout(() => response.destroy(), 20);
          break;
        case 2:
          response.write(ledger('c3', { kind: 'refund', amount: 1 }));
          // Too slow a consumer: closed with a final overflow naming the cursor to resume from.
          response.end(
            `event: overflow\ndata: ${JSON.stringify({ cursor: 'c3x', reason: 'slow_consumer' })}\n\n`,
          );
          break;
        default:
          response.write(`event: alert\ndata: ${JSON.stringify({ alertId: 'a1', threshold: 10 })}\n\n`);
          response.write(`event: newer-kind\ndata: {}\n\n`);
          response.write(ledger('c4', { kind: 'move' }));
      }
    });
    const waits: number[] = [];
    const client = new AllotClient({
      urls: [await deadUrl(), url],
      token: 'T',
      sleep: async (ms) => void waits.push(ms),
    });
    const events: StreamEvent[] = [];
    for await (const event of client.stream({ tenant: 'acme' })) {
      events.push(event);
      if (events.length === 5) break;
    }
    expect(events.map((event) => [event.event, event.id, event.data])).toEqual([
      ['message', 'c1', { kind: 'debit', amount: 1 }],
      ['message', 'c2', { kind: 'debit', amount: 2 }],
      ['message', 'c3', { kind: 'refund', amount: 1 }],
      // An alert has no id of its own: the last id stays (WHATWG); an unknown type is skipped.
      ['alert', null, { alertId: 'a1', threshold: 10 }],
      ['message', 'c4', { kind: 'move' }],
    ]);
    // Resumed after the id-only block (not the cut one), then from the overflow's cursor.
    expect(seen).toEqual([
      { after: null, lastEventId: undefined, tenant: 'acme', auth: 'Bearer T' },
      { after: 'c2b', lastEventId: 'c2b', tenant: 'acme', auth: 'Bearer T' },
      { after: 'c3x', lastEventId: 'c3x', tenant: 'acme', auth: 'Bearer T' },
    ]);
  });

  it('ends when its signal aborts, and gives up on a 4xx at once', async () => {
    const url = await serve((request, response) => {
      if (request.headers.authorization !== 'Bearer good') {
        response.writeHead(401, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { code: 'unauthorized', message: 'no', details: {} } }));
        return;
      }
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(ledger('c1', { kind: 'debit' }));
    });
    const controller = new AbortController();
    const events: StreamEvent[] = [];
    for await (const event of new AllotClient({ urls: [url], token: 'good' }).stream({
      signal: controller.signal,
    })) {
      events.push(event);
      controller.abort();
    }
    expect(events).toHaveLength(1);
    const refused = new AllotClient({ urls: [url], token: 'bad' }).stream();
    await expect(refused.next()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });
});

describe('holds helpers (API.md "Holds")', () => {
  it('hold, capture and void send API.md’s requests; a 503 is retried with the same idempotency key', async () => {
    const requests: { method: string; path: string; body: Record<string, unknown> }[] = [];
    const url = await serve((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      request.on('end', () => {
        const body = JSON.parse(text || '{}') as Record<string, unknown>;
        requests.push({ method: request.method ?? '', path: request.url ?? '', body });
        response.setHeader('content-type', 'application/json');
        if (requests.length === 1) {
          response.writeHead(503, { 'retry-after': '1' });
          response.end(JSON.stringify({ error: { code: 'unavailable', message: 'busy', details: {} } }));
          return;
        }
        const hold = {
          holdId: 'h1',
          tenant: 'acme',
          amount: 4000,
          region: 'eu',
          expiresAt: '2026-12-01T00:05:00.000Z',
          status: request.url?.endsWith('/void')
            ? 'voided'
            : request.url?.endsWith('/capture')
              ? 'captured'
              : 'active',
        };
        response.writeHead(request.url?.endsWith('/void') ? 200 : 201);
        response.end(JSON.stringify({ hold, balance: { available: 6000, tenant: 6000, held: 4000 } }));
      });
    });
    const waits: number[] = [];
    const client = new AllotClient({ urls: [url], token: 'T', sleep: async (ms) => void waits.push(ms) });
    const held = await client.hold('acme', 4000, { ttlSeconds: 300, metadata: { job: 'j1' } });
    expect(held.hold.status).toBe('active');
    expect(held.balance.held).toBe(4000);
    expect(waits).toEqual([1_000]);
    const [first, second] = requests;
    expect(first?.path).toBe('/v1/tenants/acme/holds');
    expect(first?.body).toMatchObject({ amount: 4000, ttlSeconds: 300, metadata: { job: 'j1' } });
    expect(typeof first?.body.idempotencyKey).toBe('string');
    expect(second?.body).toEqual(first?.body);

    expect((await client.capture('acme', 'h1', 1234)).hold.status).toBe('captured');
    expect((await client.voidHold('acme', 'h1')).hold.status).toBe('voided');
    expect(requests.slice(2).map(({ method, path, body }) => [method, path, body])).toEqual([
      ['POST', '/v1/tenants/acme/holds/h1/capture', { amount: 1234 }],
      ['POST', '/v1/tenants/acme/holds/h1/void', {}],
    ]);
  });
});
