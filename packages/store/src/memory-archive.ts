/**
 * The archive's files in memory (archive.ts), for MemoryStore: a write is whole and durable once it
 * resolves (as DiskArchiveFiles' temporary file, fsync and rename), so a crash keeps every write
 * that resolved and none that did not. A test may make the next write of a file or of a manifest
 * fail (nothing written), to stop a move at each of its steps.
 */
import type { ArchiveFiles } from './archive.js';
import { ARCHIVE_DIR, ARCHIVE_MANIFEST } from './archive-format.js';
import type { LiveRecords, LiveSegmentRecord } from './archive-moves.js';
import type { KeyValue } from './commit-plan.js';
import { segmentKey, tenantKey } from './keys.js';
import { firstAtLeast, type Image, type KeyIndex } from './memory-image.js';

/** A step of an archive move that a test can make fail: the file, its manifest, or the live delete. */
export type ArchiveStepName = 'file' | 'manifest' | 'delete';

/** The archive directory of a MemoryStore. */
export class MemoryArchiveFiles implements ArchiveFiles {
  private readonly dirsByName = new Map<string, Map<string, Uint8Array>>();
  private readonly failures = new Map<ArchiveStepName, Error>();

  /** `archive/dir/name`. */
  where(dir: string, name: string): string {
    return `${ARCHIVE_DIR}/${dir}/${name}`;
  }

  /** The bytes of `dir/name` (a copy), or undefined. */
  async read(dir: string, name: string): Promise<Uint8Array | undefined> {
    const bytes = this.dirsByName.get(dir)?.get(name);
    return bytes === undefined ? undefined : new Uint8Array(bytes);
  }

  /** Writes `dir/name` whole, unless a failure was set for this kind of write. */
  async write(dir: string, name: string, bytes: Uint8Array): Promise<void> {
    const step: ArchiveStepName = name === ARCHIVE_MANIFEST ? 'manifest' : 'file';
    this.takeFailure(step);
    let files = this.dirsByName.get(dir);
    if (files === undefined) {
      files = new Map();
      this.dirsByName.set(dir, files);
    }
    files.set(name, new Uint8Array(bytes));
  }

  /** The subdirectories, sorted. */
  async dirs(): Promise<string[]> {
    return [...this.dirsByName.keys()].sort();
  }

  /** Every file as `dir/name` → bytes (the stored bytes themselves: a test may damage them). */
  entries(): [string, Uint8Array][] {
    const out: [string, Uint8Array][] = [];
    for (const [dir, files] of this.dirsByName)
      for (const [name, bytes] of files) out.push([`${dir}/${name}`, bytes]);
    return out.sort(([a], [b]) => (a < b ? -1 : 1));
  }

  /** The next `step` fails with `error` and writes nothing. */
  failNext(step: ArchiveStepName, error: Error): void {
    this.failures.set(step, error);
  }

  /** Throws the failure set for `step`, once. */
  takeFailure(step: ArchiveStepName): void {
    const failure = this.failures.get(step);
    if (failure === undefined) return;
    this.failures.delete(step);
    throw failure;
  }
}

/** What a MemoryStore lends an archive step: its index and visible image, and its synced deletion. */
export interface MemoryLive {
  index(): KeyIndex;
  visible(): Image;
  /** The bytes a read of `key` gets (a read fault may change them). */
  readValue(key: string, bytes: Uint8Array): Uint8Array;
  /** Deletes `keys` from the image, synced. */
  remove(keys: readonly string[]): void;
}

/** The live records of a MemoryStore, as an archive step reads and deletes them (archive-moves.ts). */
export function memoryLiveRecords(store: MemoryLive): LiveRecords {
  return {
    segmentRecords: async (origin, fromSeq, toSeq, limit) => {
      const lastSeqs = store.index().segments.get(origin) ?? [];
      const out: LiveSegmentRecord[] = [];
      for (let i = firstAtLeast(lastSeqs, fromSeq); i < lastSeqs.length && out.length < limit; i++) {
        const lastSeq = lastSeqs[i] as number;
        if (lastSeq > toSeq) break;
        const key = segmentKey(origin, lastSeq);
        const value = store.visible().get(key);
        if (value !== undefined) out.push({ key, value: store.readValue(key, value), lastSeq });
      }
      return out;
    },
    tenantRecords: async () => {
      const out: KeyValue[] = [];
      for (const [tenant, entries] of store.index().tenants)
        for (const entry of entries) {
          const key = tenantKey(tenant, entry);
          const value = store.visible().get(key);
          if (value !== undefined) out.push({ key, value: store.readValue(key, value) });
        }
      return out;
    },
    remove: async (keys) => store.remove(keys),
  };
}
