/**
 * What the replica does with events that come from its peers (DESIGN.md §4): a received run is
 * checked (chain, signature, shape), folded and persisted with the next commit; then what the new
 * events ask of this region — repay, expiry, refunds of cross-region duplicate debits (§3),
 * revokes of duplicate grant ids (issue 17) — is appended, or deferred until the own log is
 * confirmed whole. The replica reaches it through `RemoteEventsHost`.
 */
import {
  debitsOfKey,
  decideRefund,
  type GrantDefinition,
  grantDefinition,
  invariant,
  type LedgerState,
  mayHoldDebitOf,
  NOTHING_RECALLED,
  type OriginId,
  type RetiredOrigin,
  refundableOf,
  regionOf,
} from '@allot/core';
import type { AntiEntropy } from './anti-entropy.js';
import type { TenantPolicy } from './api.js';
import type { Borrowing } from './borrow.js';
import type { RecalledSet } from './cold-records.js';
import type { Commands } from './commands.js';
import { type GrantConflicts, revokeDuplicates } from './duplicate-grants.js';
import type { ExpirySchedule } from './expiry-schedule.js';
import { foldReceived } from './fold-received.js';
import type { SegmentsFrame } from './frames.js';
import type { GroupCommit } from './group-commit.js';
import { HELD_RUNS_MAX, RECEIVED_BATCH_EVENTS_MAX } from './limits.js';
import { signatureKept, ZERO_HASH } from './log.js';
import type { PeerLink } from './peer-link.js';
import type { Clock, Crypto, Logger } from './ports.js';
import type { Rebalancing } from './rebalancing.js';
import { retiredPastThrough, retiredRunProblem } from './retire.js';
import { checkRun, runKey } from './run-check.js';

/** What the handling of received events needs of its replica. */
export interface RemoteEventsHost {
  readonly cluster: string;
  readonly region: string;
  readonly origin: OriginId;
  /** Ed25519 public keys of the other regions (from config). */
  readonly peerKeys: Readonly<Record<string, Uint8Array>>;
  readonly clock: Clock;
  readonly crypto: Crypto;
  readonly logger: Logger;
  readonly ownLog: GroupCommit;
  readonly link: PeerLink;
  readonly antiEntropy: AntiEntropy;
  readonly borrowing: Borrowing;
  readonly rebalancing: Rebalancing;
  readonly commands: Commands;
  readonly expiries: ExpirySchedule;
  readonly grantConflicts: GrantConflicts;
  /** The chain tip of every origin (pending included). */
  readonly tips: Map<OriginId, { seq: number; hash: Uint8Array }>;
  /** The fold (replaced when it is rebuilt). */
  state(): LedgerState;
  /** The tenant's policy, pending changes included. */
  policy(tenant: string): TenantPolicy;
  /** This node's own log is confirmed whole (it takes writes). */
  logConfirmed(): boolean;
  /** Whether this incarnation may use its region's overdraft now. */
  overdraftAllowed(): boolean;
  /** A new incarnation has not caught up with its peers yet. */
  overdraftWithheld(): boolean;
  /** This node's own incarnation is retired (by a retire folded just now): it takes no more writes. */
  ownRetiredHeard(retired: RetiredOrigin): void;
  /** Signed events of another incarnation of this region were folded (successors.ts judges it). */
  ownRegionFolded(origin: OriginId): void;
  /** Schedules the expiry of a grant's definition (none: nothing). */
  scheduleExpiry(tenant: string, definition: GrantDefinition | null): void;
  /** Sets the expiry timer for the earliest deadline. */
  armExpiry(): void;
  /** Pays back overdraft in use from rights this region holds now. */
  repay(tenant: string): void;
  /** Appends the expiry of what has expired of the tenant's grants and holds. */
  expireTenant(tenant: string): void;
}

/** Received runs checked and folded, and the own events they call for. */
export class RemoteEvents {
  /** Own events fetched back from peers while recovering (for the line logged when done). */
  fetchedBack = 0;
  /** Tenants (and debit keys) whose received events wait for writability to be acted on. */
  private readonly deferred = new Map<string, Set<string>>();
  /** Runs that arrived past a gap, oldest first, folded when the gap fills (HELD_RUNS_MAX). */
  private readonly held: { readonly region: string; readonly frame: SegmentsFrame }[] = [];

  /** Whether each origin seen is one of this region's incarnations (asked per received key). */
  private readonly ownRegion = new Map<OriginId, boolean>();

  constructor(private readonly host: RemoteEventsHost) {}

  /** Whether `origin` is an incarnation of this region. */
  private readonly ours = (origin: OriginId): boolean => {
    let ours = this.ownRegion.get(origin);
    if (ours === undefined) {
      ours = regionOf(origin) === this.host.region;
      this.ownRegion.set(origin, ours);
    }
    return ours;
  };

