/**
 * Runs a receiver lets go on a live link (swarm seed 4456): a hostile wire can rewrite a run so that
 * the receiver cannot tell it from one it may ignore (under its own origin, stale for that origin, or
 * under an incarnation nobody started, held past a gap nobody fills). The link stays up, so nothing
 * resets what the sender marked sent: it must send again what the peer's summaries leave
 * unacknowledged for RESEND_AFTER_MS, or the peer stays behind an acknowledged seq for good.
 */
import type { OriginId } from '@allot/core';
import { RESEND_AFTER_MS, type ReplicationFrame, SUMMARY_INTERVAL_MS } from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { forgetAcknowledged, markSent, newPeerState } from '../../packages/replica/src/peers.js';
import { cluster } from './cluster.js';
import { acmeGrant as grant } from './support.js';

describe('runs let go on a live link', () => {
  // Two regions: with a third, its relay (after RELAY_AFTER_MS) would hide the loss.
  it.each([
    ['under the receiver’s own origin', (_eu: OriginId, us: OriginId) => us],
    ['under an incarnation nobody started', () => 'eu#zzzzzzzzzzzzzzzz'],
  ])('are sent again when the wire rewrote them %s', async (_how, rename) => {
    const c = await cluster(['eu', 'us']);
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant('g1', 100)), c.run(20)]);
    const eu = c.node('eu').origin;
    const us = c.node('us').origin;
    await c.until(() => c.node('us').versionVector()[eu] === c.node('eu').versionVector()[eu]);
    c.network.rewrite = (from, _to, frame): ReplicationFrame =>
      from === 'eu' && frame.type === 'segments' && frame.origin === eu
        ? { ...frame, origin: rename(eu, us) }
        : frame;
    await Promise.all([c.node('eu').grant(grant('g2', 50)), c.run(50)]);
    c.network.rewrite = null; // honest again: eu writes nothing more that would show us the gap
    const head = c.node('eu').versionVector()[eu] ?? 0;
    expect(c.node('us').versionVector()[eu] ?? 0).toBeLessThan(head);
    await c.until(() => c.node('us').versionVector()[eu] === head, RESEND_AFTER_MS + 4 * SUMMARY_INTERVAL_MS);
    expect(c.node('us').balance('acme')?.granted).toBe(150);
    expect(c.network.drops).toEqual([]); // sent again on the same link, not after a reconnect
  });
});

describe('forgetAcknowledged', () => {
  const A = 'eu#aaaaaaaaaaaaaaaa';
  const B = 'ap#bbbbbbbbbbbbbbbb';

  it('forgets what the peer acknowledged, and what it left unacknowledged with no progress for long', () => {
    const peer = newPeerState();
    peer.upAt = 0;
    markSent(peer, A, 10, 100);
    markSent(peer, B, 5, 100);
    peer.versionVector = { [A]: 10, [B]: 3 };
    expect(forgetAcknowledged(peer, 600, 2_000)).toEqual([]);
    expect([...peer.sent]).toEqual([[B, 5]]);
    expect(forgetAcknowledged(peer, 2_099, 2_000)).toEqual([]);
    expect(forgetAcknowledged(peer, 2_100, 2_000)).toEqual([B]);
    expect(peer.sent.size).toBe(0);
  });

  it('waits from the later of the first unacknowledged send and the last progress', () => {
    const peer = newPeerState();
    peer.upAt = 0;
    // An origin idle since the link came up: a send now is not overdue at once.
    markSent(peer, A, 4, 5_000);
    markSent(peer, A, 6, 5_500); // more of it, still outstanding: the wait runs from the first
    peer.versionVector = { [A]: 2 };
    expect(forgetAcknowledged(peer, 6_999, 2_000)).toEqual([]);
    peer.progress.set(A, { seq: 3, at: 6_500 });
    peer.versionVector = { [A]: 3 };
    expect(forgetAcknowledged(peer, 7_000, 2_000)).toEqual([]);
    expect(forgetAcknowledged(peer, 8_500, 2_000)).toEqual([A]);
    // What is sent after the forget starts a new wait.
    markSent(peer, A, 6, 8_500);
    expect(forgetAcknowledged(peer, 10_499, 2_000)).toEqual([]);
    expect(forgetAcknowledged(peer, 10_500, 2_000)).toEqual([A]);
  });
});
