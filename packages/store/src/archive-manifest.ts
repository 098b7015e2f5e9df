/**
 * The archive's manifests (archive-format.ts describes the layout): one line of JSON, a newline,
 * the hex SHA-256 of that line, a newline. Decoding checks the hash first, then the shape: an
 * origin's files in ascending, disjoint seq ranges, each that follows the one before chained to it
 * (`prevHash` is the previous file's `lastHash`; zeros before seq 1); a file past a gap starts at a
 * log base (a node that joined by checkpoint holds no seq below it: `prevHash` is the base's hash,
 * which Archive.checkLiveStore checks against the store's); the index's files in ascending,
 * disjoint entry ranges up to `entryThrough`.
 */
import { isOriginId, type OriginId } from '@allot/core';
import {
  ARCHIVE_FORMAT,
  ARCHIVE_INDEX_FORMAT,
  type ArchivedFile,
  type ArchivedIndexFile,
  type ArchiveHash,
  type ArchiveIndexManifest,
  type ArchiveManifest,
  concat,
  hexOf,
  indexFileName,
  segmentFileName,
} from './archive-format.js';
import { StoreCorruptError } from './errors.js';
import { ARCHIVE_MANIFEST_BYTES_MAX, HASH_BYTES } from './limits.js';

const ascii = new TextEncoder();
const text = new TextDecoder('utf-8', { fatal: true });
const ZERO_HASH = new Uint8Array(HASH_BYTES);

/** The bytes of a manifest with `body`: its JSON, a newline, the hex hash of the JSON, a newline. */
export function encodeManifest(hash: ArchiveHash, body: ArchiveManifest | ArchiveIndexManifest): Uint8Array {
  const json = ascii.encode(JSON.stringify(body));
  return concat(concat(json, ascii.encode('\n')), ascii.encode(`${hexOf(hash(json))}\n`));
}

