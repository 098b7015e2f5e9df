/**
 * The true ledger: the fold of every event that any origin made durable, in the order each origin
 * wrote them, including what a lost disk took with it. Its totals leave out what a damaged disk
 * destroyed before any other node held it (`forget`), and count what was written again under those
 * seqs. It is the simulator's oracle:
 *  - its balance is the `truth` of the samples (what the regions' views converge to);
 *  - a decline is false when the true, live credits (plus the overdraft still allowed) covered it;
 *  - its per-origin rights are what S2 checks: an origin's true rights are at least what it knew
 *    of (moves to it only add), so a negative one means it spent rights it never had.
 * It is fed by a wrapper of each replica's Store: an own event counts once its commit is durable.
 */

import { hash as oneShotHash } from 'node:crypto';
import {
  applyEvent,
  availableAt,
  createLedgerState,
  decodeSegment,
  eventCanonicalBytes,
  type LedgerEvent,
  type LedgerState,
  leastRightsOf,
  liveCredits,
  type RetiredOrigin,
  regionOf,
  seqOf,
  tenantOverdraftInUse,
} from '@allot/core';
import type { Store, StoreBatch } from '@allot/replica';
import { SIM_EPOCH_MS, TRUTH_SEGMENT_MEMO_MAX } from './limits.js';
import type { LedgerFigures } from './results.js';

interface Totals {
  granted: number;
  debited: number;
  refunded: number;
  expired: number;
}

/** A grant event a storage fault destroyed (`forget`): it left the truth's totals. */
export interface DestroyedGrant {
  readonly tenant: string;
  readonly grantId: string;
  readonly amount: number;
}

/** S2 observations of one origin for one tenant since the last sample. */
interface OriginWatch {
  rightsMin: number;
  overdraftInUseMax: number;
}

/** The fold of every durable event anywhere. */
export class TrueLedger {
  /** Rebuilt (forgetPast) when a retire cuts a lost incarnation's log short. */
  state: LedgerState = createLedgerState();
  private readonly totals = new Map<string, Totals>();
  /** While forgetPast folds again: the retired origins and their seqs, known from the start of it. */
  private replayRetired: ReadonlyMap<string, RetiredOrigin> | null = null;
  /** Every apply and forget, in order, for folding again after a retire (forgetPast). */
  private journal: (
    | { readonly kind: 'apply'; readonly event: LedgerEvent; readonly identity: string }
    | {
        readonly kind: 'forget';
        readonly origin: string;
        readonly from: number;
        readonly to: number;
        /** The state was folded again without them (they were the tail of what it folded of `origin`). */
        readonly refold: boolean;
      }
  )[] = [];
  private readonly watch = new Map<string, Map<string, OriginWatch>>();
  /** An event arrived out of order: the logs are not what the replicas say they are. */
  problem: string | null = null;
  /**
   * Every event any store committed, own or received (S8): per origin, at index seq − 1, the
   * distinct event identities (SHA-256 of the canonical event) stored under that seq anywhere (hex, first 8 bytes).
   */
  readonly written = new Map<string, string[][]>();

  /**
   * Per origin, the events counted in the totals under each seq, with their identities: a later
   * event of that origin under a seq it already used reuses a seq a damaged disk destroyed.
   */
  private readonly counted = new Map<string, Map<number, { identity: string; event: LedgerEvent }[]>>();
  /** Per tenant and origin: rights moved to it by events no live node can receive (unreceivable). */
  private readonly lostInflow = new Map<string, Map<string, number>>();
  /** Events made durable under a seq a damaged disk destroyed (after `forget`): as real as any. */
  reusedEvents = 0;
  /** `origin/seq` of every seq forgotten (destroyed), to count the events written again under them. */
  private readonly forgottenSeqs = new Set<string>();
  /** While forgetPast folds the journal again. */
  private replaying = false;
  /** The run's committed segments, decoded once for every store that commits them. */
  readonly segments = new SegmentEvents();