  /** The own log is confirmed whole: what received events asked of this region is done now. */
  actOnDeferred(): void {
    const deferred = [...this.deferred];
    this.deferred.clear();
    for (const [tenant, keys] of deferred) this.afterRemoteEvents(tenant, keys);
  }

  /**
   * A start folded the stored logs (recovery.ts): what received events ask of this region is done
   * again for every tenant, with the keys of its cross-region duplicates — now if writable, else
   * once writable. Work deferred before a crash is lost with the process, and its events are not
   * received again (swarm seed 1560: a duplicate debit never refunded); each decision is idempotent.
   */
  recovered(duplicateKeys: ReadonlyMap<string, ReadonlySet<string>>): void {
    for (const [tenant, keys] of duplicateKeys) this.afterRemoteEvents(tenant, keys);
  }

  /**
   * Checks a received run (per segment: chain continuity from what is known here and its events'
   * shape; the origin's signature of its last segment and of the few others kept), then folds it
   * and persists its segments as they are, with the signatures kept, with the next commit. A run
   * that does not verify drops the peer and changes nothing; what is known already is ignored. A run past a gap is pulled from where the gap starts and also held: when
   * the gap fills (the run it overtook arrives), it is folded at once, not a round trip later.
   */
  receiveRun(region: string, frame: SegmentsFrame, arriving = true): void {
    const { origin, segments } = frame;
    const own = origin === this.host.origin;
    // Our own log: we are its only writer; peers give it back only while we recover (DESIGN.md §2).
    if (own && this.host.logConfirmed()) return;
    const key = runKey(
      origin,
      { origin: this.host.origin, region: this.host.region, publicKey: this.host.crypto.publicKey },
      this.host.peerKeys,
    );
    if (key === undefined) {
      this.host.link.transport?.drop(region, `segments of ${origin}, a region without a configured key`);
      return;
    }
    const tip = own
      ? { seq: this.host.ownLog.nextSeq - 1, hash: this.host.ownLog.lastHash }
      : (this.host.tips.get(origin) ?? { seq: 0, hash: ZERO_HASH });
    const verdict = checkRun(this.host.crypto, this.host.cluster, origin, segments, tip, key);
    if (verdict.kind === 'stale') return;
    if (verdict.kind === 'gap') {
      this.hold(region, frame);
      if (arriving) this.host.link.send(region, { type: 'pull', origin, fromSeq: verdict.fromSeq });
      return;
    }
    if (verdict.kind === 'refused') {
      // A held run came on a connection that may have closed since: it is let go, changing nothing;
      // dropping the link now would close a later connection for a frame it never carried.
      if (!arriving)
        this.host.logger.warn({ peer: region, reason: verdict.reason }, 'held run refused: let go');
      else this.host.link.transport?.drop(region, verdict.reason);
      return;
    }
    const lastSeq = verdict.segments[verdict.segments.length - 1]?.wire.lastSeq ?? 0;
    const retiredPast = retiredRunProblem(this.host.state(), origin, lastSeq);
    if (retiredPast !== null) {
      // No node accepts a retired origin's events past its retired seq: like any bad frame, the link
      // closes and nothing changes. What the peer lacks goes first (the retire among it), so that a
      // node restored from the retired incarnation's backup learns it instead of pushing again.
      void this.host.antiEntropy
        .pushMissing(region)
        .catch(() => undefined)
        .finally(() => this.host.link.transport?.drop(region, retiredPast));
      return;
    }
    const state = this.host.state();
    // Only keys a debit of this region may share can need a refund here (refundDuplicates).
    const folded = foldReceived(state, origin, verdict.segments, (tenant, key) => {
      const ledger = state.tenants.get(tenant);
      return ledger !== undefined && mayHoldDebitOf(ledger, key, this.ours);
    });
    if (folded.refused !== null) {
      // A signed event that breaks a ledger invariant is a bug at its origin: keep what came before.
      const { seq, error, partial } = folded.refused;
      this.host.logger.error({ err: error, origin, seq, peer: region }, 'received event refused by the fold');
      this.host.link.transport?.drop(region, `segments of ${origin}: seq ${seq} refused by the fold`);
      if (partial) void this.host.ownLog.refold();
    }
    const applied = folded.last;
    if (applied === null) return;
    if (origin === this.host.origin) {
      // Own events fetched back from a peer: the next ones are not dated before them.
      for (const { decoded } of verdict.segments.slice(0, folded.writes.length))
        for (const event of decoded.events) this.host.ownLog.ownTimes.observe(event.at);
    }
    // Stretch by stretch (the segments up to one with a kept signature, so that each commit's head
    // of the origin carries one) into the open batch, a new one when it would pass
    // RECEIVED_BATCH_EVENTS_MAX: runs received while a commit is in flight must not pile up past
    // what one commit may write.
    let batch = this.host.ownLog.openBatch();
    let from = 0;
    let count = 0;
    for (let i = 0; i < folded.writes.length; i++) {
      const write = folded.writes[i] as (typeof folded.writes)[number];
      count += write.lastSeq - write.firstSeq + 1;
      if (!signatureKept(write.signature)) continue;
      if (batch.eventCount > 0 && batch.eventCount + count > RECEIVED_BATCH_EVENTS_MAX) {
        batch = this.host.ownLog.nextBatch();
      }
      for (const stretched of folded.writes.slice(from, i + 1)) {
        batch.received.push(stretched);
        for (const tenant of stretched.tenants) batch.tenants.add(tenant);
      }
      batch.eventCount += count;
      batch.remoteHeads.set(origin, {
        origin,
        seq: write.lastSeq,
        hash: write.hash,
        signature: write.signature,
      });
      from = i + 1;
      count = 0;
    }
    invariant(
      from === folded.writes.length,
      `a folded run of ${origin} ends at a segment without a kept signature`,
    );
    this.host.ownLog.pendingEvents += folded.events;
    for (const { tenant, grantId } of folded.grants) {
      this.host.scheduleExpiry(tenant, this.definitionOf(tenant, grantId));
      this.host.grantConflicts.observe(this.host.state(), tenant);
    }
    if (regionOf(origin) === this.host.region) {
      // Holds of an earlier incarnation of this region: this one releases them at their expiry.
      for (const { tenant, expiresAt } of folded.holds) this.host.expiries.add(expiresAt, tenant);
      if (folded.holds.length > 0) this.host.armExpiry();
    }
    this.host.tips.set(origin, { seq: applied.seq, hash: applied.hash });
    if (own) {
      this.fetchedBack += applied.seq - tip.seq;
      this.host.ownLog.nextSeq = applied.seq + 1;
      this.host.ownLog.lastHash = applied.hash;
    }
    batch.remoteHeads.set(origin, { origin, ...applied });
    batch.afterDurable.push(() => this.host.antiEntropy.sendSummary(region));
    if (retiredPastThrough(this.host.state()).size > 0) {
      // This node folded a retired incarnation's events past its retired seq before the retire came.
      this.host.logger.warn({ origin }, 'a retire cut a log this node had folded further: folding again');
      void this.host.ownLog.refold();
    }
    if (regionOf(origin) === this.host.region && !own) this.host.ownRegionFolded(origin);
    const retiredOwn = this.host.state().retired.get(this.host.origin);
    if (retiredOwn !== undefined) this.host.ownRetiredHeard(retiredOwn);
    for (const [tenant, keys] of folded.touched) this.afterRemoteEvents(tenant, keys);
    // A region that moves rights away needs none of that tenant's: its kept asks sent before the
    // move are stale (those sent after it, which overtook it, are not: `askerLent`).
    for (const { decoded } of verdict.segments.slice(0, folded.writes.length))
      for (const event of decoded.events)
        if (event.kind === 'move')
          this.host.rebalancing.askerLent(regionOf(origin), event.tenant, origin, event.seq);
    // Rights may have arrived (a donor's move): debits waiting for them are decided again, then
    // the asks of peers kept for want of rights are served from what is left.
    if (this.host.logConfirmed())
      for (const tenant of folded.touched.keys()) {
        this.host.borrowing.wake(tenant);
        this.host.rebalancing.rightsArrived(tenant);
      }
    this.host.ownLog.scheduleFlush();
    this.foldHeld(origin);
  }

