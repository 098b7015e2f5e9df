/**
 * Storage faults of the MemoryStore, for the simulator (issue 15): the ways a real disk under
 * LevelDB lies, applied to the store's raw records (sealed bytes by key) so that every read still
 * goes through the record seals (CRC-32C of key ‖ payload, records.ts):
 * - `torn-tail`: the last commit was half written. LevelDB drops a write-ahead-log record whose
 *   checksum fails at its end, so the whole last commit is gone and the commits before it stay.
 * - `lost-wal`: the write-ahead log is gone: what survives is the image of the last compaction (a
 *   consistent older state, as LevelDB's tables are), every commit since is lost.
 * - `corrupt-middle` / `corrupt-end`: one bit flipped in one log record, in the middle or at the end
 *   of a log: every read of it fails its seal with a StoreCorruptError, never serves it.
 * - `misdirected-read`: reads of one log record return the bytes of its neighbour (a firmware
 *   misdirect): the seal binds the key, so the read fails as corrupt.
 * - `stale-read`: reads of the heads return their values as of the last compaction (an older version
 *   of each key, as from a table a lost manifest edit left behind): sealed correctly, so only the
 *   reader's own checks can notice.
 * - `old-backup`: the disk was restored from a backup taken at an earlier compaction.
 * Deterministic: the caller passes its own random choice (`pick`). No clock, timers or `node:`.
 */
import { parseHeadKey, parseSegmentKey, segmentKey } from './keys.js';
import { COMPACTION_BACKUPS_KEPT, COMPACTION_COMMITS } from './limits.js';

/** One way a disk lies (see the file's doc). */
export type StorageDamage =
  | 'torn-tail'
  | 'lost-wal'
  | 'corrupt-middle'
  | 'corrupt-end'
  | 'misdirected-read'
  | 'stale-read'
  | 'old-backup';

/** Every storage damage, in the order above. */
export const STORAGE_DAMAGES: readonly StorageDamage[] = [
  'torn-tail',
  'lost-wal',
  'corrupt-middle',
  'corrupt-end',
  'misdirected-read',
  'stale-read',
  'old-backup',
];

/** Damages after which a correct store must refuse what it reads: a seal fails. */
export const DETECTABLE_DAMAGES: ReadonlySet<StorageDamage> = new Set([
  'corrupt-middle',
  'corrupt-end',
  'misdirected-read',
]);

/** A random choice in [0, n): the simulator's seeded stream. */
export type Pick = (n: number) => number;

/** What a damage did to a disk. */
export interface DamageReport {
  readonly damage: StorageDamage;
  /** One line: what was lost or damaged. */
  readonly detail: string;
  /** Keys whose reads now return bytes that are not theirs (their seal must fail). */
  readonly damagedKeys: readonly string[];
  /** Durable commits the damage took away (torn tail, lost WAL, old backup). */
  readonly commitsLost: number;
}

/** The records of a memory image that faults reach: key → sealed value (segments among them). */
export type RawLogs = Map<string, Uint8Array>;

/** A read-path fault: the bytes a read of `key` returns instead of `bytes`. */
export type ReadFault = (key: string, bytes: Uint8Array) => Uint8Array;

/**
 * The durable commits of one disk as LevelDB keeps them: the image of the last compaction (its
 * tables), the commits since (its write-ahead log), and the images of a few earlier compactions
 * (backups). A compaction happens every COMPACTION_COMMITS durable commits.
 *
 * Only the oldest kept image is held whole (`base`); each later one is the changes that lead to it
 * from the one before, replayed when a fault asks for it. A compaction then costs its changes, not a
 * copy of the whole disk: a copy per compaction grew with the disk (quadratic over a run), and was
 * the simulator's largest single cost in bench:sim.
 */
export class DiskHistory<I, P> {
  /** The image of the oldest backup kept; of the last compaction when none is kept. */
  private base: I;
  /** The changes from each kept image to the next; the last leads to the last compaction. */
  private intervals: ((image: I) => void)[][] = [];
  /** Every change since the last compaction: its commits, and records damaged in place. */
  private pending: ((image: I) => void)[] = [];
  /** The commits since the last compaction (the write-ahead log). */
  private wal: P[] = [];

