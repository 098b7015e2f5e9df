/**
 * The part of a Replica that the HTTP API serves. A Pick of the real class, so that a change of the
 * replica's surface breaks the build here rather than a request in production.
 */
import type { OriginId } from '@allot/core';
import type { GrantConflict, Replica, StrandedRights } from '@allot/replica';

/** One peer region as GET /v1/cluster shows it (API.md). */
export interface PeerView {
  readonly region: string;
  readonly url: string;
  readonly connected: boolean;
  /** Milliseconds since anything was heard from the peer; null if never. */
  readonly lastHeardMs: number | null;
  readonly lagEvents: number;
  /** Round-trip time of the last ping, ms; null if not measured yet. */
  readonly rttMs: number | null;
}

/** Replication's view of the cluster, once a replica has peers. */
export interface ClusterView {
  readonly peers: readonly PeerView[];
  /** Rights held by lost incarnations (DESIGN.md §1), as replication reports them. */
  readonly stranded: readonly StrandedRights[];
  readonly versionVector?: Readonly<Record<OriginId, number>>;
  /** Grant ids defined with different terms at two regions (issue 17). */
  readonly grantConflicts?: readonly GrantConflict[];
}

/** What the server needs of a replica. */
export type ServedReplica = Pick<
  Replica,
  | 'cluster'
  | 'region'
  | 'origin'
  | 'ready'
  | 'writable'
  | 'grant'
  | 'debit'
  | 'debitMany'
  | 'refund'
  | 'hold'
  | 'settleHold'
  | 'durableBalance'
  | 'balanceAsOf'
  | 'tenantEvents'
  | 'snapshot'
  | 'snapshotAt'
  | 'policy'
  | 'durablePolicy'
  | 'hasPolicy'
  | 'setPolicy'
  | 'versionVector'
  | 'now'
  | 'auditSegments'
  | 'regionKeys'
  | 'newestCheckpoint'
> & {
  /** Peers and stranded rights, when replication provides them (absent: a single node). */
  clusterView?(): ClusterView;
  /** Retires a lost incarnation of this region (absent: a node that serves no replica of its own). */
  retire?: Replica['retire'];
  /** The peers whose confirmation of this node's own log writes still wait for (DESIGN.md §2). */
  writesWaitingFor?(): readonly string[];
};

/** A replica, or a getter that returns undefined while the node is not ready yet. */
export type ReplicaSource = ServedReplica | (() => ServedReplica | undefined);
