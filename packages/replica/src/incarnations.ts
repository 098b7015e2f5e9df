/**
 * The incarnations a node has heard of (DESIGN.md §1 "Origins and incarnations", issue 16). A
 * region's incarnation may use its overdraft in events that never leave its disk; if that disk is
 * lost, the next incarnation of the region can only count that allowance as used if it hears that
 * the lost one existed. So: every node durably records each incarnation it heard of (its own, each
 * peer's from its authenticated handshake, each one a peer's summary names), its summaries name
 * them (seq 0 when it holds none of their events), an incarnation takes overdraft only once some
 * peer's summary names it, and an incarnation that hears of another of its own region counts that
 * one as lost with its whole allowance used (until an operator retires it). Pure bookkeeping: no
 * clock, no I/O; the replica commits what `toRecord` hands out.
 */
import { type OriginId, regionOf } from '@allot/core';
import { HEARD_ORIGINS_PER_REGION_MAX, SUMMARY_ORIGINS_PER_REGION_MAX } from './limits.js';

/** What one node knows of the incarnations that exist or existed. */
export class HeardIncarnations {
  /** Recorded durably here: what summaries may name. */
  private readonly recorded = new Set<OriginId>();
  /** Handed out by `toRecord`, commit not settled yet. */
  private readonly recording = new Set<OriginId>();
  /** Other incarnations of this node's region heard of: lost, their whole allowance used. */
  private readonly predecessors = new Set<OriginId>();
  /** Predecessors already handed out by `unreportedLost`. */
  private readonly reported = new Set<OriginId>();
  /** A peer's summary named this node's origin: later incarnations of its region will hear of it. */
  private namedByPeer = false;

  /** Bookkeeping for the node whose current incarnation is `origin`. */
  constructor(readonly origin: OriginId) {}

  /** Takes what the store recorded in earlier runs. */
  load(origins: readonly OriginId[]): void {
    for (const origin of origins) {
      this.recorded.add(origin);
      this.notePredecessor(origin);
    }
  }

  /**
   * Of `origins`, those neither recorded nor being recorded, within HEARD_ORIGINS_PER_REGION_MAX
   * per region (the own origin always); they count as being recorded now.
   */
  toRecord(origins: Iterable<OriginId>): OriginId[] {
    const fresh: OriginId[] = [];
    for (const origin of origins) {
      if (this.recorded.has(origin) || this.recording.has(origin)) continue;
      if (origin !== this.origin && this.heardOf(regionOf(origin)) >= HEARD_ORIGINS_PER_REGION_MAX) continue;
      this.recording.add(origin);
      fresh.push(origin);
    }
    return fresh;
  }

  /** Incarnations of `region` recorded or being recorded here. */
  private heardOf(region: string): number {
    let count = 0;
    for (const origin of this.recorded) if (regionOf(origin) === region) count += 1;
    for (const origin of this.recording) if (regionOf(origin) === region) count += 1;
    return count;
  }

  /** The commit of `origins` settled: durable when `durable`, else to be recorded again later. */
  settled(origins: readonly OriginId[], durable: boolean): void {
    for (const origin of origins) {
      this.recording.delete(origin);
      if (durable) {
        this.recorded.add(origin);
        this.notePredecessor(origin);
      }
    }
  }

  /**
   * The version vector a summary carries: `held` (the durable heads), this node's own incarnation
   * always (at seq 0 before its first event: a peer refuses a summary that does not name its
   * sender), plus every recorded origin at seq 0, as many per region as a peer accepts
   * (SUMMARY_ORIGINS_PER_REGION_MAX; heads first).
   */
  summaryVector(held: Readonly<Record<OriginId, number>>): Record<OriginId, number> {
    const vector: Record<OriginId, number> = { ...held };
    vector[this.origin] ??= 0;
    const perRegion = new Map<string, number>();
    for (const origin of Object.keys(vector)) {
      const region = regionOf(origin);
      perRegion.set(region, (perRegion.get(region) ?? 0) + 1);
    }
    for (const origin of [...this.recorded].sort()) {
      if (vector[origin] !== undefined) continue;
      const region = regionOf(origin);
      const count = perRegion.get(region) ?? 0;
      if (count >= SUMMARY_ORIGINS_PER_REGION_MAX) continue;
      perRegion.set(region, count + 1);
      vector[origin] = 0;
    }
    return vector;
  }

  /** Notes the origins a peer's (checked) summary names: heard of, whether recorded here yet or not. */
  noteSummary(vector: Readonly<Record<OriginId, number>>): void {
    for (const origin of Object.keys(vector)) {
      if (origin === this.origin) this.namedByPeer = true;
      this.notePredecessor(origin);
    }
  }

  /** True once a peer's summary named this node's origin (since this run started). */
  get heardOfByPeer(): boolean {
    return this.namedByPeer;
  }

  /** True when another incarnation of this node's region was heard of: its allowance is used. */
  get predecessorKnown(): boolean {
    return this.predecessors.size > 0;
  }

  /**
   * True when another incarnation of this node's region was heard of and is not in `retired`: its
   * allowance is used until an operator retires it.
   */
  predecessorUnretired(retired: ReadonlyMap<OriginId, unknown>): boolean {
    for (const origin of this.predecessors) if (!retired.has(origin)) return true;
    return false;
  }

  /** True when `origin` is recorded durably here or being recorded. */
  recordedOrRecording(origin: OriginId): boolean {
    return this.recorded.has(origin) || this.recording.has(origin);
  }

  /** True when some incarnation of `region` was recorded or heard of here. */
  heardOfRegion(region: string): boolean {
    return this.heardOf(region) > 0;
  }

  /** True when `origin` was recorded or heard of here. */
  knows(origin: OriginId): boolean {
    return this.recorded.has(origin) || this.recording.has(origin) || this.predecessors.has(origin);
  }

  /** Other incarnations of this node's region heard of and not yet handed out here; marks them. */
  unreportedLost(): OriginId[] {
    const fresh = [...this.predecessors].filter((origin) => !this.reported.has(origin)).sort();
    for (const origin of fresh) this.reported.add(origin);
    return fresh;
  }

  /** Kept up to HEARD_ORIGINS_PER_REGION_MAX: one is enough to withhold overdraft. */
  private notePredecessor(origin: OriginId): void {
    if (origin === this.origin || regionOf(origin) !== regionOf(this.origin)) return;
    if (this.predecessors.size < HEARD_ORIGINS_PER_REGION_MAX) this.predecessors.add(origin);
  }
}
