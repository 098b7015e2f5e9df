/**
 * Issue 9, item 4 (the HTTP half) against a real `allot node` with small `http` limits in its
 * config: clients that send a debit's body one byte at a time fill the connection cap; connections
 * past it are refused at once (and logged), the slow ones are cut at the request timeout with a
 * catalogue 408, nothing is debited, and /healthz answers a new client afterwards. Bounded: a few
 * dozen sockets, timeouts under a second.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type NodeProcess, removeDir, startNodeProcess, TOKENS } from './node-process.js';

const CAP = 12;
let node: NodeProcess;
const sockets: Socket[] = [];

beforeAll(async () => {
  node = await startNodeProcess({
    extra: { http: { headersTimeoutMs: 400, requestTimeoutMs: 800, connectionsMax: CAP } },
  });
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  node.child.kill('SIGTERM');
  await node.exited;
  removeDir(node.dataDir);
});

/** A raw socket to the node; resolves with what it received once the node closed it. */
function open(): { socket: Socket; connected: Promise<void>; closed: Promise<string> } {
  const { port } = new URL(node.url);
  const socket = connect(Number(port), '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => {});
  let received = '';
  socket.on('data', (chunk) => {
    received += chunk.toString('latin1');
  });
  return {
    socket,
    connected: new Promise((resolve) => socket.once('connect', () => resolve())),
    closed: new Promise((resolve) => socket.once('close', () => resolve(received))),
  };
}

describe('a node under slow clients and a connection flood', () => {
  it('refuses connections past its cap, cuts the slow ones with 408, debits nothing, then answers /healthz', async () => {
    const granted = await call(node.url, TOKENS.admin, 'POST', '/v1/tenants/slow/grants', {
      grantId: 'g1',
      amount: 1_000,
    });
    expect(granted.status).toBe(201);
    const body = JSON.stringify({ amount: 7, idempotencyKey: 'slow-drip' });
    const slow = Array.from({ length: CAP }, () => open());
    await Promise.all(slow.map((client) => client.connected));
    for (const { socket } of slow) {
      socket.write(
        'POST /v1/tenants/slow/debits HTTP/1.1\r\nHost: x\r\n' +
          `Authorization: Bearer ${TOKENS.service}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${body.length}\r\n\r\n${body[0]}`,
      );
    }
    let sent = 1;
    const drip = setInterval(() => {
      if (sent >= body.length - 1) return;
      for (const { socket } of slow) if (socket.writable) socket.write(body[sent] as string);
      sent += 1;
    }, 150);
    // Every slot is taken: more connections are closed without a byte.
    const flood = Array.from({ length: 20 }, () => open());
    expect(await Promise.all(flood.map((client) => client.closed))).toEqual(Array(20).fill(''));
    const answers = await Promise.all(slow.map((client) => client.closed));
    clearInterval(drip);
    expect(sent).toBeLessThan(body.length - 1);
    // The grant's keep-alive connection may still hold one slot: then one slow client was refused.
    const cut = answers.filter((answer) => answer !== '');
    expect(cut.length).toBeGreaterThanOrEqual(CAP - 1);
    for (const answer of cut) {
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
        error: { code: 'request_timeout', details: { requestTimeoutMs: 800 } },
      });
    }
    const health = await fetch(`${node.url}/healthz`);
    expect(health.status).toBe(200);
    const balance = await call(node.url, TOKENS.auditor, 'GET', '/v1/tenants/slow/balance');
    expect(balance.body).toMatchObject({ balance: 1_000, debited: 0 });
    expect(node.output()).toMatch(
      /"connectionsMax":12[^\n]*connections refused: the connection cap is reached/,
    );
  }, 30_000);
});
