/**
 * The archive's files in memory (archive.ts), for MemoryStore: a write is whole and durable once it
 * resolves (as DiskArchiveFiles' temporary file, fsync and rename), so a crash keeps every write
 * that resolved and none that did not. A test may make the next write of a file or of a manifest
 * fail (nothing written), to stop a move at each of its steps.
 */
import type { ArchiveFiles } from './archive.js';
import { ARCHIVE_DIR, ARCHIVE_MANIFEST } from './archive-format.js';

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
