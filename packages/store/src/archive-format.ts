/**
 * The archive's file format (DESIGN.md §2 "Checkpoints and retention"), version 1. Pure: no I/O,
 * no `node:` module; the hash is handed in (SHA-256, the Crypto port's). Layout under a data
 * directory (or an `allot audit export` copy of it):
 *
 *   archive/<origin>/manifest                   → the origin's archive manifest (below)
 *   archive/<origin>/<first>-<last>.seg         → segments first..last seq of the origin's log
 *   archive/tenant-index/manifest               → the archived tenant index's manifest
 *   archive/tenant-index/<first>-<last>.idx     → tenant index records of entries first..last
 *
 * Numbers in names are 16-digit zero-padded decimal (as keys.ts). All integers in files are
 * big-endian.
 *
 * A segment file: "ALLOTARC", u8 version (1), u8 kind (1), u16 origin length, the origin (ASCII),
 * u32 segment count, then per segment u32 length and that many bytes: the segment's 32-byte chain
 * hash, its 64-byte signature and its bytes (core's segment codec): exactly a LevelDB segment record
 * without its checksum (segment-records.ts). Segments follow each other without a gap.
 *
 * An index file: "ALLOTARC", u8 version (1), u8 kind (2), u32 record count, then per record u16
 * key length, the key (ASCII, `v3/tenant/<tenant>/<entry>`), u32 value length, the value as LevelDB
 * held it (sealed with its CRC-32C: records.ts), in strictly ascending key order.
 *
 * A manifest: one line of JSON (the body), a newline, the lowercase hex SHA-256 of the body's
 * bytes, a newline. Written whole, atomically, after the file it lists is durable. Body of an
 * origin's: `{format: "allot-archive/1", origin, files: [{name, firstSeq, lastSeq, segments, bytes,
 * fileHash, prevHash, lastHash, lastSignature}]}`: files in seq order, contiguous from seq 1 except
 * past a log base (a node that joined by checkpoint holds no seq below it); the hashes are hex;
 * `prevHash` is the chain hash before the file's first segment (zeros for seq 1, the base's hash
 * right after a base),
 * `lastHash`/`lastSignature` the last segment's (the origin's signature over (cluster, origin,
 * lastSeq, lastHash): replica's `headSigningBytes`; 128 zeros where the node did not keep it). Each
 * segment in a file carries its own hash and signature (or 64 zero bytes) too; the manifest names
 * the file's boundary ones so that a reader checks a file's chain from `prevHash` to `lastHash`
 * without the files before it. Body of the index's: `{format:
 * "allot-archive-index/1", entryThrough, files: [{name, firstEntry, lastEntry, records, bytes,
 * fileHash}]}`: every tenant index entry numbered ≤ entryThrough is archived (none is live), files
 * in entry order, their ranges disjoint.
 *
 * Manifests are read and written by archive-manifest.ts. Every decode checks what it reads against what the manifest says, and a mismatch is a
 * StoreCorruptError naming the file: never a shorter answer.
 */
import { type OriginId, SegmentError, segmentHeader } from '@allot/core';
import type { StoredSegment } from '@allot/replica';
import { StoreCorruptError, StoreInvariantError } from './errors.js';
import {
  ARCHIVE_FILE_BYTES_MAX,
  ARCHIVE_FILE_SEGMENTS_MAX,
  ARCHIVE_INDEX_FILE_ENTRIES_MAX,
  HASH_BYTES,
  SIGNATURE_BYTES,
} from './limits.js';

/** A hash function: SHA-256 (the Crypto port's `hash`). */
export type ArchiveHash = (bytes: Uint8Array) => Uint8Array;

/** The directory of the archive in a data directory. */
export const ARCHIVE_DIR = 'archive';
/** The directory of the archived tenant index, beside the origins' (no origin id is this name: it has no '#'). */
export const ARCHIVE_INDEX_DIR = 'tenant-index';
/** The name of a manifest in its directory. */
export const ARCHIVE_MANIFEST = 'manifest';
/** The format names in manifests. */
export const ARCHIVE_FORMAT = 'allot-archive/1';
export const ARCHIVE_INDEX_FORMAT = 'allot-archive-index/1';

