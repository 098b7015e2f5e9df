/**
 * Whether the replica takes writes and overdraft (DESIGN.md §1–2, issue 16): its own log confirmed
 * whole by every peer (log-confirm.ts), no newer incarnation of its region (successors.ts), the
 * incarnations heard of recorded (incarnations.ts), and a new incarnation's catch-up before it uses
 * overdraft. The replica reaches it through `WritabilityHost`.
 */
import {
  type LedgerState,
  type OriginId,
  overdraftInUseTotal,
  type RetiredOrigin,
  regionOf,
} from '@allot/core';
import type { NotReady, ReplicaObserver, StoreFailure } from './api.js';
import type { Deadlines } from './deadlines.js';
import type { GroupCommit } from './group-commit.js';
import type { HeardIncarnations } from './incarnations.js';
import type { LogConfirm } from './log-confirm.js';
import type { PeerState } from './peers.js';
import type { Logger, LogHead, Store } from './ports.js';
import { JOINING, RETIRED, SUPERSEDED } from './refusals.js';
import type { RemoteEvents } from './remote-events.js';
import { countedVector } from './retire.js';
import { type Successor, type SuccessorWatch, supersededLine } from './successors.js';

/** What the writability rules need of their replica. */
export interface WritabilityHost {
  readonly origin: OriginId;
  readonly region: string;
  readonly store: Store;
  readonly logger: Logger;
  readonly observer: ReplicaObserver | undefined;
  /** Every configured peer's public key (the regions this node knows besides its own). */
  readonly peerKeys: Readonly<Record<string, Uint8Array>>;
  /** Regions this node knows: itself and its configured peers. */
  readonly knownRegions: ReadonlySet<string>;
  readonly peers: ReadonlyMap<string, PeerState>;
  readonly heard: HeardIncarnations;
  readonly successors: SuccessorWatch;
  ownLog(): GroupCommit;
  logConfirm(): LogConfirm;
  remote(): RemoteEvents;
  deadlines(): Deadlines;
  /** The fold (replaced when it is rebuilt). */
  state(): LedgerState;
  /** The stored heads (replaced when the store is recovered). */
  heads(): ReadonlyMap<OriginId, LogHead>;
  closing(): boolean;
  /** This node's own incarnation as retired, once known. */
  ownRetired(): RetiredOrigin | null;
  /** True while this node is joining by checkpoint. */
  joining(): boolean;
}

/** The replica's writability and overdraft gates, and the incarnations they wait on. */
export class Writability {
  /**
   * False until every peer's summary shows that this node holds all that peer holds of its region's
   * origins (DESIGN.md §2, log-confirm.ts): until then it appends nothing to its own log, and
   * writes are not_ready.
   */
  logConfirmed = true;
  /** True while a new incarnation has not yet caught up with its peers: no overdraft then. */
  overdraftWithheld = false;
  /** Regions whose summary showed nothing of this region's other incarnations missing here. */
  private readonly caughtUpWith = new Set<string>();

  constructor(private readonly host: WritabilityHost) {}

  /**
   * Sets the gates after every start (the replica is opened, not yet recovered): an incarnation may
   * not know what an earlier incarnation of its region still owes, so it takes no overdraft until it
   * has caught up with its peers (see checkCaughtUp). After every start, not only a fresh one: a new
   * incarnation restarted before it caught up knows no more than when it was new (swarm seed
   * 203419: ap's new incarnation crashed, restarted, overdrew past its region).
   */
  started(allowLoneStart: boolean): void {
    const host = this.host;
    this.overdraftWithheld = this.otherRegions().length > 0;
    this.logConfirmed = this.otherRegions().length === 0 || allowLoneStart;
    if (this.otherRegions().length > 0) {
      if (allowLoneStart)
        host.logger.warn(
          { origin: host.origin },
          'allowLoneStart: taking writes before any peer confirmed that this node holds all of its own log',
        );
      else
        host.logger.info(
          { origin: host.origin, waitingFor: host.logConfirm().waitingFor() },
          `reads served; writes wait until every peer (${host.logConfirm().waitingFor().join(', ')}) confirms this node holds all of its own log`,
        );
    }
  }

  /** Admits a command that appends to the own log: as `admit`, and not before the log is confirmed whole. */
  async admitWrite(events: number): Promise<StoreFailure | NotReady | null> {
    const host = this.host;
    const refused = await host.ownLog().admit(events);
    if (refused !== null) return refused;
    if (host.ownRetired() !== null) return RETIRED;
    if (host.successors.successor !== null) return SUPERSEDED;
    if (host.joining()) return JOINING;
    return this.logConfirmed
      ? null
      : { status: 'not_ready', reason: 'recovering', waitingFor: host.logConfirm().waitingFor() };
  }

  /** While not writable: becomes writable once every peer confirmed this node's log whole (log-confirm.ts). */
  checkLogWhole(): void {
    const host = this.host;
    if (this.logConfirmed || host.ownRetired() !== null || host.successors.successor !== null) return;
    if (!host.logConfirm().check()) return;
    // Not while a newer incarnation of this region exists; a new one once the older ones it heard
    // of are durable here (successors.ts).
    const successor = host.successors.confirmed(host.ownLog().durableSeq === 0);
    if (successor !== null) this.noteSuccessor(successor);
    else if (host.successors.eldersPending) void this.recordHeard(host.successors.pendingElders());
    else this.becomeWritable();
  }

