/**
 * A snapshot (DESIGN.md §2) as a pure function of a fold and its logs' heads: the node's
 * `Replica.snapshot()` and the offline verifier of an audit export (`allot audit verify`) build it
 * here, so a refold of the exported logs gives the node's snapshot byte for byte. Origins (of the
 * version vector and of the heads) and tenants are sorted: two nodes at one vector, whatever order
 * they received the logs in, write the same snapshot.
 */
import { type LedgerState, type OriginId, tenantIds, tenantTotalsOf } from '@allot/core';
import type { HeadView, SnapshotHeader, SnapshotTenant } from './api.js';
import { toHex } from './log.js';
import type { LogHead } from './ports.js';

/** Who took a snapshot and when: what a fold cannot say. */
export interface SnapshotMeta {
  readonly cluster: string;
  readonly region: string;
  /** Integer ms since the epoch. */
  readonly takenAt: number;
}

/** The snapshot of `state` (the fold of exactly the logs up to `heads`), taken as `meta` says. */
export function snapshotOf(
  state: LedgerState,
  heads: Iterable<LogHead>,
  meta: SnapshotMeta,
): { header: SnapshotHeader; tenants: SnapshotTenant[] } {
  const headViews: Record<OriginId, HeadView> = {};
  for (const head of [...heads].sort((a, b) => (a.origin < b.origin ? -1 : a.origin > b.origin ? 1 : 0))) {
    headViews[head.origin] = {
      seq: head.seq,
      hash: toHex(head.hash),
      signature: head.signature === null ? null : toHex(head.signature),
    };
  }
  const versionVector: Record<OriginId, number> = {};
  for (const origin of Object.keys(state.versionVector).sort()) {
    versionVector[origin] = state.versionVector[origin] as number;
  }
  const tenants: SnapshotTenant[] = [];
  for (const tenant of [...tenantIds(state)].sort()) {
    const totals = tenantTotalsOf(state, tenant);
    if (totals === undefined) continue;
    const { balance, ...rest } = totals;
    tenants.push({ tenant, balance, ...rest });
  }
  const header: SnapshotHeader = {
    cluster: meta.cluster,
    region: meta.region,
    takenAt: meta.takenAt,
    versionVector,
    heads: headViews,
  };
  return { header, tenants };
}
