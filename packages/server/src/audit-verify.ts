/**
 * `allot audit verify`, the logic (issue 11): given the files of an export (audit-layout.ts) and
 * the regions' public keys, it checks every origin's hash chain (H(prev ‖ bytes), from 32 zero
 * bytes) and every segment's signature (a segment whose signature the node did not keep, 128 zero
 * hex digits, is vouched for by the next one with a signature: the chain binds it to that one, and
 * a log must end at one), decodes every segment and checks every event, refolds all
 * logs from their first segment, rebuilds the snapshot with the node's own code (`snapshotOf`,
 * `snapshotJsonText`) and compares it with snapshot.json byte for byte. It stops at the first
 * discrepancy and names its file, origin and seq. Pure: files come in as bytes, hashing and
 * signatures through the Crypto port; the CLI does the I/O.
 *
 * An export of format v2 may carry the node's checkpoint (audit-checkpoint.ts): its hash and the
 * exporting region's signature are checked, the logs are refolded to its vector, its bytes are
 * compared with core's encoding of that refold, and the refold then goes on to the snapshot.
 */
import {
  applyEvent,
  decodeSegment,
  eventProblem,
  type LedgerState,
  regionOf,
  SegmentError,
  segmentHeader,
} from '@allot/core';
import {
  type Crypto,
  headSigningBytes,
  type LogHead,
  type SnapshotHeader,
  type SnapshotTenant,
  sameBytes,
  segmentHash,
  signatureKept,
  snapshotOf,
  ZERO_HASH,
} from '@allot/replica';
import {
  type CheckedCheckpoint,
  checkCheckpointFile,
  compareCheckpoint,
  refoldStateFor,
} from './audit-checkpoint.js';
import {
  type AuditManifest,
  bytesOfHex,
  KEYS_FILE,
  MANIFEST_FILE,
  ManifestError,
  parseKeysText,
  parseManifest,
  SNAPSHOT_FILE,
} from './audit-layout.js';
import { snapshotJsonText } from './snapshot-body.js';
import { parseRfc3339 } from './time.js';
import { snapshotHeaderJson, snapshotTenantJson } from './views.js';

/** The files of an export folder, by path relative to it (`segments/…` with `/`); undefined when absent. */
export type AuditFiles = (path: string) => Uint8Array | undefined;

/** The region keys an auditor supplies (`--keys FILE`), and where they come from (for messages). */
export interface SuppliedKeys {
  readonly source: string;
  readonly keys: Readonly<Record<string, Uint8Array>>;
}

/** The first thing found wrong: in which file, at which origin and seq when it is in a log. */
export interface Discrepancy {
  readonly file: string;
  readonly origin?: string;
  readonly seq?: number;
  readonly problem: string;
}

/** What an export that holds up contains. */
export interface AuditSummary {
  readonly origins: number;
  readonly segments: number;
  readonly events: number;
  readonly tenants: number;
  readonly versionVector: Readonly<Record<string, number>>;
  /** The checkpoint verified against the logs: its vector, and a note when retention explains a sweep; absent without one. */
  readonly checkpoint?: { readonly vector: Readonly<Record<string, number>>; readonly note: string | null };
}

/** The verdict on an export: all holds, or the first discrepancy. */
export type AuditVerdict =
  | { readonly ok: true; readonly summary: AuditSummary }
  | { readonly ok: false; readonly discrepancy: Discrepancy };

/** One line for a discrepancy: file, origin and seq, then what is wrong. */
export function discrepancyLine(discrepancy: Discrepancy): string {
  const parts = [discrepancy.file];
  if (discrepancy.origin !== undefined)
    parts.push(
      `origin ${discrepancy.origin}${discrepancy.seq === undefined ? '' : ` seq ${discrepancy.seq}`}`,
    );
  parts.push(discrepancy.problem);
  return parts.join(': ');
}

