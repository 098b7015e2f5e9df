/**
 * The archive task (DESIGN.md §2 "Checkpoints and retention"): every ARCHIVE_SWEEP_MS it moves the
 * segments that every configured region has acknowledged and whose newest event is older than
 * `afterMs` from the live store to the archive, in small steps (Store.archiveSegments), then the
 * tenant index entries that point only at archived events (Store.archiveTenantIndex). What a
 * region acknowledged is the most its summaries said it holds durably, remembered per region since
 * this start: a region not heard since the start holds everything back. A log that starts after a
 * log base (a node that joined by checkpoint) moves from its base on. Reads are unchanged by a
 * move (the store reads archived segments back), so a peer catching up, a page of events or a
 * refund of an old debit work as before. A failed step stops the task with one line at error:
 * nothing is lost (every step is crash-safe), and a restart resumes it.
 */
import { decodeSegmentRange, type OriginId } from '@allot/core';
import {
  ARCHIVE_SCAN_SEGMENTS_MAX,
  ARCHIVE_SWEEP_MS,
  ARCHIVE_SWEEP_STEPS_MAX,
  RECOVERY_PAGE_SEGMENTS,
} from './limits.js';
import type { Clock, Logger, LogHead, Store, StoredSegment, TimerHandle } from './ports.js';

/** What the archive task works with. */
export interface ArchivingPorts {
  readonly store: Store;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The configured peer regions: each must have acknowledged a segment before it moves. */
  regions(): readonly string[];
  /** The durable head of every origin stored here. */
  heads(): ReadonlyMap<OriginId, LogHead>;
}

/** What one sweep moved. */
export interface ArchiveSweep {
  readonly segments: number;
  readonly events: number;
  readonly entries: number;
}

/** The time of the newest event of `segment` (its last; an origin's clock only moves on within a log). */
function newestAt(segment: StoredSegment): number {
  const count = segment.lastSeq - segment.firstSeq + 1;
  const [last] = decodeSegmentRange(segment.bytes, count - 1, count).events;
  return last?.at ?? Number.POSITIVE_INFINITY;
}

/** Moves acknowledged, old segments to the archive, a sweep at a time. */
export class Archiving {
  /** Per region, the most of each origin its summaries said it holds. */
  private readonly acknowledgedBy = new Map<string, Map<OriginId, number>>();
  private timer: TimerHandle | null = null;
  private stopped = false;
  /**
   * Tenant index entries moved by the last sweep: a sweep scans the live index only when segments
   * moved, or the last scan moved entries (more may follow); the first sweep after a start always
   * scans (it finishes a step a crash stopped).
   */
  private lastEntries = 1;

  constructor(
    private readonly ports: ArchivingPorts,
    /** How old a segment's newest event must be before it moves, ms. */
    private readonly afterMs: number,
  ) {}

  /** A summary of `region`: the version vector it holds durably. */
  noteSummary(region: string, versionVector: Readonly<Record<OriginId, number>>): void {
    let known = this.acknowledgedBy.get(region);
    if (known === undefined) {
      known = new Map();
      this.acknowledgedBy.set(region, known);
    }
    for (const [origin, seq] of Object.entries(versionVector))
      if (seq > (known.get(origin) ?? 0)) known.set(origin, seq);
  }

  /** The seq of each origin's log that every configured region has acknowledged (absent: none). */
  acknowledged(): Map<OriginId, number> {
    const regions = this.ports.regions();
    const first = regions[0];
    const common = new Map<OriginId, number>();
    if (first === undefined) {
      // A region alone: nobody else needs its segments live.
      for (const [origin, head] of this.ports.heads()) common.set(origin, head.seq);
      return common;
    }
    for (const [origin, seq] of this.acknowledgedBy.get(first) ?? []) {
      let least = seq;
      for (const region of regions)
        least = Math.min(least, this.acknowledgedBy.get(region)?.get(origin) ?? 0);
      if (least > 0) common.set(origin, least);
    }
    return common;
  }

  /** Starts sweeping every ARCHIVE_SWEEP_MS. */
  start(): void {
    if (this.stopped || this.timer !== null) return;
    this.timer = this.ports.clock.setTimer(ARCHIVE_SWEEP_MS, () => {
      this.timer = null;
      void this.sweep().then(
        (moved) => {
          if (moved.segments > 0 || moved.entries > 0)
            this.ports.logger.debug({ ...moved }, 'moved acknowledged segments to the archive');
          this.start();
        },
        (error: unknown) => {
          if (this.stopped) return;
          this.stopped = true;
          this.ports.logger.error(
            { err: error },
            'archiving stopped: a move failed (nothing is lost; a restart resumes it)',
          );
        },
      );
    });
  }

  /** Stops sweeping (the replica is closing). */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
  }

  /** One sweep: for each origin, up to ARCHIVE_SWEEP_STEPS_MAX steps, then the tenant index. */
  async sweep(): Promise<ArchiveSweep> {
    const cutoff = this.ports.clock.now() - this.afterMs;
    const acknowledged = this.acknowledged();
    const archived = await this.ports.store.archivedSeqs();
    const bases = new Map((await this.ports.store.bases()).map((base) => [base.origin, base.seq]));
    let segments = 0;
    let events = 0;
    for (const [origin, head] of [...this.ports.heads()]) {
      const limit = Math.min(acknowledged.get(origin) ?? 0, head.seq);
      // A log that starts after a base (joined by checkpoint) moves from there on; the store moves
      // what it held below the base first, where that continues the archive.
      let from = Math.max(archived[origin] ?? 0, bases.get(origin) ?? 0) + 1;
      for (let step = 0; step < ARCHIVE_SWEEP_STEPS_MAX && from <= limit && !this.stopped; step++) {
        const through = await this.movableThrough(origin, from, limit, cutoff);
        if (through < from) break;
        const moved = await this.ports.store.archiveSegments(origin, through);
        if (moved.segments === 0) break;
        segments += moved.segments;
        events += moved.events;
        from = Math.max(moved.throughSeq, bases.get(origin) ?? 0) + 1;
      }
    }
    const scan = !this.stopped && (segments > 0 || this.lastEntries > 0);
    const entries = scan ? await this.ports.store.archiveTenantIndex() : 0;
    this.lastEntries = entries;
    return { segments, events, entries };
  }

  /**
   * The last seq of the run of segments from `from` that may move: each ends at or below `limit`
   * and its newest event is at or before `cutoff`; at most ARCHIVE_SCAN_SEGMENTS_MAX. `from − 1`
   * when none may.
   */
  private async movableThrough(
    origin: OriginId,
    from: number,
    limit: number,
    cutoff: number,
  ): Promise<number> {
    let through = from - 1;
    let scanned = 0;
    while (scanned < ARCHIVE_SCAN_SEGMENTS_MAX) {
      const page = await this.ports.store.readSegments(origin, through + 1, RECOVERY_PAGE_SEGMENTS);
      if (page.length === 0) return through;
      for (const segment of page) {
        if (segment.lastSeq > limit || newestAt(segment) > cutoff || scanned === ARCHIVE_SCAN_SEGMENTS_MAX)
          return through;
        through = segment.lastSeq;
        scanned += 1;
      }
    }
    return through;
  }
}
