/**
 * Checks a LevelDB data directory's table files before LevelDB opens it.
 *
 * Why: classic-level opens LevelDB with `paranoid_checks` off and reads with `verify_checksums` off,
 * and exposes neither option. So a damaged byte in an `.ldb` file is read as if it were whole. When
 * the damage puts keys out of order, the next compaction that takes the file as input (started by
 * LevelDB itself: after a flush, or a "seek compaction" after enough reads) hits
 * `assert(Compare(key, last_key) > 0)` in TableBuilder::Add and the process aborts (SIGABRT, exit
 * 134); other damage is served as data or cuts an iteration short. This module checks, in
 * JavaScript, what LevelDB would check with those options on: the manifest's records (CRC-32C), and
 * for every table file the manifest lists as live its size, its footer, and the CRC-32C of every
 * block (data, filter, metaindex, index). Only live files: a table left half-written by a crash
 * during a compaction is not in the manifest and LevelDB deletes it at open.
 *
 * The manifest is read as LevelDB reads it: a record cut off by the end of the file (a writer
 * stopped mid-append) is dropped, not an error.
 *
 * What it cannot see: damage after the start (a byte rotting on disk while the node runs), and the
 * write-ahead log (`.log`), whose records LevelDB checks itself at recovery, dropping a damaged tail
 * silently (the replica's tail recovery from peers covers that). The store's per-record checksums
 * (records.ts) catch whatever of this reaches a read.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c, maskCrc } from './crc32c.js';
import { StoreCorruptError } from './errors.js';
import { snappyUncompress } from './snappy.js';

/** LevelDB's table magic number (table/format.h), as the two little-endian halves of the footer's last 8 bytes. */
const TABLE_MAGIC_LO = 0x8b80fb57;
const TABLE_MAGIC_HI = 0xdb477524;
/** Bytes of a table footer: two block handles padded to 40 bytes, and the magic. */
const FOOTER_BYTES = 48;
/** Bytes after each block: its compression type and the masked CRC-32C of contents ‖ type. */
const BLOCK_TRAILER_BYTES = 5;
const NO_COMPRESSION = 0;
const SNAPPY_COMPRESSION = 1;

/** The manifest's log format (db/log_format.h): 32 KiB blocks of records with 7-byte headers. */
const LOG_BLOCK_BYTES = 32 * 1024;
const LOG_HEADER_BYTES = 7;
const RECORD_FULL = 1;
const RECORD_FIRST = 2;
const RECORD_MIDDLE = 3;
const RECORD_LAST = 4;

/** VersionEdit tags (db/version_edit.cc). */
const TAG_COMPARATOR = 1;
const TAG_LOG_NUMBER = 2;
const TAG_NEXT_FILE_NUMBER = 3;
const TAG_LAST_SEQUENCE = 4;
const TAG_COMPACT_POINTER = 5;
const TAG_DELETED_FILE = 6;
const TAG_NEW_FILE = 7;
const TAG_PREV_LOG_NUMBER = 9;

/** A live table file, as the manifest lists it. */
export interface LiveTable {
  readonly level: number;
  readonly number: number;
  readonly size: number;
}

/** What a check found: the live tables and the bytes read. */
export interface LevelDbCheck {
  readonly tables: number;
  readonly bytes: number;
}

/** A cursor over bytes whose reads throw `fail(problem)` when the bytes run out or a varint is bad. */
class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    private readonly fail: (problem: string) => never,
    start = 0,
    readonly end = bytes.length,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint of up to 64 bits, which must be a safe integer here (sizes, offsets, file numbers). */
  varint(what: string): number {
    let value = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (this.pos >= this.end) this.fail(`${what}: truncated varint`);
      const byte = this.bytes[this.pos++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) this.fail(`${what}: ${value} is out of range`);
        return value;
      }
    }
    return this.fail(`${what}: varint longer than 10 bytes`);
  }

  /** `length` bytes, as a view. */
  take(length: number, what: string): Uint8Array {
    if (length > this.end - this.pos) this.fail(`${what}: ${length} bytes past the end`);
    const view = this.bytes.subarray(this.pos, this.pos + length);
    this.pos += length;
    return view;
  }

  /** A varint length followed by that many bytes. */
  lengthPrefixed(what: string): Uint8Array {
    return this.take(this.varint(what), what);
  }
}

function uint32le(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at] as number) |
      ((bytes[at + 1] as number) << 8) |
      ((bytes[at + 2] as number) << 16) |
      ((bytes[at + 3] as number) << 24)) >>>
    0
  );
}

