/**
 * The layout of an audit export (`allot audit export`, issue 11): what the files of its folder
 * are, and the one form each is written in. Pure: text and bytes in, values out.
 *
 *   manifest.json               what the export holds: cluster, region, when the snapshot was
 *                               taken, and per origin its segment file and each segment's seqs,
 *                               length, hash and signature (the node's, as it signed them)
 *   snapshot.json               the body of GET /v1/snapshot, byte for byte
 *   keys.yaml                   `region: <base64 Ed25519 public key>`, one line per region
 *   segments/<region>.<incarnation>.seg
 *                               the origin's segments as stored and signed, back to back, in seq
 *                               order from seq 1 up to the snapshot's version vector
 *   checkpoint.bin              (format v2, when the node had written one) its newest checkpoint's
 *                               bytes, as stored and signed; the manifest gives its vector, hash
 *                               and the node's signature (v1 exports have none and still verify)
 *
 * Every file has exactly one form (the manifest and keys.yaml are checked to be in it, not just to
 * parse), so a change of any byte of an export is a change of what it says, which `verify` finds.
 */
import { isOriginId, isRegionId, type OriginId, parseOrigin } from '@allot/core';
import { formatRfc3339, parseRfc3339 } from './time.js';

/** The `format` of a manifest this build writes: v1 plus the `checkpoint` field. */
export const AUDIT_FORMAT = 'allot-audit-export-v2';
/** The `format` of a manifest written before checkpoints were exported; still read. */
export const AUDIT_FORMAT_V1 = 'allot-audit-export-v1';
/** The checkpoint's file name in an export folder (format v2). */
export const CHECKPOINT_FILE = 'checkpoint.bin';

/** The manifest's file name in an export folder. */
export const MANIFEST_FILE = 'manifest.json';
/** The snapshot's file name in an export folder. */
export const SNAPSHOT_FILE = 'snapshot.json';
/** The region keys' file name in an export folder. */
export const KEYS_FILE = 'keys.yaml';
/** The folder of the segment files in an export folder. */
export const SEGMENTS_DIR = 'segments';

/** One segment of an origin's log, as the manifest lists it. */
export interface ManifestSegment {
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Its length in the origin's segment file (segments lie back to back from offset 0). */
  readonly bytes: number;
  /** H(hash of the previous segment ‖ bytes), lowercase hex. */
  readonly hash: string;
  /**
   * The origin's Ed25519 signature of (cluster, origin, lastSeq, hash), lowercase hex; 128 zeros
   * where the node did not keep it (a segment inside a received run: the next signed one vouches).
   */
  readonly signature: string;
}

/** One origin's log in an export. */
export interface ManifestOrigin {
  readonly origin: OriginId;
  /** Its segment file, relative to the export folder (`segmentFileOf(origin)`). */
  readonly file: string;
  readonly segments: readonly ManifestSegment[];
}

/** The node's checkpoint in an export (format v2). */
export interface ManifestCheckpoint {
  /** Always CHECKPOINT_FILE. */
  readonly file: string;
  /** Its length in bytes. */
  readonly bytes: number;
  /** The version vector it was taken at, origins sorted. */
  readonly vector: Readonly<Record<OriginId, number>>;
  /** SHA-256 of its bytes, lowercase hex. */
  readonly hash: string;
  /** The exporting node's Ed25519 signature of `checkpointSigningBytes(cluster, vector, hash)`, hex. */
  readonly signature: string;
}

/** What an export holds (manifest.json). */
export interface AuditManifest {
  readonly format: typeof AUDIT_FORMAT | typeof AUDIT_FORMAT_V1;
  readonly cluster: string;
  /** The region of the node that took the snapshot. */
  readonly region: string;
  /** When the node took the snapshot (RFC 3339, as snapshot.json says it). */
  readonly takenAt: string;
  /** Every origin of the snapshot's version vector, sorted. */
  readonly origins: readonly ManifestOrigin[];
  /** Format v2: the node's newest checkpoint, null when it had none; absent in format v1. */
  readonly checkpoint?: ManifestCheckpoint | null;
}

/** The segment file of `origin` in an export folder (`#` is no friend of shells and URLs). */
export function segmentFileOf(origin: OriginId): string {
  const parts = parseOrigin(origin);
  if (parts === null) throw new TypeError(`not an origin id: ${JSON.stringify(origin)}`);
  return `${SEGMENTS_DIR}/${parts.region}.${parts.incarnation}.seg`;
}

