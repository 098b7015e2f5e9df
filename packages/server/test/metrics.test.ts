/** Metrics: the names API.md lists, fed by the routes and by a replica's observations. */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/metrics.js';
import { call, grant, testNode } from './support.js';

const REQUIRED = [
  'allot_debits_total',
  'allot_debit_duration_seconds',
  'allot_commit_batch_size',
  'allot_replication_lag_events',
  'allot_peer_connected',
  'allot_rights_moved_total',
  'allot_overdraft_in_use',
  'allot_grant_conflicts_total',
];

/** The value of a sample line `name{labels} value` in Prometheus text, or undefined. */
function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe('metrics', () => {
  it('expose every metric API.md lists, and the default process metrics', async () => {
    const metrics = createMetrics();
    const text = await metrics.registry.metrics();
    for (const name of REQUIRED) expect(text).toContain(`# TYPE ${name} `);
    expect(text).toContain('# TYPE allot_debit_duration_seconds histogram');
    expect(text).toContain('# TYPE allot_commit_batch_size histogram');
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('are fed by the observer', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const { observer } = metrics;
    observer.debitDecided('accepted', 0.0004);
    observer.debitDecided('declined', 0.002);
    observer.batchCommitted(12, 0.001);
    observer.replicationLag('us#abcdefgh', 42);
    observer.peerConnected('us', true);
    observer.peerConnected('ap', false);
    observer.rightsMoved(300);
    observer.overdraftInUse(17);
    observer.grantConflict?.();
    const text = await metrics.registry.metrics();
    expect(sample(text, 'allot_debits_total{result="accepted"}')).toBe(1);
    expect(sample(text, 'allot_debits_total{result="declined"}')).toBe(1);
    expect(sample(text, 'allot_debit_duration_seconds_count')).toBe(2);
    expect(sample(text, 'allot_debit_duration_seconds_bucket{le="0.0005"}')).toBe(1);
    expect(sample(text, 'allot_commit_batch_size_sum')).toBe(12);
    expect(sample(text, 'allot_commit_batch_size_bucket{le="16"}')).toBe(1);
    expect(sample(text, 'allot_replication_lag_events{origin="us#abcdefgh"}')).toBe(42);
    expect(sample(text, 'allot_peer_connected{peer="us"}')).toBe(1);
    expect(sample(text, 'allot_peer_connected{peer="ap"}')).toBe(0);
    expect(sample(text, 'allot_rights_moved_total')).toBe(300);
    expect(sample(text, 'allot_overdraft_in_use')).toBe(17);
    expect(sample(text, 'allot_grant_conflicts_total')).toBe(1);
  });

  it('count every debit the API answers once, by result, edge refusals as invalid, and group commits', async () => {
    const node = await testNode();
    try {
      await grant(node.app, 'acme', 'g1', 10);
      const debit = (body: unknown) =>
        call(node.app, 'POST', '/v1/tenants/acme/debits', { who: 'service', body });
      await debit({ amount: 3, idempotencyKey: 'a' });
      await debit({ amount: 3, idempotencyKey: 'a' });
      await debit({ amount: 4, idempotencyKey: 'a' });
      await debit({ amount: 100, idempotencyKey: 'b' });
      await debit({ amount: 1.5, idempotencyKey: 'c' });
      await debit({ amount: 1, idempotencyKey: 'd', metadata: { x: 'y'.repeat(5_000) } });
      await call(node.app, 'POST', '/v1/debits/batch', {
        who: 'service',
        body: { debits: [{ tenant: 'acme', amount: 1, idempotencyKey: 'e' }, { tenant: 'acme' }] },
      });
      const response = await call(node.app, 'GET', '/metrics', { who: null });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = response.body;
      expect(sample(text, 'allot_debits_total{result="accepted"}')).toBe(2);
      expect(sample(text, 'allot_debits_total{result="replayed"}')).toBe(1);
      expect(sample(text, 'allot_debits_total{result="conflict"}')).toBe(1);
      expect(sample(text, 'allot_debits_total{result="declined"}')).toBe(1);
      expect(sample(text, 'allot_debits_total{result="invalid"}')).toBe(3);
      expect(sample(text, 'allot_debit_duration_seconds_count')).toBe(8);
      // Group commits are reported by the replica through the app's observer.
      expect(sample(text, 'allot_commit_batch_size_count')).toBeGreaterThanOrEqual(3);
    } finally {
      await node.close();
    }
  });
});
