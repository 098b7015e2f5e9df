/**
 * `allot audit export` then `allot audit verify` (issue 11, "For auditors"): a three-region cluster
 * (one region on its second incarnation) with grants, moves, debits, a refund and a captured hold;
 * the export is taken over HTTP from one node's real app and verifies; one changed byte of each
 * kind of file (a segment, its hash in the manifest, a signature, keys.yaml, snapshot.json) makes
 * verify exit 1 naming that file; and any single changed byte anywhere is found (fast-check).
 * eu writes a checkpoint mid-history: the export carries it (checkpoint.bin, format v2), verify
 * checks its hash and signature and compares it with the logs refolded to its vector; a v1 export
 * (no checkpoint) still verifies.
 */
import { createHash, verify as verifySignature } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson } from '@allot/core';
import type { Replica } from '@allot/replica';
import {
  AUDIT_FORMAT_V1,
  buildApp,
  CHECKPOINT_FILE,
  discrepancyLine,
  KEYS_FILE,
  keysText,
  MANIFEST_FILE,
  manifestText,
  parseKeysText,
  parseManifest,
  SNAPSHOT_FILE,
  verifyAuditExport,
} from '@allot/server';
import { publicKeyFromRaw } from '@allot/store';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditExport, auditVerify } from '../../packages/cli/src/commands/audit.js';
import { type Cluster, cluster } from '../replica/cluster.js';

const REGIONS = ['eu', 'us', 'ap'];
const AUDITOR = 'audit-s3cret';

async function settle<T>(c: Cluster, outcome: Promise<T>): Promise<T> {
  let done: T | undefined;
  let settled = false;
  void outcome.then((value) => {
    done = value;
    settled = true;
  });
  await c.until(() => settled);
  return done as T;
}

function converged(c: Cluster): boolean {
  return new Set(REGIONS.map((region) => canonicalJson(c.node(region).versionVector()))).size === 1;
}

/** A written stream that keeps what it was given. */
function sink(): NodeJS.WritableStream & { text: string } {
  const out = {
    text: '',
    write(chunk: string) {
      out.text += chunk;
      return true;
    },
  };
  return out as unknown as NodeJS.WritableStream & { text: string };
}

const crypto = {
  hash: (bytes: Uint8Array) => new Uint8Array(createHash('sha256').update(bytes).digest()),
  verify: (key: Uint8Array, bytes: Uint8Array, signature: Uint8Array) =>
    verifySignature(null, bytes, publicKeyFromRaw(key), signature),
};

/** Every file of an export folder, by its path in it. */
function readExport(dir: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name).slice(dir.length + 1);
    files.set(path, new Uint8Array(readFileSync(join(dir, path))));
  }
  return files;
}

let c: Cluster;
let app: FastifyInstance;
let work: string;
let dir: string;
let url: string;

