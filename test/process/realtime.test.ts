/**
 * Real time with real processes: a node SIGKILLed while a webhook delivery is in flight delivers
 * the same signed alert after its restart, and `allot tail` prints the stream, resumes across that
 * restart with nothing skipped or printed twice; two regions raise a crossing with the same alertId.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '@allot/server';
import { afterAll, describe, expect, it } from 'vitest';
import { portOutsideEphemeral } from '../../bench/relay.mjs';
import { useProcessCluster } from './cluster-process.js';
import {
  call,
  eventually,
  type NodeProcess,
  removeDir,
  startNodeProcess,
  TOKENS,
  tempDir,
} from './node-process.js';

const CLI = new URL('../../packages/cli/bin/allot.js', import.meta.url).pathname;
const SECRET = 'whsec-process-test-0123';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs) removeDir(dir);
});

/** A webhook receiver in the test process: `hang` leaves requests unanswered. */
async function receiver() {
  const received: { signature: string; body: string }[] = [];
  const state = { hang: true };
  const open = new Set<ServerResponse>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      received.push({ signature: String(request.headers[SIGNATURE_HEADER]), body });
      if (state.hang) open.add(response);
      else response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/allot`,
    received,
    state,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('webhooks and the stream (real processes)', () => {
  it('delivers an alert whose delivery a SIGKILL cut, after the restart; tail resumes across it', async () => {
    const dir = tempDir('realtime');
    dirs.push(dir);
    const hooks = await receiver();
    const port = await portOutsideEphemeral();
    const extra = {
      listen: { host: '127.0.0.1', port },
      webhooks: [{ url: hooks.url, secret: SECRET }],
    };
    let node: NodeProcess = await startNodeProcess({ dataDir: dir, extra });
    const policy = await call(node.url, TOKENS.admin, 'PUT', '/v1/tenants/acme/policy', {
      alerts: [{ below: 500 }],
    });
    expect(policy.status).toBe(200);
    const tail = spawn(
      process.execPath,
      [CLI, 'tail', '--url', node.url, '--token', TOKENS.auditor, '--json'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(tail);
    let lines = '';
    tail.stdout?.setEncoding('utf8');
    tail.stdout?.on('data', (chunk: string) => {
      lines += chunk;
    });
    const printed = () =>
      lines
        .split('\n')
        .filter((line) => line !== '')
        .map(
          (line) =>
            JSON.parse(line) as { event?: { seq: number; kind: string }; alert?: { alertId: string } },
        );
    // The tail is connected once it prints a grant (each probe grants anew: 1 credit each).
    let grants = 0;
    await eventually(
      async () => {
        grants += 1;
        await call(node.url, TOKENS.admin, 'POST', '/v1/tenants/acme/grants', {
          grantId: `g${grants}`,
          amount: grants === 1 ? 1000 : 1,
        });
        return printed().length;
      },
      (count) => count > 0,
    );
    const debit = await call(node.url, TOKENS.service, 'POST', '/v1/tenants/acme/debits', {
      amount: 600 + grants - 1,
      idempotencyKey: 'k1',
    });
    expect(debit.status).toBe(201);
    await eventually(
      async () => hooks.received.length,
      (count) => count >= 1,
    );
    node.child.kill('SIGKILL'); // mid-delivery: the receiver has not answered
    await node.exited;
    hooks.state.hang = false;
    node = await startNodeProcess({ dataDir: dir, extra });
    await eventually(
      async () => hooks.received.length,
      (count) => count >= 2,
    );
    const alertIds = new Set(hooks.received.map((each) => JSON.parse(each.body).alertId));
    expect(alertIds.size).toBe(1);
    for (const each of hooks.received) {
      expect(verifyWebhookSignature(SECRET, each.signature, each.body, Date.now() / 1000)).toBe(true);
    }
    const log = await eventually(
      () => call(node.url, TOKENS.admin, 'GET', '/v1/webhooks/deliveries'),
      (answer) => (answer.body as { deliveries: { status: string }[] }).deliveries[0]?.status === 'delivered',
    );
    expect((log.body as { deliveries: unknown[] }).deliveries).toHaveLength(1);

    // The tail reconnects to the restarted node with its last id: the next debit, once.
    const more = await call(node.url, TOKENS.service, 'POST', '/v1/tenants/acme/debits', {
      amount: 1,
      idempotencyKey: 'k2',
    });
    expect(more.status).toBe(201);
    await eventually(
      async () => printed().map((line) => line.event?.seq),
      (seqs) => seqs.includes(grants + 2),
    );
    const seqs = printed()
      .filter((line) => line.event !== undefined)
      .map((line) => line.event?.seq);
    expect(seqs).toEqual([...new Set(seqs)]);
    expect(seqs.slice(-2)).toEqual([grants + 1, grants + 2]);
    expect(printed().some((line) => line.alert !== undefined)).toBe(true);
    tail.kill('SIGTERM');
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    await hooks.close();
  });
});

describe('alert ids across regions (real processes)', () => {
  const { url } = useProcessCluster(['eu', 'us']);

  it('gives the same crossing the same alertId at every region', async () => {
    const policy = await call(url('eu'), TOKENS.admin, 'PUT', '/v1/tenants/acme/policy', {
      alerts: [{ belowPercent: 50 }],
    });
    expect(policy.status).toBe(200);
    await eventually(
      () => call(url('us'), TOKENS.auditor, 'GET', '/v1/tenants/acme/policy'),
      (answer) => (answer.body as { alerts?: unknown[] }).alerts?.length === 1,
    );
    const streams = ['eu', 'us'].map((region) => {
      const child = spawn(
        process.execPath,
        [CLI, 'tail', '--url', url(region), '--token', TOKENS.auditor, '--tenant', 'acme', '--json'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      children.push(child);
      let text = '';
      child.stdout?.setEncoding('utf8');
      child.stdout?.on('data', (chunk: string) => {
        text += chunk;
      });
      return {
        child,
        alerts: () =>
          text
            .split('\n')
            .filter((line) => line.includes('"alert"'))
            .map((line) => (JSON.parse(line) as { alert: { alertId: string } }).alert.alertId),
        lines: () => text,
      };
    });
    let grants = 0;
    await eventually(
      async () => {
        grants += 1;
        await call(url('eu'), TOKENS.admin, 'POST', '/v1/tenants/acme/grants', {
          grantId: `g${grants}`,
          amount: 1000,
        });
        return streams.map((stream) => stream.lines().length);
      },
      (lengths) => lengths.every((length) => length > 0),
    );
    // Both regions hold rights: spend what eu holds, then what us holds, below the half.
    await eventually(
      async () => {
        for (const region of ['eu', 'us']) {
          await call(url(region), TOKENS.service, 'POST', '/v1/tenants/acme/debits', {
            amount: 100,
            idempotencyKey: `k-${region}-${Date.now()}`,
          });
        }
        return streams.map((stream) => stream.alerts());
      },
      (alerts) => alerts.every((ids) => ids.length >= 1),
    );
    const [eu, us] = streams.map((stream) => stream.alerts());
    expect(eu?.[0]).toBe(us?.[0]);
    for (const stream of streams) stream.child.kill('SIGTERM');
  });
});