/** One line for an export that holds up. */
export function summaryLine(summary: AuditSummary): string {
  const checkpoint =
    summary.checkpoint === undefined
      ? ''
      : `; checkpoint.bin (at ${Object.values(summary.checkpoint.vector).reduce((sum, seq) => sum + seq, 0)} events) is signed and equals the refold at its vector${summary.checkpoint.note === null ? ' byte for byte' : ` (${summary.checkpoint.note})`}`;
  return `verified: ${summary.origins} origins, ${summary.segments} segments, ${summary.events} events, ${summary.tenants} tenants; every chain and signature holds and the refold equals snapshot.json byte for byte${checkpoint}`;
}

class Found extends Error {
  constructor(readonly discrepancy: Discrepancy) {
    super(discrepancyLine(discrepancy));
  }
}

const fail = (discrepancy: Discrepancy): never => {
  throw new Found(discrepancy);
};

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function textOf(files: AuditFiles, file: string): string {
  const bytes = files(file);
  if (bytes === undefined) return fail({ file, problem: 'missing' });
  try {
    return utf8.decode(bytes);
  } catch {
    return fail({ file, problem: 'not UTF-8' });
  }
}

/** Verifies the export whose files `files` reads; keys from `supplied`, else the export's keys.yaml. */
export function verifyAuditExport(
  files: AuditFiles,
  crypto: Pick<Crypto, 'hash' | 'verify'>,
  supplied?: SuppliedKeys,
): AuditVerdict {
  try {
    return { ok: true, summary: verify(files, crypto, supplied) };
  } catch (error) {
    if (error instanceof Found) return { ok: false, discrepancy: error.discrepancy };
    throw error;
  }
}

function verify(
  files: AuditFiles,
  crypto: Pick<Crypto, 'hash' | 'verify'>,
  supplied?: SuppliedKeys,
): AuditSummary {
  let manifest: AuditManifest;
  try {
    manifest = parseManifest(textOf(files, MANIFEST_FILE));
  } catch (error) {
    if (error instanceof ManifestError) return fail({ file: MANIFEST_FILE, problem: error.message });
    throw error;
  }
  let keys: Readonly<Record<string, Uint8Array>>;
  let keySource: string;
  if (supplied === undefined) {
    keySource = KEYS_FILE;
    try {
      keys = parseKeysText(textOf(files, KEYS_FILE));
    } catch (error) {
      if (error instanceof ManifestError) return fail({ file: KEYS_FILE, problem: error.message });
      throw error;
    }
  } else {
    keySource = supplied.source;
    keys = supplied.keys;
  }

  let checkpoint: CheckedCheckpoint | null = null;
  const listed = manifest.checkpoint ?? null;
  if (listed !== null) {
    const key = Object.hasOwn(keys, manifest.region) ? keys[manifest.region] : undefined;
    if (key === undefined)
      fail({
        file: keySource,
        problem: `no public key for region ${manifest.region} (the checkpoint's signer)`,
      });
    const checked = checkCheckpointFile(
      files(listed.file),
      crypto,
      manifest,
      listed,
      key as Uint8Array,
      keySource,
    );
    if ('problem' in checked) fail(checked);
    checkpoint = checked as CheckedCheckpoint;
  }

  const state = refoldStateFor(checkpoint);
  const lastEvents: LastEvents = new Map();
  const logs: LogCursor[] = [];
  for (const entry of manifest.origins) {
    const region = regionOf(entry.origin);
    const key = Object.hasOwn(keys, region) ? keys[region] : undefined;
    if (key === undefined)
      fail({ file: keySource, origin: entry.origin, problem: `no public key for region ${region}` });
    const bytes = files(entry.file);
    if (bytes === undefined)
      fail({ file: entry.file, origin: entry.origin, problem: 'segment file missing' });
    logs.push(cursorOf(entry, bytes as Uint8Array, key as Uint8Array));
  }
  const context: LogContext = { files, crypto, manifest, keySource, state, lastEvents };
  let checked: AuditSummary['checkpoint'];
  if (checkpoint !== null) {
    // The logs up to the checkpoint's vector, then the checkpoint against their refold.
    const chain = new Map<string, Uint8Array>();
    for (const log of logs) {
      const seq = checkpoint.vector[log.entry.origin] ?? 0;
      foldLog(context, log, seq);
      if (seq > 0) chain.set(log.entry.origin, log.previous);
    }
    const compared = compareCheckpoint(checkpoint, state, chain);
    if ('problem' in compared) fail(compared);
    checked = { vector: checkpoint.vector, note: (compared as { note: string | null }).note };
  }
  const heads: LogHead[] = [];
  let segments = 0;
  let events = 0;
  for (const log of logs) {
    const head = finishLog(context, log);
    heads.push(head);
    segments += log.entry.segments.length;
    events += head.seq;
  }

  compareSnapshot(files, manifest, state, heads, lastEvents);
  const vector: Record<string, number> = {};
  for (const head of heads) vector[head.origin] = head.seq;
  return {
    origins: heads.length,
    segments,
    events,
    tenants: state.tenants.size,
    versionVector: vector,
    ...(checked === undefined ? {} : { checkpoint: checked }),
  };
}