/** The text of manifest.json for `manifest`: its one form. */
export function manifestText(manifest: AuditManifest): string {
  const lines = [
    '{',
    `  "format": ${JSON.stringify(manifest.format)},`,
    `  "cluster": ${JSON.stringify(manifest.cluster)},`,
    `  "region": ${JSON.stringify(manifest.region)},`,
    `  "takenAt": ${JSON.stringify(manifest.takenAt)},`,
    '  "origins": [',
  ];
  manifest.origins.forEach((entry, index) => {
    lines.push('    {');
    lines.push(`      "origin": ${JSON.stringify(entry.origin)},`);
    lines.push(`      "file": ${JSON.stringify(entry.file)},`);
    lines.push('      "segments": [');
    entry.segments.forEach((segment, at) => {
      const comma = at < entry.segments.length - 1 ? ',' : '';
      lines.push(
        `        {"firstSeq": ${segment.firstSeq}, "lastSeq": ${segment.lastSeq}, "bytes": ${segment.bytes}, "hash": "${segment.hash}", "signature": "${segment.signature}"}${comma}`,
      );
    });
    lines.push('      ]');
    lines.push(`    }${index < manifest.origins.length - 1 ? ',' : ''}`);
  });
  if (manifest.format === AUDIT_FORMAT_V1) {
    lines.push('  ]', '}', '');
    return lines.join('\n');
  }
  const checkpoint = manifest.checkpoint ?? null;
  lines.push('  ],');
  if (checkpoint === null) lines.push('  "checkpoint": null');
  else {
    const vector = Object.keys(checkpoint.vector)
      .sort()
      .map((origin) => `${JSON.stringify(origin)}: ${checkpoint.vector[origin]}`)
      .join(', ');
    lines.push(
      '  "checkpoint": {',
      `    "file": ${JSON.stringify(checkpoint.file)},`,
      `    "bytes": ${checkpoint.bytes},`,
      `    "vector": {${vector}},`,
      `    "hash": "${checkpoint.hash}",`,
      `    "signature": "${checkpoint.signature}"`,
      '  }',
    );
  }
  lines.push('}', '');
  return lines.join('\n');
}

/** A manifest that is not one, and why. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

const HASH_HEX = /^[0-9a-f]{64}$/;
const SIGNATURE_HEX = /^[0-9a-f]{128}$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function exactKeys(value: Record<string, unknown>, keys: readonly string[], where: string): void {
  const found = Object.keys(value);
  if (found.length !== keys.length || keys.some((key, i) => found[i] !== key))
    throw new ManifestError(`${where}: fields ${found.join(', ')} instead of ${keys.join(', ')}`);
}

function seqOf(value: unknown, where: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1)
    throw new ManifestError(`${where}: not a seq ≥ 1`);
  return value as number;
}

/**
 * The manifest of `text`, checked field by field and to be in its one form (`manifestText`); a
 * ManifestError naming the first field that is not as an export writes it.
 */
export function parseManifest(text: string): AuditManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(`not JSON (${(error as Error).message})`);
  }
  if (!isRecord(value)) throw new ManifestError('not a JSON object');
  const format = value.format;
  if (format !== AUDIT_FORMAT && format !== AUDIT_FORMAT_V1)
    throw new ManifestError(
      `format ${JSON.stringify(format)} (this build reads ${AUDIT_FORMAT} and ${AUDIT_FORMAT_V1})`,
    );
  const fields = ['format', 'cluster', 'region', 'takenAt', 'origins'];
  exactKeys(value, format === AUDIT_FORMAT ? [...fields, 'checkpoint'] : fields, 'the manifest');
  if (typeof value.cluster !== 'string' || value.cluster.length === 0)
    throw new ManifestError('cluster: not a cluster id');
  if (!isRegionId(value.region)) throw new ManifestError('region: not a region id');
  const takenAtMs = typeof value.takenAt === 'string' ? parseRfc3339(value.takenAt) : null;
  if (takenAtMs === null || formatRfc3339(takenAtMs) !== value.takenAt)
    throw new ManifestError('takenAt: not an RFC 3339 time as a snapshot writes it');
  if (!Array.isArray(value.origins)) throw new ManifestError('origins: not a list');
  const origins: ManifestOrigin[] = [];
  let previous = '';
  for (const [index, entry] of value.origins.entries()) {
    const where = `origins[${index}]`;
    if (!isRecord(entry)) throw new ManifestError(`${where}: not an object`);
    exactKeys(entry, ['origin', 'file', 'segments'], where);
    if (!isOriginId(entry.origin)) throw new ManifestError(`${where}.origin: not an origin id`);
    if (entry.origin <= previous)
      throw new ManifestError(`${where}.origin: not after ${previous} (sorted, once each)`);
    previous = entry.origin;
    if (entry.file !== segmentFileOf(entry.origin))
      throw new ManifestError(`${where}.file: not ${segmentFileOf(entry.origin)}`);
    if (!Array.isArray(entry.segments) || entry.segments.length === 0)
      throw new ManifestError(`${where}.segments: not a list of at least one segment`);
    const segments: ManifestSegment[] = [];
    for (const [at, segment] of entry.segments.entries()) {
      const place = `${where}.segments[${at}] (${entry.origin})`;
      if (!isRecord(segment)) throw new ManifestError(`${place}: not an object`);
      exactKeys(segment, ['firstSeq', 'lastSeq', 'bytes', 'hash', 'signature'], place);
      const firstSeq = seqOf(segment.firstSeq, `${place}.firstSeq`);
      const lastSeq = seqOf(segment.lastSeq, `${place}.lastSeq`);
      if (lastSeq < firstSeq) throw new ManifestError(`${place}: lastSeq before firstSeq`);
      if (!Number.isSafeInteger(segment.bytes) || (segment.bytes as number) < 1)
        throw new ManifestError(`${place}.bytes: not a length ≥ 1`);
      if (typeof segment.hash !== 'string' || !HASH_HEX.test(segment.hash))
        throw new ManifestError(`${place}.hash: not 64 lowercase hex digits`);
      if (typeof segment.signature !== 'string' || !SIGNATURE_HEX.test(segment.signature))
        throw new ManifestError(`${place}.signature: not 128 lowercase hex digits`);
      segments.push({
        firstSeq,
        lastSeq,
        bytes: segment.bytes as number,
        hash: segment.hash,
        signature: segment.signature,
      });
    }
    origins.push({ origin: entry.origin, file: entry.file, segments });
  }
  const manifest: AuditManifest = {
    format,
    cluster: value.cluster,
    region: value.region,
    takenAt: value.takenAt as string,
    origins,
    ...(format === AUDIT_FORMAT ? { checkpoint: checkpointOf(value.checkpoint) } : {}),
  };
  if (manifestText(manifest) !== text) {
    const expected = manifestText(manifest);
    let at = 0;
    while (at < text.length && text[at] === expected[at]) at += 1;
    throw new ManifestError(`character ${at}: not in the form an export writes (spacing, order or escapes)`);
  }
  return manifest;
}

