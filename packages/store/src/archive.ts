/**
 * The archive of a data directory (DESIGN.md §2 "Checkpoints and retention"): segments moved out of
 * the live store, and the tenant index entries that point only at them, as immutable files plus a
 * manifest per directory (archive-format.ts). One class over a directory of files (ArchiveFiles:
 * the file system for LevelStore, a map for MemoryStore), so both stores archive alike. Appending a
 * file writes the file durably, then the manifest that lists it, each atomically: a crash leaves
 * either the old manifest (and perhaps a file it does not list, overwritten by the redo) or the new.
 * Every read checks the file against its manifest line and the segment chain; a damaged file is a
 * StoreCorruptError naming it. Verified files are kept decoded in a small cache (ARCHIVE_CACHE_FILES).
 */
import type { OriginId, TenantId } from '@allot/core';
import type { LogHead, StoredSegment } from '@allot/replica';
import {
  ARCHIVE_FORMAT,
  ARCHIVE_INDEX_DIR,
  ARCHIVE_INDEX_FORMAT,
  ARCHIVE_MANIFEST,
  type ArchivedIndexRecord,
  type ArchiveHash,
  type ArchiveIndexManifest,
  type ArchiveManifest,
  bytesOfHex,
  decodeIndexFile,
  decodeSegmentFile,
  encodeIndexFile,
  encodeSegmentFile,
  hexOf,
} from './archive-format.js';
import { decodeIndexManifest, decodeManifest, encodeManifest } from './archive-manifest.js';
import { StoreCorruptError, StoreInvariantError } from './errors.js';
import { parseTenantKey, tenantKey, tenantRange } from './keys.js';
import { ARCHIVE_CACHE_FILES, HASH_BYTES } from './limits.js';
import { checkSegmentRun, type TenantHit } from './log-reads.js';

/** The directory the archive lives in: files written whole, atomically and durably. */
export interface ArchiveFiles {
  /** Where the file `name` of `dir` is, for messages (a path on disk, or a name in memory). */
  where(dir: string, name: string): string;
  /** The bytes of `dir/name`, or undefined when there is no such file. */
  read(dir: string, name: string): Promise<Uint8Array | undefined>;
  /** Writes `dir/name` whole: after a crash either the old file (or none) is there, or all of this one. */
  write(dir: string, name: string, bytes: Uint8Array): Promise<void>;
  /** The subdirectories of the archive (an origin's each, and the tenant index's). */
  dirs(): Promise<string[]>;
}

/** How much the archive holds. */
export interface ArchiveUsage {
  readonly files: number;
  readonly bytes: number;
}

/** The archive of one data directory, loaded and checked at open. */
export class Archive {
  private readonly cache = new Map<string, StoredSegment[] | ArchivedIndexRecord[]>();

  private constructor(
    private readonly files: ArchiveFiles,
    private readonly hash: ArchiveHash,
    private readonly manifests: Map<OriginId, ArchiveManifest>,
    private index: ArchiveIndexManifest,
  ) {}

  /** Reads and checks every manifest under `files`; a damaged one is a StoreCorruptError naming it. */
  static async open(files: ArchiveFiles, hash: ArchiveHash): Promise<Archive> {
    const manifests = new Map<OriginId, ArchiveManifest>();
    let index: ArchiveIndexManifest = { format: ARCHIVE_INDEX_FORMAT, entryThrough: 0, files: [] };
    for (const dir of await files.dirs()) {
      const bytes = await files.read(dir, ARCHIVE_MANIFEST);
      if (bytes === undefined) continue; // a first file whose manifest never came: not archived yet
      const path = files.where(dir, ARCHIVE_MANIFEST);
      if (dir === ARCHIVE_INDEX_DIR) index = decodeIndexManifest(hash, path, bytes);
      else manifests.set(dir, decodeManifest(hash, path, dir, bytes));
    }
    return new Archive(files, hash, manifests, index);
  }

