/**
 * @allot/client against a real two-region cluster of node processes: a service given both regions'
 * URLs debits at the first; when that region's process is gone, the next call fails over to the
 * other region at once and is decided there, and the client keeps to it.
 */
import { AllotClient } from '@allot/client';
import { describe, expect, it } from 'vitest';
import { useProcessCluster } from './cluster-process.js';
import { eventually, TOKENS } from './node-process.js';

describe('the client’s failover between real regions', () => {
  const { cluster, url } = useProcessCluster(['eu', 'us']);

  it('debits at the next region when the preferred one is down, and keeps to it', async () => {
    const admin = new AllotClient({ urls: [url('eu')], token: TOKENS.admin });
    await admin.grant('acme', { grantId: 'g1', amount: 1_000 });
    // Both regions hold rights of the grant once it has replicated.
    const us = new AllotClient({ urls: [url('us')], token: TOKENS.service });
    await eventually(
      () => us.balance('acme').catch(() => null),
      (balance) => (balance?.regions.us?.rights ?? 0) > 0,
    );

    const service = new AllotClient({ urls: [url('eu'), url('us')], token: TOKENS.service });
    expect((await service.debit('acme', 10)).debit.region).toBe('eu');

    const eu = cluster().nodes.get('eu');
    eu?.child.kill('SIGTERM');
    expect(await eu?.exited).toBe(0);

    const failedOver = await service.debit('acme', 10);
    expect(failedOver.debit.region).toBe('us');
    expect(failedOver.replayed).toBe(false);
    expect(service.region).toBe(url('us'));
    expect((await service.balance('acme')).region).toBe('us');
  });
});