  constructor(
    empty: I,
    private readonly copy: (image: I) => I,
    private readonly replay: (image: I, plan: P) => void,
  ) {
    this.base = copy(empty);
  }

  /** Commits in the write-ahead log (since the last compaction). */
  get walCommits(): number {
    return this.wal.length;
  }

  /** Backups kept (images of earlier compactions). */
  get backupCount(): number {
    return this.intervals.length;
  }

  /** `plan` became durable (the caller's image holds it already). */
  committed(plan: P): void {
    this.wal.push(plan);
    this.pending.push((image) => this.replay(image, plan));
    if (this.wal.length < COMPACTION_COMMITS) return;
    this.intervals.push(this.pending);
    this.pending = [];
    this.wal = [];
    if (this.intervals.length > COMPACTION_BACKUPS_KEPT) {
      // The oldest backup goes: the base moves on to the next one, in place.
      for (const change of this.intervals.shift() ?? []) change(this.base);
    }
  }

  /**
   * The durable image was changed in place outside a commit (a record damaged on disk): the next
   * compaction holds the change; a loss of the write-ahead log before it takes it away.
   */
  changed(change: (image: I) => void): void {
    this.pending.push(change);
  }

  /** A copy of the image of kept compaction `index` (0: the oldest backup; backupCount: the last). */
  private imageAt(index: number): I {
    const image = this.copy(this.base);
    for (const interval of this.intervals.slice(0, index)) for (const change of interval) change(image);
    return image;
  }

  /** The image of the last compaction (a copy). */
  compactedImage(): I {
    return this.imageAt(this.intervals.length);
  }

  /**
   * The image a damage that loses commits leaves: the last compaction plus the first `keep` commits
   * of the WAL; the WAL then holds those only. Returns the image and how many commits were lost.
   */
  truncate(keep: number): { image: I; lost: number } {
    const kept = this.wal.slice(0, Math.max(0, Math.min(keep, this.wal.length)));
    const lost = this.wal.length - kept.length;
    const image = this.compactedImage();
    for (const plan of kept) this.replay(image, plan);
    this.wal = kept;
    this.pending = kept.map((plan) => (into: I) => this.replay(into, plan));
    return { image, lost };
  }

  /**
   * The image of backup `index` (0: the oldest kept), the WAL and later backups gone, as after a
   * restore; null when no backup is kept.
   */
  restore(index: number): { image: I; lost: number } | null {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.intervals.length) return null;
    const lost = (this.intervals.length - index) * COMPACTION_COMMITS + this.wal.length;
    const image = this.imageAt(index);
    // That backup is the last compaction now; the ones after it and the WAL are gone.
    this.intervals = this.intervals.slice(0, index);
    this.pending = [];
    this.wal = [];
    return { image, lost };
  }
}

/** A copy of `bytes` with bit `bit` (0 = lowest of the first byte) flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  if (!Number.isSafeInteger(bit) || bit < 0 || bit >= bytes.length * 8) {
    throw new RangeError(`bit ${bit} is not in a value of ${bytes.length} bytes`);
  }
  const copy = bytes.slice();
  copy[bit >>> 3] = (copy[bit >>> 3] as number) ^ (1 << (bit & 7));
  return copy;
}

/**
 * The logs with segments enough for `damage`: per origin the lastSeq of each stored segment, in
 * order, origins in sorted order (deterministic).
 */
function candidates(image: RawLogs, minimum: number): [string, number[]][] {
  const logs = new Map<string, number[]>();
  for (const key of image.keys()) {
    const segment = parseSegmentKey(key);
    if (segment === null) continue;
    const list = logs.get(segment.origin) ?? [];
    logs.set(segment.origin, list);
    list.push(segment.lastSeq);
  }
  for (const list of logs.values()) list.sort((a, b) => a - b);
  return [...logs].filter(([, log]) => log.length >= minimum).sort(([a], [b]) => (a < b ? -1 : 1));
}

/**
 * Flips one bit of one log segment of `image` in place: the last segment of a log (`end`) or one
 * before its last (`middle`). Null when no log has segments enough.
 */