  /**
   * Throws a StoreCorruptError (naming the manifest) unless the live store holds at least what the
   * archive does: each origin's head at or past its archived seqs, the entry counter at or past the
   * archived index. A live store behind its archive lost commits (a disk that dropped synced
   * writes, an old backup of the database beside a newer archive): serving from it would fork logs.
   * A file past a gap starts at or below the origin's log base (`baseOf`: bases only rise), and one
   * that starts right after it chains to its hash: a gap nothing explains is damage.
   */
  checkLiveStore(
    headSeq: (origin: OriginId) => number,
    lastEntry: number,
    baseOf: (origin: OriginId) => LogHead | undefined,
  ): void {
    for (const [origin, manifest] of this.manifests) {
      const through = this.throughSeq(origin);
      const where = this.files.where(origin, ARCHIVE_MANIFEST);
      if (headSeq(origin) < through)
        throw StoreCorruptError.inFile(
          where,
          `the archive holds the log of ${manifest.origin} to seq ${through}, past its head in the live store (seq ${headSeq(origin)}): the live store lost commits`,
        );
      const base = baseOf(origin);
      let expected = 1;
      for (const file of manifest.files) {
        if (file.firstSeq > expected) {
          if (base === undefined || file.firstSeq - 1 > base.seq)
            throw StoreCorruptError.inFile(
              where,
              `${file.name} starts past a gap (seqs from ${expected}) that no log base of the live store explains`,
            );
          if (file.firstSeq - 1 === base.seq && file.prevHash !== hexOf(base.hash))
            throw StoreCorruptError.inFile(
              where,
              `${file.name} does not chain to the log base of ${origin} at seq ${base.seq}`,
            );
        }
        expected = file.lastSeq + 1;
      }
    }
    if (this.index.entryThrough > lastEntry)
      throw StoreCorruptError.inFile(
        this.files.where(ARCHIVE_INDEX_DIR, ARCHIVE_MANIFEST),
        `the archived tenant index reaches entry ${this.index.entryThrough}, past the live store's counter (${lastEntry}): the live store lost commits`,
      );
  }

  /** The last seq of `origin`'s log held in the archive (0 when none is). */
  throughSeq(origin: OriginId): number {
    const files = this.manifests.get(origin)?.files ?? [];
    return files[files.length - 1]?.lastSeq ?? 0;
  }

