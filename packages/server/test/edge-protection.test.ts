/**
 * The HTTP edge under floods and slow clients (issue 9, items 4 and 7), on a real socket: a body sent
 * one byte at a time is cut off at the request timeout, connections past the cap are refused and idle
 * ones cut at the headers timeout so /healthz answers again, the rate limit answers 429 and load
 * shedding 503 in the catalogue's shape with Retry-After, and the HTTP parser's own errors answer in
 * the catalogue's shape too. Small limits are configured so every test is bounded in count and time.
 */
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { makeCertificateAuthority } from '../../transport/test/tls-support.js';
import type { HttpLimitOptions } from '../src/http-limits.js';
import { resolveHttpLimits } from '../src/http-limits.js';
import { HEADERS_TIMEOUT_MS_DEFAULT, REQUEST_TIMEOUT_MS_DEFAULT } from '../src/limits.js';
import { bearer, call, fingerprint, grant, type TestNode, TOKENS, testNode } from './support.js';

const nodes: TestNode[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const node of nodes.splice(0)) await node.close();
});

/** A test node listening on a free loopback port with `http` limits; its port. */
async function listening(
  http: HttpLimitOptions,
  tls?: { cert: string; key: string; ca: string },
): Promise<{ node: TestNode; port: number }> {
  const node = await testNode({ http, ...(tls === undefined ? {} : { tls }) });
  nodes.push(node);
  await node.app.listen({ host: '127.0.0.1', port: 0 });
  const address = node.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { node, port: address.port };
}

/** What a raw socket received until the server closed it. */
interface RawExchange {
  readonly socket: Socket;
  /** Resolves with everything received once the socket is closed. */
  readonly closed: Promise<string>;
  /** Resolves once connected (rejects if the connection fails). */
  readonly connected: Promise<void>;
}

function rawSocket(port: number): RawExchange {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let received = '';
  socket.on('data', (chunk) => {
    received += chunk.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  const connected = new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, closed, connected };
}

/** The status and JSON body of a raw HTTP/1.1 response. */
function parseResponse(raw: string): { status: number; headers: string; body: unknown } {
  const match = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(raw);
  if (match === null) throw new Error(`not an HTTP response: ${JSON.stringify(raw.slice(0, 200))}`);
  return {
    status: Number(match[1]),
    headers: (match[2] ?? '').toLowerCase(),
    body: JSON.parse(match[3] ?? ''),
  };
}

/** Sends `raw` on a new socket and returns the parsed answer once the server closes the socket. */
async function exchange(
  port: number,
  raw: string,
): Promise<{ status: number; headers: string; body: unknown }> {
  const { socket, closed, connected } = rawSocket(port);
  await connected;
  socket.write(raw);
  return parseResponse(await closed);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the HTTP limits', () => {
  it('default to named values, and refuse a bad value naming the field', () => {
    const limits = resolveHttpLimits();
    expect(limits.headersTimeoutMs).toBe(HEADERS_TIMEOUT_MS_DEFAULT);
    expect(limits.requestTimeoutMs).toBe(REQUEST_TIMEOUT_MS_DEFAULT);
    expect(limits.heapUsedBytesMax).toBeGreaterThan(0);
    expect(() => resolveHttpLimits({ connectionsMax: 0 })).toThrow(
      /http\.connectionsMax must be a positive integer/,
    );
    expect(() => resolveHttpLimits({ requestTimeoutMs: 1.5 })).toThrow(/http\.requestTimeoutMs/);
    expect(() => resolveHttpLimits({ eventLoopDelayMsMax: -1 })).toThrow(
      /http\.eventLoopDelayMsMax must be an integer ≥ 0/,
    );
    expect(resolveHttpLimits({ eventLoopDelayMsMax: 0 }).eventLoopDelayMsMax).toBe(0);
    expect(() => resolveHttpLimits({ headersTimeoutMs: 2_000, requestTimeoutMs: 1_000 })).toThrow(
      /http\.headersTimeoutMs must not exceed http\.requestTimeoutMs \(2000 > 1000\)/,
    );
    expect(resolveHttpLimits({ headersTimeoutMs: 1_000, requestTimeoutMs: 1_000 }).headersTimeoutMs).toBe(
      1_000,
    );
  });
});