  /**
   * `region`'s link closed or opened anew: the runs held from it are let go (its pulls will bring
   * them again). A run its origin sent is durable there only, and that disk may lie: an origin that
   * restarts on a torn tail asks every peer what they hold of its log before it writes (log-confirm),
   * and a held run is not counted (not durable here), so the origin may write those seqs again.
   * Folded afterwards, once the gap before it closed, the old run would fork the log here and every
   * later run of the origin would be refused (swarm seed 508: ap's 135 overtook its 134 and was
   * held at us when ap's disk tore 135 off; ap wrote a new 135, us folded the old one, and stayed
   * at 135 for good). A run relayed by a peer is durable at that peer, whose summary counts it.
   */
  linkChanged(region: string): void {
    for (let i = this.held.length - 1; i >= 0; i--)
      if (this.held[i]?.region === region) this.held.splice(i, 1);
  }

  /** Holds a run that arrived past a gap (unchecked: it is checked in full when folded). */
  private hold(region: string, frame: SegmentsFrame): void {
    if (this.held.length >= HELD_RUNS_MAX) this.held.shift();
    this.held.push({ region, frame });
  }

  /**
   * `origin`'s log grew here: its held runs are received again, in order of their first seq (each
   * is checked as on arrival: folded if it now joins on, dropped if it is known already, held
   * again if a gap is left: the pull for it went out when it arrived; let go without closing the
   * link if it does not verify, as a hostile wire's forged origin does).
   */
  private foldHeld(origin: OriginId): void {
    const runs = this.held.filter((run) => run.frame.origin === origin);
    if (runs.length === 0) return;
    for (const run of runs) this.held.splice(this.held.indexOf(run), 1);
    runs.sort((a, b) => (a.frame.segments[0]?.firstSeq ?? 0) - (b.frame.segments[0]?.firstSeq ?? 0));
    for (const run of runs) this.receiveRun(run.region, run.frame, false);
  }

