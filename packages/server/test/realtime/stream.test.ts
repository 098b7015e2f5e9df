import { afterEach, describe, expect, it } from 'vitest';
import { parseStreamCursor, STREAM_ID_REFRESH_EVENTS, streamCursorOf } from '../../src/index.js';
import { call, debit, grant } from '../support.js';
import { openStream, type SseMessage, type SseStream } from './sse.js';
import { auth, type RealtimeNode, realtimeNode } from './support.js';

const ledger = (messages: readonly SseMessage[]) =>
  messages.filter((message) => message.event === 'message').map((message) => JSON.parse(message.data));

describe('GET /v1/stream', () => {
  const nodes: RealtimeNode[] = [];
  const streams: SseStream[] = [];
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    for (const node of nodes.splice(0)) await node.close();
  });
  const start = async (options: Parameters<typeof realtimeNode>[0] = {}) => {
    const node = await realtimeNode(options);
    nodes.push(node);
    return node;
  };
  const open = async (node: RealtimeNode, path: string, headers: Record<string, string>) => {
    const stream = await openStream(node.base, path, headers);
    streams.push(stream);
    return stream;
  };

  it('sends every event committed from then on, each with an id cursor, in seq order', async () => {
    const node = await start();
    await grant(node.app, 'acme', 'g-old', 10); // before the stream: not sent
    const stream = await open(node, '/v1/stream', auth('auditor'));
    expect(stream.status).toBe(200);
    await grant(node.app, 'acme', 'g1', 1000);
    await debit(node.app, 'acme', 7, 'k1');
    await grant(node.app, 'globex', 'g1', 50);
    await stream.until((messages) => ledger(messages).length === 3, 'three events');
    const events = ledger(stream.messages);
    expect(events.map((event) => [event.kind, event.tenant, event.seq])).toEqual([
      ['grant', 'acme', 2],
      ['debit', 'acme', 3],
      ['grant', 'globex', 4],
    ]);
    expect(events[1]).toMatchObject({ amount: 7, idempotencyKey: 'k1', origin: node.replica.origin });
    const last = stream.messages.at(-1);
    expect(parseStreamCursor(last?.id ?? '')).toEqual(new Map([[node.replica.origin, 4]]));
  });

  it('resumes after Last-Event-ID (or ?after=) with no gap and no duplicate', async () => {
    const node = await start();
    const first = await open(node, '/v1/stream', auth('admin'));
    await grant(node.app, 'acme', 'g1', 1000);
    await debit(node.app, 'acme', 1, 'k1');
    await first.until((messages) => ledger(messages).length === 2, 'two events');
    const cursor = first.lastId() as string;
    first.close();
    await debit(node.app, 'acme', 2, 'k2'); // while nobody listens
    await debit(node.app, 'acme', 3, 'k3');
    const resumed = await open(node, '/v1/stream', { ...auth('admin'), 'last-event-id': cursor });
    await debit(node.app, 'acme', 4, 'k4'); // live, after the replay
    await resumed.until((messages) => ledger(messages).length === 3, 'the missed and the live events');
    expect(ledger(resumed.messages).map((event) => event.amount)).toEqual([2, 3, 4]);
    const byQuery = await open(node, `/v1/stream?after=${cursor}`, auth('admin'));
    await byQuery.until((messages) => ledger(messages).length === 3, 'the replay by ?after=');
    expect(ledger(byQuery.messages).map((event) => event.seq)).toEqual([3, 4, 5]);
  });

  it('gives a cursor from the start, so a client that drops before any event misses none', async () => {
    const node = await start();
    const first = await open(node, '/v1/stream', auth('auditor'));
    await first.until(() => first.lastId() !== null, 'the first id');
    const cursor = first.lastId() as string;
    expect(cursor).not.toBe('');
    first.close();
    await grant(node.app, 'acme', 'g1', 10);
    const resumed = await open(node, '/v1/stream', { ...auth('auditor'), 'last-event-id': cursor });
    await resumed.until((messages) => ledger(messages).length === 1, 'the grant made while away');
    expect(ledger(resumed.messages)[0]).toMatchObject({ kind: 'grant', seq: 1 });
  });

  it('resumes across a restart of the node from the same store', async () => {
    const node = await start();
    const stream = await open(node, '/v1/stream?tenant=acme', auth('auditor'));
    await grant(node.app, 'acme', 'g1', 1000);
    await stream.until((messages) => ledger(messages).length === 1, 'the grant');
    const cursor = stream.lastId() as string;
    await debit(node.app, 'acme', 5, 'k1');
    stream.close();
    await node.close();
    nodes.splice(nodes.indexOf(node), 1);
    const restarted = await start({ store: node.store.crash(), crypto: node.crypto });
    const resumed = await open(restarted, '/v1/stream?tenant=acme', {
      ...auth('auditor'),
      'last-event-id': cursor,
    });
    await debit(restarted.app, 'acme', 6, 'k2');
    await resumed.until(
      (messages) => ledger(messages).length === 2,
      'the debit before and after the restart',
    );
    expect(ledger(resumed.messages).map((event) => event.amount)).toEqual([5, 6]);
  });

  it('filters by tenant, and holds a scoped token to its tenants', async () => {
    const node = await start();
    const acme = await open(node, '/v1/stream?tenant=acme', auth('acmeAuditor'));
    expect(acme.status).toBe(200);
    await grant(node.app, 'globex', 'g1', 10);
    await grant(node.app, 'acme', 'g1', 20);
    await acme.until((messages) => ledger(messages).length === 1, 'the acme grant');
    expect(ledger(acme.messages)[0]).toMatchObject({ tenant: 'acme', amount: 20 });
    const everything = await open(node, '/v1/stream', auth('acmeAuditor'));
    expect(everything.status).toBe(403);
    const other = await open(node, '/v1/stream?tenant=globex', auth('acmeAuditor'));
    expect(other.status).toBe(403);
    const service = await open(node, '/v1/stream', auth('service'));
    expect(service.status).toBe(403);
    expect(JSON.parse(service.body).error.code).toBe('forbidden');
  });

  it("moves a tenant stream's cursor past other tenants' events it skips (STREAM_ID_REFRESH_EVENTS)", async () => {
    const node = await start();
    const stream = await open(node, '/v1/stream?tenant=acme', auth('auditor'));
    await stream.until(() => stream.lastId() !== null, 'the first id');
    const first = stream.lastId();
    await grant(node.app, 'globex', 'g1', 100_000);
    const debits = Array.from({ length: STREAM_ID_REFRESH_EVENTS }, (_, i) => ({
      tenant: 'globex',
      amount: 1,
      idempotencyKey: `k${i}`,
    }));
    const batch = await call(node.app, 'POST', '/v1/debits/batch', { who: 'service', body: { debits } });
    expect(batch.statusCode).toBe(200);
    await stream.until(() => stream.lastId() !== first, 'an id line');
    expect(stream.messages).toEqual([]); // no globex event was sent
    const vector = parseStreamCursor(stream.lastId() as string) as Map<string, number>;
    expect(vector.get(node.replica.origin)).toBe(STREAM_ID_REFRESH_EVENTS);
  });

  it('beats with comment lines while idle, so proxies keep the stream open', async () => {
    const node = await start({ stream: { heartbeatMs: 20 } });
    const stream = await open(node, '/v1/stream', auth('auditor'));
    const raw = stream as SseStream & { body: string };
    for (let i = 0; i < 200 && !raw.body.includes(': heartbeat\nid: '); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(raw.body).toMatch(/: heartbeat\nid: [A-Za-z0-9_-]+\n\n/);
    expect(stream.messages).toEqual([]); // a heartbeat is no message
  });

  it('refuses a made-up cursor with 400 and changes nothing', async () => {
    const node = await start();
    for (const cursor of ['not-a-cursor!', 'abc', streamCursorOf(new Map([['eu#zzzz', 1]])).slice(1)]) {
      const response = await call(node.app, 'GET', `/v1/stream?after=${encodeURIComponent(cursor)}`, {
        who: 'auditor',
      });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('invalid_request');
    }
    expect(node.realtime.hub.size).toBe(0);
  });

  it('closes a consumer that leaves too much unread with event: overflow and the cursor to resume from', async () => {
    // A 1-byte buffer: every consumer overflows as soon as anything waits in its socket.
    const node = await start({ stream: { bufferBytesMax: 1 } });
    await grant(node.app, 'acme', 'g1', 1000);
    const first = await open(node, '/v1/stream', auth('auditor'));
    for (const key of ['k1', 'k2', 'k3']) await debit(node.app, 'acme', 1, key);
    await first.ended;
    const overflow = first.messages.find((message) => message.event === 'overflow');
    expect(overflow).toBeDefined();
    const { cursor, reason } = JSON.parse(overflow?.data ?? '{}');
    expect(reason).toBe('slow_consumer');
    expect(parseStreamCursor(cursor)).toBeInstanceOf(Map);
    // The resume replays from the overflow's cursor (then overflows again): together, every event once.
    const second = await open(node, '/v1/stream', { ...auth('auditor'), 'last-event-id': cursor });
    await second.ended;
    const seqs = [...ledger(first.messages), ...ledger(second.messages)].map((event) => event.seq);
    expect(seqs).toEqual([2, 3, 4]);
    expect(node.realtime.hub.size).toBe(0);
  });

  it('caps the consumers (503) and refuses a cursor too far behind (409)', async () => {
    const node = await start({ stream: { consumersMax: 1, resumeEventsMax: 1 } });
    await open(node, '/v1/stream', auth('auditor'));
    const second = await open(node, '/v1/stream', auth('auditor'));
    expect(second.status).toBe(503);
    expect(JSON.parse(second.body).error.details).toMatchObject({ reason: 'stream_consumers', limit: 1 });
    streams.splice(0).forEach((stream) => {
      stream.close();
    });
    await grant(node.app, 'acme', 'g1', 1000);
    for (const key of ['k1', 'k2']) await debit(node.app, 'acme', 1, key);
    const origin = node.replica.origin;
    const behind = await call(node.app, 'GET', `/v1/stream?after=${streamCursorOf(new Map([[origin, 1]]))}`, {
      who: 'auditor',
    });
    // A retry until the closed consumer is gone: the cap counts connections, not requests.
    expect([409, 503]).toContain(behind.statusCode);
    if (behind.statusCode === 409) expect(behind.json().error.details).toMatchObject({ behind: 2, limit: 1 });
  });
});
