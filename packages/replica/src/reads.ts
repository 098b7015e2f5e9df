/**
 * The replica's reads: balances and policies in the fold or as durable, event pages, audit
 * segments, snapshots (now and at a version vector), balances as of a time, checkpoints and the
 * cluster view. None of them changes the ledger. The replica reaches it through `ReadsHost`.
 */
import { grantCount, type LedgerState, type OriginId, tenantFigures } from '@allot/core';
import type { BalanceView, EventView, SnapshotHeader, SnapshotTenant, TenantPolicy } from './api.js';
import { newestCheckpointAsOf, type SnapshotAtRefusal, snapshotAt, tenantAsOf } from './as-of.js';
import { newestCheckpointWithin, writeCheckpoint } from './checkpoints.js';
import type { ControlDocument } from './control.js';
import type { GrantConflict, GrantConflicts } from './duplicate-grants.js';
import type { GroupCommit } from './group-commit.js';
import type { KeySpill } from './key-spill.js';
import { ASOF_SNAPSHOTS_MAX, TENANT_EVENTS_PAGE_MAX } from './limits.js';
import { toHex } from './log.js';
import type { PeerLink } from './peer-link.js';
import type { PeerState } from './peers.js';
import type { Clock, Crypto, Logger, LogHead, Store, StoredSegment } from './ports.js';
import { retiredPastThrough } from './retire.js';
import { snapshotOf } from './snapshot-view.js';
import { type StrandedRights, strandedRights } from './views.js';

/** A snapshot: its header and every tenant's figures. */
export interface Snapshot {
  header: SnapshotHeader;
  tenants: SnapshotTenant[];
}

/** Peers, what they lack, the version vector, and rights stranded at lost incarnations. */
export interface ClusterView {
  peers: {
    region: string;
    url: string;
    connected: boolean;
    lastHeardMs: number | null;
    lagEvents: number;
    rttMs: number | null;
  }[];
  stranded: StrandedRights[];
  versionVector: Readonly<Record<OriginId, number>>;
  grantConflicts: GrantConflict[];
}

/** What the reads need of their replica. */
export interface ReadsHost {
  readonly cluster: string;
  readonly region: string;
  readonly origin: OriginId;
  readonly store: Store;
  readonly clock: Clock;
  readonly crypto: Crypto;
  readonly logger: Logger;
  readonly idempotencyRetentionMs: number;
  readonly ownLog: GroupCommit;
  readonly keySpill: KeySpill;
  readonly peers: ReadonlyMap<string, PeerState>;
  readonly grantConflicts: GrantConflicts;
  link(): PeerLink;
  /** The fold (replaced when it is rebuilt). */
  state(): LedgerState;
  /** The stored heads (replaced when the store is recovered). */
  heads(): ReadonlyMap<OriginId, LogHead>;
  control(): ControlDocument;
  /** The record window of this replica's fold. */
  recordWindow(): { records: number; bucketMs: number };
  closing(): boolean;
  broken(): boolean;
}

/** The replica's read paths. */
export class Reads {
  /** Snapshots at a version vector being folded now (at most ASOF_SNAPSHOTS_MAX). */
  private snapshotsAt = 0;

  constructor(private readonly host: ReadsHost) {}

  /** The version vector of what this replica has folded (own events included once decided). */
  versionVector(): Readonly<Record<OriginId, number>> {
    return { ...this.host.state().versionVector };
  }

  /** What this replica holds durably: the version vector of its stored heads. */
  durableVersionVector(): Record<OriginId, number> {
    const vector: Record<OriginId, number> = {};
    for (const [origin, head] of this.host.heads()) vector[origin] = head.seq;
    return vector;
  }

  /** True when this replica has folded at least `vector` of every origin it names. */
  holdsAllOf(vector: Readonly<Record<OriginId, number>>): boolean {
    const folded = this.versionVector();
    return Object.entries(vector).every(([origin, seq]) => (folded[origin] ?? 0) >= seq);
  }

  /** The tenant's balance in the fold at `versionVector`, or undefined for a tenant never granted anything. */
  balanceAt(tenant: string, versionVector: Readonly<Record<OriginId, number>>): BalanceView | undefined {
    if (grantCount(this.host.state(), tenant) === 0) return undefined;
    return this.balanceOrFail(tenant, versionVector);
  }

  /**
   * The tenant's balance in the fold now, labelled with `versionVector` (by default the fold's);
   * throws for a tenant the fold does not hold.
   */
  balanceOrFail(tenant: string, versionVector?: Readonly<Record<OriginId, number>>): BalanceView {
    const host = this.host;
    const now = host.clock.now();
    const figures = tenantFigures(host.state(), tenant, {
      now,
      overdraft: host.control().policy(tenant).overdraft,
      regions: [host.region],
    });
    if (figures === undefined) throw new Error(`tenant ${tenant} vanished`);
    return {
      ...figures,
      region: host.region,
      versionVector: versionVector ?? this.versionVector(),
      asOf: now,
    };
  }

  /** The tenant's policy as the store holds it (see Replica.durablePolicy). */
  async durablePolicy(tenant: string): Promise<TenantPolicy> {
    const ownLog = this.host.ownLog;
    for (;;) {
      while (ownLog.gate !== null) await ownLog.gate;
      const pending = [ownLog.inFlight, ...ownLog.queue, ownLog.open].find(
        (batch) => batch !== null && batch.control.length > 0,
      );
      if (pending === undefined || pending === null) return this.host.control().policy(tenant);
      await pending.done;
    }
  }