describe('a slow client', () => {
  it('sending its body one byte at a time is cut off at the request timeout with 408, and changes nothing', async () => {
    const { node, port } = await listening({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
    await grant(node.app, 'acme', 'g1', 1_000);
    const before = await fingerprint(node.replica);
    const body = JSON.stringify({ amount: 5, idempotencyKey: 'slow-1' });
    const { socket, closed, connected } = rawSocket(port);
    await connected;
    socket.write(
      'POST /v1/tenants/acme/debits HTTP/1.1\r\nHost: x\r\n' +
        `Authorization: Bearer ${TOKENS.service}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n`,
    );
    let sent = 0;
    // One byte every 100 ms: the whole body would take seconds; the server gives it 400 ms in all.
    const drip = setInterval(() => {
      if (sent < body.length - 1 && socket.writable) socket.write(body[sent++] as string);
    }, 100);
    const answer = parseResponse(await closed);
    clearInterval(drip);
    expect(sent).toBeLessThan(body.length - 1);
    expect(answer.status).toBe(408);
    expect(answer.body).toMatchObject({
      error: { code: 'request_timeout', details: { requestTimeoutMs: 400 } },
    });
    expect(await fingerprint(node.replica)).toBe(before);
  });

  it('that sends nothing, or dribbles its headers, is cut off at the headers timeout', async () => {
    const { port } = await listening({ headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const silent = rawSocket(port);
    const dribble = rawSocket(port);
    await Promise.all([silent.connected, dribble.connected]);
    dribble.socket.write('GET /healthz HTTP/1.1\r\n');
    const timer = setInterval(() => dribble.socket.writable && dribble.socket.write('X-A: b\r\n'), 50);
    const answers = (await Promise.all([silent.closed, dribble.closed])).map(parseResponse);
    clearInterval(timer);
    for (const answer of answers) {
      expect(answer.status).toBe(408);
      expect(answer.body).toMatchObject({ error: { code: 'request_timeout' } });
    }
  });
});

describe('over TLS', () => {
  it('a client that never finishes its TLS handshake is cut at the headers timeout; others are served', async () => {
    const authority = makeCertificateAuthority();
    const { port } = await listening(
      { headersTimeoutMs: 200, requestTimeoutMs: 400 },
      authority.tlsFor(authority.issue('eu')),
    );
    const silent = rawSocket(port);
    await silent.connected;
    expect(await silent.closed).toBe('');
    const status = await new Promise<number>((resolve, reject) => {
      httpsRequest(`https://127.0.0.1:${port}/healthz`, { ca: authority.ca }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(200);
  });
});

describe('the connection cap', () => {
  it('refuses connections past it; once the idle ones are cut, /healthz answers a new client', async () => {
    const cap = 4;
    const { port } = await listening({ connectionsMax: cap, headersTimeoutMs: 300, requestTimeoutMs: 300 });
    const idle = Array.from({ length: cap }, () => rawSocket(port));
    await Promise.all(idle.map((one) => one.connected));
    // Wait until the server has counted them all, then every further connection is closed at once.
    await sleep(50);
    const extra = Array.from({ length: 6 }, () => rawSocket(port));
    const extraReceived = await Promise.all(extra.map((one) => one.closed));
    expect(extraReceived).toEqual(Array(6).fill(''));
    // The idle ones are answered 408 and closed by the headers timeout, which frees their slots.
    const idleAnswers = (await Promise.all(idle.map((one) => one.closed))).map(parseResponse);
    expect(idleAnswers.map((answer) => answer.status)).toEqual(Array(cap).fill(408));
    let health: Response | undefined;
    for (let attempt = 0; attempt < 50 && health === undefined; attempt += 1) {
      health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(async () => {
        await sleep(20);
        return undefined;
      });
    }
    expect(health?.status).toBe(200);
  });
});

describe('the rate limit', () => {
  it('answers 429 too_many_requests with Retry-After per token past its budget; others are unaffected', async () => {
    const node = await testNode({ http: { rateLimitTokenRequests: 3, rateLimitWindowMs: 60_000 } });
    nodes.push(node);
    await grant(node.app, 'acme', 'g1', 1_000);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      statuses.push(
        (await call(node.app, 'GET', '/v1/tenants/acme/balance', { headers: bearer('service') })).statusCode,
      );
    }
    expect(statuses).toEqual([200, 200, 200]);
    const before = await fingerprint(node.replica);
    const refused = await call(node.app, 'POST', '/v1/tenants/acme/debits', {
      headers: bearer('service'),
      body: { amount: 1, idempotencyKey: 'over-the-limit' },
    });
    expect(refused.statusCode).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.json()).toEqual({
      error: {
        code: 'too_many_requests',
        message: expect.stringMatching(/^Too many requests from this token: retry in \d+ s\.$/),
        details: { limit: 3, windowMs: 60_000, retryAfterSeconds: expect.any(Number) },
      },
    });
    expect(await fingerprint(node.replica)).toBe(before);
    // Another token has its own budget, and probes are never limited.
    const other = await call(node.app, 'GET', '/v1/tenants/acme/balance', { headers: bearer('auditor') });
    expect(other.statusCode).toBe(200);
    for (let i = 0; i < 10; i += 1) {
      expect((await node.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    }
  });

  it('counts requests without a valid token per address: unknown tokens buy no budget', async () => {
    const node = await testNode({ http: { rateLimitAnonymousRequests: 2, rateLimitWindowMs: 60_000 } });
    nodes.push(node);
    const answers: number[] = [];
    for (const token of ['unknown-1', 'unknown-2', 'unknown-3']) {
      const response = await node.app.inject({
        method: 'GET',
        url: '/v1/tenants/acme/balance',
        headers: { authorization: `Bearer ${token}` },
      });
      answers.push(response.statusCode);
      if (response.statusCode === 429) {
        expect(response.json().error).toMatchObject({ code: 'too_many_requests', details: { limit: 2 } });
        expect(response.json().error.message).toMatch(/from this address/);
      }
    }
    expect(answers).toEqual([401, 401, 429]);
    // IPv6 addresses of one /64 share a budget; another address has its own.
    const from = async (remoteAddress: string) =>
      (
        await node.app.inject({
          method: 'GET',
          url: '/v1/tenants/acme/balance',
          headers: { authorization: 'Bearer unknown' },
          remoteAddress,
        })
      ).statusCode;
    expect([await from('2001:db8::1'), await from('2001:db8::2'), await from('2001:db8::3')]).toEqual([
      401, 401, 429,
    ]);
    expect(await from('2001:db8:0:1::1')).toBe(401);
    // A valid token is counted on its own budget.
    expect((await call(node.app, 'GET', '/v1/cluster', { headers: bearer('admin') })).statusCode).toBe(200);
  });
});

describe('load shedding', () => {
  it('answers 503 unavailable with Retry-After while the heap is over its limit; /healthz still answers', async () => {
    const node = await testNode({ http: { heapUsedBytesMax: 1, pressureSampleIntervalMs: 10 } });
    nodes.push(node);
    await node.app.listen({ host: '127.0.0.1', port: 0 });
    let shed: Awaited<ReturnType<typeof call>> | undefined;
    for (let attempt = 0; attempt < 100 && shed === undefined; attempt += 1) {
      await sleep(10);
      const response = await call(node.app, 'GET', '/v1/cluster', { headers: bearer('admin') });
      if (response.statusCode === 503) shed = response;
    }
    expect(shed?.headers['retry-after']).toBe('1');
    expect(shed?.json()).toEqual({
      error: {
        code: 'unavailable',
        message: expect.stringContaining('the memory in use is near its limit'),
        details: { reason: 'overloaded', pressure: 'heapUsedBytes' },
      },
    });
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      expect((await node.app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    }
  });
});

describe('errors of the HTTP parser', () => {
  it('answer in the catalogue shape: a bad request line, bad framing, 20 KiB of headers', async () => {
    const { port } = await listening({});
    const badLine = await exchange(port, 'THIS IS NOT HTTP\r\n\r\n');
    expect(badLine.status).toBe(400);
    expect(badLine.body).toMatchObject({ error: { code: 'invalid_request', message: expect.any(String) } });
    const badFraming = await exchange(
      port,
      'POST /v1/debits/batch HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    );
    expect(badFraming.status).toBe(400);
    expect(badFraming.body).toMatchObject({ error: { code: 'invalid_request' } });
    const badLength = await exchange(
      port,
      'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n',
    );
    expect(badLength.body).toMatchObject({ error: { code: 'invalid_request' } });
    const hugeHeaders = await exchange(
      port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
    );
    expect(hugeHeaders.status).toBe(413);
    expect(hugeHeaders.body).toMatchObject({
      error: { code: 'payload_too_large', details: { location: 'headers', limitBytes: expect.any(Number) } },
    });
    for (const answer of [badLine, badFraming, badLength, hugeHeaders]) {
      expect(answer.headers).toContain('content-type: application/json');
      expect(JSON.stringify(answer.body)).not.toMatch(/ at |stack/i);
    }
  });
});