const MAGIC = 'ALLOTARC';
const VERSION = 1;
const KIND_SEGMENTS = 1;
const KIND_INDEX = 2;

/** One archived file of an origin's log, as its manifest lists it. */
export interface ArchivedFile {
  readonly name: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly segments: number;
  readonly bytes: number;
  readonly fileHash: string;
  readonly prevHash: string;
  readonly lastHash: string;
  readonly lastSignature: string;
}

/** An origin's archive manifest. */
export interface ArchiveManifest {
  readonly format: typeof ARCHIVE_FORMAT;
  readonly origin: OriginId;
  readonly files: readonly ArchivedFile[];
}

/** One archived tenant index file, as the index manifest lists it. */
export interface ArchivedIndexFile {
  readonly name: string;
  readonly firstEntry: number;
  readonly lastEntry: number;
  readonly records: number;
  readonly bytes: number;
  readonly fileHash: string;
}

/** The archived tenant index's manifest. */
export interface ArchiveIndexManifest {
  readonly format: typeof ARCHIVE_INDEX_FORMAT;
  /** Every tenant index entry numbered up to this one is archived. */
  readonly entryThrough: number;
  readonly files: readonly ArchivedIndexFile[];
}

/** One tenant index record as LevelDB held it: its key and its sealed value. */
export interface ArchivedIndexRecord {
  readonly key: string;
  readonly value: Uint8Array;
}

