/**
 * The payloads of layout v3's log records (keys.ts), before records.ts seals them:
 * - a segment: its hash (32 bytes), its origin's signature (64 bytes; 64 zero bytes where the node
 *   did not keep it: replica's NO_SIGNATURE), then its bytes as they are
 *   (core's segment codec); the origin and seqs are the segment's own header, checked against the
 *   key on the way out, so one value never carries two copies that could disagree;
 * - a tenant index entry: where the tenant's events of one commit are, as runs of one origin's
 *   seqs (a count, then per run the origin, its length, its first seq and the gaps after it).
 * Writing refuses a malformed record (StoreInvariantError); reading refuses bytes that are not one
 * (StoreCorruptError naming the key).
 */
import { isOriginId, type OriginId, SegmentError, segmentHeader } from '@allot/core';
import type { StoredSegment } from '@allot/replica';
import { StoreCorruptError, StoreInvariantError } from './errors.js';
import { HASH_BYTES, SIGNATURE_BYTES, TENANT_ENTRY_EVENTS_MAX } from './limits.js';

const SEGMENT_PREFIX_BYTES = HASH_BYTES + SIGNATURE_BYTES;

/** The payload of `segment`'s record; a StoreInvariantError if its header is not what it claims. */
export function encodeSegmentRecord(segment: StoredSegment): Uint8Array {
  const where = `segment ${String(segment.origin)}/${segment.firstSeq}-${segment.lastSeq}`;
  if (!(segment.hash instanceof Uint8Array) || segment.hash.length !== HASH_BYTES)
    throw new StoreInvariantError(`${where}: the hash is not ${HASH_BYTES} bytes`);
  if (!(segment.signature instanceof Uint8Array) || segment.signature.length !== SIGNATURE_BYTES)
    throw new StoreInvariantError(`${where}: the signature is not ${SIGNATURE_BYTES} bytes`);
  let header: ReturnType<typeof segmentHeader>;
  try {
    header = segmentHeader(segment.bytes);
  } catch (error) {
    throw new StoreInvariantError(`${where}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (
    header.origin !== segment.origin ||
    header.firstSeq !== segment.firstSeq ||
    header.lastSeq !== segment.lastSeq
  )
    throw new StoreInvariantError(
      `${where}: its bytes hold ${header.origin}/${header.firstSeq}-${header.lastSeq}`,
    );
  const payload = new Uint8Array(SEGMENT_PREFIX_BYTES + segment.bytes.length);
  payload.set(segment.hash, 0);
  payload.set(segment.signature, HASH_BYTES);
  payload.set(segment.bytes, SEGMENT_PREFIX_BYTES);
  return payload;
}

/** The segment in `payload` read at `key`, which must be `origin`'s ending at `lastSeq`. */
export function decodeSegmentRecord(
  key: string,
  payload: Uint8Array,
  origin: OriginId,
  lastSeq: number,
): StoredSegment {
  if (payload.length <= SEGMENT_PREFIX_BYTES)
    throw new StoreCorruptError(key, `a segment record of ${payload.length} bytes`);
  // A plain Uint8Array view (LevelDB hands out Buffers, whose `slice` shares memory): the bytes are
  // not copied, the small fields are.
  const bytes = new Uint8Array(
    payload.buffer,
    payload.byteOffset + SEGMENT_PREFIX_BYTES,
    payload.length - SEGMENT_PREFIX_BYTES,
  );
  let header: ReturnType<typeof segmentHeader>;
  try {
    header = segmentHeader(bytes);
  } catch (error) {
    if (error instanceof SegmentError) throw new StoreCorruptError(key, error.message);
    throw error;
  }
  if (header.origin !== origin || header.lastSeq !== lastSeq)
    throw new StoreCorruptError(key, `holds segment ${header.origin}/${header.firstSeq}-${header.lastSeq}`);
  return {
    origin,
    firstSeq: header.firstSeq,
    lastSeq,
    bytes,
    hash: new Uint8Array(payload.subarray(0, HASH_BYTES)),
    signature: new Uint8Array(payload.subarray(HASH_BYTES, SEGMENT_PREFIX_BYTES)),
  };
}

/** Where one of a tenant's events is: its origin's log and its seq there. */
export interface EventPosition {
  readonly origin: OriginId;
  readonly seq: number;
}

function pushVarint(out: number[], value: number): void {
  let rest = value;
  while (rest >= 128) {
    out.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

/** The payload of a tenant index entry listing `positions` (in the order they were committed). */
export function encodeTenantEntry(positions: readonly EventPosition[]): Uint8Array {
  if (positions.length < 1 || positions.length > TENANT_ENTRY_EVENTS_MAX)
    throw new StoreInvariantError(`a tenant entry of ${positions.length} events`);
  const runs: { origin: OriginId; seqs: number[] }[] = [];
  for (const { origin, seq } of positions) {
    const run = runs[runs.length - 1];
    if (run !== undefined && run.origin === origin && seq > (run.seqs[run.seqs.length - 1] as number))
      run.seqs.push(seq);
    else runs.push({ origin, seqs: [seq] });
  }
  const out: number[] = [];
  pushVarint(out, runs.length);
  for (const { origin, seqs } of runs) {
    pushVarint(out, origin.length);
    for (let i = 0; i < origin.length; i++) out.push(origin.charCodeAt(i));
    pushVarint(out, seqs.length);
    let previous = 0;
    for (const seq of seqs) {
      pushVarint(out, seq - previous);
      previous = seq;
    }
  }
  return Uint8Array.from(out);
}

/** The positions of a tenant index entry in `payload` read at `key`. */
export function decodeTenantEntry(key: string, payload: Uint8Array): EventPosition[] {
  let offset = 0;
  const fail = (problem: string): never => {
    throw new StoreCorruptError(key, `tenant entry ${problem} at byte ${offset}`);
  };
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (offset >= payload.length) fail('ends early');
      const byte = payload[offset++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return Number.isSafeInteger(value) ? value : fail('holds a number past 2^53 − 1');
      scale *= 128;
    }
    return fail('holds a number longer than 8 bytes');
  };
  const positions: EventPosition[] = [];
  const runs = varint();
  if (runs < 1 || runs > payload.length) fail(`has ${runs} runs`);
  for (let r = 0; r < runs; r++) {
    const length = varint();
    if (length > payload.length - offset) fail('has an origin past its end');
    let origin = '';
    for (let i = 0; i < length; i++) origin += String.fromCharCode(payload[offset + i] as number);
    offset += length;
    if (!isOriginId(origin)) fail(`names ${JSON.stringify(origin)}, not an origin`);
    const count = varint();
    if (count < 1 || count > payload.length - offset || positions.length + count > TENANT_ENTRY_EVENTS_MAX)
      fail(`has a run of ${count} events`);
    let seq = 0;
    for (let i = 0; i < count; i++) {
      const gap = varint();
      if (gap < 1) fail('has seqs out of order');
      seq += gap;
      if (!Number.isSafeInteger(seq)) fail('has a seq past 2^53 − 1');
      positions.push({ origin, seq });
    }
  }
  if (offset !== payload.length) fail('has bytes after its last run');
  return positions;
}
