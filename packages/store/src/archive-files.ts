/**
 * The archive's files on disk (archive.ts), under `<dataDir>/archive/`: each written to a temporary
 * name, fsynced, renamed over its name, and its directory fsynced, so that a crash leaves the old
 * file or the new one, whole. Also `openArchiveDir`, for readers of an archive without a store
 * (`allot audit verify` on an exported copy).
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Archive, type ArchiveFiles } from './archive.js';
import { ARCHIVE_DIR, type ArchiveHash } from './archive-format.js';
import { StoreCorruptError } from './errors.js';

const TEMPORARY = '.tmp';

/** SHA-256 of `bytes`: the archive's hash (as the Crypto port's). */
export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The archive directory `<root>/archive` on disk. */
export class DiskArchiveFiles implements ArchiveFiles {
  /** The archive directory. */
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, ARCHIVE_DIR);
  }

  /** The path of `dir/name`. */
  where(dir: string, name: string): string {
    return join(this.dir, dir, name);
  }

  /** The bytes of `dir/name`, or undefined when it does not exist. */
  async read(dir: string, name: string): Promise<Uint8Array | undefined> {
    try {
      const bytes = await readFile(this.where(dir, name));
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw StoreCorruptError.inFile(this.where(dir, name), `cannot be read: ${(error as Error).message}`);
    }
  }

  /** Writes `dir/name` atomically and durably: temporary file, fsync, rename, fsync of the directory. */
  async write(dir: string, name: string, bytes: Uint8Array): Promise<void> {
    const created = await mkdir(join(this.dir, dir), { recursive: true });
    if (created !== undefined) await fsyncPath(this.dir);
    const path = this.where(dir, name);
    const temporary = `${path}${TEMPORARY}`;
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
    await fsyncPath(join(this.dir, dir));
  }

  /** The subdirectories of the archive (none when it does not exist yet). */
  async dirs(): Promise<string[]> {
    try {
      const entries = await readdir(this.dir, { withFileTypes: true });
      return entries
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name)
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Removes temporary files a crash left behind (a write that never reached its rename). */
  async clearTemporary(): Promise<void> {
    for (const dir of await this.dirs()) {
      for (const name of await readdir(join(this.dir, dir))) {
        if (name.endsWith(TEMPORARY)) await rm(join(this.dir, dir, name), { force: true });
      }
    }
  }
}

/**
 * The archive under `root` (a data directory, or a copy holding its `archive/` directory), its
 * manifests read and checked; its reads check each file as archive.ts says. `hash` is SHA-256.
 */
export async function openArchiveDir(root: string, hash: ArchiveHash): Promise<Archive> {
  return Archive.open(new DiskArchiveFiles(root), hash);
}
