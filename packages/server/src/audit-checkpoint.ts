/**
 * The checkpoint of an audit export (format v2, issue 11), for `verify`: its file against the
 * manifest's entry (length, SHA-256, the exporting node's signature over
 * `checkpointSigningBytes(cluster, vector, hash)`), its header against the manifest's vector, and
 * — once the logs are refolded to that vector — its bytes against core's encoding of the refold.
 * Pure, like audit-verify.ts: bytes in, a discrepancy or nothing out.
 *
 * Retention: a checkpoint of format 2 names the idempotency retention it was written with and holds
 * exactly what is within it as of its vector (core checkpoint-retention.ts), so the refold encoded
 * with that retention gives its bytes. A format-1 checkpoint's key indexes depend on when the node's
 * retention sweep last ran (a wall clock the logs do not record): when the plain refold differs,
 * the refold is swept as the node's checkpoint shows it was (every bucket older than the oldest one
 * it holds) and compared again; the summary then says so. Anything else that differs is a
 * discrepancy naming checkpoint.bin's byte.
 */
import {
  CheckpointError,
  checkpointFormat,
  checkpointHeads,
  createLedgerState,
  decodeCheckpoint,
  encodeCheckpoint,
  forgetAllRecordsBefore,
  type LedgerState,
  type OriginId,
} from '@allot/core';
import { type Crypto, checkpointSigningBytes, sameBytes } from '@allot/replica';
import {
  type AuditManifest,
  bytesOfHex,
  CHECKPOINT_FILE,
  MANIFEST_FILE,
  type ManifestCheckpoint,
} from './audit-layout.js';
import { formatRfc3339 } from './time.js';

/** What verify found wrong about the checkpoint: file, origin and seq when in a log, problem. */
export interface CheckpointDiscrepancy {
  readonly file: string;
  readonly origin?: string;
  readonly seq?: number;
  readonly problem: string;
}

/** A checkpoint whose file, hash and signature hold: what the refold is compared with. */
export interface CheckedCheckpoint {
  readonly bytes: Uint8Array;
  readonly vector: Readonly<Record<OriginId, number>>;
  /** Each origin's head hash at the vector, as the checkpoint holds it. */
  readonly heads: ReadonlyMap<OriginId, Uint8Array>;
  /** The key-index bucket length of its record window; 0 when it has none. */
  readonly bucketMs: number;
}

