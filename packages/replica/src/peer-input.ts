/**
 * What a peer may name (DESIGN.md §4: everything a peer sends is checked like API input). The
 * transport checked a frame's shape; these checks bound what its content may make this replica
 * hold: origins only of regions this node knows (itself and its configured peers), a bounded
 * number of incarnations per region. Pure: no clock, no randomness, no I/O.
 */
import { type OriginId, regionOf } from '@allot/core';
import { SUMMARY_ORIGINS_PER_REGION_MAX } from './limits.js';

/** Why a peer may not name `origin`, or null when it may: its region is this one or a configured peer. */
export function originProblem(origin: OriginId, knownRegions: ReadonlySet<string>): string | null {
  return knownRegions.has(regionOf(origin)) ? null : `origin ${origin} of a region nobody configured`;
}

/**
 * Why a peer's version vector may not be kept, or null when it may: every origin of a known region,
 * at most SUMMARY_ORIGINS_PER_REGION_MAX per region.
 */
export function versionVectorProblem(
  vector: Readonly<Record<OriginId, number>>,
  knownRegions: ReadonlySet<string>,
): string | null {
  const perRegion = new Map<string, number>();
  for (const origin of Object.keys(vector)) {
    const problem = originProblem(origin, knownRegions);
    if (problem !== null) return `summary names ${problem}`;
    const region = regionOf(origin);
    const count = (perRegion.get(region) ?? 0) + 1;
    if (count > SUMMARY_ORIGINS_PER_REGION_MAX) {
      return `summary names more than ${SUMMARY_ORIGINS_PER_REGION_MAX} origins of region ${region}`;
    }
    perRegion.set(region, count);
  }
  return null;
}
