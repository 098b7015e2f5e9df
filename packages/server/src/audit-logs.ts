/**
 * Each origin's log, for `allot audit verify` (audit-verify.ts): its segments against the
 * manifest, its hash chain, its signatures (a segment whose signature was not kept is vouched for
 * by the next signed one), its events decoded, checked and folded into the refold, up to a seq or
 * to its end. Pure, like audit-verify.ts: a discrepancy is thrown (audit-discrepancy.ts).
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
  sameBytes,
  segmentHash,
  signatureKept,
  ZERO_HASH,
} from '@allot/replica';
import { type AuditFiles, Found, fail } from './audit-discrepancy.js';
import { type AuditManifest, bytesOfHex, MANIFEST_FILE } from './audit-layout.js';

/** Each tenant's last event folded (the logs in manifest order): where a wrong figure points. */
export type LastEvents = Map<string, { readonly origin: string; readonly seq: number }>;

/** What every log's check and fold share. */
export interface LogContext {
  readonly files: AuditFiles;
  readonly crypto: Pick<Crypto, 'hash' | 'verify'>;
  readonly manifest: AuditManifest;
  readonly keySource: string;
  readonly state: LedgerState;
  readonly lastEvents: LastEvents;
}

/** How far one origin's log is checked and folded. */
export interface LogCursor {
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

/** A log not yet checked: before its first segment, at the chain's start. */
export function cursorOf(
  entry: AuditManifest['origins'][number],
  bytes: Uint8Array,
  key: Uint8Array,
): LogCursor {
  return { entry, bytes, key, previous: ZERO_HASH, offset: 0, index: 0, head: null, unbound: null };
}

/** Checks and folds the rest of a log, then that nothing follows its last segment; its head. */
export function finishLog(context: LogContext, log: LogCursor): LogHead {
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
export function foldLog(context: LogContext, log: LogCursor, untilSeq: number): void {
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
