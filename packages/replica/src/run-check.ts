/**
 * Verification of a received run of one origin's log (DESIGN.md §4): which key must have signed
 * it, whether it adds anything past what is known here, whether it joins on without a gap, whether
 * its hash chain continues from the known tip, and whether the origin signed its last event. Pure:
 * the replica decides what to do with the verdict (ignore, pull, drop the peer, or fold).
 */
import { type OriginId, regionOf } from '@allot/core';
import type { WireEvent } from './frames.js';
import { chainHash, headSigningBytes } from './log.js';
import type { Crypto } from './ports.js';
import { sameBytes } from './values.js';

/** The last event of a log known here: where a received run must join on. */
export interface RunTip {
  readonly seq: number;
  readonly hash: Uint8Array;
}

/** What a received run is: nothing new, past a gap, refused (why), or verified new events. */
export type RunVerdict =
  | { readonly kind: 'stale' }
  | { readonly kind: 'gap'; readonly fromSeq: number }
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'fresh'; readonly events: readonly WireEvent[] };

/**
 * The public key that must sign `origin`'s runs: this node's own for its own region's origins
 * unless a peer key is configured for it, the configured peer key otherwise; undefined when none.
 */
export function runKey(
  origin: OriginId,
  own: { readonly origin: OriginId; readonly region: string; readonly publicKey: Uint8Array },
  peerKeys: Readonly<Record<string, Uint8Array>>,
): Uint8Array | undefined {
  if (origin === own.origin) return own.publicKey;
  return peerKeys[regionOf(origin)] ?? (regionOf(origin) === own.region ? own.publicKey : undefined);
}

/**
 * Checks a non-empty run of `origin`'s events against the tip known here: the events past the tip
 * must chain on from it, and `key` must have signed the run's last event (over `cluster`).
 */
export function checkRun(
  crypto: Crypto,
  cluster: string,
  origin: OriginId,
  events: readonly WireEvent[],
  tip: RunTip,
  key: Uint8Array,
): RunVerdict {
  const last = events[events.length - 1] as WireEvent;
  if (last.event.seq <= tip.seq) return { kind: 'stale' };
  const first = (events[0] as WireEvent).event.seq;
  if (first > tip.seq + 1) return { kind: 'gap', fromSeq: tip.seq + 1 };
  const fresh = events.slice(tip.seq + 1 - first);
  let previous = tip.hash;
  for (const wire of fresh) {
    const hash = chainHash(crypto, previous, wire.event);
    if (!sameBytes(hash, wire.hash))
      return { kind: 'refused', reason: `events of ${origin}: hash chain broken at seq ${wire.event.seq}` };
    previous = hash;
  }
  const signed = headSigningBytes(cluster, origin, last.event.seq, last.hash);
  if (last.signature === null || !crypto.verify(key, signed, last.signature))
    return { kind: 'refused', reason: `events of ${origin}: head signature does not verify` };
  return { kind: 'fresh', events: fresh };
}
