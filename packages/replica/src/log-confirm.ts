/**
 * The log-confirm rule (DESIGN.md §2, issue 15): after a start, a replica with peers appends nothing
 * to its own log until EVERY configured peer's summary, heard since this start, showed nothing of
 * this region's origins (its own and its region's earlier incarnations) beyond what this node holds
 * durably. No grace: a peer that stays silent may be the one that holds the tail a damaged disk
 * lost, and taking writes then would reuse those seqs and fork the log (swarm seeds 36, 1205, 1271,
 * 1453, 2183, 2485, 2687, 2785, 4541, 6237, 6395 of the issue 15 soak). Only `allowLoneStart`
 * overrides it, and the replica never builds this then.
 *
 * Why one hearing per peer suffices: while the node waits it writes nothing of its own, so the
 * copies of its origins that exist anywhere can only move between peers; every peer holds at least
 * what it held at this start (or lost it to its own disk, and then nobody can give it back), so the
 * most that any peer held since this start is the most that one of them said when it was heard.
 * A peer that said more is asked for the rest, and confirms once its next summary shows no more.
 */
import type { OriginId } from '@allot/core';
import type { ReplicationFrame } from './frames.js';
import { ownRegionBehind } from './log-recovery.js';
import type { PeerState } from './peers.js';
import type { Logger } from './ports.js';

/** What the log confirmation needs of its replica. */
export interface LogConfirmHost {
  /** This node's region and current origin. */
  readonly region: string;
  readonly origin: OriginId;
  /** The configured peer regions. */
  otherRegions(): readonly string[];
  /** What is known of each peer region. */
  readonly peers: ReadonlyMap<string, PeerState>;
  /** The last seq of `origin` held here durably. */
  held(origin: OriginId): number;
  /** The last seq of `origin` folded here (durable or on its way to the store). */
  folded(origin: OriginId): number;
  /** A peer's vector as it counts here: a retired origin's seqs past its retired seq count nowhere (retire.ts). */
  counted(vector: Readonly<Record<OriginId, number>>): Readonly<Record<OriginId, number>>;
  send(region: string, frame: ReplicationFrame): void;
  readonly logger: Logger;
}

/** Tracks which peers confirmed this node's log whole since its start; says when all have. */
export class LogConfirm {
  private readonly confirmed = new Set<string>();
  /** Origins already reported as held further by a peer (one line each). */
  private readonly reportedBehind = new Set<OriginId>();

  constructor(private readonly host: LogConfirmHost) {}

  /** The configured peers that have not confirmed this node's log whole yet, sorted. */
  waitingFor(): string[] {
    return this.host
      .otherRegions()
      .filter((region) => !this.confirmed.has(region))
      .sort();
  }

  /**
   * Reads every connected peer's last summary: a peer that holds nothing of this region beyond what
   * is durable here confirms; one that holds more is asked for it (once nothing of it is on its
   * way) and confirms later. True once every configured peer has confirmed.
   */
  check(): boolean {
    const { host } = this;
    for (const [region, peer] of host.peers) {
      if (!peer.connected || !peer.summarized) continue;
      const behind = ownRegionBehind(host.region, host.counted(peer.versionVector), (origin) =>
        host.held(origin),
      );
      if (behind.length === 0) {
        if (!this.confirmed.has(region)) this.noteConfirmed(region);
        continue;
      }
      // A peer that confirmed earlier can hold more now (another peer gave it the tail): not yet.
      this.confirmed.delete(region);
      for (const gap of behind) {
        // Nothing of it on the way (folded, not durable yet): ask this peer from where we stand.
        if (host.folded(gap.origin) === gap.held)
          host.send(region, { type: 'pull', origin: gap.origin, fromSeq: gap.held + 1 });
        if (this.reportedBehind.has(gap.origin)) continue;
        this.reportedBehind.add(gap.origin);
        host.logger.warn(
          {
            origin: gap.origin,
            held: gap.held,
            peer: region,
            peerHolds: gap.theirs,
            missing: gap.theirs - gap.held,
          },
          gap.origin === host.origin
            ? 'own log is shorter than a peer holds it: fetching the missing events back before taking writes'
            : "a peer holds more of this region's earlier incarnation: fetching it before taking writes",
        );
      }
    }
    return this.waitingFor().length === 0;
  }

  private noteConfirmed(region: string): void {
    this.confirmed.add(region);
    const waiting = this.waitingFor();
    if (waiting.length > 0)
      this.host.logger.info(
        { origin: this.host.origin, peer: region, waitingFor: waiting },
        `peer ${region} confirms this node holds all it holds of this region's log; writes still wait for ${waiting.join(', ')}`,
      );
  }
}
