/**
 * A MemoryStore's archive (archive.ts) over its disk (memory-disk.ts): read from the disk's archive
 * files on first use and checked against what the image held when the store was made, as
 * LevelStore.open checks it; the reads in flight, under which an archive step deletes no live
 * record; the archive steps, one at a time, over the disk's live records (archive-moves.ts); and a
 * log's segments read through it, the archived ones first.
 */
import type { OriginId } from '@allot/core';
import type { ArchiveStep, LogHead, StoredSegment } from '@allot/replica';
import { Archive, archivedAndLive } from './archive.js';
import type { ArchiveHash } from './archive-format.js';
import { type LiveRecords, moveSegments, moveTenantIndex, ReadTracker } from './archive-moves.js';
import { StoreInvariantError } from './errors.js';
import { OneAtATime } from './gate.js';
import { memoryLiveRecords } from './memory-archive.js';
import type { MemoryDisk } from './memory-disk.js';
import { liveSegments } from './memory-reads.js';

const noArchiveHash: ArchiveHash = () => {
  throw new StoreInvariantError('this MemoryStore was made without archiveHash: it keeps no archive');
};

/** The archive of one MemoryStore, the reads it waits for and the steps that move records into it. */
export class MemoryArchiving {
  /** The archive, read from its files on first use; reads in flight; archive steps, one at a time. */
  private archiveOpened: Promise<Archive> | null = null;
  private readonly reads = new ReadTracker();
  private readonly moves = new OneAtATime();
  /** The heads and entry counter the image held when this store was made: the archive is checked against them. */
  private readonly opened: {
    readonly heads: Map<OriginId, number>;
    readonly lastEntry: number;
    readonly bases: Map<OriginId, LogHead>;
  };
  /** The live records an archive step reads and deletes; a deletion is synced (durable with all before it). */
  private readonly live: LiveRecords;

  constructor(
    private readonly disk: MemoryDisk,
    /** SHA-256, which the archive checks its files with; without it, no archive (MemoryStoreOptions). */
    private readonly archiveHash: ArchiveHash | undefined,
    /** Deletes live records an archive step moved, synced. */
    remove: (keys: readonly string[]) => void,
  ) {
    this.opened = {
      heads: new Map([...disk.state.heads].map(([origin, head]) => [origin, head.seq])),
      lastEntry: disk.state.lastEntry,
      bases: new Map(disk.state.bases),
    };
    this.live = memoryLiveRecords({
      index: () => disk.index,
      visible: () => disk.visible,
      readValue: (key, bytes) => disk.read(key, bytes),
      remove,
    });
  }

  /** Tracks `read` until it settles, so that an archive step deletes no live record it may still use. */
  track<T>(read: Promise<T>): Promise<T> {
    return this.reads.track(read);
  }

  /** The archive, read and checked from its files on first use. */
  archive(): Promise<Archive> {
    this.archiveOpened ??= Archive.open(this.disk.archiveFiles, this.archiveHash ?? noArchiveHash).then(
      (archive) => {
        archive.checkLiveStore(
          (origin) => this.opened.heads.get(origin) ?? 0,
          this.opened.lastEntry,
          (origin) => this.opened.bases.get(origin),
        );
        return archive;
      },
    );
    return this.archiveOpened;
  }

  /** The archived segments from `fromSeq` first, then the live ones past them (as LevelStore's). */
  async segments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    const archive = await this.archive(); // first: a store whose archive was refused reads nothing
    const head = this.disk.state.heads.get(origin)?.seq;
    return archivedAndLive(archive, origin, fromSeq, head, limit, async (from, to, count) => {
      const run: StoredSegment[] = [];
      liveSegments(this.disk, origin, from, to, count, run);
      return run;
    });
  }

  /** One step of moving `origin`'s segments through `throughSeq` to the archive, after the steps before it. */
  moveSegments(origin: OriginId, throughSeq: number): Promise<ArchiveStep> {
    const head = () => this.disk.state.heads.get(origin)?.seq ?? 0;
    const base = () => this.disk.state.bases.get(origin);
    return this.moves.run(async () =>
      moveSegments(await this.archive(), this.live, this.reads, origin, throughSeq, head, base),
    );
  }

  /** One step of moving the tenant index entries of archived events, after the steps before it. */
  moveTenantIndex(): Promise<number> {
    return this.moves.run(async () =>
      moveTenantIndex(
        await this.archive(),
        this.live,
        this.reads,
        (origin) => this.disk.state.bases.get(origin)?.seq ?? 0,
      ),
    );
  }
}
