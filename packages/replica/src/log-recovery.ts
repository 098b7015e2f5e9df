/**
 * "A node never serves a log shorter than what it acknowledged" (DESIGN.md §2): before it appends
 * to its own log after a start, a replica compares what it holds of its region's origins (its own
 * and its region's earlier incarnations) with what a peer's summary says the peer holds of them.
 * Pure: no clock, no randomness, no I/O.
 */
import { type OriginId, regionOf } from '@allot/core';

/** One origin of this node's region that a peer holds further than this node does. */
export interface OriginBehind {
  readonly origin: OriginId;
  /** The last seq held here (durably). */
  readonly held: number;
  /** The last seq the peer says it holds. */
  readonly theirs: number;
}

/**
 * The origins of `region` that a peer's version vector `theirs` shows further than `held` says
 * this node holds them; empty when this node is caught up with that peer on its region.
 */
export function ownRegionBehind(
  region: string,
  theirs: Readonly<Record<OriginId, number>>,
  held: (origin: OriginId) => number,
): OriginBehind[] {
  const behind: OriginBehind[] = [];
  for (const [origin, seq] of Object.entries(theirs)) {
    if (regionOf(origin) !== region) continue;
    const mine = held(origin);
    if (seq > mine) behind.push({ origin, held: mine, theirs: seq });
  }
  return behind;
}