beforeAll(async () => {
  c = await cluster(REGIONS);
  await c.run(5);
  const grant = (tenant: string, grantId: string, amount: number) => ({
    tenant,
    grantId,
    amount,
    priority: 100,
    expiresAt: null,
  });
  const debit = (tenant: string, key: string, amount: number) => ({
    tenant,
    amount,
    idempotencyKey: key,
    metadata: { model: 'x', note: 'é' },
  });
  await settle(c, c.node('eu').grant(grant('acme', 'g1', 9_000)));
  await settle(c, c.node('us').grant(grant('globex', 'g1', 500)));
  await c.until(() => converged(c));
  // us loses its disk: its next events come from a second incarnation, beside the first one's log.
  c.network.cutLink('us', 'eu');
  c.network.cutLink('us', 'ap');
  await c.loseDisk('us');
  c.network.healAll();
  await c.until(() => c.node('us').writable && converged(c));
  for (const region of REGIONS) {
    for (let i = 0; i < 5; i++)
      await settle(c, c.node(region).debit(debit('acme', `${region}-${i}`, 10 + i)));
  }
  // eu's checkpoint here: the debit, refund and hold below are the tail verify folds after it.
  expect(await settle(c, c.node('eu').takeCheckpoint())).toBe(true);
  const taken = await settle(c, c.node('eu').debit(debit('globex', 'gx-1', 40)));
  if (taken.status === 'accepted')
    await settle(
      c,
      c
        .node('eu')
        .refund({ tenant: 'globex', debitId: taken.debit.debitId, amount: 15, idempotencyKey: 'r1' }),
    );
  const held = await settle(
    c,
    c.node('ap').hold({ tenant: 'acme', amount: 70, idempotencyKey: 'h1', ttlMs: 60_000, metadata: null }),
  );
  if (held.status === 'accepted')
    await settle(
      c,
      c.node('ap').settleHold({ tenant: 'acme', holdId: held.hold.holdId, action: 'capture', amount: 30 }),
    );
  await c.until(() => converged(c));
  await c.run(50);

  const replica: Replica = c.node('eu');
  app = await buildApp({ replica, tokens: [{ token: AUDITOR, role: 'auditor' }], logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  work = mkdtempSync(join(tmpdir(), 'allot-audit-'));
  dir = join(work, 'export');
  const progress = sink();
  await auditExport({ url, token: AUDITOR, out: dir }, progress);
  expect(progress.text).toContain('wrote');
}, 60_000);

afterAll(async () => {
  await app?.close();
  for (const region of REGIONS) await c?.node(region).close();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('allot audit export, then verify', () => {
  it('exports every origin up to the snapshot, and verify holds with the export’s keys or the auditor’s', () => {
    const manifest = parseManifest(readFileSync(join(dir, MANIFEST_FILE), 'utf8'));
    const snapshot = JSON.parse(readFileSync(join(dir, SNAPSHOT_FILE), 'utf8'));
    // Four origins: eu, ap, and both incarnations of us.
    expect(manifest.origins.map((entry) => entry.origin)).toEqual(Object.keys(snapshot.versionVector).sort());
    expect(manifest.origins).toHaveLength(4);
    for (const entry of manifest.origins) {
      expect(entry.segments[entry.segments.length - 1]?.lastSeq).toBe(snapshot.versionVector[entry.origin]);
    }
    const out = sink();
    const err = sink();
    expect(auditVerify(dir, undefined, out, err)).toBe(0);
    expect(err.text).toBe('');
    expect(out.text).toMatch(/^verified: 4 origins, \d+ segments, \d+ events, 2 tenants; .*byte for byte\n$/);
    // The checkpoint: signed by eu, behind the snapshot, equal to the refold byte for byte.
    const checkpoint = manifest.checkpoint;
    expect(checkpoint).toMatchObject({ file: CHECKPOINT_FILE });
    const vector = (checkpoint as { vector: Record<string, number> }).vector;
    const total = (v: Record<string, number>) => Object.values(v).reduce((sum, seq) => sum + seq, 0);
    expect(total(vector)).toBeGreaterThan(0);
    expect(total(vector)).toBeLessThan(total(snapshot.versionVector));
    expect(readFileSync(join(dir, CHECKPOINT_FILE)).length).toBe((checkpoint as { bytes: number }).bytes);
    expect(out.text).toContain(
      `checkpoint.bin (at ${total(vector)} events) is signed and equals the refold at its vector byte for byte`,
    );

    // The auditor's own key file (any YAML) overrides the export's keys.yaml.
    const keysFile = join(work, 'auditor-keys.yaml');
    writeFileSync(keysFile, `# from the regions' operators\n${readFileSync(join(dir, KEYS_FILE), 'utf8')}`);
    expect(auditVerify(dir, keysFile, sink(), sink())).toBe(0);
  });

  it('a key file whose key of one region is another’s fails on that region’s first signature, naming the file', () => {
    const keys = readFileSync(join(dir, KEYS_FILE), 'utf8');
    const lines = keys.trimEnd().split('\n');
    const [euLine, usLine] = [lines.find((l) => l.startsWith('eu:')), lines.find((l) => l.startsWith('us:'))];
    const swapped = keys.replace(euLine as string, `eu:${(usLine as string).slice(3)}`);
    const keysFile = join(work, 'wrong-keys.yaml');
    writeFileSync(keysFile, swapped);
    const err = sink();
    expect(auditVerify(dir, keysFile, sink(), err)).toBe(1);
    // eu's checkpoint is checked first (its signer is the exporting region, eu).
    expect(err.text).toMatch(
      /manifest\.json: checkpoint\.signature does not verify .* region eu's public key from .*wrong-keys\.yaml/,
    );
    // Without the checkpoint (a v1 export), eu's log is the first thing the wrong key fails.
    const files = readExport(dir);
    const manifest = parseManifest(new TextDecoder().decode(files.get(MANIFEST_FILE)));
    const v1 = { ...manifest, format: AUDIT_FORMAT_V1 } as typeof manifest;
    delete (v1 as { checkpoint?: unknown }).checkpoint;
    const v1Text = new TextEncoder().encode(manifestText(v1));
    const verdict = verifyAuditExport((p) => (p === MANIFEST_FILE ? v1Text : files.get(p)), crypto, {
      source: keysFile,
      keys: parseKeysText(swapped),
    });
    expect(verdict.ok ? '' : discrepancyLine(verdict.discrepancy)).toMatch(
      /origin eu#\S+ seq \d+: .*signature does not verify with region eu's public key from .*wrong-keys\.yaml/,
    );
  });

  it('a segment whose signature the node did not keep is vouched for by the next signed one; a log may not end at one', () => {
    const files = readExport(dir);
    const manifest = parseManifest(new TextDecoder().decode(files.get(MANIFEST_FILE)));
    const origin = manifest.origins.find(
      (entry) => entry.segments.length >= 3,
    ) as (typeof manifest.origins)[number];
    expect(origin).toBeDefined();
    const unkept = '0'.repeat(128);
    // As a node that received the log in runs stores it: only each run's last signature kept. The
    // export verified with `drop`'s segments of `origin` unsigned, and `file` in place of its log.
    const withUnkept = (drop: (index: number, count: number) => boolean, file = files.get(origin.file)) => {
      const changed = {
        ...manifest,
        origins: manifest.origins.map((entry) =>
          entry !== origin
            ? entry
            : {
                ...entry,
                segments: entry.segments.map((segment, i) =>
                  drop(i, entry.segments.length) ? { ...segment, signature: unkept } : segment,
                ),
              },
        ),
      } as typeof manifest;
      const text = new TextEncoder().encode(manifestText(changed));
      return verifyAuditExport(
        (p) => (p === MANIFEST_FILE ? text : p === origin.file ? file : files.get(p)),
        crypto,
      );
    };
    expect(withUnkept((i, count) => i < count - 1)).toMatchObject({ ok: true });
    expect(withUnkept((i) => i % 2 === 0 && i > 0)).toMatchObject({ ok: true });
    const ending = withUnkept((i, count) => i >= count - 2);
    expect(ending.ok ? '' : discrepancyLine(ending.discrepancy)).toMatch(
      new RegExp(
        `manifest\\.json: origin ${origin.origin.replace('#', '\\#')} seq ${origin.segments[origin.segments.length - 2]?.firstSeq}: the log ends in segments without a signature`,
      ),
    );
    // A changed byte in a segment without a signature: the chain no longer matches the manifest.
    const tampered = new Uint8Array(files.get(origin.file) as Uint8Array);
    const last = (origin.segments[0] as { bytes: number }).bytes - 1;
    tampered[last] = (tampered[last] as number) ^ 1;
    const verdict = withUnkept((i) => i === 0, tampered);
    expect(verdict.ok ? '' : discrepancyLine(verdict.discrepancy)).toMatch(
      /chain hash is not .*a segment whose signature was not kept/,
    );
  });

  it('exports a node that takes writes meanwhile: the logs stop at the snapshot’s vector and verify', async () => {
    const busy = join(work, 'busy');
    let exporting = true;
    let written = 0;
    const load = (async () => {
      while (exporting) {
        for (const region of ['us', 'ap']) {
          void c
            .node(region)
            .debit({ tenant: 'acme', amount: 1, idempotencyKey: `busy-${written++}`, metadata: null });
        }
        await c.run(1);
      }
    })();
    await auditExport({ url, token: AUDITOR, out: busy }, sink()).finally(() => {
      exporting = false;
    });
    await load;
    await c.until(() => converged(c));
    const manifest = parseManifest(readFileSync(join(busy, MANIFEST_FILE), 'utf8'));
    const exported = manifest.origins.reduce((sum, entry) => sum + (entry.segments.at(-1)?.lastSeq ?? 0), 0);
    const now = Object.values(c.node('eu').versionVector()).reduce((sum, seq) => sum + seq, 0);
    expect(written).toBeGreaterThan(0);
    expect(exported).toBeLessThan(now);
    const err = sink();
    expect(auditVerify(busy, undefined, sink(), err)).toBe(0);
    expect(err.text).toBe('');
  });

  /** Another character of `code`'s kind: a digit for a digit (never 0), a–b / A–B for a letter, + or / for the others. */
  const otherOfItsKind = (code: number): number => {
    const c = String.fromCharCode(code);
    if (c >= '0' && c <= '9') return c === '9' ? 0x38 : code + 1; // never a leading 0
    if (c >= 'a' && c <= 'z') return c === 'a' ? 0x62 : 0x61;
    if (c >= 'A' && c <= 'Z') return c === 'A' ? 0x42 : 0x41;
    return c === '+' ? 0x2f : 0x2b;
  };

  const kinds: {
    name: string;
    file: (manifest: ReturnType<typeof parseManifest>) => string;
    at: (text: Buffer, manifest: ReturnType<typeof parseManifest>) => number;
    names: RegExp;
  }[] = [
    {
      name: 'a byte of a segment file',
      file: (m) => (m.origins[0] as { file: string }).file,
      at: (bytes) => bytes.length - 3,
      names: /segments\/\S+\.seg: origin \S+ seq \d+/,
    },
    {
      name: 'a hex digit of a segment’s hash in the manifest',
      file: () => MANIFEST_FILE,
      at: (text) => text.indexOf('"hash": "') + 20,
      names: /manifest\.json: origin \S+ seq \d+: .*hash/,
    },
    {
      name: 'a hex digit of a signature in the manifest',
      file: () => MANIFEST_FILE,
      at: (text) => text.indexOf('"signature": "') + 30,
      names: /manifest\.json: origin \S+ seq \d+: .*signature does not verify .*keys\.yaml/,
    },
    {
      name: 'a byte of checkpoint.bin',
      file: () => CHECKPOINT_FILE,
      at: (bytes) => bytes.length >> 1,
      names: /^allot audit verify: checkpoint\.bin: not the bytes the node signed/,
    },
    {
      name: 'a hex digit of the checkpoint’s hash in the manifest',
      file: () => MANIFEST_FILE,
      at: (text) => text.lastIndexOf('"hash": "') + 20,
      // A hex digit becomes another (hash not of the file) or a non-digit (out of form).
      names:
        /^allot audit verify: manifest\.json: checkpoint\.hash (is not the SHA-256 of checkpoint\.bin|: not 64 lowercase hex)/,
    },
    {
      name: 'a hex digit of the checkpoint’s signature in the manifest',
      file: () => MANIFEST_FILE,
      at: (text) => text.lastIndexOf('"signature": "') + 30,
      names:
        /^allot audit verify: manifest\.json: checkpoint\.signature does not verify .*region eu's public key from keys\.yaml/,
    },
    {
      name: 'a digit of the checkpoint’s vector in the manifest',
      file: () => MANIFEST_FILE,
      at: (text) =>
        text.indexOf('"vector": {') + text.slice(text.indexOf('"vector": {')).indexOf(': ', 10) + 2,
      names: /^allot audit verify: manifest\.json: checkpoint\./,
    },
    {
      name: 'a character of a key in keys.yaml',
      file: () => KEYS_FILE,
      at: (text) => text.indexOf(': ') + 10,
      names: /keys\.yaml/,
    },
    {
      name: 'a digit of a figure in snapshot.json',
      file: () => SNAPSHOT_FILE,
      at: (text) => text.indexOf('"debited":') + 10,
      names: /snapshot\.json: origin \S+ seq \d+: tenants\[0\] is .*the refold gives/,
    },
  ];

  for (const kind of kinds) {
    it(`finds ${kind.name}, names the file, exits 1`, () => {
      const copy = join(work, `tampered-${kinds.indexOf(kind)}`);
      cpSync(dir, copy, { recursive: true });
      const manifest = parseManifest(readFileSync(join(copy, MANIFEST_FILE), 'utf8'));
      const path = join(copy, kind.file(manifest));
      const bytes = readFileSync(path);
      const at = kind.at(bytes, manifest);
      const original = bytes[at] as number;
      // A digit or letter becomes another of its kind that every alphabet here (hex, base64,
      // decimal) holds, so the file still parses: only its meaning changed.
      bytes[at] = otherOfItsKind(original);
      writeFileSync(path, bytes);
      const err = sink();
      expect(auditVerify(copy, undefined, sink(), err)).toBe(1);
      expect(err.text).toMatch(kind.names);
      expect(err.text.split('\n')).toHaveLength(2);
    });
  }

  it('finds any single changed byte in any file of the export (property)', () => {
    const files = readExport(dir);
    const paths = [...files.keys()].sort();
    const sizes = paths.map((path) => (files.get(path) as Uint8Array).length);
    // checkpoint.bin is one of the files a byte may change in.
    expect(paths).toContain(CHECKPOINT_FILE);
    expect(verifyAuditExport((path) => files.get(path), crypto).ok).toBe(true);
    fc.assert(
      fc.property(
        fc
          .integer({ min: 0, max: paths.length - 1 })
          .chain((index) =>
            fc.tuple(
              fc.constant(index),
              fc.integer({ min: 0, max: (sizes[index] as number) - 1 }),
              fc.integer({ min: 1, max: 255 }),
            ),
          ),
        ([index, position, flip]) => {
          const path = paths[index] as string;
          const changed = new Uint8Array(files.get(path) as Uint8Array);
          changed[position] = (changed[position] as number) ^ flip;
          const verdict = verifyAuditExport((p) => (p === path ? changed : files.get(p)), crypto);
          return !verdict.ok;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a v1 export (before checkpoints) still verifies; without checkpoint.bin a v2 one names it', () => {
    const files = readExport(dir);
    const manifest = parseManifest(new TextDecoder().decode(files.get(MANIFEST_FILE)));
    const v1 = { ...manifest, format: AUDIT_FORMAT_V1 } as typeof manifest;
    delete (v1 as { checkpoint?: unknown }).checkpoint;
    const v1Text = new TextEncoder().encode(manifestText(v1));
    const verdict = verifyAuditExport(
      (p) => (p === MANIFEST_FILE ? v1Text : p === CHECKPOINT_FILE ? undefined : files.get(p)),
      crypto,
    );
    expect(verdict).toMatchObject({ ok: true, summary: { origins: 4 } });
    expect((verdict as { summary: object }).summary).not.toHaveProperty('checkpoint');
    expect(
      verifyAuditExport((p) => (p === CHECKPOINT_FILE ? undefined : files.get(p)), crypto),
    ).toMatchObject({
      ok: false,
      discrepancy: { file: CHECKPOINT_FILE, problem: expect.stringContaining('missing') },
    });
  });

  it('a missing file, a stray byte after the last segment, or keys.yaml out of its form are discrepancies', () => {
    const files = readExport(dir);
    const read = (path: string) => files.get(path);
    const without = (gone: string) => verifyAuditExport((p) => (p === gone ? undefined : read(p)), crypto);
    expect(without(SNAPSHOT_FILE)).toMatchObject({ ok: false, discrepancy: { file: SNAPSHOT_FILE } });
    expect(without(MANIFEST_FILE)).toMatchObject({ ok: false, discrepancy: { file: MANIFEST_FILE } });
    const segmentFile = [...files.keys()].find((p) => p.endsWith('.seg')) as string;
    expect(without(segmentFile)).toMatchObject({ ok: false, discrepancy: { file: segmentFile } });
    const longer = new Uint8Array([...(read(segmentFile) as Uint8Array), 0]);
    expect(verifyAuditExport((p) => (p === segmentFile ? longer : read(p)), crypto)).toMatchObject({
      ok: false,
      discrepancy: { file: segmentFile, problem: expect.stringContaining('1 bytes after the last segment') },
    });
    const keys = new TextDecoder().decode(read(KEYS_FILE));
    const spaced = new TextEncoder().encode(keys.replace(': ', ':  '));
    expect(verifyAuditExport((p) => (p === KEYS_FILE ? spaced : read(p)), crypto)).toMatchObject({
      ok: false,
      discrepancy: { file: KEYS_FILE },
    });
    expect(keysText({})).toBe('');
  });
});