/** The records of a LevelDB log-format file (the manifest), each CRC-checked. */
export function logRecords(bytes: Uint8Array, fail: (problem: string) => never): Uint8Array[] {
  const records: Uint8Array[] = [];
  let pending: Uint8Array[] | null = null;
  let pos = 0;
  while (pos < bytes.length) {
    const leftInBlock = LOG_BLOCK_BYTES - (pos % LOG_BLOCK_BYTES);
    if (leftInBlock < LOG_HEADER_BYTES) {
      pos += leftInBlock; // a block's trailer: too small for a header, zero-filled
      continue;
    }
    // A record cut off by the end of the file was being written when the writer stopped: LevelDB
    // (log::Reader) drops it without a word, and so does this check.
    if (pos + LOG_HEADER_BYTES > bytes.length) break;
    const length = (bytes[pos + 4] as number) | ((bytes[pos + 5] as number) << 8);
    const type = bytes[pos + 6] as number;
    const start = pos + LOG_HEADER_BYTES;
    if (type === 0 && length === 0) {
      pos += leftInBlock; // preallocated zeros (mmap'ed writers): the rest of the block is empty
      continue;
    }
    if (LOG_HEADER_BYTES + length > leftInBlock) {
      fail(`record at offset ${pos} (${length} bytes) runs past its block`);
    }
    if (start + length > bytes.length) break;
    const expected = uint32le(bytes, pos);
    if (maskCrc(crc32c(bytes, pos + 6, start + length)) !== expected) {
      fail(`record at offset ${pos} fails its checksum`);
    }
    const payload = bytes.subarray(start, start + length);
    pos = start + length;
    if (type === RECORD_FULL && pending === null) records.push(payload);
    else if (type === RECORD_FIRST && pending === null) pending = [payload];
    else if (type === RECORD_MIDDLE && pending !== null) pending.push(payload);
    else if (type === RECORD_LAST && pending !== null) {
      pending.push(payload);
      const whole = new Uint8Array(pending.reduce((sum, part) => sum + part.length, 0));
      let at = 0;
      for (const part of pending) {
        whole.set(part, at);
        at += part.length;
      }
      records.push(whole);
      pending = null;
    } else fail(`record at offset ${pos} has type ${type} out of sequence`);
  }
  // A logical record whose last fragment never made it is dropped too (log::Reader does the same).
  return records;
}

/** The live table files after applying every VersionEdit record of a manifest, by file number. */
export function liveTables(records: readonly Uint8Array[], fail: (problem: string) => never): LiveTable[] {
  const live = new Map<string, LiveTable>();
  for (const record of records) {
    const input = new Reader(record, fail);
    while (!input.done) {
      const tag = input.varint('tag');
      switch (tag) {
        case TAG_COMPARATOR:
          input.lengthPrefixed('comparator');
          break;
        case TAG_LOG_NUMBER:
        case TAG_NEXT_FILE_NUMBER:
        case TAG_LAST_SEQUENCE:
        case TAG_PREV_LOG_NUMBER:
          input.varint(`field ${tag}`);
          break;
        case TAG_COMPACT_POINTER:
          input.varint('compaction pointer level');
          input.lengthPrefixed('compaction pointer key');
          break;
        case TAG_DELETED_FILE: {
          const level = input.varint('deleted file level');
          live.delete(`${level}/${input.varint('deleted file number')}`);
          break;
        }
        case TAG_NEW_FILE: {
          const level = input.varint('new file level');
          const number = input.varint('new file number');
          const size = input.varint('new file size');
          input.lengthPrefixed('new file smallest key');
          input.lengthPrefixed('new file largest key');
          live.set(`${level}/${number}`, { level, number, size });
          break;
        }
        default:
          fail(`unknown version edit tag ${tag}`);
      }
    }
  }
  return [...live.values()].sort((a, b) => a.number - b.number);
}

/** A block handle's bounds, checked to lie inside the table before its footer. */
function readHandle(input: Reader, what: string, tableEnd: number, fail: (problem: string) => never) {
  const offset = input.varint(`${what} offset`);
  const size = input.varint(`${what} size`);
  if (offset + size + BLOCK_TRAILER_BYTES > tableEnd) {
    fail(`${what} at ${offset} (${size} bytes) lies outside the table`);
  }
  return { offset, size };
}

/** The contents of the block at `handle` after checking its CRC, uncompressed. */
function readBlock(
  table: Uint8Array,
  handle: { offset: number; size: number },
  what: string,
  fail: (problem: string) => never,
): Uint8Array {
  const end = handle.offset + handle.size;
  const stored = uint32le(table, end + 1);
  if (maskCrc(crc32c(table, handle.offset, end + 1)) !== stored) {
    fail(`${what} at offset ${handle.offset} fails its checksum`);
  }
  const contents = table.subarray(handle.offset, end);
  const type = table[end] as number;
  if (type === NO_COMPRESSION) return contents;
  if (type !== SNAPPY_COMPRESSION) fail(`${what} at offset ${handle.offset} has compression type ${type}`);
  try {
    return snappyUncompress(contents);
  } catch (error) {
    return fail(`${what} at offset ${handle.offset}: ${error instanceof Error ? error.message : error}`);
  }
}