/** The manifest's checkpoint entry (format v2), checked field by field. */
function checkpointOf(value: unknown): ManifestCheckpoint | null {
  if (value === null) return null;
  const where = 'checkpoint';
  if (!isRecord(value)) throw new ManifestError(`${where}: not an object or null`);
  exactKeys(value, ['file', 'bytes', 'vector', 'hash', 'signature'], where);
  if (value.file !== CHECKPOINT_FILE) throw new ManifestError(`${where}.file: not ${CHECKPOINT_FILE}`);
  if (!Number.isSafeInteger(value.bytes) || (value.bytes as number) < 1)
    throw new ManifestError(`${where}.bytes: not a length ≥ 1`);
  if (!isRecord(value.vector)) throw new ManifestError(`${where}.vector: not an object`);
  const vector: Record<OriginId, number> = {};
  let previous = '';
  for (const [origin, seq] of Object.entries(value.vector)) {
    if (!isOriginId(origin))
      throw new ManifestError(`${where}.vector: ${JSON.stringify(origin)} is not an origin id`);
    if (origin <= previous)
      throw new ManifestError(`${where}.vector: ${origin} not after ${previous} (sorted)`);
    previous = origin;
    vector[origin] = seqOf(seq, `${where}.vector.${origin}`);
  }
  if (typeof value.hash !== 'string' || !HASH_HEX.test(value.hash))
    throw new ManifestError(`${where}.hash: not 64 lowercase hex digits`);
  if (typeof value.signature !== 'string' || !SIGNATURE_HEX.test(value.signature))
    throw new ManifestError(`${where}.signature: not 128 lowercase hex digits`);
  return {
    file: CHECKPOINT_FILE,
    bytes: value.bytes as number,
    vector,
    hash: value.hash,
    signature: value.signature,
  };
}

/** Lowercase hex of `bytes`. */
export function hexOf(bytes: Uint8Array): string {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** The bytes of lowercase hex `text` (checked by the caller to be hex of an even length). */
export function bytesOfHex(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** Standard base64 (with padding) of `bytes`. */
export function base64Of(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * The 32 bytes of an Ed25519 public key in base64, or null when `text` is not exactly the base64
 * of 32 bytes (its canonical form: a key has one spelling, so no byte of it can change unseen).
 */
export function publicKeyOfBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text)) return null;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.length === 32 && base64Of(bytes) === text ? bytes : null;
}

/** The text of keys.yaml for `keys` (region → raw public key): sorted, one `region: base64` line each. */
export function keysText(keys: Readonly<Record<string, Uint8Array>>): string {
  return Object.keys(keys)
    .sort()
    .map((region) => `${region}: ${base64Of(keys[region] as Uint8Array)}\n`)
    .join('');
}

/**
 * The keys of an export's keys.yaml, which must be in its one form (`keysText`); a ManifestError
 * naming the first line that is not. (An auditor's own key file is any YAML: the CLI reads it.)
 */
export function parseKeysText(text: string): Record<string, Uint8Array> {
  const keys: Record<string, Uint8Array> = {};
  const lines = text.split('\n');
  if (lines.pop() !== '') throw new ManifestError('the last line does not end with a newline');
  for (const [index, line] of lines.entries()) {
    const match = /^([a-z0-9-]{1,32}): (\S+)$/.exec(line);
    const key = match === null ? null : publicKeyOfBase64(match[2] as string);
    if (match === null || key === null)
      throw new ManifestError(`line ${index + 1}: not \`region: <base64 of a 32-byte public key>\``);
    keys[match[1] as string] = key;
  }
  if (keysText(keys) !== text) throw new ManifestError('regions not sorted, or one listed twice');
  return keys;
}