export function corruptRecord(
  image: RawLogs,
  where: 'middle' | 'end',
  pick: Pick,
): { key: string; detail: string } | null {
  const logs = candidates(image, where === 'middle' ? 2 : 1);
  if (logs.length === 0) return null;
  const [origin, log] = logs[pick(logs.length)] as [string, number[]];
  const index = where === 'end' ? log.length - 1 : pick(log.length - 1);
  const key = segmentKey(origin, log[index] as number);
  const bytes = image.get(key) as Uint8Array;
  const bit = pick(bytes.length * 8);
  image.set(key, flipBit(bytes, bit));
  return { key, detail: `bit ${bit} of ${key} (${where} of a log of ${log.length} segments) flipped` };
}

/**
 * A read fault returning, for one log segment of `image`, the bytes of its neighbour in the same
 * log. Null when no log has two segments.
 */
export function misdirectedRead(image: RawLogs, pick: Pick): { key: string; read: ReadFault } | null {
  const logs = candidates(image, 2);
  if (logs.length === 0) return null;
  const [origin, log] = logs[pick(logs.length)] as [string, number[]];
  const index = pick(log.length);
  const other = index === 0 ? 1 : index - 1;
  const key = segmentKey(origin, log[index] as number);
  const wrong = image.get(segmentKey(origin, log[other] as number)) as Uint8Array;
  return { key, read: (read, bytes) => (read === key ? wrong.slice() : bytes) };
}

/** A read fault returning the values `older` holds for keys it has (stale versions), else the current. */
export function staleRead(older: ReadonlyMap<string, Uint8Array>): ReadFault {
  return (key, bytes) => older.get(key)?.slice() ?? bytes;
}

/** What a damage leaves: the image a restart finds, the report's lines, and a read fault if any. */
export interface DamagedDisk {
  readonly image: RawLogs;
  readonly detail: string;
  readonly damagedKeys: string[];
  readonly commitsLost: number;
  readonly readFault: ReadFault | null;
}

/**
 * Does `damage` to a disk whose durable image is `durable` (changed in place by a corruption) and
 * whose history is `disk` (`pick` draws which record, which bit, which backup). Null when the disk
 * has nothing the damage can reach (then nothing happened).
 */
export function damageDisk<P>(
  durable: RawLogs,
  disk: DiskHistory<RawLogs, P>,
  damage: StorageDamage,
  pick: Pick,
): DamagedDisk | null {
  let image = durable;
  let detail: string;
  let damagedKeys: string[] = [];
  let commitsLost = 0;
  let readFault: ReadFault | null = null;
  if (damage === 'torn-tail' || damage === 'lost-wal') {
    if (disk.walCommits === 0) return null;
    const cut = disk.truncate(damage === 'lost-wal' ? 0 : disk.walCommits - 1);
    image = cut.image;
    commitsLost = cut.lost;
    detail =
      damage === 'lost-wal'
        ? `the write-ahead log is lost: ${commitsLost} commits since the last compaction are gone`
        : 'the last commit was half written: it is dropped whole, as LevelDB drops a torn record';
  } else if (damage === 'old-backup') {
    const restored = disk.restore(pick(Math.max(1, disk.backupCount)));
    if (restored === null) return null;
    image = restored.image;
    commitsLost = restored.lost;
    detail = `the disk is restored from a backup ${commitsLost} commits old`;
  } else if (damage === 'corrupt-middle' || damage === 'corrupt-end') {
    const done = corruptRecord(durable, damage === 'corrupt-end' ? 'end' : 'middle', pick);
    if (done === null) return null;
    // In place on the disk the store restarts on: later compactions hold the damaged record.
    const damaged = durable.get(done.key) as Uint8Array;
    disk.changed((image) => image.set(done.key, damaged));
    damagedKeys = [done.key];
    detail = done.detail;
  } else if (damage === 'misdirected-read') {
    const fault = misdirectedRead(durable, pick);
    if (fault === null) return null;
    damagedKeys = [fault.key];
    readFault = fault.read;
    detail = `reads of ${fault.key} return its neighbour's bytes`;
  } else {
    const older = new Map([...disk.compactedImage()].filter(([key]) => parseHeadKey(key) !== null));
    if (older.size === 0) return null;
    readFault = staleRead(older);
    detail = `reads of the ${older.size} heads return their values as of the last compaction`;
  }
  return { image, detail, damagedKeys, commitsLost, readFault };
}