  /** The archived file of `origin` that holds `seq`, or undefined (a seq past a gap, or not archived). */
  private fileHolding(origin: OriginId, seq: number): ArchiveManifest['files'][number] | undefined {
    const files = this.manifests.get(origin)?.files ?? [];
    let low = 0;
    let high = files.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((files[middle] as ArchiveManifest['files'][number]).lastSeq < seq) low = middle + 1;
      else high = middle;
    }
    const file = files[low];
    return file !== undefined && file.firstSeq <= seq ? file : undefined;
  }

  /** The first seq of `origin`'s last archived file (1 when none is). */
  lastFileFrom(origin: OriginId): number {
    const files = this.manifests.get(origin)?.files ?? [];
    return files[files.length - 1]?.firstSeq ?? 1;
  }

  /** Whether the archive holds seq `seq` of `origin`'s log. */
  holds(origin: OriginId, seq: number): boolean {
    return this.fileHolding(origin, seq) !== undefined;
  }

  /**
   * The first seq past `seq` the archive holds of `origin`'s log after one it does not (where its
   * next run starts past a gap); infinity when none.
   */
  nextRunAfter(origin: OriginId, seq: number): number {
    for (const file of this.manifests.get(origin)?.files ?? []) if (file.firstSeq > seq) return file.firstSeq;
    return Number.POSITIVE_INFINITY;
  }

  /** The last seq archived of every origin with an archive. */
  throughSeqs(): Record<OriginId, number> {
    const seqs: Record<OriginId, number> = {};
    for (const origin of [...this.manifests.keys()].sort()) seqs[origin] = this.throughSeq(origin);
    return seqs;
  }

  /** Every tenant index entry numbered up to this one is archived (and none of them live). */
  get entryThrough(): number {
    return this.index.entryThrough;
  }

  /** Files and bytes archived. */
  usage(): ArchiveUsage {
    let files = this.index.files.length;
    let bytes = this.index.files.reduce((sum, file) => sum + file.bytes, 0);
    for (const manifest of this.manifests.values()) {
      files += manifest.files.length;
      for (const file of manifest.files) bytes += file.bytes;
    }
    return { files, bytes };
  }

  /** The chain hash of `origin`'s last archived segment (zeros when none is). */
  private lastHash(origin: OriginId): Uint8Array {
    const files = this.manifests.get(origin)?.files ?? [];
    const hex = files[files.length - 1]?.lastHash;
    return hex === undefined ? new Uint8Array(HASH_BYTES) : bytesOfHex(hex);
  }

  private remember<T extends StoredSegment[] | ArchivedIndexRecord[]>(path: string, value: T): T {
    this.cache.delete(path);
    this.cache.set(path, value);
    while (this.cache.size > ARCHIVE_CACHE_FILES) this.cache.delete(this.cache.keys().next().value as string);
    return value;
  }

  private async readFile(dir: string, name: string): Promise<Uint8Array> {
    const bytes = await this.files.read(dir, name);
    if (bytes === undefined)
      throw StoreCorruptError.inFile(this.files.where(dir, name), 'listed in its manifest, missing');
    return bytes;
  }

  /**
   * Up to `limit` archived segments of `origin` from the one holding `fromSeq` (none when the
   * archive does not hold it), up to the next gap: a run of the log. Each file is checked against
   * its manifest line and chain as it is read.
   */
  async segments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]> {
    const files = this.manifests.get(origin)?.files ?? [];
    const out: StoredSegment[] = [];
    const from = this.fileHolding(origin, fromSeq);
    if (from === undefined) return out;
    let expected = from.firstSeq;
    for (let i = files.indexOf(from); i < files.length && out.length < limit; i++) {
      const file = files[i] as ArchiveManifest['files'][number];
      if (file.firstSeq !== expected) break; // a gap: the run ends
      expected = file.lastSeq + 1;
      const path = this.files.where(origin, file.name);
      let segments = this.cache.get(path) as StoredSegment[] | undefined;
      if (segments === undefined) {
        const bytes = await this.readFile(origin, file.name);
        segments = this.remember(path, decodeSegmentFile(this.hash, path, origin, file, bytes));
      } else this.remember(path, segments);
      for (const segment of segments) {
        if (segment.lastSeq < fromSeq) continue;
        if (out.length === limit) break;
        out.push(segment);
      }
    }
    return out;
  }

  /** Up to `limit` archived index entries of `tenant` numbered past `after`, in entry order. */
  async tenantHits(tenant: TenantId, after: number, limit: number): Promise<TenantHit[]> {
    const hits: TenantHit[] = [];
    if (after >= this.index.entryThrough) return hits;
    const from = tenantKey(tenant, after + 1);
    const to = tenantRange(tenant, after).lte;
    for (const file of this.index.files) {
      if (hits.length >= limit) break;
      if (file.lastEntry <= after) continue;
      const path = this.files.where(ARCHIVE_INDEX_DIR, file.name);
      let records = this.cache.get(path) as ArchivedIndexRecord[] | undefined;
      if (records === undefined) {
        const bytes = await this.readFile(ARCHIVE_INDEX_DIR, file.name);
        records = this.remember(path, decodeIndexFile(this.hash, path, file, bytes));
      } else this.remember(path, records);
      let low = 0;
      let high = records.length;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if ((records[middle] as ArchivedIndexRecord).key < from) low = middle + 1;
        else high = middle;
      }
      for (let j = low; j < records.length && hits.length < limit; j++) {
        const { key, value } = records[j] as ArchivedIndexRecord;
        if (key > to) break;
        const parsed = parseTenantKey(key);
        if (parsed === null || parsed.tenant !== tenant)
          throw StoreCorruptError.inFile(
            path,
            `record ${JSON.stringify(key)} is not a key of tenant ${tenant}'s index`,
          );
        if (parsed.entry < file.firstEntry || parsed.entry > file.lastEntry)
          throw StoreCorruptError.inFile(
            path,
            `record ${JSON.stringify(key)} lies outside the file's entries`,
          );
        hits.push({ key, entry: parsed.entry, value });
      }
    }
    return hits;
  }

  /**
   * Appends `segments` (chained, the next of `origin`'s log after what is archived, or the first
   * after its log base `base` when that lies past it) as one file, then the manifest listing it:
   * durable when this resolves.
   */
  async appendSegments(
    origin: OriginId,
    segments: readonly StoredSegment[],
    base: LogHead | undefined,
  ): Promise<void> {
    const through = this.throughSeq(origin);
    const first = segments[0]?.firstSeq;
    const afterBase = base !== undefined && base.seq > through && first === base.seq + 1;
    if (first !== through + 1 && !afterBase)
      throw new StoreInvariantError(
        `archive of ${origin}: the next segment starts at seq ${through + 1}${base === undefined ? '' : ` or ${base.seq + 1}`}, not ${first}`,
      );
    const prevHash = afterBase ? base.hash : this.lastHash(origin);
    const { bytes, entry } = encodeSegmentFile(this.hash, origin, prevHash, segments);
    await this.files.write(origin, entry.name, bytes);
    const manifest: ArchiveManifest = {
      format: ARCHIVE_FORMAT,
      origin,
      files: [...(this.manifests.get(origin)?.files ?? []), entry],
    };
    await this.files.write(origin, ARCHIVE_MANIFEST, encodeManifest(this.hash, manifest));
    this.manifests.set(origin, manifest);
  }

  /**
   * Appends the index `records` (every live one numbered from entryThrough + 1 to `through`, in
   * key order) as one file, then the manifest: durable when this resolves.
   */
  async appendIndex(records: readonly ArchivedIndexRecord[], through: number): Promise<void> {
    if (!(through > this.index.entryThrough))
      throw new StoreInvariantError(
        `archived index: entry ${through} is not past ${this.index.entryThrough}`,
      );
    const { bytes, entry } = encodeIndexFile(this.hash, this.index.entryThrough + 1, through, records);
    await this.files.write(ARCHIVE_INDEX_DIR, entry.name, bytes);
    const manifest: ArchiveIndexManifest = {
      format: ARCHIVE_INDEX_FORMAT,
      entryThrough: through,
      files: [...this.index.files, entry],
    };
    await this.files.write(ARCHIVE_INDEX_DIR, ARCHIVE_MANIFEST, encodeManifest(this.hash, manifest));
    this.index = manifest;
  }

  /** The keys of the last archived index file (what its move deletes from the live store). */
  async lastIndexKeys(): Promise<string[]> {
    const file = this.index.files[this.index.files.length - 1];
    if (file === undefined) return [];
    const path = this.files.where(ARCHIVE_INDEX_DIR, file.name);
    const bytes = await this.readFile(ARCHIVE_INDEX_DIR, file.name);
    return decodeIndexFile(this.hash, path, file, bytes).map((record) => record.key);
  }
}

