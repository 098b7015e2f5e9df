/**
 * /metrics as Prometheus' own linter reads it: `promtool check metrics` accepts the exposition of a
 * node that has served grants, debits (accepted, declined, invalid) and a batch, default process
 * metrics included. Skipped, with one line saying so, where promtool is not installed (`.ci/run`
 * installs Debian's `prometheus` package, which has it).
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../src/metrics.js';
import { realtimeNode } from './realtime/support.js';
import { call, grant, type TestNode, testNode } from './support.js';

const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' }).status === 0;
if (!promtool)
  console.log('SKIPPED: promtool check metrics (promtool is not installed; .ci/run installs it)');

/** The exposition text that `name` appears in as `# TYPE name type`, or undefined. */
function typeOf(text: string, name: string): string | undefined {
  return text.match(new RegExp(`^# TYPE ${name} (\\w+)$`, 'm'))?.[1];
}

describe('the /metrics exposition', () => {
  let node: TestNode;
  let text: string;

  beforeAll(async () => {
    node = await testNode({ metrics: createMetrics() });
    await grant(node.app, 'acme', 'g1', 10);
    const debit = (body: unknown) =>
      call(node.app, 'POST', '/v1/tenants/acme/debits', { who: 'service', body });
    await debit({ amount: 3, idempotencyKey: 'a' });
    await debit({ amount: 300, idempotencyKey: 'b' });
    await debit({ amount: 1.5, idempotencyKey: 'c' });
    await call(node.app, 'POST', '/v1/debits/batch', {
      who: 'service',
      body: { debits: [{ tenant: 'acme', amount: 1, idempotencyKey: 'd' }] },
    });
    const address = await node.app.listen({ host: '127.0.0.1', port: 0 });
    const response = await fetch(`${address}/metrics`);
    expect(response.status).toBe(200);
    text = await response.text();
  });

  afterAll(async () => {
    await node?.close();
  });

  it('names no gauge as a counter, and reads the node’s state at the scrape', () => {
    for (const match of text.matchAll(/^# TYPE (\S+) gauge$/gm)) expect(match[1]).not.toMatch(/_total$/);
    expect(typeOf(text, 'nodejs_active_handles')).toBe('gauge');
    expect(typeOf(text, 'nodejs_active_handles_total')).toBeUndefined();
    expect(text).toMatch(/^allot_ready 1$/m);
    expect(text).toMatch(/^allot_writable 1$/m);
    const origin = node.replica.origin;
    expect(text).toContain(`allot_node_info{origin="${origin}"} 1`);
    // The grant and two debits (one single, one of the batch) are in this node's own log.
    expect(text).toContain(`allot_log_events{origin="${origin}"} 3`);
    expect(text).toMatch(/^allot_store_failures_total 0$/m);
  });

  it.skipIf(!promtool)('passes promtool check metrics', () => {
    const result = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
    expect(result.status).toBe(0);
  });

  it.skipIf(!promtool)(
    'passes promtool check metrics with the stream, alerts and webhooks wired',
    async () => {
      const wired = await realtimeNode();
      try {
        const exposition = await (await fetch(`${wired.base}/metrics`)).text();
        expect(exposition).toContain('# TYPE allot_webhook_deliveries_pending gauge');
        const result = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
        expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
        expect(result.status).toBe(0);
      } finally {
        await wired.close();
      }
    },
  );
});
