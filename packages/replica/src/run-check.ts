/**
 * Verification of a received run of one origin's log, in segments (DESIGN.md §2, §4): which key
 * must have signed it, whether it adds anything past what is known here, whether it joins on
 * without a gap, and per new segment one hash (chained from the known tip) and one signature, then
 * its events decoded and checked like API input. Pure: the replica decides what to do with the
 * verdict (ignore, pull, drop the peer, or fold).
 */
import {
  type DecodedSegment,
  decodeSegment,
  eventProblem,
  type OriginId,
  regionOf,
  SegmentError,
} from '@allot/core';
import type { WireSegment } from './frames.js';
import { headSigningBytes, segmentHash } from './log.js';
import type { Crypto } from './ports.js';

/** The last segment of a log known here: where a received run must join on. */
export interface RunTip {
  readonly seq: number;
  readonly hash: Uint8Array;
}

/** A received segment that verified: as sent, its chain hash, and its events. */
export interface VerifiedSegment {
  readonly wire: WireSegment;
  readonly hash: Uint8Array;
  readonly decoded: DecodedSegment;
}

/** What a received run is: nothing new, past a gap, refused (why), or verified new segments. */
export type RunVerdict =
  | { readonly kind: 'stale' }
  | { readonly kind: 'gap'; readonly fromSeq: number }
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'fresh'; readonly segments: readonly VerifiedSegment[] };

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
 * Checks a non-empty, contiguous run of `origin`'s segments (the frame check saw to that) against
 * the tip known here: the segments past the tip must start right after it and chain on from it,
 * `key` must have signed each (over `cluster`), and each must decode to well-formed events.
 */
export function checkRun(
  crypto: Crypto,
  cluster: string,
  origin: OriginId,
  segments: readonly WireSegment[],
  tip: RunTip,
  key: Uint8Array,
): RunVerdict {
  const last = segments[segments.length - 1] as WireSegment;
  if (last.lastSeq <= tip.seq) return { kind: 'stale' };
  const fresh: VerifiedSegment[] = [];
  let previous = tip;
  for (const wire of segments) {
    if (wire.lastSeq <= previous.seq) continue;
    if (wire.firstSeq > previous.seq + 1) return { kind: 'gap', fromSeq: previous.seq + 1 };
    const where = `segment ${origin}/${wire.firstSeq}-${wire.lastSeq}`;
    if (wire.firstSeq !== previous.seq + 1)
      return { kind: 'refused', reason: `${where} overlaps seq ${previous.seq} held here` };
    const hash = segmentHash(crypto, previous.hash, wire.bytes);
    if (!crypto.verify(key, headSigningBytes(cluster, origin, wire.lastSeq, hash), wire.signature))
      return { kind: 'refused', reason: `${where}: signature does not verify (or the chain is broken)` };
    let decoded: DecodedSegment;
    try {
      decoded = decodeSegment(wire.bytes);
    } catch (error) {
      if (error instanceof SegmentError) return { kind: 'refused', reason: `${where}: ${error.message}` };
      throw error;
    }
    if (decoded.origin !== origin || decoded.firstSeq !== wire.firstSeq || decoded.lastSeq !== wire.lastSeq)
      return {
        kind: 'refused',
        reason: `${where}: its bytes hold ${decoded.origin}/${decoded.firstSeq}-${decoded.lastSeq}`,
      };
    for (const event of decoded.events) {
      const problem = eventProblem(event);
      if (problem !== null) return { kind: 'refused', reason: `${where}: seq ${event.seq}: ${problem}` };
    }
    fresh.push({ wire, hash, decoded });
    previous = { seq: wire.lastSeq, hash };
  }
  return { kind: 'fresh', segments: fresh };
}