  /** A store committed an event with identity `hash` (S8's record of every log anywhere). */
  stored(origin: string, seq: number, hash: Uint8Array): void {
    this.storedIdentity(origin, seq, identityText(hash));
  }

  /** `stored` with the identity already in text (identityText). */
  storedIdentity(origin: string, seq: number, identity: string): void {
    let log = this.written.get(origin);
    if (log === undefined) {
      log = [];
      this.written.set(origin, log);
    }
    while (log.length < seq) log.push([]);
    const seen = log[seq - 1] as string[];
    if (!seen.includes(identity)) seen.push(identity);
  }

  /**
   * Folds an origin's newly durable event (identity `hash`). One under a seq the origin already
   * used, after a damaged disk destroyed the first (swarm seed 3800: ap lost seqs 85–95 and wrote a
   * grant under one of them), is as real as any: the client was told yes. `forget` folded the state
   * again without the destroyed events, so it folds as the origin's own; S2 still leaves out what
   * follows a reuse (reusedSince): a peer may have folded a destroyed event before it was lost.
   */
  apply(event: LedgerEvent, hash: Uint8Array): void {
    this.applyIdentified(event, identityText(hash));
  }

  /** `apply` with the identity already in text (identityText). */
  applyIdentified(event: LedgerEvent, identity: string): void {
    this.journal.push({ kind: 'apply', event, identity });
    // A retired incarnation's events past its retired seq count nowhere (issue 11): every node refuses them.
    const retired = this.state.retired.get(event.origin) ?? this.replayRetired?.get(event.origin);
    if (retired !== undefined && event.seq > retired.through) return;
    let counted = this.counted.get(event.origin);
    if (counted === undefined) {
      counted = new Map();
      this.counted.set(event.origin, counted);
    }
    const result = applyEvent(this.state, event);
    if (result === 'gap') {
      this.problem ??= `event ${event.origin}/${event.seq} became durable before the events before it`;
      return;
    }
    const here = counted.get(event.seq) ?? [];
    if (result === 'duplicate') {
      // The same event again (fetched back from a peer, re-committed): counted once.
      if (here.some((entry) => entry.identity === identity)) return;
    }
    const forgotten = this.forgottenSeqs.delete(`${event.origin}/${event.seq}`);
    if (result === 'duplicate' || forgotten) this.reusedEvents += 1;
    here.push({ identity, event });
    counted.set(event.seq, here);
    this.count(event, 1);
    if (result !== 'duplicate') this.observe(event.tenant, event.origin);
    if (
      this.replayRetired === null &&
      event.kind === 'retire' &&
      seqOf(this.state.versionVector, event.retired) > event.through
    )
      this.forgetPast();
  }

  /**
   * A storage fault destroyed `origin`'s seqs (from, to] before any other node held them (the
   * swarm's destroyedRanges): what they did no longer counts in the totals, as it is nowhere; an
   * event later written under one of them counts anew (swarm seed 4535: ap's expiry of its share
   * was destroyed and made again under a reused seq; counted twice, it made the truth −5,981).
   * Returns the grants it took out: S1 still counts those a client was told of (checkS1).
   */
  forget(origin: string, from: number, to: number, refold?: boolean): DestroyedGrant[] {
    // The state drops them only when they are the tail of what it folded of the origin: a later
    // event folded is durable somewhere, so its log (and these seqs) is too (swarm seed 14101: two
    // disks damaged at once, the truth had folded past a range one record called destroyed).
    const tail = refold ?? seqOf(this.state.versionVector, origin) <= to;
    this.journal.push({ kind: 'forget', origin, from, to, refold: tail });
    let any = false;
    const grants: DestroyedGrant[] = [];
    for (let seq = from + 1; seq <= to; seq++) this.forgottenSeqs.add(`${origin}/${seq}`);
    const counted = this.counted.get(origin);
    if (counted !== undefined)
      for (let seq = from + 1; seq <= to; seq++) {
        for (const entry of counted.get(seq) ?? []) {
          this.count(entry.event, -1);
          any = true;
          const event = entry.event;
          if (event.kind === 'grant')
            grants.push({ tenant: event.tenant, grantId: event.grantId, amount: event.amount });
        }
        counted.delete(seq);
      }
    // The state too (what F1's live credits and S2 read): folded again without what was destroyed,
    // so that an event written again under one of those seqs folds as the origin's own (swarm seed
    // 253: ap's destroyed seqs stayed in the state, and F1 counted 503 rights ap never had).
    if (any && tail && !this.replaying) this.forgetPast();
    return grants;
  }

