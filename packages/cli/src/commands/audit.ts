/**
 * `allot audit export --url URL --token T --out DIR` and `allot audit verify DIR [--keys FILE]`
 * (API.md, issue 11): the I/O around the server package's export layout and pure verifier. Export
 * takes the node's newest checkpoint (checkpoint.bin, when it has one), then its snapshot, then
 * every origin's signed segments up to the snapshot's version vector, the region keys the node
 * knows, and writes the manifest last (a folder without one is not an export). Verify reads a
 * folder and needs no node.
 */
import { createHash, verify as verifySignature } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { isRegionId } from '@allot/core';
import {
  AUDIT_FORMAT,
  AUDIT_SEGMENTS_PAGE_MAX,
  type AuditManifest,
  CHECKPOINT_FILE,
  discrepancyLine,
  KEYS_FILE,
  keysText,
  MANIFEST_FILE,
  type ManifestCheckpoint,
  type ManifestOrigin,
  type ManifestSegment,
  manifestText,
  publicKeyOfBase64,
  SEGMENTS_DIR,
  SNAPSHOT_FILE,
  type SuppliedKeys,
  segmentFileOf,
  summaryLine,
  verifyAuditExport,
} from '@allot/server';
import { publicKeyFromRaw } from '@allot/store';
import { parse as parseYaml } from 'yaml';

/** What went wrong exporting or reading an export's inputs, in one line. */
export class AuditError extends Error {
  override readonly name = 'AuditError';
}

/** Pages between two progress lines of one origin (a page is up to AUDIT_SEGMENTS_PAGE_MAX segments). */
const PROGRESS_PAGES = 50;

/** Options of `allot audit export`. */
export interface AuditExportOptions {
  readonly url: string;
  readonly token: string;
  readonly out: string;
}

interface SnapshotHead {
  readonly cluster: string;
  readonly region: string;
  readonly takenAt: string;
  readonly versionVector: Record<string, number>;
}

interface SegmentsPage {
  readonly segments: {
    readonly firstSeq: number;
    readonly lastSeq: number;
    readonly bytes: string;
    readonly hash: string;
    readonly signature: string;
  }[];
  readonly next: number | null;
}

interface CheckpointAnswer {
  readonly vector: Record<string, number>;
  readonly hash: string;
  readonly signature: string;
  readonly bytes: string;
}

/** GET `path` of the node at `base` with the token; the body's bytes, or an AuditError naming the answer. */
async function get(base: string, path: string, token: string, absent?: number): Promise<Buffer | null> {
  let endpoint: URL;
  try {
    endpoint = new URL(path, base);
  } catch {
    throw new AuditError(`--url: not a URL: ${base}`);
  }
  let response: Response;
  try {
    response = await fetch(endpoint, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    });
  } catch (error) {
    throw new AuditError(`${endpoint.origin}: ${(error as Error).cause ?? (error as Error).message}`);
  }
  const body = Buffer.from(await response.arrayBuffer());
  if (response.status === absent) return null;
  if (!response.ok) {
    let detail = body.subarray(0, 300).toString('utf8');
    try {
      const parsed = JSON.parse(body.toString('utf8')) as { error?: { code?: string; message?: string } };
      if (parsed.error?.code !== undefined) detail = `${parsed.error.code}: ${parsed.error.message ?? ''}`;
    } catch {
      // not JSON: show the text as it came
    }
    throw new AuditError(`${endpoint.origin}${endpoint.pathname}: HTTP ${response.status}: ${detail}`);
  }
  return body;
}

function jsonOf<T>(body: Buffer | null, what: string): T {
  try {
    return JSON.parse((body as Buffer).toString('utf8')) as T;
  } catch {
    throw new AuditError(`${what}: the node's answer is not JSON`);
  }
}

