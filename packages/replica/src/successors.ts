/**
 * The successor rule (issue 11, swarm seeds 77 and 113 of retire-lost-incarnation): a node takes no
 * writes while a NEWER incarnation of its own region exists. A data directory restored from a
 * backup of an incarnation whose disk was lost is that incarnation again, but its log is shorter
 * than what it once acknowledged, and the tail it lost exists nowhere a peer could give it back:
 * writing on would put new events under seqs the lost disk had used (two events under one (origin,
 * seq)). The region's newer incarnation is the evidence that its disk was given up.
 *
 * Incarnation ids are random, so "newer" is told by what each incarnation heard before it wrote:
 * - An incarnation whose own log is empty once every peer confirmed it (log-confirm.ts: so no peer
 *   holds any of it either) never wrote anything that was kept: it is "newborn" (a new data
 *   directory, or one that lost all it wrote before any peer held it), and every other incarnation
 *   of its region heard before it first takes writes is an ELDER. It takes writes only once its
 *   elders are recorded durably, so any disk of it that holds one of its events also holds them (a
 *   disk that loses a tail loses the newest part).
 * - Any other incarnation of its region whose SIGNED events reach it (received and verified under
 *   the region's key, or stored on its disk, verified when they came), that is not an elder, was
 *   born after this one first wrote: a SUCCESSOR. It is not recorded here (so the next start finds
 *   its events again) and this node takes no writes from then on.
 * Only signed evidence shows a successor. A summary is a peer's word: it names incarnations it
 * merely heard of, and what it heard may be a hostile wire's invention (swarm seeds 1283, 1887) or a
 * hostile peer's, with seqs it claims to hold. A name can only make an elder (of a newborn, which
 * is safe: an elder is never a successor). A successor's events still reach a restarting node
 * before it takes writes: log-confirm (log-confirm.ts) waits until it holds every event of its
 * region's incarnations that any peer holds, and fetching them folds them here. A successor that
 * wrote nothing a peer holds yet does not stop it: its first events that reach this node do.
 *
 * Legitimate cases stay writable: a normal restart (every incarnation of its region it knows was
 * recorded when heard), a lost tail fetched back from peers (same incarnation: not "another"), a
 * new data directory (newborn: what it hears is older), a restart of it before it first wrote
 * (still newborn). A disk restored from a backup taken before its incarnation's first event, of
 * which no peer holds anything either, looks newborn: nothing tells it apart. Pure bookkeeping: the replica records elders and refuses writes.
 */
import { type OriginId, regionOf } from '@allot/core';

/**
 * The signed evidence a successor was found by: its events received here (`events`), or stored on
 * this node's disk at its start (`stored`: verified when they were received).
 */
export type SuccessorEvidence = 'events' | 'stored';

/** A successor found, with how it was found. */
export interface Successor {
  readonly origin: OriginId;
  readonly evidence: SuccessorEvidence;
}

/** Whether this incarnation is new: undecided until every peer confirmed its log (log-confirm.ts). */
type Birth = 'undecided' | 'newborn' | 'grown';

/** Which incarnations of this node's region are older (elders) or newer (successors) than it. */
export class SuccessorWatch {
  private readonly region: string;
  /** Other incarnations of this region recorded durably here: older than this one. */
  private readonly elders = new Set<OriginId>();
  /**
   * Heard while `undecided`: elders if this incarnation turns out newborn; else successors, when
   * their signed events came (a name alone then counts for nothing).
   */
  private readonly candidates = new Map<OriginId, SuccessorEvidence | 'named'>();
  /** Heard while newborn, their recording not settled: writes wait for them. */
  private readonly pending = new Set<OriginId>();
  private birth: Birth = 'grown';
  /** True until this node first takes writes in this run: until then a name can make an elder. */
  private starting = true;
  private found: Successor | null = null;
  /** allowLoneStart: the operator overrode the start's checks; nothing is judged this run. */
  private waived = false;
  /**
   * Newborn in this run, and it took writes without the word of some configured region that nobody
   * it heard had heard of (writability.ts `regionsToConfirm`): such a region may still hold older
   * incarnations of this one's region (`started`).
   */
  private newbornSkipping = false;

  /** The watch of the node whose incarnation is `origin`. */
  constructor(readonly origin: OriginId) {
    this.region = regionOf(origin);
  }

  /**
   * Takes what the store recorded (every incarnation it heard of before this start) and whether
   * this incarnation's own log is empty on disk now: then it may be new (decided by `confirmed`).
   */
  load(recorded: readonly OriginId[], ownLogEmpty: boolean): void {
    for (const origin of recorded) if (this.isOther(origin)) this.elders.add(origin);
    this.birth = ownLogEmpty ? 'undecided' : 'grown';
  }

  /**
   * The node started with allowLoneStart, taking writes before any peer confirmed anything: the
   * operator took the risk of the start's checks, this rule's included. Every incarnation heard is
   * recorded as before, so the next start knows them as older.
   */
  waive(): void {
    this.waived = true;
    this.birth = 'grown';
    this.starting = false;
    this.candidates.clear();
  }

  /** The successor found, or null: while set, this node takes no writes. */
  get successor(): Successor | null {
    return this.found;
  }

  /** True while elders heard are not recorded durably yet: writes wait for them. */
  get eldersPending(): boolean {
    return this.pending.size > 0;
  }

