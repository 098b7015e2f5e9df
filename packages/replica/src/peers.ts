/**
 * What a replica knows of each peer region (DESIGN.md §4): its incarnation, whether the link is
 * up, what it said it holds, what was sent to it on the current connection, and how its summaries
 * progress. Plain state; anti-entropy.ts and the replica act on it.
 */
import type { OriginId } from '@allot/core';

/** What this replica knows of one peer region. */
export interface PeerState {
  /** The peer's current incarnation, from its handshake. */
  origin: OriginId | null;
  connected: boolean;
  /** What the peer said it has durably (its last summary). */
  versionVector: Record<OriginId, number>;
  /** Highest seq per origin sent on the current connection (not yet acknowledged, perhaps). */
  sent: Map<OriginId, number>;
  /** Per origin in `sent`: when its entry was made (what was sent since has not all been acknowledged). */
  sentSince: Map<OriginId, number>;
  /** A push from the store is under way (one at a time per peer). */
  pushing: boolean;
  /** An acknowledgement (or pull) came in during a push: push again when it ends. */
  pushAgain: boolean;
  /** When the link came up, and when the peer's summaries last showed progress on each origin. */
  upAt: number;
  progress: Map<OriginId, { seq: number; at: number }>;
  /** A summary came on the current connection (its versionVector is the peer's word, not empty). */
  summarized: boolean;
}

/** A peer region not heard from yet: no incarnation, not connected, nothing known or sent. */
export function newPeerState(): PeerState {
  return {
    origin: null,
    connected: false,
    versionVector: {},
    sent: new Map(),
    sentSince: new Map(),
    pushing: false,
    pushAgain: false,
    upAt: 0,
    progress: new Map(),
    summarized: false,
  };
}

/** Events sent to the peer on this connection that its summaries have not acknowledged yet. */
export function inFlightTo(peer: PeerState): number {
  let inFlight = 0;
  for (const [origin, sent] of peer.sent) inFlight += Math.max(0, sent - (peer.versionVector[origin] ?? 0));
  return inFlight;
}

/** Forgets what was sent of `origin` (all origins when omitted): pushes start again from the peer's vector. */
export function forgetSent(peer: PeerState, origin?: OriginId): void {
  if (origin === undefined) {
    peer.sent.clear();
    peer.sentSince.clear();
  } else {
    peer.sent.delete(origin);
    peer.sentSince.delete(origin);
  }
}

/** Records that `origin`'s log through `seq` was sent to the peer at `now`. */
export function markSent(peer: PeerState, origin: OriginId, seq: number, now: number): void {
  if (!peer.sent.has(origin)) peer.sentSince.set(origin, now);
  peer.sent.set(origin, seq);
}

/**
 * After a summary: forgets what was sent of each origin that the peer acknowledged, and of each it
 * has not, when for `resendAfterMs` its summaries showed no progress on that origin and nothing sent
 * was outstanding for less: those frames were let go on the way, and pushes start again from what
 * the peer holds. Returns the origins forgotten unacknowledged (to be sent again).
 */
export function forgetAcknowledged(peer: PeerState, now: number, resendAfterMs: number): OriginId[] {
  const again: OriginId[] = [];
  for (const [origin, sent] of peer.sent) {
    const acknowledged = (peer.versionVector[origin] ?? 0) >= sent;
    if (!acknowledged) {
      const progressAt = peer.progress.get(origin)?.at ?? peer.upAt;
      const outstandingSince = peer.sentSince.get(origin) ?? peer.upAt;
      if (now - Math.max(progressAt, outstandingSince) < resendAfterMs) continue;
      again.push(origin);
    }
    forgetSent(peer, origin);
  }
  return again;
}