  /** What a tenant's new remote events make this region do: repay, expire, refund duplicates. */
  private afterRemoteEvents(tenant: string, keys: ReadonlySet<string>): void {
    if (!this.host.logConfirmed()) {
      // Repay, expiry and duplicate refunds are own events: they wait until the log is whole.
      const waiting = this.deferred.get(tenant) ?? new Set<string>();
      for (const key of keys) waiting.add(key);
      this.deferred.set(tenant, waiting);
      return;
    }
    this.host.repay(tenant);
    this.host.expireTenant(tenant);
    this.refundDuplicates(tenant, keys);
    this.revokeDuplicates(tenant);
  }

  /**
   * Duplicate grant ids (DESIGN.md §3, issue 17): takes back the losing definitions this region
   * accepted; what cannot be taken within the bound yet is owed, and rights are asked for it.
   */
  revokeDuplicates(tenant: string): void {
    const overdraft = this.host.policy(tenant).overdraft[this.host.region] ?? 0;
    const owed = revokeDuplicates(
      this.host.state(),
      {
        origin: this.host.origin,
        now: this.host.clock.now(),
        overdraftLimit: this.host.overdraftAllowed() ? overdraft : 0,
        earlierIncarnations: !this.host.overdraftWithheld(),
      },
      tenant,
      (body) => {
        this.host.ownLog.append(body);
        this.host.logger.info(
          { tenant, grantId: 'grantId' in body ? body.grantId : null },
          'revoked a duplicate grant',
        );
      },
    );
    if (owed > 0) this.host.rebalancing.maybeRequestRights(tenant, owed);
  }

  /**
   * Cross-region idempotency (DESIGN.md §3): a key accepted at two regions while they were cut
   * off is charged once. Every replica orders the debits of a key the same way; the region that
   * took a later one refunds it, with a refund key derived from the debit (so it happens once).
   */
  private refundDuplicates(tenant: string, keys: ReadonlySet<string>, recalled?: RecalledSet): void {
    const ledger = this.host.state().tenants.get(tenant);
    if (ledger === undefined) return;
    for (const key of keys) {
      // Only a debit this region took is refunded here: a key none of its incarnations took (most
      // received keys) has nothing to refund here, and its debits are not listed nor read back.
      if (!mayHoldDebitOf(ledger, key, this.ours)) continue;
      // Earlier debits of the key may be off the heap (issue 18): read back, then checked again.
      const found = debitsOfKey(ledger, key, recalled ?? NOTHING_RECALLED);
      if (found.recall.length > 0) {
        void this.host.commands.recallThen(found.recall, recalled, (more) =>
          this.refundDuplicates(tenant, new Set([key]), more),
        );
        continue;
      }
      const [, ...later] = found.records;
      for (const duplicate of later) {
        if (regionOf(duplicate.origin) !== this.host.region || refundableOf(ledger, duplicate) === 0)
          continue;
        const request = {
          tenant,
          debitId: duplicate.debitId,
          idempotencyKey: `duplicate-of:${duplicate.debitId}`,
        };
        const decision = decideRefund(this.host.state(), this.context(), request, recalled);
        if (decision.status === 'recall') {
          void this.host.commands.recallThen(decision.ids, recalled, (more) =>
            this.refundDuplicates(tenant, new Set([key]), more),
          );
          continue;
        }
        if (decision.status === 'accepted') {
          this.host.ownLog.append(decision.body);
          this.host.logger.info(
            { tenant, debitId: duplicate.debitId, key: duplicate.idempotencyKey },
            'refunded a cross-region duplicate debit',
          );
        }
      }
    }
  }

  private definitionOf(tenant: string, grantId: string): GrantDefinition | null {
    return grantDefinition(this.host.state(), tenant, grantId);
  }

  private context(): { origin: OriginId; now: number } {
    return { origin: this.host.origin, now: this.host.clock.now() };
  }
}