/** What every log's check and fold share. */
interface LogContext {
  readonly files: AuditFiles;
  readonly crypto: Pick<Crypto, 'hash' | 'verify'>;
  readonly manifest: AuditManifest;
  readonly keySource: string;
  readonly state: LedgerState;
  readonly lastEvents: LastEvents;
}

/** How far one origin's log is checked and folded. */
interface LogCursor {
  readonly entry: AuditManifest['origins'][number];
  readonly bytes: Uint8Array;
  readonly key: Uint8Array;
  /** The chain hash of the last segment checked (32 zero bytes before the first). */
  previous: Uint8Array;
  offset: number;
  index: number;
  head: LogHead | null;
  /** The first seq of the segments since the last signed one (null: none): a later signature must vouch for them. */
  unbound: number | null;
}

function cursorOf(entry: AuditManifest['origins'][number], bytes: Uint8Array, key: Uint8Array): LogCursor {
  return { entry, bytes, key, previous: ZERO_HASH, offset: 0, index: 0, head: null, unbound: null };
}

/** Checks and folds the rest of a log, then that nothing follows its last segment; its head. */
function finishLog(context: LogContext, log: LogCursor): LogHead {
  foldLog(context, log, Number.POSITIVE_INFINITY);
  const { origin, file } = log.entry;
  if (log.offset !== log.bytes.length)
    fail({
      file,
      origin,
      problem: `${log.bytes.length - log.offset} bytes after the last segment the manifest lists`,
    });
  if (log.unbound !== null)
    fail({
      file: MANIFEST_FILE,
      origin,
      seq: log.unbound,
      problem: `the log ends in segments without a signature from seq ${log.unbound}: no signed segment vouches for them`,
    });
  return log.head as LogHead;
}