/** The values of a block's entries (block.cc's format: prefix-compressed keys, restart array). */
function blockValues(block: Uint8Array, what: string, fail: (problem: string) => never): Uint8Array[] {
  if (block.length < 4) fail(`${what} is too short`);
  const restarts = uint32le(block, block.length - 4);
  const entriesEnd = block.length - 4 - 4 * restarts;
  if (restarts === 0 || entriesEnd < 0) fail(`${what} has a bad restart count (${restarts})`);
  const input = new Reader(block, fail, 0, entriesEnd);
  const values: Uint8Array[] = [];
  let keyLength = 0;
  while (!input.done) {
    const shared = input.varint(`${what} entry`);
    const unshared = input.varint(`${what} entry`);
    const valueLength = input.varint(`${what} entry`);
    if (shared > keyLength) fail(`${what} has an entry sharing more than its previous key`);
    input.take(unshared, `${what} key`);
    keyLength = shared + unshared;
    values.push(input.take(valueLength, `${what} value`));
  }
  return values;
}

/** Checks one table file's bytes: footer, and the CRC of every block its index and metaindex name. */
export function checkTable(table: Uint8Array, fail: (problem: string) => never): void {
  if (table.length < FOOTER_BYTES) fail(`${table.length} bytes, shorter than a table footer`);
  const footerAt = table.length - FOOTER_BYTES;
  if (
    uint32le(table, table.length - 8) !== TABLE_MAGIC_LO ||
    uint32le(table, table.length - 4) !== TABLE_MAGIC_HI
  ) {
    fail('not a table (bad magic number)');
  }
  const footer = new Reader(table, fail, footerAt, table.length - 8);
  const metaindex = readHandle(footer, 'metaindex block', footerAt, fail);
  const index = readHandle(footer, 'index block', footerAt, fail);
  const named = [
    ...blockValues(readBlock(table, index, 'index block', fail), 'index block', fail).map(
      (value) => ['data block', value] as const,
    ),
    ...blockValues(readBlock(table, metaindex, 'metaindex block', fail), 'metaindex block', fail).map(
      (value) => ['meta block', value] as const,
    ),
  ];
  for (const [what, value] of named) {
    const handle = readHandle(new Reader(value, fail), what, footerAt, fail);
    const end = handle.offset + handle.size;
    if (maskCrc(crc32c(table, handle.offset, end + 1)) !== uint32le(table, end + 1)) {
      fail(`${what} at offset ${handle.offset} fails its checksum`);
    }
  }
}

/** The name LevelDB gives table `number` (db/filename.cc), and the older name it still reads. */
function tableNames(number: number): [string, string] {
  const base = String(number).padStart(6, '0');
  return [`${base}.ldb`, `${base}.sst`];
}

async function readIfPresent(path: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Checks the LevelDB directory `dir` (nothing to check when it has no CURRENT file: a new store):
 * the manifest and every live table. Throws a StoreCorruptError naming the file and the damage.
 */
export async function checkLevelDbFiles(dir: string): Promise<LevelDbCheck> {
  const current = await readIfPresent(join(dir, 'CURRENT'));
  if (current === null) return { tables: 0, bytes: 0 };
  const name = new TextDecoder().decode(current);
  if (!/^MANIFEST-[0-9]+\n$/.test(name)) {
    throw StoreCorruptError.inFile(join(dir, 'CURRENT'), 'does not name a manifest');
  }
  const manifestPath = join(dir, name.trim());
  const manifest = await readIfPresent(manifestPath);
  if (manifest === null) throw StoreCorruptError.inFile(manifestPath, 'missing (named by CURRENT)');
  const failManifest = (problem: string): never => {
    throw StoreCorruptError.inFile(manifestPath, problem);
  };
  const tables = liveTables(logRecords(manifest, failManifest), failManifest);
  let bytes = manifest.length;
  for (const table of tables) {
    const [ldb, sst] = tableNames(table.number);
    let path = join(dir, ldb);
    let contents = await readIfPresent(path);
    if (contents === null) {
      path = join(dir, sst);
      contents = await readIfPresent(path);
    }
    if (contents === null) {
      throw StoreCorruptError.inFile(join(dir, ldb), `missing (a live table of level ${table.level})`);
    }
    const at = path;
    const fail = (problem: string): never => {
      throw StoreCorruptError.inFile(at, problem);
    };
    if (contents.length !== table.size) {
      fail(`${contents.length} bytes, but the manifest says ${table.size}`);
    }
    checkTable(contents, fail);
    bytes += contents.length;
  }
  return { tables: tables.length, bytes };
}
