/**
 * snapshot.json, for `allot audit verify` (audit-verify.ts): the refold's snapshot, built with the
 * node's own code (`snapshotOf`, `snapshotJsonText`), against the file byte for byte, and when they
 * differ, the first difference named by field and, for a tenant, its last event in the logs. Pure,
 * like audit-verify.ts: a discrepancy is thrown (audit-discrepancy.ts).
 */
import type { LedgerState } from '@allot/core';
import {
  type LogHead,
  type SnapshotHeader,
  type SnapshotTenant,
  sameBytes,
  snapshotOf,
} from '@allot/replica';
import { type AuditFiles, type Discrepancy, Found, fail, utf8 } from './audit-discrepancy.js';
import { type AuditManifest, SNAPSHOT_FILE } from './audit-layout.js';
import type { LastEvents } from './audit-logs.js';
import { snapshotJsonText } from './snapshot-body.js';
import { parseRfc3339 } from './time.js';
import { snapshotHeaderJson, snapshotTenantJson } from './views.js';

/** Compares snapshot.json with the snapshot of the refold; fails at the first difference. */
export function compareSnapshot(
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
