/**
 * The end of a run: every running region's final snapshot, the ledger its log holds per tenant (one
 * log read when the nodes converged, else the union of all), the policies each ends with, and what
 * hostile wires did. The final-state checks (checks-final.ts) read it.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, eventRecordId } from '@allot/core';
import type { Replica, SnapshotHeader, SnapshotTenant } from '@allot/replica';
import type { Scenario } from './api.js';
import { policyText } from './hostile.js';
import { FINAL_PAGE_EVENTS, FINAL_SNAPSHOT_MS_MAX, SIM_EPOCH_MS } from './limits.js';
import type { SimNetwork } from './network.js';
import type { RegionNode } from './region.js';
import type { FinalHold, FinalRegion, FinalState } from './results.js';
import type { Scheduler } from './scheduler.js';
import type { TrueLedger } from './truth.js';
import { vectorText } from './vectors.js';

/** What the final state is read from: the run's wiring at its end. */
export interface FinalStateSource {
  readonly scenario: Scenario;
  readonly scheduler: Scheduler;
  readonly nodes: ReadonlyMap<string, RegionNode>;
  readonly truth: TrueLedger;
  readonly network: SimNetwork;
  /** Scenario time now, ms. */
  readonly now: number;
}

/** The final snapshots and ledger of every running region. */
export async function readFinalState(run: FinalStateSource): Promise<FinalState> {
  const up: [string, Replica][] = [];
  const down: string[] = [];
  for (const [region, node] of run.nodes) {
    if (node.status === 'up' && node.replica !== null) up.push([region, node.replica]);
    else down.push(region);
  }
  const snapshots = await run.scheduler.settle(
    Promise.all(up.map(([, replica]) => replica.snapshot())),
    FINAL_SNAPSHOT_MS_MAX,
  );
  const regions: Record<string, FinalRegion> = {};
  up.forEach(([region, replica], i) => {
    const snapshot = snapshots[i] as { header: SnapshotHeader; tenants: SnapshotTenant[] };
    const text = canonicalJson({
      versionVector: { ...snapshot.header.versionVector },
      heads: Object.fromEntries(
        Object.entries(snapshot.header.heads).map(([origin, head]) => [origin, { ...head }]),
      ),
      tenants: snapshot.tenants.map((line) => ({ ...line })),
    });
    regions[region] = {
      origin: replica.origin,
      versionVector: snapshot.header.versionVector,
      snapshotSha256: createHash('sha256').update(text).digest('hex'),
      tenants: snapshot.tenants.map((line) => ({
        tenant: line.tenant,
        balance: line.balance,
        granted: line.granted,
        debited: line.debited,
        refunded: line.refunded,
        expired: line.expired,
        held: line.held,
      })),
    };
  });
  // Converged nodes hold the same logs: read one. Otherwise, the union of what they hold.
  const sameVectors =
    new Set(Object.values(regions).map((region) => vectorText(region.versionVector))).size <= 1;
  const readers = sameVectors ? up.slice(0, 1) : up;
  const tenants = new Set(run.scenario.tenants.map((spec) => spec.tenant));
  for (const snapshot of snapshots) for (const line of snapshot.tenants) tenants.add(line.tenant);
  const ledger: Record<string, FinalState['ledger'][string]> = {};
  for (const tenant of [...tenants].sort()) {
    const grants: Record<string, number> = {};
    const debits: Record<string, { key: string; amount: number }> = {};
    const refunds: Record<string, { debitId: string; amount: number; key: string }> = {};
    const definitions: Record<string, { origin: string; seq: number; at: number; amount: number }[]> = {};
    const revokes = new Map<string, { grantId: string; loser: string; total: number; amount: number }>();
    const holds: Record<
      string,
      { amount: number; expiresAt: number; ends: Map<string, FinalHold['ends'][number]> }
    > = {};
    const holdOf = (holdId: string) => {
      holds[holdId] ??= { amount: 0, expiresAt: 0, ends: new Map() };
      return holds[holdId];
    };
    for (const [, replica] of readers) {
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<Replica['tenantEvents']>> = await replica.tenantEvents(
          tenant,
          cursor,
          FINAL_PAGE_EVENTS,
        );
        for (const { event } of page.events) {
          const id = eventRecordId(event.origin, event.seq);
          if (event.kind === 'grant') {
            grants[event.grantId] = event.amount;
            definitions[event.grantId] ??= [];
            const known = definitions[event.grantId] as {
              origin: string;
              seq: number;
              at: number;
              amount: number;
            }[];
            if (!known.some((each) => each.origin === event.origin && each.seq === event.seq))
              known.push({ origin: event.origin, seq: event.seq, at: event.at, amount: event.amount });
          } else if (event.kind === 'revoke')
            revokes.set(id, {
              grantId: event.grantId,
              loser: event.loser,
              total: event.total,
              amount: event.amount,
            });
          else if (event.kind === 'debit') debits[id] = { key: event.idempotencyKey, amount: event.amount };
          else if (event.kind === 'hold') {
            const hold = holdOf(id);
            hold.amount = event.amount;
            hold.expiresAt = event.expiresAt;
          } else if (event.kind === 'capture' || event.kind === 'release')
            holdOf(event.holdId).ends.set(id, {
              kind: event.kind,
              captured: event.kind === 'capture' ? event.amount : 0,
              released: event.kind === 'capture' ? event.released : event.amount,
            });
          else if (event.kind === 'refund')
            refunds[id] = { debitId: event.debitId, amount: event.amount, key: event.idempotencyKey };
        }
        cursor = page.next;
      } while (cursor !== null);
    }
    ledger[tenant] = {
      grants,
      debits,
      refunds,
      definitions,
      revokes: [...revokes.values()],
      holds: Object.fromEntries(
        Object.entries(holds).map(([id, hold]) => [
          id,
          { amount: hold.amount, expiresAt: hold.expiresAt, ends: [...hold.ends.values()] },
        ]),
      ),
    };
  }
  const lostOrigins = [...run.nodes.values()].flatMap((node) => node.lostOrigins).sort();
  const written = Object.fromEntries(
    [...run.truth.written].sort(([a], [b]) => (a < b ? -1 : 1)).map(([origin, log]) => [origin, log]),
  );
  const policies: Record<string, Record<string, string | null>> = {};
  for (const [region, replica] of up) {
    policies[region] = Object.fromEntries(
      run.scenario.tenants.map((spec) => [spec.tenant, policyText(replica.policy(spec.tenant))]),
    );
  }
  const forged = new Set<string>();
  let tampered = 0;
  for (const wire of run.network.hostileEver) {
    tampered += wire.tampered;
    for (const policy of wire.forgedPolicies) forged.add(policy);
  }
  const hostile = { tampered, forgedPolicies: [...forged].sort(), policies };
  return {
    t: run.now,
    wallClockMs: SIM_EPOCH_MS + run.now,
    lostOrigins,
    down,
    regions,
    ledger,
    written,
    hostile,
  };
}