  /** The elders heard while newborn whose recording is not settled, sorted: to record. */
  pendingElders(): OriginId[] {
    return [...this.pending].sort();
  }

  /**
   * The incarnations a peer's checked summary names: before this node first takes writes in this
   * run, another of this region that is no elder is a candidate (while undecided) or an elder to
   * record (newborn). Never a successor: a name is no signed evidence.
   */
  noteNamed(origins: Iterable<OriginId>): void {
    if (!this.starting || this.waived) return;
    for (const origin of origins) {
      if (!this.isOther(origin) || this.elders.has(origin) || this.pending.has(origin)) continue;
      if (this.birth === 'undecided' && !this.candidates.has(origin)) this.candidates.set(origin, 'named');
      else if (this.birth === 'newborn') this.pending.add(origin);
    }
  }

  /** Signed events of `origin` were verified and folded here: judged at any time. */
  noteFolded(origin: OriginId): Successor | null {
    return this.note(origin, 'events');
  }

  /**
   * The origins whose logs this node's disk holds at its start (their segments were verified when
   * received): signed evidence too. Answers the successor found, or null.
   */
  noteStored(origins: Iterable<OriginId>): Successor | null {
    for (const origin of origins) {
      const found = this.note(origin, 'stored');
      if (found !== null) return found;
    }
    return null;
  }

  /**
   * Every peer confirmed this node's log (log-confirm.ts): it holds all of its own log that any of
   * them holds. Empty then (`ownLogEmpty`), this incarnation never wrote anything a peer kept: it is
   * newborn, and the candidates heard are its elders (to record before it takes writes). Else it is
   * grown, and a candidate whose signed events came is a successor (a data directory restored from
   * a backup taken before its first event: swarm seed 77). Answers the successor found, or null.
   */
  confirmed(ownLogEmpty: boolean): Successor | null {
    if (this.birth !== 'undecided') return this.found;
    this.birth = ownLogEmpty ? 'newborn' : 'grown';
    const candidates = [...this.candidates].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.candidates.clear();
    for (const [origin, evidence] of candidates) {
      if (this.birth === 'newborn') this.pending.add(origin);
      else if (evidence !== 'named') this.note(origin, evidence);
    }
    return this.found;
  }

  /**
   * Whether `origin` may be recorded here: not another incarnation of this region heard while this
   * node starts that is no elder (so the next start finds it again), nor the successor. One a
   * running node hears named is recorded as before (issue 16: later incarnations hear of it).
   */
  mayRecord(origin: OriginId): boolean {
    if (this.waived || !this.isOther(origin) || this.elders.has(origin) || this.pending.has(origin))
      return true;
    return !this.starting && this.found?.origin !== origin;
  }

  /** The recording of `origins` settled: those durable that were heard while newborn are elders now. */
  settled(origins: readonly OriginId[], durable: boolean): void {
    if (!durable) return; // recorded again when writes are next checked
    for (const origin of origins) {
      if (!this.pending.delete(origin)) continue;
      this.elders.add(origin);
    }
  }

  /**
   * Elders heard while newborn that could not be recorded (HEARD_ORIGINS_PER_REGION_MAX): each
   * counts as older for this run (a later start that hears it finds no record and takes no
   * writes). True when one was pending.
   */
  unrecordable(origins: readonly OriginId[]): boolean {
    let moved = false;
    for (const origin of origins) {
      if (!this.pending.delete(origin)) continue;
      this.elders.add(origin);
      moved = true;
    }
    return moved;
  }

  /**
   * This node takes writes now: grown from now on, and only signed events count. `skipping`: it
   * did not wait for every configured region (a region nobody it heard had heard of counts as never
   * started). When that was wrong — every node it heard was on an empty disk too, and the silent
   * region holds the cluster's history (swarm seed 5379: eu and ap both lost their disks while us
   * was paused) — the incarnations of its region that arrive from there are older, not newer: a
   * newborn's own log is all in this run, so nothing of it can be reused, and it stays writable.
   */
  started(skipping: boolean): void {
    this.newbornSkipping = this.birth === 'newborn' && skipping && !this.waived;
    this.birth = 'grown';
    this.starting = false;
  }

  private note(origin: OriginId, evidence: SuccessorEvidence): Successor | null {
    if (this.waived || !this.isOther(origin) || this.elders.has(origin) || this.pending.has(origin))
      return null;
    switch (this.birth) {
      case 'undecided':
        this.candidates.set(origin, evidence);
        return null;
      case 'newborn':
        this.pending.add(origin);
        return null;
      case 'grown':
        if (this.newbornSkipping) {
          this.pending.add(origin); // an elder once recorded (`settled`)
          return null;
        }
        if (this.found !== null) return null;
        this.found = { origin, evidence };
        return this.found;
    }
  }

  private isOther(origin: OriginId): boolean {
    return origin !== this.origin && regionOf(origin) === this.region;
  }
}

/** The one line a node says when it finds a successor (and takes no writes from then on). */
export function supersededLine(origin: OriginId, successor: Successor): string {
  const how =
    successor.evidence === 'stored'
      ? "this node's disk holds signed events of"
      : 'this node received signed events of';
  return `incarnation ${origin} of this data directory is superseded: ${how} ${successor.origin}, a newer incarnation of its region (a data directory restored from a backup?); it takes no writes: run this region on its current data directory, or on an empty one`;
}