  /** Adds (`sign` 1) or takes back (−1) an event's amounts in its tenant's totals. */
  private count(event: LedgerEvent, sign: 1 | -1): void {
    let totals = this.totals.get(event.tenant);
    if (totals === undefined) {
      totals = { granted: 0, debited: 0, refunded: 0, expired: 0 };
      this.totals.set(event.tenant, totals);
    }
    switch (event.kind) {
      case 'grant':
        totals.granted += sign * event.amount;
        break;
      case 'debit':
        totals.debited += sign * event.amount;
        break;
      case 'refund':
        totals.refunded += sign * event.amount;
        break;
      case 'expire':
        totals.expired += sign * event.amount;
        break;
      case 'revoke':
        // A duplicate grant id taken back (issue 17): what it charged is no longer granted.
        totals.granted -= sign * event.amount;
        break;
      // Held credits count as spent against the bound until released (S1, S7).
      case 'hold':
        totals.debited += sign * event.amount;
        break;
      case 'capture':
        totals.debited -= sign * event.released;
        break;
      case 'release':
        totals.debited -= sign * event.amount;
        break;
      default:
        break;
    }
  }

  /**
   * A retire counted a lost incarnation through an earlier seq than the truth folded of it (its
   * disk held events nobody else did): what it wrote past that seq is the risk the retire reported,
   * spent again by its successor, and counts no more. The truth is folded again from its journal,
   * in the same order, each event past a retired seq left out as `apply` does — from the start:
   * the lost incarnation's events came before the retire, and folding them again would meet the
   * retire again and fold again without end (swarm seed 113 of retire-lost-incarnation, once its
   * retire was no longer refused).
   */
  private forgetPast(): void {
    const journal = this.journal;
    // Applies that a later forget covers are left out: destroyed, they are nowhere.
    const skipped = new Set<number>();
    const applied = new Map<string, number[]>();
    journal.forEach((entry, at) => {
      if (entry.kind === 'apply') {
        const key = `${entry.event.origin}/${entry.event.seq}`;
        applied.set(key, [...(applied.get(key) ?? []), at]);
        return;
      }
      if (!entry.refold) return;
      for (let seq = entry.from + 1; seq <= entry.to; seq++) {
        const key = `${entry.origin}/${seq}`;
        for (const index of applied.get(key) ?? []) skipped.add(index);
        applied.delete(key);
      }
    });
    this.replayRetired = new Map(this.state.retired);
    this.state = createLedgerState();
    this.totals.clear();
    this.counted.clear();
    this.forgottenSeqs.clear();
    this.reusedEvents = 0;
    this.journal = [];
    this.replaying = true;
    try {
      journal.forEach((entry, at) => {
        if (entry.kind === 'forget') this.forget(entry.origin, entry.from, entry.to, entry.refold);
        else if (skipped.has(at)) this.journal.push(entry);
        else this.applyIdentified(entry.event, entry.identity);
      });
    } finally {
      this.replayRetired = null;
      this.replaying = false;
    }
  }

  /** The tenant's true figures now. */
  figures(tenant: string): LedgerFigures {
    const totals = this.totals.get(tenant);
    return totals === undefined
      ? { granted: 0, debited: 0, refunded: 0, expired: 0 }
      : {
          granted: totals.granted,
          debited: totals.debited,
          refunded: totals.refunded,
          expired: totals.expired,
        };
  }