/**
 * Up to `limit` segments of `origin`'s log (head at `headSeq`; none when undefined) from the one
 * holding `fromSeq`, as both stores read them: where the archive holds a seq, its run; elsewhere the
 * live segments from there up to where the archive's next run starts (`liveRun(from, to, limit)`:
 * those whose last seq lies from `from` to `to`, in order). Checked to be a run of the log
 * (checkSegmentRun): a gap is a StoreCorruptError, never a shorter answer.
 */
export async function archivedAndLive(
  archive: Archive,
  origin: OriginId,
  fromSeq: number,
  headSeq: number | undefined,
  limit: number,
  liveRun: (from: number, to: number, limit: number) => Promise<StoredSegment[]>,
): Promise<StoredSegment[]> {
  const out: StoredSegment[] = [];
  if (headSeq === undefined || fromSeq > headSeq || limit === 0) return out;
  let next = fromSeq;
  while (out.length < limit && next <= headSeq) {
    const run = archive.holds(origin, next)
      ? await archive.segments(origin, next, limit - out.length)
      : await liveRun(next, Math.min(headSeq, archive.nextRunAfter(origin, next) - 1), limit - out.length);
    const last = run[run.length - 1];
    if (last === undefined) break;
    out.push(...run);
    next = last.lastSeq + 1;
  }
  checkSegmentRun(origin, fromSeq, headSeq, out, limit);
  return out;
}
