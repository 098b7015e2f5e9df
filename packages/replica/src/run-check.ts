/**
 * Verification of a received run of one origin's log, in segments (DESIGN.md §2, §4): which key
 * must have signed it, whether it adds anything past what is known here, whether it joins on
 * without a gap, per new segment one hash (chained from the known tip), one signature for the run
 * (its last segment's, and a few more: keptSignatures), then its events decoded and checked like
 * API input. Pure: the replica decides what to do with the verdict (ignore, pull, drop the peer,
 * or fold).
 */
import {
  type DecodedSegment,
  decodedEventProblem,
  decodeSegment,
  type OriginId,
  regionOf,
  SegmentError,
} from '@allot/core';
import type { WireSegment } from './frames.js';
import {
  SIGNED_STRETCH_BYTES_MAX,
  SIGNED_STRETCH_EVENTS_MAX,
  SIGNED_STRETCH_SEGMENTS_MAX,
} from './limits.js';
import { headSigningBytes, NO_SIGNATURE, segmentHash, signatureKept } from './log.js';
import type { Crypto } from './ports.js';

/** The last segment of a log known here: where a received run must join on. */
export interface RunTip {
  readonly seq: number;
  readonly hash: Uint8Array;
}

/**
 * A received segment that verified: as sent, its chain hash, the signature this node keeps of it
 * (the one sent, verified; or NO_SIGNATURE), and its events.
 */
export interface VerifiedSegment {
  readonly wire: WireSegment;
  readonly hash: Uint8Array;
  readonly signature: Uint8Array;
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
 * the tip known here: the segments past the tip must start right after it and chain on from it;
 * `key` (over `cluster`) must have signed the last of them, which through the chain vouches for
 * all, and those whose signatures this node keeps (keptSignatures); then each must decode to
 * well-formed events. Nothing is decoded before its signature vouched for it.
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
  const fresh: WireSegment[] = [];
  const hashes: Uint8Array[] = [];
  let previous = tip;
  for (const wire of segments) {
    if (wire.lastSeq <= previous.seq) continue;
    if (wire.firstSeq > previous.seq + 1) return { kind: 'gap', fromSeq: previous.seq + 1 };
    if (wire.firstSeq !== previous.seq + 1)
      return { kind: 'refused', reason: `${where(origin, wire)} overlaps seq ${previous.seq} held here` };
    const hash = segmentHash(crypto, previous.hash, wire.bytes);
    fresh.push(wire);
    hashes.push(hash);
    previous = { seq: wire.lastSeq, hash };
  }
  const kept = keptSignatures(fresh);
  if (kept === null)
    return {
      kind: 'refused',
      reason: `${where(origin, fresh[0] as WireSegment)} on: no signature within ${SIGNED_STRETCH_SEGMENTS_MAX} segments, ${SIGNED_STRETCH_BYTES_MAX} bytes or ${SIGNED_STRETCH_EVENTS_MAX} events`,
    };
  for (const i of kept) {
    const wire = fresh[i] as WireSegment;
    const hash = hashes[i] as Uint8Array;
    if (!crypto.verify(key, headSigningBytes(cluster, origin, wire.lastSeq, hash), wire.signature))
      return {
        kind: 'refused',
        reason: `${where(origin, wire)}: signature does not verify (or the chain is broken)`,
      };
  }
  const verified: VerifiedSegment[] = [];
  let next = 0;
  for (let i = 0; i < fresh.length; i++) {
    const wire = fresh[i] as WireSegment;
    let decoded: DecodedSegment;
    try {
      decoded = decodeSegment(wire.bytes);
    } catch (error) {
      if (error instanceof SegmentError)
        return { kind: 'refused', reason: `${where(origin, wire)}: ${error.message}` };
      throw error;
    }
    if (decoded.origin !== origin || decoded.firstSeq !== wire.firstSeq || decoded.lastSeq !== wire.lastSeq)
      return {
        kind: 'refused',
        reason: `${where(origin, wire)}: its bytes hold ${decoded.origin}/${decoded.firstSeq}-${decoded.lastSeq}`,
      };
    for (const event of decoded.events) {
      const problem = decodedEventProblem(event);
      if (problem !== null)
        return { kind: 'refused', reason: `${where(origin, wire)}: seq ${event.seq}: ${problem}` };
    }
    const keep = kept[next] === i;
    if (keep) next += 1;
    verified.push({
      wire,
      hash: hashes[i] as Uint8Array,
      signature: keep ? wire.signature : NO_SIGNATURE,
      decoded,
    });
  }
  return { kind: 'fresh', segments: verified };
}

/** How a run's segment is named in a refusal. */
function where(origin: OriginId, wire: WireSegment): string {
  return `segment ${origin}/${wire.firstSeq}-${wire.lastSeq}`;
}

/**
 * The indexes of `fresh` (a run past a tip whose signature is kept) whose signatures to verify and
 * keep, ascending: its last, and wherever a stretch without a kept signature would outgrow
 * SIGNED_STRETCH_SEGMENTS_MAX, SIGNED_STRETCH_BYTES_MAX or SIGNED_STRETCH_EVENTS_MAX, the latest
 * signed segment before that. A sender whose own stretches keep these bounds always offers one;
 * null when it did not.
 */
export function keptSignatures(fresh: readonly WireSegment[]): number[] | null {
  const kept: number[] = [];
  // Bytes and events of fresh[0..i) at bytes[i] and events[i].
  const bytes = new Array<number>(fresh.length + 1);
  const events = new Array<number>(fresh.length + 1);
  bytes[0] = 0;
  events[0] = 0;
  for (let i = 0; i < fresh.length; i++) {
    const wire = fresh[i] as WireSegment;
    bytes[i + 1] = (bytes[i] as number) + wire.bytes.length;
    events[i + 1] = (events[i] as number) + wire.lastSeq - wire.firstSeq + 1;
  }
  // A stretch of one segment is always within bounds (its own signature closes it).
  const over = (from: number, through: number) =>
    through > from &&
    (through - from + 1 > SIGNED_STRETCH_SEGMENTS_MAX ||
      (bytes[through + 1] as number) - (bytes[from] as number) > SIGNED_STRETCH_BYTES_MAX ||
      (events[through + 1] as number) - (events[from] as number) > SIGNED_STRETCH_EVENTS_MAX);
  // The open stretch starts at fresh[from]; `signed` is its latest segment with a signature.
  let from = 0;
  let signed = -1;
  for (let i = 0; i < fresh.length; i++) {
    if (over(from, i)) {
      if (signed < from) return null;
      kept.push(signed);
      from = signed + 1;
      if (over(from, i)) return null;
    }
    if (signatureKept((fresh[i] as WireSegment).signature)) signed = i;
  }
  kept.push(fresh.length - 1);
  return kept;
}