/** The bucket length the checkpoint's header names (header already checked by checkpointHeads). */
function bucketMsOf(bytes: Uint8Array): number {
  // "ACKP", version, flags, then the bucket length as an unsigned LEB128 varint.
  let value = 0;
  let scale = 1;
  for (let at = 6; at < bytes.length; at++) {
    const byte = bytes[at] as number;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
  return 0;
}

/**
 * Checks the checkpoint file of `manifest` (format v2 with a checkpoint): length, hash, signature
 * with `key` (the exporting region's), its header's vector and heads; returns it or a discrepancy.
 */
export function checkCheckpointFile(
  file: Uint8Array | undefined,
  crypto: Pick<Crypto, 'hash' | 'verify'>,
  manifest: AuditManifest,
  entry: ManifestCheckpoint,
  key: Uint8Array,
  keySource: string,
): CheckedCheckpoint | CheckpointDiscrepancy {
  if (file === undefined)
    return { file: CHECKPOINT_FILE, problem: 'missing (the manifest lists a checkpoint)' };
  const claimedHash = bytesOfHex(entry.hash);
  const signature = bytesOfHex(entry.signature);
  const signed = (hash: Uint8Array) =>
    crypto.verify(key, checkpointSigningBytes(manifest.cluster, entry.vector, hash), signature);
  const hash = crypto.hash(file);
  if (!sameBytes(hash, claimedHash)) {
    if (signed(claimedHash))
      return {
        file: CHECKPOINT_FILE,
        problem: `not the bytes the node signed (${file.length} bytes, manifest says ${entry.bytes}; their SHA-256 is not ${MANIFEST_FILE} checkpoint.hash)`,
      };
    if (signed(hash))
      return { file: MANIFEST_FILE, problem: `checkpoint.hash is not the SHA-256 of ${CHECKPOINT_FILE}` };
    return {
      file: CHECKPOINT_FILE,
      problem: `its SHA-256 is not ${MANIFEST_FILE} checkpoint.hash, and the signature holds for neither (${CHECKPOINT_FILE} or ${MANIFEST_FILE} changed)`,
    };
  }
  if (!signed(hash))
    return {
      file: MANIFEST_FILE,
      problem: `checkpoint.signature does not verify over its cluster, vector and hash with region ${manifest.region}'s public key from ${keySource}`,
    };
  if (file.length !== entry.bytes)
    return {
      file: MANIFEST_FILE,
      problem: `checkpoint.bytes says ${entry.bytes}, ${CHECKPOINT_FILE} has ${file.length}`,
    };
  let heads: ReturnType<typeof checkpointHeads>;
  try {
    heads = checkpointHeads(file);
  } catch (error) {
    if (error instanceof CheckpointError)
      return { file: CHECKPOINT_FILE, problem: `signed, but not a checkpoint: ${error.message}` };
    throw error;
  }
  const vector: Record<OriginId, number> = {};
  for (const origin of [...heads.keys()].sort()) vector[origin] = (heads.get(origin) as { seq: number }).seq;
  if (JSON.stringify(vector) !== JSON.stringify(entry.vector))
    return {
      file: CHECKPOINT_FILE,
      problem: `its header's vector ${JSON.stringify(vector)} is not the signed ${JSON.stringify(entry.vector)}`,
    };
  for (const [origin, seq] of Object.entries(vector)) {
    const log = manifest.origins.find((each) => each.origin === origin);
    if (log?.segments.some((segment) => segment.lastSeq === seq) !== true)
      return {
        file: CHECKPOINT_FILE,
        origin,
        seq,
        problem: `the checkpoint's vector is not at the end of a segment of ${origin} in the export`,
      };
  }
  const hashes = new Map<OriginId, Uint8Array>();
  for (const [origin, head] of heads) hashes.set(origin, head.hash);
  return { bytes: file, vector, heads: hashes, bucketMs: bucketMsOf(file) };
}

/** An empty ledger for the refold, with the checkpoint's record window (no records kept on the heap). */
export function refoldStateFor(checkpoint: CheckedCheckpoint | null): LedgerState {
  if (checkpoint === null || checkpoint.bucketMs === 0) return createLedgerState();
  return createLedgerState({ recordWindow: { records: 0, bucketMs: checkpoint.bucketMs } });
}

/** The oldest key-index bucket a checkpoint holds (debits or refunds); null when it holds none. */
function oldestBucket(state: LedgerState): number | null {
  let oldest: number | null = null;
  const visit = (bucket: number) => {
    if (oldest === null || bucket < oldest) oldest = bucket;
  };
  state.recordWindow?.debitKeys.forEachTable(visit);
  state.recordWindow?.refundKeys.forEachTable(visit);
  return oldest;
}

/** The newest key-index bucket the refold holds; null when none. */
function newestBucket(state: LedgerState): number | null {
  let newest: number | null = null;
  const visit = (bucket: number) => {
    if (newest === null || bucket > newest) newest = bucket;
  };
  state.recordWindow?.debitKeys.forEachTable(visit);
  state.recordWindow?.refundKeys.forEachTable(visit);
  return newest;
}

/**
 * Compares the checkpoint with the refold `state` at its vector: the head hashes against the
 * chain's (`chain`: each origin's hash at the vector's seq), then the bytes of core's encoding.
 * When they differ only as a retention sweep of the node explains (see the module's comment), the
 * refold is swept the same way (mutating `state`) and the note says from which time. Returns the
 * note (null: equal as refolded) or a discrepancy.
 */
export function compareCheckpoint(
  checkpoint: CheckedCheckpoint,
  state: LedgerState,
  chain: ReadonlyMap<OriginId, Uint8Array>,
): { readonly note: string | null } | CheckpointDiscrepancy {
  for (const [origin, seq] of Object.entries(checkpoint.vector)) {
    const ours = chain.get(origin);
    if (ours === undefined || !sameBytes(ours, checkpoint.heads.get(origin) as Uint8Array))
      return {
        file: CHECKPOINT_FILE,
        origin,
        seq,
        problem: 'its head hash is not the hash of the log’s chain at that seq',
      };
  }
  // Encoded as the node wrote it: its format, and (format 2) its retention, which makes a node's
  // sweeps invisible (core checkpoint-retention.ts).
  const { version, retentionMs } = checkpointFormat(checkpoint.bytes);
  const options = { retentionMs, version: version === 1 ? 1 : 2 } as const;
  const refolded = encodeCheckpoint(state, chain, options);
  if (sameBytes(refolded, checkpoint.bytes)) return { note: null };
  if (checkpoint.bucketMs > 0) {
    const cutoffBucket = oldestBucketHeld(checkpoint) ?? (newestBucket(state) ?? -1) + 1;
    const cutoffMs = cutoffBucket * checkpoint.bucketMs;
    forgetAllRecordsBefore(state, cutoffMs);
    const swept = encodeCheckpoint(state, chain, options);
    if (sameBytes(swept, checkpoint.bytes))
      return {
        note: `checkpoint.bin equals the refold once records before ${formatRfc3339(cutoffMs)} are forgotten (the node's retention sweep had run: idempotency keys older than that are not in it)`,
      };
  }
  let at = 0;
  while (at < refolded.length && at < checkpoint.bytes.length && refolded[at] === checkpoint.bytes[at])
    at += 1;
  return {
    file: CHECKPOINT_FILE,
    problem: `byte ${at} differs from core's encoding of the logs refolded to its vector (${checkpoint.bytes.length} bytes, the refold's ${refolded.length})`,
  };
}

/** The oldest bucket held by the node's checkpoint, decoded with its own window. */
function oldestBucketHeld(checkpoint: CheckedCheckpoint): number | null {
  try {
    const decoded = decodeCheckpoint(checkpoint.bytes, {
      recordWindow: { records: 0, bucketMs: checkpoint.bucketMs },
    });
    return oldestBucket(decoded.state);
  } catch (error) {
    if (error instanceof CheckpointError) return null;
    throw error;
  }
}