/** Checks one origin's segments and folds them into the state, up to the one ending at `untilSeq`. */
function foldLog(context: LogContext, log: LogCursor, untilSeq: number): void {
  const { crypto, manifest, keySource, state, lastEvents } = context;
  const { entry, bytes, key } = log;
  const { origin, file } = entry;
  const signed = (seq: number, hash: Uint8Array, signature: Uint8Array) =>
    crypto.verify(key, headSigningBytes(manifest.cluster, origin, seq, hash), signature);
  let { previous, offset } = log;
  let expectedFirst = log.head === null ? 1 : log.head.seq + 1;
  for (; log.index < entry.segments.length; log.index++) {
    const index = log.index;
    const listed = entry.segments[index] as AuditManifest['origins'][number]['segments'][number];
    if (listed.lastSeq > untilSeq) break;
    const where = `${MANIFEST_FILE} origins[${manifest.origins.indexOf(entry)}].segments[${index}]`;
    const seq = listed.firstSeq;
    if (listed.firstSeq !== expectedFirst)
      fail({
        file: MANIFEST_FILE,
        origin,
        seq,
        problem: `${where}: firstSeq ${seq}, the chain is at ${expectedFirst}`,
      });
    if (offset + listed.bytes > bytes.length)
      fail({
        file,
        origin,
        seq,
        problem: `segment of ${listed.bytes} bytes at offset ${offset} runs past the file's ${bytes.length} bytes (or ${where}.bytes is wrong)`,
      });
    const segment = bytes.subarray(offset, offset + listed.bytes);
    const at = `bytes ${offset}–${offset + listed.bytes - 1}`;
    const hash = segmentHash(crypto, previous, segment);
    const claimedHash = bytesOfHex(listed.hash);
    const signature = bytesOfHex(listed.signature);
    const kept = signatureKept(signature);
    if (!sameBytes(hash, claimedHash)) {
      if (!kept)
        fail({
          file,
          origin,
          seq,
          problem: `${at}: chain hash is not ${where}.hash, a segment whose signature was not kept (${file} or ${MANIFEST_FILE} changed)`,
        });
      if (signed(listed.lastSeq, claimedHash, signature))
        fail({
          file,
          origin,
          seq,
          problem: `${at}: not the bytes the origin signed (their chain hash is not ${where}.hash, or ${where}.bytes changed)`,
        });
      if (signed(listed.lastSeq, hash, signature))
        fail({
          file: MANIFEST_FILE,
          origin,
          seq,
          problem: `${where}.hash is not H(prev ‖ bytes) of ${file} ${at}`,
        });
      fail({
        file,
        origin,
        seq,
        problem: `${at}: chain hash is not ${where}.hash, and the signature holds for neither (${file} or ${MANIFEST_FILE} changed)`,
      });
    }
    let header: ReturnType<typeof segmentHeader>;
    try {
      header = segmentHeader(segment);
    } catch (error) {
      if (error instanceof SegmentError)
        throw new Found({ file, origin, seq, problem: `${at}: ${error.message}` });
      throw error;
    }
    if (
      header.origin !== origin ||
      header.firstSeq !== listed.firstSeq ||
      header.lastSeq !== listed.lastSeq
    ) {
      fail({
        file: MANIFEST_FILE,
        origin,
        seq,
        problem: `${where} says ${origin} seq ${listed.firstSeq}–${listed.lastSeq}, the segment (${file} ${at}) holds ${header.origin} seq ${header.firstSeq}–${header.lastSeq}`,
      });
    }
    if (!kept) log.unbound ??= seq;
    else if (signed(listed.lastSeq, hash, signature)) log.unbound = null;
    else {
      fail({
        file: MANIFEST_FILE,
        origin,
        seq: listed.lastSeq,
        problem: `${where}.signature does not verify with region ${regionOf(origin)}'s public key from ${keySource}`,
      });
    }
    let decoded: ReturnType<typeof decodeSegment>;
    try {
      decoded = decodeSegment(segment);
    } catch (error) {
      if (error instanceof SegmentError)
        throw new Found({ file, origin, seq, problem: `${at}: signed, but not a segment: ${error.message}` });
      throw error;
    }
    for (const event of decoded.events) {
      const problem = eventProblem(event);
      if (problem !== null) fail({ file, origin, seq: event.seq, problem: `malformed event: ${problem}` });
      let applied: ReturnType<typeof applyEvent>;
      try {
        applied = applyEvent(state, event);
      } catch (error) {
        // Signed but impossible (a figure past its limit): the log is wrong, not the verifier.
        throw new Found({
          file,
          origin,
          seq: event.seq,
          problem: `event does not fold: ${(error as Error).message}`,
        });
      }
      if (applied !== 'applied')
        fail({
          file,
          origin,
          seq: event.seq,
          problem: `event does not fold (${applied}) onto the logs before it`,
        });
      lastEvents.set(event.tenant, { origin, seq: event.seq });
    }
    previous = hash;
    offset += listed.bytes;
    expectedFirst = listed.lastSeq + 1;
    log.previous = previous;
    log.offset = offset;
    log.head = { origin, seq: listed.lastSeq, hash, signature };
  }
}

/** Each tenant's last event folded (the logs in manifest order): where a wrong figure points. */
type LastEvents = Map<string, { readonly origin: string; readonly seq: number }>;