function manifestBody(hash: ArchiveHash, path: string, bytes: Uint8Array): Record<string, unknown> {
  const fail = (problem: string): never => {
    throw StoreCorruptError.inFile(path, problem);
  };
  if (bytes.length > ARCHIVE_MANIFEST_BYTES_MAX) fail(`a manifest of ${bytes.length} bytes`);
  const newline = bytes.indexOf(10);
  if (newline < 0 || bytes.length !== newline + 1 + 2 * HASH_BYTES + 1 || bytes[bytes.length - 1] !== 10)
    fail('not a manifest (a line of JSON, then its hash)');
  const json = bytes.subarray(0, newline);
  const stated = String.fromCharCode(...bytes.subarray(newline + 1, bytes.length - 1));
  if (stated !== hexOf(hash(json))) fail('the manifest does not have the hash it states: damaged');
  let body: unknown;
  try {
    body = JSON.parse(text.decode(json));
  } catch {
    return fail('the manifest is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) fail('the manifest is not an object');
  return body as Record<string, unknown>;
}

const HEX_HASH = /^[0-9a-f]{64}$/;
const HEX_SIGNATURE = /^[0-9a-f]{128}$/;
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 1;

/**
 * The origin manifest in `bytes` read at `path`, checked: its hash, shape, and files in ascending
 * seq ranges, each chained to the one before where it follows it (after a gap: a log base).
 */
export function decodeManifest(
  hash: ArchiveHash,
  path: string,
  origin: OriginId,
  bytes: Uint8Array,
): ArchiveManifest {
  const body = manifestBody(hash, path, bytes);
  const fail = (problem: string): never => {
    throw StoreCorruptError.inFile(path, problem);
  };
  if (body.format !== ARCHIVE_FORMAT) fail(`format ${JSON.stringify(body.format)}, not ${ARCHIVE_FORMAT}`);
  if (body.origin !== origin || !isOriginId(origin))
    fail(`the manifest of ${JSON.stringify(body.origin)}, not ${origin}`);
  if (!Array.isArray(body.files)) fail('no list of files');
  const files: ArchivedFile[] = [];
  let expected = 1;
  let previous = hexOf(ZERO_HASH);
  for (const [i, file] of (body.files as unknown[]).entries()) {
    const f = file as Partial<ArchivedFile>;
    const ok =
      typeof f === 'object' &&
      f !== null &&
      isCount(f.firstSeq) &&
      f.firstSeq >= expected &&
      isCount(f.lastSeq) &&
      f.lastSeq >= f.firstSeq &&
      isCount(f.segments) &&
      f.segments <= f.lastSeq - f.firstSeq + 1 &&
      isCount(f.bytes) &&
      f.name === segmentFileName(f.firstSeq, f.lastSeq) &&
      typeof f.fileHash === 'string' &&
      HEX_HASH.test(f.fileHash) &&
      typeof f.prevHash === 'string' &&
      HEX_HASH.test(f.prevHash) &&
      (f.firstSeq > expected || f.prevHash === previous) &&
      typeof f.lastHash === 'string' &&
      HEX_HASH.test(f.lastHash) &&
      typeof f.lastSignature === 'string' &&
      HEX_SIGNATURE.test(f.lastSignature);
    if (!ok) fail(`file ${i + 1} of the list is not a next file of the log (from seq ${expected})`);
    const checked = f as ArchivedFile;
    files.push({
      name: checked.name,
      firstSeq: checked.firstSeq,
      lastSeq: checked.lastSeq,
      segments: checked.segments,
      bytes: checked.bytes,
      fileHash: checked.fileHash,
      prevHash: checked.prevHash,
      lastHash: checked.lastHash,
      lastSignature: checked.lastSignature,
    });
    expected = checked.lastSeq + 1;
    previous = checked.lastHash;
  }
  return { format: ARCHIVE_FORMAT, origin, files };
}

/** The index manifest in `bytes` read at `path`, checked: its hash, shape, and files in ascending, disjoint entry ranges. */
export function decodeIndexManifest(
  hash: ArchiveHash,
  path: string,
  bytes: Uint8Array,
): ArchiveIndexManifest {
  const body = manifestBody(hash, path, bytes);
  const fail = (problem: string): never => {
    throw StoreCorruptError.inFile(path, problem);
  };
  if (body.format !== ARCHIVE_INDEX_FORMAT)
    fail(`format ${JSON.stringify(body.format)}, not ${ARCHIVE_INDEX_FORMAT}`);
  const through = body.entryThrough;
  if (!Number.isSafeInteger(through) || (through as number) < 0) fail('entryThrough is not an entry number');
  if (!Array.isArray(body.files)) fail('no list of files');
  const files: ArchivedIndexFile[] = [];
  let after = 0;
  for (const [i, file] of (body.files as unknown[]).entries()) {
    const f = file as Partial<ArchivedIndexFile>;
    const ok =
      typeof f === 'object' &&
      f !== null &&
      isCount(f.firstEntry) &&
      f.firstEntry > after &&
      isCount(f.lastEntry) &&
      f.lastEntry >= f.firstEntry &&
      f.lastEntry <= (through as number) &&
      isCount(f.records) &&
      isCount(f.bytes) &&
      f.name === indexFileName(f.firstEntry, f.lastEntry) &&
      typeof f.fileHash === 'string' &&
      HEX_HASH.test(f.fileHash);
    if (!ok) fail(`file ${i + 1} of the list is not the next file of the index (after entry ${after})`);
    const checked = f as ArchivedIndexFile;
    files.push({
      name: checked.name,
      firstEntry: checked.firstEntry,
      lastEntry: checked.lastEntry,
      records: checked.records,
      bytes: checked.bytes,
      fileHash: checked.fileHash,
    });
    after = checked.lastEntry;
  }
  return { format: ARCHIVE_INDEX_FORMAT, entryThrough: through as number, files };
}
