/**
 * Received events folded and then undone: a commit that fails rebuilds the fold from the store,
 * which never held them, while their sender counts them as sent. Without a pull the receiver lacks
 * them until the sender's resend (RESEND_AFTER_MS without progress): swarm seeds 3419 and 4431,
 * where a region whose disk refused writes for a second lacked a grant for 2.4 s after, and its
 * peers' debits that waited for rights from it timed out.
 */
import { RESEND_AFTER_MS } from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { cluster } from './cluster.js';
import { acmeGrant as grant } from './support.js';

describe('received events a failed commit undid', () => {
  it('are pulled again once the fold is rebuilt, not left to the resend', async () => {
    const c = await cluster(['eu', 'us']);
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant('g1', 100)), c.run(20)]);
    const eu = c.node('eu').origin;
    await c.until(() => c.node('us').versionVector()[eu] === c.node('eu').versionVector()[eu]);
    const held = c.node('us').versionVector()[eu] ?? 0;
    (c.stores.get('us') ?? expect.unreachable()).failNextCommit(new Error('EIO: i/o error'));
    await Promise.all([c.node('eu').grant(grant('g2', 50)), c.run(5)]);
    const head = c.node('eu').versionVector()[eu] ?? 0;
    expect(head).toBeGreaterThan(held);
    // The commit of what us received failed, and its fold was rebuilt without it.
    await c.until(() =>
      (c.logs.get('us')?.lines ?? []).some((line) => line.message.includes('commit failed')),
    );
    await c.until(() => c.node('us').versionVector()[eu] === head, RESEND_AFTER_MS / 4);
    expect(c.node('us').balance('acme')?.granted).toBe(150);
    expect(c.network.drops).toEqual([]);
  });
});