  /** The tenant's balance as the store holds it (see Replica.durableBalance). */
  async durableBalance(tenant: string): Promise<BalanceView | undefined> {
    const ownLog = this.host.ownLog;
    while (ownLog.gate !== null) await ownLog.gate;
    if (!ownLog.tenantPending(tenant)) return this.balanceAt(tenant, this.durableVersionVector());
    return ownLog.durableReads.wait(tenant);
  }

  /** A page of the tenant's durable events from every origin known here. */
  async tenantEvents(
    tenant: string,
    cursor: string | null,
    limit: number,
  ): Promise<{ events: EventView[]; next: string | null }> {
    const page = await this.host.store.readTenantEvents(
      tenant,
      cursor,
      Math.min(limit, TENANT_EVENTS_PAGE_MAX),
    );
    return {
      // An event's identity is the hash of its record in its segment, computed when it is served.
      events: page.events.map((stored) => ({
        event: stored.event,
        hash: toHex(this.host.crypto.hash(stored.record)),
      })),
      next: page.next,
    };
  }

  /** Up to `limit` stored segments of `origin`'s log from `fromSeq` (see Replica.auditSegments). */
  async auditSegments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    const head = this.host.heads().get(origin);
    if (head === undefined || fromSeq > head.seq) return [];
    return this.host.store.readSegments(origin, fromSeq, limit);
  }

  /** A snapshot of every tenant at one version vector (see Replica.snapshot). */
  async snapshot(): Promise<Snapshot> {
    const host = this.host;
    return host.ownLog.exclusively(async () =>
      snapshotOf(host.state(), host.heads().values(), {
        cluster: host.cluster,
        region: host.region,
        takenAt: host.clock.now(),
      }),
    );
  }

  /** Writes a checkpoint of the durable fold now (see Replica.takeCheckpoint). */
  async takeCheckpoint(): Promise<boolean> {
    const host = this.host;
    if (host.closing() || host.broken()) return false;
    // Events of a retired incarnation past its retired seq are in the fold until refold drops them.
    if (retiredPastThrough(host.state()).size > 0) return false;
    // It refers to the closed key-index buckets on disk (format 3), which stay while it is kept.
    return await writeCheckpoint(
      host,
      host.cluster,
      (work) => host.ownLog.exclusively(work),
      () => ({
        state: host.state(),
        heads: host.heads(),
        retentionMs: host.idempotencyRetentionMs,
      }),
      (parts) => host.keySpill.hold(parts),
    );
  }

  /** The tenant's durable balance as of `at` (see Replica.balanceAsOf). */
  async balanceAsOf(tenant: string, at: number): Promise<BalanceView | undefined> {
    const host = this.host;
    const { overdraft } = await this.durablePolicy(tenant);
    const found = await tenantAsOf(host.store, tenant, at, overdraft, (asOf) =>
      newestCheckpointAsOf(host, host.cluster, asOf, host.recordWindow()),
    );
    if (found === undefined) return undefined;
    return { ...found.figures, region: host.region, versionVector: found.versionVector, asOf: at };
  }

  /** A snapshot of exactly the durable log prefixes `vector` names (see Replica.snapshotAt). */
  async snapshotAt(vector: Readonly<Record<OriginId, number>>): Promise<Snapshot | SnapshotAtRefusal> {
    const host = this.host;
    if (this.snapshotsAt >= ASOF_SNAPSHOTS_MAX) return { status: 'busy', limit: ASOF_SNAPSHOTS_MAX };
    this.snapshotsAt += 1;
    try {
      const recordWindow = host.recordWindow();
      const meta = () => ({ cluster: host.cluster, region: host.region, takenAt: host.clock.now() });
      const base = (wanted: Readonly<Record<OriginId, number>>) =>
        newestCheckpointWithin(host, host.cluster, wanted, recordWindow);
      const outcome = await snapshotAt(host.store, vector, recordWindow, meta, base);
      if (outcome.status !== 'ok') return outcome;
      return { header: outcome.header, tenants: outcome.tenants };
    } finally {
      this.snapshotsAt -= 1;
    }
  }

  /** Peers, what they lack, the version vector, and rights stranded at lost incarnations. */
  clusterView(): ClusterView {
    const durable = this.durableVersionVector();
    const peers = (this.host.link().transport?.peers() ?? []).map((link) => {
      const known = this.host.peers.get(link.region)?.versionVector ?? {};
      let lagEvents = 0;
      for (const [origin, seq] of Object.entries(durable))
        lagEvents += Math.max(0, seq - (known[origin] ?? 0));
      return { ...link, lagEvents };
    });
    return {
      peers,
      stranded: this.strandedRights(),
      versionVector: durable,
      grantConflicts: this.host.grantConflicts.list(),
    };
  }

  /** Rights held by incarnations that are no longer any region's current one. */
  strandedRights(): StrandedRights[] {
    const host = this.host;
    const current = new Map<string, OriginId>([[host.region, host.origin]]);
    for (const [region, peer] of host.peers) if (peer.origin !== null) current.set(region, peer.origin);
    return strandedRights(host.state(), current);
  }
}
