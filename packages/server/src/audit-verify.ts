/**
 * `allot audit verify`, the logic (issue 11): given the files of an export (audit-layout.ts) and
 * the regions' public keys, it checks every origin's hash chain (H(prev ‖ bytes), from 32 zero
 * bytes) and every segment's signature (a segment whose signature the node did not keep, 128 zero
 * hex digits, is vouched for by the next one with a signature: the chain binds it to that one, and
 * a log must end at one), decodes every segment and checks every event, refolds all
 * logs from their first segment, rebuilds the snapshot with the node's own code (`snapshotOf`,
 * `snapshotJsonText`) and compares it with snapshot.json byte for byte. It stops at the first
 * discrepancy and names its file, origin and seq. Pure: files come in as bytes, hashing and
 * signatures through the Crypto port; the CLI does the I/O. Each log's check and fold is
 * audit-logs.ts, the snapshot comparison audit-snapshot.ts, and a discrepancy and how the checks
 * stop at it audit-discrepancy.ts; this module reads the manifest and keys and runs them in order.
 *
 * An export of format v2 may carry the node's checkpoint (audit-checkpoint.ts): its hash and the
 * exporting region's signature are checked, the logs are refolded to its vector, its bytes are
 * compared with core's encoding of that refold, and the refold then goes on to the snapshot.
 */
import { regionOf } from '@allot/core';
import type { Crypto, LogHead } from '@allot/replica';
import {
  type CheckedCheckpoint,
  checkCheckpointFile,
  compareCheckpoint,
  refoldStateFor,
} from './audit-checkpoint.js';
import { type AuditFiles, type Discrepancy, Found, fail, textOf } from './audit-discrepancy.js';
import {
  type AuditManifest,
  KEYS_FILE,
  MANIFEST_FILE,
  ManifestError,
  parseKeysText,
  parseManifest,
} from './audit-layout.js';
import {
  cursorOf,
  finishLog,
  foldLog,
  type LastEvents,
  type LogContext,
  type LogCursor,
} from './audit-logs.js';
import { compareSnapshot } from './audit-snapshot.js';

export { type AuditFiles, type Discrepancy, discrepancyLine } from './audit-discrepancy.js';

/** The region keys an auditor supplies (`--keys FILE`), and where they come from (for messages). */
export interface SuppliedKeys {
  readonly source: string;
  readonly keys: Readonly<Record<string, Uint8Array>>;
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

/** One line for an export that holds up. */
export function summaryLine(summary: AuditSummary): string {
  const checkpoint =
    summary.checkpoint === undefined
      ? ''
      : `; checkpoint.bin (at ${Object.values(summary.checkpoint.vector).reduce((sum, seq) => sum + seq, 0)} events) is signed and equals the refold at its vector${summary.checkpoint.note === null ? ' byte for byte' : ` (${summary.checkpoint.note})`}`;
  return `verified: ${summary.origins} origins, ${summary.segments} segments, ${summary.events} events, ${summary.tenants} tenants; every chain and signature holds and the refold equals snapshot.json byte for byte${checkpoint}`;
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