  /** The log is confirmed whole: take writes, and do the own work that waited for it. */
  private becomeWritable(): void {
    const host = this.host;
    const ownLog = host.ownLog();
    const remote = host.remote();
    this.logConfirmed = true;
    host.successors.started(this.regionsToConfirm().length < this.otherRegions().length);
    host.logger.info(
      { origin: host.origin, seq: ownLog.durableSeq, fetchedBack: remote.fetchedBack },
      remote.fetchedBack > 0
        ? 'own log recovered from peers (fetchedBack events verified with this node key): taking writes'
        : "every peer's summary confirms this node holds all of its own log: taking writes",
    );
    ownLog.overdraftInUse = overdraftInUseTotal(host.state(), host.origin);
    host.observer?.overdraftInUse?.(ownLog.overdraftInUse);
    remote.actOnDeferred();
    host.deadlines().runExpiries();
  }

  /**
   * A new incarnation takes overdraft again once every peer's summary shows nothing of this
   * region's earlier incarnations that is not durable here: what they owed counts against the
   * region's allowance (DESIGN.md §1). Debits an earlier incarnation acknowledged but never
   * replicated are the risk of a lost disk, reported with stranded rights.
   */
  checkCaughtUp(region: string, theirs: Readonly<Record<OriginId, number>>): void {
    const host = this.host;
    const state = host.state();
    const heads = host.heads();
    for (const [origin, seq] of Object.entries(countedVector(state, theirs))) {
      if (origin !== host.origin && regionOf(origin) === host.region && (heads.get(origin)?.seq ?? 0) < seq)
        return;
    }
    this.caughtUpWith.add(region);
    if (this.regionsToConfirm().every((peer) => this.caughtUpWith.has(peer))) {
      this.overdraftWithheld = false;
      host.logger.info({ origin: host.origin }, 'caught up with every peer: overdraft allowed');
      // Duplicate grants an earlier incarnation of this region accepted can be revoked now.
      for (const tenant of host.state().tenants.keys()) host.remote().revokeDuplicates(tenant);
    }
  }

  /**
   * Whether this incarnation may use its region's overdraft now (DESIGN.md §1, issue 16): not
   * before it caught up with its peers, not before some peer's summary named it (a later
   * incarnation of its region could not hear of it), and never once another incarnation of its
   * region was heard of (it may have used the whole allowance on a disk that is lost; until it is
   * retired). Core's rule covers the incarnations whose events reached this node the same way.
   */
  overdraftAllowed(): boolean {
    const host = this.host;
    if (host.knownRegions.size <= 1) return true; // no peer: nobody else could hear of anything
    return (
      !this.overdraftWithheld &&
      host.heard.heardOfByPeer &&
      !host.heard.predecessorUnretired(host.state().retired)
    );
  }

  /** Durably records the `origins` not recorded yet; one that fails is recorded when heard again. */
  async recordHeard(origins: Iterable<OriginId>): Promise<void> {
    const host = this.host;
    // A newer incarnation of this region is never recorded: the next start must find it again.
    const wanted = [...origins].filter((origin) => host.successors.mayRecord(origin));
    const fresh = host.heard.toRecord(wanted);
    if (host.successors.unrecordable(wanted.filter((origin) => !host.heard.recordedOrRecording(origin))))
      this.checkLogWhole();
    if (fresh.length === 0) return;
    try {
      await host.store.commit({ segments: [], heads: [], origins: fresh }, { sync: true });
    } catch (error) {
      host.heard.settled(fresh, false);
      if (!host.closing())
        host.logger.warn({ err: error, origins: fresh }, 'recording heard-of incarnations failed');
      return;
    }
    host.heard.settled(fresh, true);
    host.successors.settled(fresh, true);
    this.reportLostIncarnations();
    this.checkLogWhole(); // writes may have waited for these elders
  }

  /** A peer's checked summary: every incarnation it names is heard of here too. */
  noteHeard(vector: Readonly<Record<OriginId, number>>): void {
    const host = this.host;
    // A name makes at most an elder: never a successor, which only signed events show (successors.ts;
    // swarm seeds 1283, 1887: an invented name relayed by a peer stopped a restarting region for good).
    host.successors.noteNamed(Object.keys(vector));
    host.heard.noteSummary(vector);
    this.reportLostIncarnations();
    void this.recordHeard(Object.keys(vector));
  }

  /** A newer incarnation of this region was found (successors.ts): no writes from now on, said once. */
  noteSuccessor(successor: Successor | null): void {
    if (successor === null) return;
    this.logConfirmed = false;
    this.host.logger.error(
      { origin: this.host.origin, successor: successor.origin, evidence: successor.evidence },
      supersededLine(this.host.origin, successor),
    );
  }

  /** Says once per lost incarnation of this region that its whole overdraft allowance counts as used. */
  reportLostIncarnations(): void {
    for (const origin of this.host.heard.unreportedLost())
      this.host.logger.warn(
        { origin: this.host.origin, lost: origin },
        'an earlier incarnation of this region was heard of: its overdraft allowance counts as used until it is retired',
      );
  }

  /**
   * The peers whose word the log-confirm rule and the overdraft catch-up wait for: every configured
   * region, except — once every region heard of has sent a summary since this start — the regions
   * of which no incarnation was ever heard of, here or (their summaries name every incarnation they
   * heard of) by any of those peers: a region added to the config and not started yet holds nothing
   * of any log (the rolling procedure to add a region, docs/operations.md).
   */
  regionsToConfirm(): string[] {
    const all = this.otherRegions();
    const started = all.filter((region) => this.host.heard.heardOfRegion(region));
    if (started.length === 0 || started.length === all.length) return all;
    return started.every((region) => this.host.peers.get(region)?.summarized === true) ? started : all;
  }

  /** The other regions this replica knows keys for (its peers). */
  otherRegions(): string[] {
    return Object.keys(this.host.peerKeys).filter((region) => region !== this.host.region);
  }
}
