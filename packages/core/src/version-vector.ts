/** Version vectors `{origin: seq}`: how much of each origin's log a replica has folded. */
import type { OriginId } from './ids.js';

/** A version vector; an origin that is absent counts as 0. Treat as immutable. */
export type VersionVector = Readonly<Record<OriginId, number>>;

/** How two version vectors relate. */
export type VersionOrder = 'equal' | 'before' | 'after' | 'concurrent';

/** The seq of `origin` in `vv` (0 when absent). */
export function seqOf(vv: VersionVector, origin: OriginId): number {
  return Object.hasOwn(vv, origin) ? (vv[origin] as number) : 0;
}

/** Compares a with b: `before` means every entry of a ≤ b and one is smaller. */
export function compareVersions(a: VersionVector, b: VersionVector): VersionOrder {
  let aBehind = false;
  let bBehind = false;
  for (const origin of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = seqOf(a, origin);
    const y = seqOf(b, origin);
    if (x < y) aBehind = true;
    else if (x > y) bBehind = true;
  }
  if (aBehind && bBehind) return 'concurrent';
  if (aBehind) return 'before';
  if (bBehind) return 'after';
  return 'equal';
}

/** The pointwise maximum of a and b, with origins sorted (canonical form). */
export function mergeVersions(a: VersionVector, b: VersionVector): VersionVector {
  const merged: Record<OriginId, number> = {};
  for (const origin of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const seq = Math.max(seqOf(a, origin), seqOf(b, origin));
    if (seq > 0) merged[origin] = seq;
  }
  return merged;
}

/** True when a has folded everything b has (a ≥ b pointwise). */
export function dominates(a: VersionVector, b: VersionVector): boolean {
  const order = compareVersions(a, b);
  return order === 'equal' || order === 'after';
}