/** `--out` must be absent or an empty folder: an export is never written over another one. */
function prepareOut(out: string): void {
  let empty = true;
  try {
    if (!statSync(out).isDirectory()) throw new AuditError(`--out ${out}: exists and is not a folder`);
    empty = readdirSync(out).length === 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (!empty) throw new AuditError(`--out ${out}: not empty (an export is never written over another)`);
  mkdirSync(join(out, SEGMENTS_DIR), { recursive: true });
}

/** Writes an export of the node at `options.url` to `options.out`; progress lines go to `progress`. */
export async function auditExport(
  options: AuditExportOptions,
  progress: NodeJS.WritableStream,
): Promise<void> {
  const { url, token, out } = options;
  prepareOut(out);
  const known = jsonOf<{ cluster: string; region: string; keys: Record<string, string> }>(
    await get(url, '/v1/audit/keys', token),
    '/v1/audit/keys',
  );
  const keys: Record<string, Uint8Array> = {};
  for (const [region, text] of Object.entries(known.keys)) {
    const key = publicKeyOfBase64(text);
    if (key === null)
      throw new AuditError(`/v1/audit/keys: the key of region ${region} is not a base64 Ed25519 key`);
    keys[region] = key;
  }
  // The checkpoint before the snapshot: the snapshot's vector then covers the checkpoint's.
  const checkpointBody = await get(url, '/v1/audit/checkpoint', token, 404);
  const checkpoint =
    checkpointBody === null ? null : jsonOf<CheckpointAnswer>(checkpointBody, '/v1/audit/checkpoint');
  // The snapshot first: its version vector says how far each log is exported.
  const snapshotBody = (await get(url, '/v1/snapshot', token)) as Buffer;
  const snapshot = jsonOf<SnapshotHead>(snapshotBody, '/v1/snapshot');
  if (snapshot.cluster !== known.cluster || snapshot.region !== known.region)
    throw new AuditError(`/v1/snapshot: cluster or region differs from /v1/audit/keys' (a different node?)`);
  progress.write(
    `allot audit export: snapshot of ${snapshot.region} taken at ${snapshot.takenAt}, ${Object.keys(snapshot.versionVector).length} origins\n`,
  );
  let listed: ManifestCheckpoint | null = null;
  if (checkpoint !== null) {
    for (const [origin, seq] of Object.entries(checkpoint.vector))
      if (!(seq <= (snapshot.versionVector[origin] ?? 0)))
        throw new AuditError(
          `/v1/audit/checkpoint: its vector has ${origin} at seq ${seq}, past the snapshot's (a different node?)`,
        );
    const bytes = Buffer.from(checkpoint.bytes, 'base64');
    writeFileSync(join(out, CHECKPOINT_FILE), bytes, { flag: 'wx' });
    const vector: Record<string, number> = {};
    for (const origin of Object.keys(checkpoint.vector).sort())
      vector[origin] = checkpoint.vector[origin] as number;
    listed = {
      file: CHECKPOINT_FILE,
      bytes: bytes.length,
      vector,
      hash: checkpoint.hash,
      signature: checkpoint.signature,
    };
    const total = Object.values(vector).reduce((sum, seq) => sum + seq, 0);
    progress.write(`allot audit export: checkpoint at ${total} events (${bytes.length} bytes)\n`);
  }
  const origins: ManifestOrigin[] = [];
  for (const origin of Object.keys(snapshot.versionVector).sort()) {
    origins.push(
      await exportLog(url, token, out, origin, snapshot.versionVector[origin] as number, progress),
    );
  }
  writeFileSync(join(out, SNAPSHOT_FILE), snapshotBody);
  writeFileSync(join(out, KEYS_FILE), keysText(keys));
  const manifest: AuditManifest = {
    format: AUDIT_FORMAT,
    cluster: snapshot.cluster,
    region: snapshot.region,
    takenAt: snapshot.takenAt,
    origins,
    checkpoint: listed,
  };
  writeFileSync(join(out, MANIFEST_FILE), manifestText(manifest));
  const events = Object.values(snapshot.versionVector).reduce((sum, seq) => sum + seq, 0);
  progress.write(`allot audit export: wrote ${out} (${origins.length} origins, ${events} events)\n`);
}

/** Pages one origin's segments up to `target` into its segment file; its manifest entry. */
async function exportLog(
  url: string,
  token: string,
  out: string,
  origin: string,
  target: number,
  progress: NodeJS.WritableStream,
): Promise<ManifestOrigin> {
  const file = segmentFileOf(origin);
  const fd = openSync(join(out, file), 'wx');
  const segments: ManifestSegment[] = [];
  try {
    let after = 0;
    let pages = 0;
    while (after < target) {
      const query = new URLSearchParams({
        origin,
        after: String(after),
        limit: String(AUDIT_SEGMENTS_PAGE_MAX),
      });
      const page = jsonOf<SegmentsPage>(
        await get(url, `/v1/audit/segments?${query}`, token),
        '/v1/audit/segments',
      );
      if (page.segments.length === 0)
        throw new AuditError(
          `${origin}: the node answered no segment after seq ${after}; its snapshot says ${target}`,
        );
      for (const segment of page.segments) {
        if (segment.firstSeq !== after + 1)
          throw new AuditError(`${origin}: the node answered seq ${segment.firstSeq} after seq ${after}`);
        if (segment.lastSeq > target)
          throw new AuditError(
            `${origin}: a segment ends at seq ${segment.lastSeq}, past the snapshot's ${target}`,
          );
        const bytes = Buffer.from(segment.bytes, 'base64');
        writeSync(fd, bytes);
        segments.push({
          firstSeq: segment.firstSeq,
          lastSeq: segment.lastSeq,
          bytes: bytes.length,
          hash: segment.hash,
          signature: segment.signature,
        });
        after = segment.lastSeq;
        if (after === target) break;
      }
      pages += 1;
      if (pages % PROGRESS_PAGES === 0)
        progress.write(`allot audit export: ${origin} seq ${after} of ${target}\n`);
    }
  } finally {
    closeSync(fd);
  }
  progress.write(`allot audit export: ${origin}: ${target} events in ${segments.length} segments\n`);
  return { origin, file, segments };
}

/** Reads an auditor's key file: YAML `region: <base64 public key>`; an AuditError naming what is wrong. */
export function readKeysFile(path: string): SuppliedKeys {
  let value: unknown;
  try {
    value = parseYaml(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new AuditError(`--keys ${path}: ${(error as Error).message.split('\n')[0]}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new AuditError(`--keys ${path}: not a YAML mapping of region: <base64 public key>`);
  const keys: Record<string, Uint8Array> = {};
  for (const [region, text] of Object.entries(value)) {
    if (!isRegionId(region))
      throw new AuditError(`--keys ${path}: ${JSON.stringify(region)} is not a region id`);
    const key = typeof text === 'string' ? publicKeyOfBase64(text) : null;
    if (key === null)
      throw new AuditError(`--keys ${path}: ${region}: not the base64 of a 32-byte Ed25519 public key`);
    keys[region] = key;
  }
  return { source: path, keys };
}

/** SHA-256 and Ed25519 verification from node:crypto: all verify needs (no private key). */
const verifyingCrypto = {
  hash: (bytes: Uint8Array) => new Uint8Array(createHash('sha256').update(bytes).digest()),
  verify: (publicKey: Uint8Array, bytes: Uint8Array, signature: Uint8Array) =>
    signature.length === 64 && verifySignature(null, bytes, publicKeyFromRaw(publicKey), signature),
};

/**
 * Verifies the export in `dir`, offline; keys from `keysFile` when given. Prints the summary to
 * `out` and returns 0 when all holds; prints the first discrepancy to `err` and returns 1 otherwise.
 */
export function auditVerify(
  dir: string,
  keysFile: string | undefined,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): number {
  try {
    if (!statSync(dir).isDirectory()) throw new AuditError(`${dir}: not a folder`);
  } catch (error) {
    if (error instanceof AuditError) throw error;
    throw new AuditError(`${dir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const supplied = keysFile === undefined ? undefined : readKeysFile(keysFile);
  const files = (path: string): Uint8Array | undefined => {
    try {
      return readFileSync(join(dir, path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  };
  const verdict = verifyAuditExport(files, verifyingCrypto, supplied);
  if (verdict.ok) {
    out.write(`${summaryLine(verdict.summary)}\n`);
    return 0;
  }
  err.write(`allot audit verify: ${discrepancyLine(verdict.discrepancy)}\n`);
  return 1;
}