  /**
   * Whether the global ledger could pay `amount` at simulated time `nowMs`: credits left in grants
   * not expired by true time, plus the overdraft the policy allows over all regions, less what of it
   * is in use. The false-decline oracle.
   */
  covers(tenant: string, amount: number, nowMs: number, overdraftBound: number): boolean {
    const { live, overdraftInUse } = liveCredits(this.state, tenant, SIM_EPOCH_MS + nowMs);
    return live + overdraftBound - overdraftInUse >= amount;
  }

  /**
   * The tenant's live rights in the true ledger at simulated time `nowMs` held by `origins` (the
   * regions' current incarnations): what the cluster can pay without a retire (no overdraft). Less
   * what reached them only by moves no live node can receive (`unreceivable`: a lost incarnation's
   * moves that only its lost disk held; the truth counts them, no region ever gets them). Taking a
   * moved amount off whole may leave out rights the move's grant lost to expiry anyway: F1 may then
   * miss a false decline, never invent one.
   */
  liveAt(tenant: string, nowMs: number, origins: Iterable<string>): number {
    let total = 0;
    const lost = this.lostInflow.get(tenant);
    for (const origin of origins) {
      const available = availableAt(this.state, tenant, origin, SIM_EPOCH_MS + nowMs, 0);
      total += Math.max(0, available - (lost?.get(origin) ?? 0));
    }
    return total;
  }

  /**
   * `origin`'s seqs (from, held] are lost with its disk and no live node holds them: they stay in
   * the ledger (acknowledged, then lost), but the rights they moved to other origins can never reach
   * those (liveAt leaves them out).
   */
  unreceivable(origin: string, from: number, held: number): void {
    const counted = this.counted.get(origin);
    if (counted === undefined) return;
    for (let seq = from + 1; seq <= held; seq++)
      for (const { event } of counted.get(seq) ?? []) {
        if (event.kind !== 'move') continue;
        let byOrigin = this.lostInflow.get(event.tenant);
        if (byOrigin === undefined) {
          byOrigin = new Map();
          this.lostInflow.set(event.tenant, byOrigin);
        }
        const amount = event.parts.reduce((sum, part) => sum + part.amount, 0);
        byOrigin.set(event.to, (byOrigin.get(event.to) ?? 0) + amount);
      }
  }

  /**
   * Per origin that wrote for `tenant`: the least true rights on any grant and the most overdraft in
   * use since the last call, then starts the next period from the current values.
   */
  takeOrigins(
    tenant: string,
  ): Record<string, { region: string; rightsMin: number; overdraftInUseMax: number }> {
    const watched = this.watch.get(tenant);
    const out: Record<string, { region: string; rightsMin: number; overdraftInUseMax: number }> = {};
    if (watched === undefined) return out;
    for (const [origin, seen] of [...watched].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out[origin] = {
        region: regionOf(origin),
        rightsMin: seen.rightsMin,
        overdraftInUseMax: seen.overdraftInUseMax,
      };
      const now = this.current(tenant, origin);
      seen.rightsMin = now.rightsMin;
      seen.overdraftInUseMax = now.overdraftInUseMax;
    }
    return out;
  }

  private current(tenant: string, origin: string): OriginWatch {
    return {
      rightsMin: leastRightsOf(this.state, tenant, origin),
      overdraftInUseMax: tenantOverdraftInUse(this.state, tenant, origin),
    };
  }

  /** After an own event of `origin`: its rights only fall by its own events, so this sees every low. */
  private observe(tenant: string, origin: string): void {
    let watched = this.watch.get(tenant);
    if (watched === undefined) {
      watched = new Map();
      this.watch.set(tenant, watched);
    }
    const now = this.current(tenant, origin);
    const seen = watched.get(origin);
    if (seen === undefined) watched.set(origin, now);
    else {
      seen.rightsMin = Math.min(seen.rightsMin, now.rightsMin);
      seen.overdraftInUseMax = Math.max(seen.overdraftInUseMax, now.overdraftInUseMax);
    }
  }
}

/** The first 8 bytes of an event identity, in hex (as S8 names events). */
function identityText(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, 8).toString('hex');
}

