import { afterEach, describe, expect, it } from 'vitest';
import { alertIdOf, SIGNATURE_HEADER, verifyWebhookSignature } from '../../src/index.js';
import { call, debit, grant } from '../support.js';
import { type Receiver, startReceiver } from './receiver.js';
import { openStream, type SseStream } from './sse.js';
import { auth, type RealtimeNode, realtimeNode } from './support.js';

const SECRET = 'whsec-test-0123456789';
/** Short waits, so retries happen within a test (the defaults are seconds to an hour). */
const FAST = { backoffBaseMs: 20, backoffMaxMs: 80, timeoutMs: 300 };

describe('alerts and webhooks', () => {
  const nodes: RealtimeNode[] = [];
  const receivers: Receiver[] = [];
  const streams: SseStream[] = [];
  afterEach(async () => {
    for (const stream of streams.splice(0)) stream.close();
    for (const node of nodes.splice(0)) await node.close();
    for (const receiver of receivers.splice(0)) await receiver.close();
  });
  const setup = async (fallback: number | 'hang' = 200) => {
    const receiver = await startReceiver(fallback);
    receivers.push(receiver);
    const node = await realtimeNode({ webhooks: [{ url: receiver.url, secret: SECRET }], delivery: FAST });
    nodes.push(node);
    return { node, receiver };
  };
  const setAlerts = async (node: RealtimeNode, alerts: unknown) => {
    const response = await call(node.app, 'PUT', '/v1/tenants/acme/policy', { body: { alerts } });
    expect(response.statusCode).toBe(200);
  };

  it('alerts once per downward crossing, signed, in the stream, re-armed above the line with hysteresis', async () => {
    const { node, receiver } = await setup();
    await setAlerts(node, [{ below: 500 }]);
    const stream = await openStream(node.base, '/v1/stream?tenant=acme', auth('auditor'));
    streams.push(stream);
    await grant(node.app, 'acme', 'g1', 1000);
    await debit(node.app, 'acme', 600, 'k1'); // 400 < 500: an alert
    await debit(node.app, 'acme', 10, 'k2'); // still below: none
    await receiver.until(1);
    const [first] = receiver.received;
    const body = JSON.parse(first?.body ?? '{}');
    expect(body).toEqual({
      alertId: alertIdOf('acme', { below: 500 }, 1000),
      tenant: 'acme',
      threshold: 500,
      balance: 400,
      at: expect.any(String),
    });
    const signature = String(first?.headers[SIGNATURE_HEADER]);
    const now = Math.floor(Date.now() / 1000);
    expect(verifyWebhookSignature(SECRET, signature, first?.body ?? '', now)).toBe(true);
    expect(verifyWebhookSignature('another-secret-xxxxxx', signature, first?.body ?? '', now)).toBe(false);
    expect(verifyWebhookSignature(SECRET, signature, `${first?.body} `, now)).toBe(false);
    expect(verifyWebhookSignature(SECRET, signature, first?.body ?? '', now + 3600)).toBe(false); // a replay
    await stream.until((messages) => messages.some((message) => message.event === 'alert'), 'the alert');
    expect(JSON.parse(stream.messages.find((message) => message.event === 'alert')?.data ?? '')).toEqual(
      body,
    );

    // 520 is not yet 500 + 5 %: not re-armed; a debit back below alerts nothing.
    const topUp = await call(node.app, 'POST', '/v1/tenants/acme/grants', {
      body: { grantId: 'g2', amount: 130 },
    });
    expect(topUp.statusCode).toBe(201);
    await debit(node.app, 'acme', 30, 'k3');
    // 1,490 re-arms it; down to 490 is a second crossing, with another id.
    await grant(node.app, 'acme', 'g3', 1000);
    await debit(node.app, 'acme', 1000, 'k4');
    // Delivery is at least once: an answer slower than the 300 ms timeout (a loaded machine) has
    // the same alert sent again, which a receiver drops by its alertId.
    const alerts = () => [
      ...new Map(
        receiver.received.map((each) => {
          const alert = JSON.parse(each.body) as { alertId: string };
          return [alert.alertId, alert] as const;
        }),
      ).values(),
    ];
    while (alerts().length < 2) await receiver.until(receiver.received.length + 1);
    const second = alerts()[1] as { alertId: string };
    expect(second).toMatchObject({ tenant: 'acme', threshold: 500, balance: 490 });
    expect(second.alertId).toBe(alertIdOf('acme', { below: 500 }, 2130));
    expect(second.alertId).not.toBe(body.alertId);
    expect(alerts()).toHaveLength(2);
    const metrics = await node.metrics.registry.metrics();
    expect(metrics).toMatch(/^allot_alerts_total 2$/m);
  });

  it('retries after a 500 and a timeout, then delivers; the delivery log shows every attempt', async () => {
    const { node, receiver } = await setup();
    receiver.script.push(500, 'hang');
    await setAlerts(node, [{ belowPercent: 50 }]);
    await grant(node.app, 'acme', 'g1', 1000);
    await debit(node.app, 'acme', 501, 'k1');
    await receiver.until(3);
    const bodies = new Set(receiver.received.map((each) => each.body));
    expect(bodies.size).toBe(1); // the same alert, each attempt signed anew
    for (const each of receiver.received) {
      expect(
        verifyWebhookSignature(SECRET, String(each.headers[SIGNATURE_HEADER]), each.body, Date.now() / 1000),
      ).toBe(true);
    }
    let log = await call(node.app, 'GET', '/v1/webhooks/deliveries', { who: 'admin' });
    for (let i = 0; log.json().deliveries[0]?.status !== 'delivered' && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      log = await call(node.app, 'GET', '/v1/webhooks/deliveries', { who: 'admin' });
    }
    const [delivery] = log.json().deliveries;
    expect(delivery).toMatchObject({ tenant: 'acme', url: receiver.url, status: 'delivered' });
    expect(
      delivery.attempts.map(
        (attempt: { status?: number; error?: string }) => attempt.status ?? attempt.error,
      ),
    ).toEqual([500, 'timeout', 200]);
    const metrics = await node.metrics.registry.metrics();
    expect(metrics).toMatch(/^allot_webhook_deliveries_total\{result="delivered"\} 1$/m);
    expect(metrics).toMatch(/^allot_webhook_deliveries_pending 0$/m);
    expect((await call(node.app, 'GET', '/v1/webhooks/deliveries', { who: 'auditor' })).statusCode).toBe(403);
  });

  it('gives a delivery up after its retry horizon, marked failed and counted', async () => {
    const receiver = await startReceiver(500);
    receivers.push(receiver);
    const node = await realtimeNode({
      webhooks: [{ url: receiver.url, secret: SECRET }],
      delivery: { ...FAST, horizonMs: 150 },
    });
    nodes.push(node);
    await setAlerts(node, [{ below: 500 }]);
    await grant(node.app, 'acme', 'g1', 1000);
    await debit(node.app, 'acme', 600, 'k1');
    let log = await call(node.app, 'GET', '/v1/webhooks/deliveries', { who: 'admin' });
    for (let i = 0; log.json().deliveries[0]?.status !== 'failed' && i < 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      log = await call(node.app, 'GET', '/v1/webhooks/deliveries', { who: 'admin' });
    }
    const [delivery] = log.json().deliveries;
    expect(delivery.status).toBe('failed');
    expect(delivery.nextAttemptAt).toBeNull();
    expect(delivery.attempts.length).toBeGreaterThan(0);
    expect(delivery.attempts.every((attempt: { status?: number }) => attempt.status === 500)).toBe(true);
    const metrics = await node.metrics.registry.metrics();
    expect(metrics).toMatch(/^allot_webhook_deliveries_total\{result="failed"\} 1$/m);
    expect(metrics).toMatch(/^allot_webhook_attempts_total\{result="http_error"\} [1-9]/m);
  });

  it('delivers in order per tenant: a later alert waits for the one before', async () => {
    const { node, receiver } = await setup();
    receiver.script.push(503, 503);
    await setAlerts(node, [{ below: 500 }, { below: 100 }]);
    await grant(node.app, 'acme', 'g1', 1000);
    await debit(node.app, 'acme', 600, 'k1'); // below 500
    await debit(node.app, 'acme', 350, 'k2'); // below 100
    await receiver.until(4);
    const thresholds = receiver.received.map((each) => JSON.parse(each.body).threshold);
    expect(thresholds).toEqual([500, 500, 500, 100]);
  });

  it('keeps undelivered alerts in the outbox across a restart, and delivers them after it', async () => {
    const receiver = await startReceiver(503);
    receivers.push(receiver);
    const node = await realtimeNode({ webhooks: [{ url: receiver.url, secret: SECRET }], delivery: FAST });
    await setAlerts(node, [{ below: 500 }]);
    await grant(node.app, 'acme', 'g1', 1000);
    await debit(node.app, 'acme', 600, 'k1');
    await receiver.until(1);
    await node.close();
    const count = receiver.received.length;
    receiver.fallback = 200;
    const restarted = await realtimeNode({
      webhooks: [{ url: receiver.url, secret: SECRET }],
      delivery: FAST,
      store: node.store.crash(),
      crypto: node.crypto,
    });
    nodes.push(restarted);
    await receiver.until(count + 1);
    const bodies = receiver.received.map((each) => JSON.parse(each.body).alertId);
    expect(new Set(bodies).size).toBe(1); // the same alert, not a new one
    await debit(restarted.app, 'acme', 10, 'k2'); // still below: the state came back too
    const log = await call(restarted.app, 'GET', '/v1/webhooks/deliveries', { who: 'admin' });
    expect(log.json().deliveries).toHaveLength(1);
  });

  it('refuses invalid alert thresholds with 400 and changes nothing', async () => {
    const { node } = await setup();
    await grant(node.app, 'acme', 'g1', 1000);
    for (const alerts of [
      [{ below: 0 }],
      [{ belowPercent: 101 }],
      [{ below: 1, belowPercent: 2 }],
      [{ above: 3 }],
      Array.from({ length: 17 }, (_, i) => ({ below: i + 1 })),
      'low',
    ]) {
      const response = await call(node.app, 'PUT', '/v1/tenants/acme/policy', { body: { alerts } });
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe('invalid_request');
    }
    const policy = await call(node.app, 'GET', '/v1/tenants/acme/policy', { who: 'auditor' });
    expect(policy.json()).toEqual({ overdraft: {}, weights: {}, blocked: false });
  });
});
