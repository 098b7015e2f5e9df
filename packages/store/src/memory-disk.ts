/**
 * The disk under a MemoryStore (memory-store.ts), with the crash semantics of a real one: the
 * durable image, and the visible image a commit changes at once (with the sorted positions reads
 * find records by, and the commit state read back from it); the commits since the last sync, which
 * a crash loses; the history a storage fault replays and the read fault a lying disk has
 * (memory-faults.ts); and the archive's files. A restart is a new MemoryDisk on what survived, with
 * the same history and archive files.
 */
import { applyPlan, type CommitPlan, type CommitState } from './commit-plan.js';
import { parseSegmentKey } from './keys.js';
import { MemoryArchiveFiles } from './memory-archive.js';
import { DiskHistory, type ReadFault } from './memory-faults.js';
import { type DiskWrite, type Image, indexOf, type KeyIndex, writePlan } from './memory-image.js';
import { commitStateOf, type MemoryView } from './memory-reads.js';

/** A MemoryStore's disk: what survives a crash, what is only visible, and how a crash tells them apart. */
export class MemoryDisk implements MemoryView {
  /** What reads see: every commit, synced or not. */
  readonly visible: Image;
  /** The sorted positions of the visible image's records (memory-image.ts). */
  readonly index: KeyIndex;
  /** What commits are checked against, as the visible image holds it. */
  readonly state: CommitState;
  /** Commits since the last sync, oldest first: what a crash loses. */
  private unsynced: DiskWrite[] = [];

  constructor(
    /** What survives a crash. */
    readonly durable: Image,
    readonly archiveFiles: MemoryArchiveFiles = new MemoryArchiveFiles(),
    readonly history: DiskHistory<Image, DiskWrite> = new DiskHistory(
      durable,
      (image) => new Map(image),
      (image, plan) => writePlan(image, plan, null),
    ),
    /** A read-path storage fault (memory-faults.ts), until `healReads()`. */
    private readFault: ReadFault | null = null,
  ) {
    this.visible = new Map(durable);
    this.index = indexOf(durable);
    this.state = commitStateOf(durable);
  }

  /** The disk a restart finds on `image` of this disk, its reads going through `readFault`. */
  restartOn(image: Image, readFault: ReadFault | null): MemoryDisk {
    return new MemoryDisk(image, this.archiveFiles, this.history, readFault);
  }

  /**
   * The disk a restart finds after a crash: the durable image. A lying disk still lies after another
   * crash: its read fault lasts until healReads (swarm seed 11912: eu crashed again before it
   * restarted on a misdirected read, the fault was dropped, and eu opened on a disk it should have
   * refused).
   */
  restarted(): MemoryDisk {
    return this.restartOn(this.durable, this.readFault);
  }

  /**
   * Makes the first `keep` unsynced commits durable, as a crash after the OS wrote them back would:
   * a prefix, as LevelDB's write-ahead log is replayed in order.
   */
  keepUnsynced(keep: number): void {
    if (!Number.isSafeInteger(keep) || keep < 0 || keep > this.unsynced.length) {
      throw new RangeError(`keepUnsyncedCommits ${keep} is not from 0 to ${this.unsynced.length}`);
    }
    for (const plan of this.unsynced.slice(0, keep)) this.makeDurable(plan);
  }

  /** How many events of each origin's log the disk holds durably (what a crash now would keep). */
  durableSeqs(): Record<string, number> {
    const seqs: Record<string, number> = {};
    for (const key of this.durable.keys()) {
      const segment = parseSegmentKey(key);
      if (segment !== null) seqs[segment.origin] = Math.max(seqs[segment.origin] ?? 0, segment.lastSeq);
    }
    return seqs;
  }

  /** Ends a read-path fault: reads return what the disk holds again. */
  healReads(): void {
    this.readFault = null;
  }

  /** The bytes a read of `key` gets: what the image holds, unless a read fault says otherwise. */
  read(key: string, bytes: Uint8Array): Uint8Array {
    return this.readFault === null ? bytes : this.readFault(key, bytes);
  }

  /** Makes a commit visible (image, positions, commit state); it is durable once flushed. */
  write(plan: CommitPlan): void {
    writePlan(this.visible, plan, this.index);
    applyPlan(this.state, plan);
    this.unsynced.push(plan);
  }

  /** Deletes live records (an archive step moved them) from the visible image; durable once flushed. */
  remove(keys: readonly string[]): void {
    const deletion = { deletes: [...keys] };
    writePlan(this.visible, deletion, this.index);
    this.unsynced.push(deletion);
  }

  private makeDurable(plan: DiskWrite): void {
    writePlan(this.durable, plan, null);
    this.history.committed(plan);
  }

  /** Makes every commit so far durable, as an fsync (or the OS writing its cache back) would. */
  flush(): void {
    for (const plan of this.unsynced) this.makeDurable(plan);
    this.unsynced = [];
  }

  /** Commits that a crash would lose now. */
  get unsyncedCommits(): number {
    return this.unsynced.length;
  }
}