/** An event and its identity (identityText of the SHA-256 of its canonical bytes). */
interface IdentifiedEvent {
  readonly event: LedgerEvent;
  readonly identity: string;
}

/**
 * The events of segments, decoded and identified once: a segment is committed by its origin and
 * again by every peer that receives it, as the same bytes. Keyed by the segment's hash, and a hit
 * counts only when the bytes are the same too, so a lying hash changes nothing but the time.
 */
export class SegmentEvents {
  private readonly memo = new Map<string, { readonly bytes: Buffer; readonly events: IdentifiedEvent[] }>();

  /** The events of `segment`, each with its identity, in order. */
  of(segment: { readonly bytes: Uint8Array; readonly hash: Uint8Array }): readonly IdentifiedEvent[] {
    const key = Buffer.from(segment.hash.buffer, segment.hash.byteOffset, segment.hash.byteLength).toString(
      'base64',
    );
    const bytes = Buffer.from(segment.bytes.buffer, segment.bytes.byteOffset, segment.bytes.byteLength);
    const known = this.memo.get(key);
    if (known?.bytes.equals(bytes)) return known.events;
    const events = decodeSegment(segment.bytes).events.map((event) => ({
      event,
      identity: oneShotHash('sha256', eventCanonicalBytes(event), 'hex').slice(0, 16),
    }));
    if (known === undefined) {
      if (this.memo.size >= TRUTH_SEGMENT_MEMO_MAX) this.memo.delete(this.memo.keys().next().value as string);
      // A copy: the store may keep, and a storage fault damage, the bytes it was given.
      this.memo.set(key, { bytes: Buffer.from(bytes), events });
    }
    return events;
  }
}

/**
 * A Store that tells the true ledger about every event of its own origin once it is durable. The
 * replica sees the store unchanged; the extra `then` runs before the replica's own continuation, so
 * the truth knows an event before any client hears "yes" or any peer sees it. The truth's segment
 * memo is shared by the stores of one run, so a segment is decoded once, not once per store.
 */
export function observedStore(inner: Store, ownOrigin: () => string | null, truth: TrueLedger): Store {
  const { segments } = truth;
  return {
    readMeta: () => inner.readMeta(),
    commit: (batch: StoreBatch, options) =>
      inner.commit(batch, options).then(() => {
        const origin = ownOrigin();
        for (const segment of batch.segments) {
          for (const { event, identity } of segments.of(segment)) {
            truth.storedIdentity(event.origin, event.seq, identity);
            if (origin !== null && event.origin === origin) truth.applyIdentified(event, identity);
          }
        }
      }),
    heads: () => inner.heads(),
    bases: () => inner.bases(),
    readSegments: (origin, fromSeq, limit) => inner.readSegments(origin, fromSeq, limit),
    readLog: (origin, fromSeq, limit) => inner.readLog(origin, fromSeq, limit),
    readTenantEvents: (tenant, cursor, limit) => inner.readTenantEvents(tenant, cursor, limit),
    readControl: () => inner.readControl(),
    readOrigins: () => inner.readOrigins(),
    writeOutbox: (puts, deletes) => inner.writeOutbox(puts, deletes),
    readOutbox: () => inner.readOutbox(),
    writeKeyArea: (puts, deletes) => inner.writeKeyArea(puts, deletes),
    readKeyArea: (key) => inner.readKeyArea(key),
    listKeyArea: (prefix) => inner.listKeyArea(prefix),
    archivedSeqs: () => inner.archivedSeqs(),
    archiveSegments: (origin, throughSeq) => inner.archiveSegments(origin, throughSeq),
    archiveTenantIndex: () => inner.archiveTenantIndex(),
    writeCheckpoint: (checkpoint) => inner.writeCheckpoint(checkpoint),
    listCheckpoints: () => inner.listCheckpoints(),
    readCheckpoint: (total) => inner.readCheckpoint(total),
    deleteCheckpoint: (total) => inner.deleteCheckpoint(total),
    close: () => inner.close(),
  };
}