/** Compares snapshot.json with the snapshot of the refold; fails at the first difference. */
function compareSnapshot(
  files: AuditFiles,
  manifest: AuditManifest,
  state: LedgerState,
  heads: LogHead[],
  lastEvents: LastEvents,
): void {
  const file = SNAPSHOT_FILE;
  const found = files(file);
  if (found === undefined) fail({ file, problem: 'missing' });
  let snapshot: ReturnType<typeof snapshotOf>;
  try {
    snapshot = snapshotOf(state, heads, {
      cluster: manifest.cluster,
      region: manifest.region,
      takenAt: parseRfc3339(manifest.takenAt) as number,
    });
  } catch (error) {
    // Every log folded, yet a figure cannot be written (past its limit): nothing to compare with.
    throw new Found({
      file,
      problem: `the refold's figures cannot be computed: ${(error as Error).message}`,
    });
  }
  const expected = new TextEncoder().encode(snapshotJsonText(snapshot));
  if (sameBytes(expected, found as Uint8Array)) return;
  fail(snapshotDifference(found as Uint8Array, expected, snapshot, lastEvents));
}

/** The first difference between snapshot.json and the refold's snapshot, named by field when it parses. */
function snapshotDifference(
  found: Uint8Array,
  expected: Uint8Array,
  snapshot: { header: SnapshotHeader; tenants: SnapshotTenant[] },
  lastEvents: LastEvents,
): Discrepancy {
  const file = SNAPSHOT_FILE;
  let at = 0;
  while (at < found.length && at < expected.length && found[at] === expected[at]) at += 1;
  const byteNote = `differs from the refold's snapshot from byte ${at}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(found));
  } catch {
    return { file, problem: `${byteNote} (and is not JSON)` };
  }
  const body = parsed as Record<string, unknown>;
  const header = snapshotHeaderJson(snapshot.header) as unknown as Record<string, unknown>;
  const origins = new Set([
    ...Object.keys(snapshot.header.versionVector),
    ...Object.keys((body.versionVector as object | null) ?? {}),
    ...Object.keys((body.heads as object | null) ?? {}),
  ]);
  for (const origin of [...origins].sort()) {
    const theirs = (body.versionVector as Record<string, unknown> | undefined)?.[origin];
    const ours = snapshot.header.versionVector[origin];
    if (theirs !== ours)
      return {
        file,
        origin,
        seq: ours,
        problem: `versionVector says ${JSON.stringify(theirs)}, the logs hold ${ours ?? 'nothing'}`,
      };
    const theirHead = (body.heads as Record<string, unknown> | undefined)?.[origin];
    const ourHead = snapshot.header.heads[origin];
    if (JSON.stringify(theirHead) !== JSON.stringify(ourHead))
      return {
        file,
        origin,
        seq: ourHead?.seq,
        problem: `heads entry ${JSON.stringify(theirHead)}, the logs end ${JSON.stringify(ourHead)}`,
      };
  }
  for (const field of ['cluster', 'region', 'takenAt']) {
    if (body[field] !== header[field])
      return {
        file,
        problem: `${field} is ${JSON.stringify(body[field])}, the manifest says ${JSON.stringify(header[field])}`,
      };
  }
  const tenants = Array.isArray(body.tenants) ? (body.tenants as unknown[]) : [];
  for (let i = 0; i < Math.max(tenants.length, snapshot.tenants.length); i++) {
    const ours = snapshot.tenants[i];
    const theirs = JSON.stringify(tenants[i]);
    if (theirs !== JSON.stringify(ours === undefined ? undefined : snapshotTenantJson(ours))) {
      // The tenant's last event in the logs is where an auditor starts to look.
      const last = ours === undefined ? undefined : lastEvents.get(ours.tenant);
      return {
        file,
        ...(last === undefined ? {} : { origin: last.origin, seq: last.seq }),
        problem: `tenants[${i}] is ${theirs ?? 'absent'}, the refold gives ${ours === undefined ? 'no tenant' : JSON.stringify(snapshotTenantJson(ours))}${last === undefined ? '' : ` (the tenant's last event in the logs is at this origin and seq)`}`,
      };
    }
  }
  return { file, problem: byteNote };
}