/** Lowercase hex of `bytes`. */
export function hexOf(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** The bytes of lowercase hex `hex`. */
export function bytesOfHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** `n` as a 16-digit name part (as keys.ts). */
function numberName(n: number): string {
  return String(n).padStart(16, '0');
}

/** The name of the segment file holding seqs `firstSeq`..`lastSeq`. */
export function segmentFileName(firstSeq: number, lastSeq: number): string {
  return `${numberName(firstSeq)}-${numberName(lastSeq)}.seg`;
}

/** The name of the index file holding entries `firstEntry`..`lastEntry`. */
export function indexFileName(firstEntry: number, lastEntry: number): string {
  return `${numberName(firstEntry)}-${numberName(lastEntry)}.idx`;
}

const ascii = new TextEncoder();

/** A reader of a file's bytes that fails with a StoreCorruptError naming `path`. */
class Reader {
  offset = 0;
  private readonly view: DataView;
  constructor(
    private readonly path: string,
    readonly bytes: Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(problem: string): never {
    throw StoreCorruptError.inFile(this.path, `${problem} (at byte ${this.offset})`);
  }
  need(n: number): void {
    if (n > this.bytes.length - this.offset) this.fail('the file ends early');
  }
  u8(): number {
    this.need(1);
    return this.view.getUint8(this.offset++);
  }
  u16(): number {
    this.need(2);
    const value = this.view.getUint16(this.offset);
    this.offset += 2;
    return value;
  }
  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }
  take(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  ascii(n: number): string {
    return String.fromCharCode(...this.take(n));
  }
  header(kind: number): void {
    if (this.ascii(MAGIC.length) !== MAGIC) this.fail('not an Allot archive file');
    const version = this.u8();
    if (version !== VERSION) this.fail(`archive format version ${version}, this build reads ${VERSION}`);
    const found = this.u8();
    if (found !== kind) this.fail(`an archive file of kind ${found}, not ${kind}`);
  }
}

/** A growing byte buffer for writing a file. */
class Writer {
  private readonly parts: Uint8Array[] = [];
  length = 0;
  bytes(part: Uint8Array): void {
    this.parts.push(part);
    this.length += part.length;
  }
  int(value: number, width: 1 | 2 | 4): void {
    const part = new Uint8Array(width);
    const view = new DataView(part.buffer);
    if (width === 1) view.setUint8(0, value);
    else if (width === 2) view.setUint16(0, value);
    else view.setUint32(0, value);
    this.bytes(part);
  }
  done(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

/**
 * The file of `segments` (one origin's, contiguous, each chained to the one before from
 * `prevHash`) and its manifest line. A StoreInvariantError when they are not that or past a limit.
 */
export function encodeSegmentFile(
  hash: ArchiveHash,
  origin: OriginId,
  prevHash: Uint8Array,
  segments: readonly StoredSegment[],
): { bytes: Uint8Array; entry: ArchivedFile } {
  const first = segments[0];
  const last = segments[segments.length - 1];
  if (first === undefined || last === undefined)
    throw new StoreInvariantError('an archive file of no segments');
  if (segments.length > ARCHIVE_FILE_SEGMENTS_MAX)
    throw new StoreInvariantError(
      `an archive file of ${segments.length} segments, more than ${ARCHIVE_FILE_SEGMENTS_MAX}`,
    );
  const out = new Writer();
  out.bytes(ascii.encode(MAGIC));
  out.int(VERSION, 1);
  out.int(KIND_SEGMENTS, 1);
  out.int(origin.length, 2);
  out.bytes(ascii.encode(origin));
  out.int(segments.length, 4);
  let previous = prevHash;
  let expected = first.firstSeq;
  for (const segment of segments) {
    const where = `segment ${origin}/${segment.firstSeq}-${segment.lastSeq}`;
    if (segment.origin !== origin || segment.firstSeq !== expected)
      throw new StoreInvariantError(
        `${where} does not follow seq ${expected - 1} of ${origin} in an archive file`,
      );
    if (!same(hash(concat(previous, segment.bytes)), segment.hash))
      throw new StoreInvariantError(`${where}: its hash does not chain to the segment before it`);
    if (segment.signature.length !== SIGNATURE_BYTES)
      throw new StoreInvariantError(`${where}: the signature is not ${SIGNATURE_BYTES} bytes`);
    out.int(HASH_BYTES + SIGNATURE_BYTES + segment.bytes.length, 4);
    out.bytes(segment.hash);
    out.bytes(segment.signature);
    out.bytes(segment.bytes);
    previous = segment.hash;
    expected = segment.lastSeq + 1;
  }
  if (out.length > ARCHIVE_FILE_BYTES_MAX)
    throw new StoreInvariantError(
      `an archive file of ${out.length} bytes, more than ${ARCHIVE_FILE_BYTES_MAX}`,
    );
  const bytes = out.done();
  return {
    bytes,
    entry: {
      name: segmentFileName(first.firstSeq, last.lastSeq),
      firstSeq: first.firstSeq,
      lastSeq: last.lastSeq,
      segments: segments.length,
      bytes: bytes.length,
      fileHash: hexOf(hash(bytes)),
      prevHash: hexOf(prevHash),
      lastHash: hexOf(last.hash),
      lastSignature: hexOf(last.signature),
    },
  };
}

/** `a` then `b`, as one array. */
export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * The segments of the file `bytes` read at `path`, checked against its manifest line `entry`: its
 * size and hash, its origin, each segment's header, the seqs contiguous from `firstSeq` to
 * `lastSeq`, every chain hash from `prevHash`, and the last hash and signature. Signatures are
 * not verified here (the store holds no public keys; the replica verifies its logs at recovery and
 * `allot audit verify` with the keys it is given).
 */
export function decodeSegmentFile(
  hash: ArchiveHash,
  path: string,
  origin: OriginId,
  entry: ArchivedFile,
  bytes: Uint8Array,
): StoredSegment[] {
  const reader = new Reader(path, bytes);
  if (bytes.length !== entry.bytes)
    reader.fail(`the file has ${bytes.length} bytes, its manifest says ${entry.bytes}`);
  if (hexOf(hash(bytes)) !== entry.fileHash)
    reader.fail('the file does not have the hash its manifest lists: damaged');
  reader.header(KIND_SEGMENTS);
  const named = reader.ascii(reader.u16());
  if (named !== origin) reader.fail(`the file holds the log of ${JSON.stringify(named)}, not ${origin}`);
  const count = reader.u32();
  if (count !== entry.segments)
    reader.fail(`the file holds ${count} segments, its manifest says ${entry.segments}`);
  const segments: StoredSegment[] = [];
  let previous = bytesOfHex(entry.prevHash);
  let expected = entry.firstSeq;
  for (let i = 0; i < count; i++) {
    const length = reader.u32();
    if (length <= HASH_BYTES + SIGNATURE_BYTES) reader.fail(`a segment record of ${length} bytes`);
    const record = reader.take(length);
    const segmentBytes = record.subarray(HASH_BYTES + SIGNATURE_BYTES);
    let header: ReturnType<typeof segmentHeader>;
    try {
      header = segmentHeader(segmentBytes);
    } catch (error) {
      if (error instanceof SegmentError) reader.fail(`segment ${i + 1}: ${error.message}`);
      throw error;
    }
    if (header.origin !== origin || header.firstSeq !== expected)
      reader.fail(
        `segment ${i + 1} holds ${header.origin}/${header.firstSeq}-${header.lastSeq}, not seq ${expected} of ${origin}`,
      );
    const segmentHash = record.subarray(0, HASH_BYTES);
    if (!same(hash(concat(previous, segmentBytes)), segmentHash))
      reader.fail(
        `segment ${origin}/${header.firstSeq}-${header.lastSeq} does not chain to the one before it`,
      );
    segments.push({
      origin,
      firstSeq: header.firstSeq,
      lastSeq: header.lastSeq,
      bytes: segmentBytes,
      hash: new Uint8Array(segmentHash),
      signature: new Uint8Array(record.subarray(HASH_BYTES, HASH_BYTES + SIGNATURE_BYTES)),
    });
    previous = segmentHash;
    expected = header.lastSeq + 1;
  }
  if (reader.offset !== bytes.length) reader.fail('the file has bytes after its last segment');
  const last = segments[segments.length - 1];
  if (last === undefined || last.lastSeq !== entry.lastSeq)
    return reader.fail(`the file ends at seq ${expected - 1}, its manifest says ${entry.lastSeq}`);
  if (hexOf(last.hash) !== entry.lastHash || hexOf(last.signature) !== entry.lastSignature)
    reader.fail('the last segment is not the one its manifest names (hash or signature)');
  return segments;
}

/** The index file of `records` (sealed tenant index records, in ascending key order), and its manifest line. */
export function encodeIndexFile(
  hash: ArchiveHash,
  firstEntry: number,
  lastEntry: number,
  records: readonly ArchivedIndexRecord[],
): { bytes: Uint8Array; entry: ArchivedIndexFile } {
  if (records.length < 1 || records.length > ARCHIVE_INDEX_FILE_ENTRIES_MAX)
    throw new StoreInvariantError(`an archived index file of ${records.length} records`);
  const out = new Writer();
  out.bytes(ascii.encode(MAGIC));
  out.int(VERSION, 1);
  out.int(KIND_INDEX, 1);
  out.int(records.length, 4);
  let previous = '';
  for (const { key, value } of records) {
    if (!(key > previous)) throw new StoreInvariantError(`archived index records out of key order at ${key}`);
    previous = key;
    out.int(key.length, 2);
    out.bytes(ascii.encode(key));
    out.int(value.length, 4);
    out.bytes(value);
  }
  const bytes = out.done();
  return {
    bytes,
    entry: {
      name: indexFileName(firstEntry, lastEntry),
      firstEntry,
      lastEntry,
      records: records.length,
      bytes: bytes.length,
      fileHash: hexOf(hash(bytes)),
    },
  };
}

/** The records of the index file `bytes` read at `path`, checked against its manifest line. */
export function decodeIndexFile(
  hash: ArchiveHash,
  path: string,
  entry: ArchivedIndexFile,
  bytes: Uint8Array,
): ArchivedIndexRecord[] {
  const reader = new Reader(path, bytes);
  if (bytes.length !== entry.bytes)
    reader.fail(`the file has ${bytes.length} bytes, its manifest says ${entry.bytes}`);
  if (hexOf(hash(bytes)) !== entry.fileHash)
    reader.fail('the file does not have the hash its manifest lists: damaged');
  reader.header(KIND_INDEX);
  const count = reader.u32();
  if (count !== entry.records)
    reader.fail(`the file holds ${count} records, its manifest says ${entry.records}`);
  const records: ArchivedIndexRecord[] = [];
  let previous = '';
  for (let i = 0; i < count; i++) {
    const key = reader.ascii(reader.u16());
    if (!(key > previous)) reader.fail(`record ${i + 1} is out of key order`);
    previous = key;
    records.push({ key, value: reader.take(reader.u32()) });
  }
  if (reader.offset !== bytes.length) reader.fail('the file has bytes after its last record');
  return records;
}
