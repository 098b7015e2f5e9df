/**
 * The OpenAPI document at /docs/json, fetched from a listening node with every route, as tools nobody here wrote read
 * it: Redocly CLI's recommended rules find no error, every operation has an operationId, and
 * openapi-typescript types it as the client's checked-in types (packages/client/src/generated/).
 * `ALLOT_UPDATE_OPENAPI_TYPES=1` rewrites that file from the served document instead of comparing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_VERSION } from '../src/openapi.js';
import { type RealtimeNode, realtimeNode } from './realtime/support.js';

const run = promisify(execFile);
const BIN = new URL('../../../node_modules/.bin/', import.meta.url).pathname;
/** The client's generated types, checked in (packages/client). */
const CLIENT_TYPES = new URL('../../client/src/generated/openapi.ts', import.meta.url).pathname;

interface RedoclyReport {
  totals: { errors: number; warnings: number };
  problems: { ruleId: string; severity: string; message: string; location: { pointer?: string }[] }[];
}

interface OpenApiDocument {
  openapi: string;
  servers?: { url: string }[];
  paths: Record<string, Record<string, { operationId?: string; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, unknown> };
}

describe('the OpenAPI document', () => {
  let node: RealtimeNode;
  let dir: string;
  let file: string;
  let document: OpenApiDocument;

  beforeAll(async () => {
    // A node with every part wired, as `allot node` runs it: the stream and webhook routes too.
    node = await realtimeNode();
    const response = await fetch(`${node.base}/docs/json`);
    expect(response.status).toBe(200);
    const text = await response.text();
    document = JSON.parse(text) as OpenApiDocument;
    dir = mkdtempSync(join(tmpdir(), 'allot-openapi-'));
    file = join(dir, 'openapi.json');
    writeFileSync(file, text);
    writeFileSync(join(dir, 'redocly.yaml'), 'extends:\n  - recommended\n');
  });

  afterAll(async () => {
    await node?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('is OpenAPI 3.1 with a server, an operationId on every operation, and typed errors', () => {
    expect(document.openapi).toBe(OPENAPI_VERSION);
    expect(document.servers?.length).toBeGreaterThan(0);
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
    );
    expect(operations.length).toBeGreaterThan(10);
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(ids.filter((id) => id === undefined)).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    // Errors by their real status, never a 4XX/5XX range.
    for (const { operation } of operations) {
      for (const status of Object.keys(operation.responses)) expect(status).toMatch(/^[1-5][0-9][0-9]$/);
    }
  });

  it('passes Redocly’s recommended rules without an error', async () => {
    const { stdout } = await run(
      join(BIN, 'redocly'),
      ['lint', file, '--config', join(dir, 'redocly.yaml'), '--format=json'],
      { env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } },
    ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    const report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as RedoclyReport;
    const errors = report.problems.filter((problem) => problem.severity === 'error');
    expect(errors).toEqual([]);
    expect(report.totals.errors).toBe(0);
  });

  it('types with openapi-typescript as the client’s checked-in types, with no untyped batch, limit or event', async () => {
    const out = join(dir, 'openapi.ts');
    await run(join(BIN, 'openapi-typescript'), [file, '-o', out]);
    const generated = readFileSync(out, 'utf8');
    expect(generated).toContain('debits: components["schemas"]["BatchDebit"][];');
    expect(generated).toMatch(/limit\?: number;/);
    expect(generated).toContain(
      'Event: components["schemas"]["GrantEvent"] | components["schemas"]["DebitEvent"]',
    );
    expect(generated).toContain('"application/x-ndjson": string;');
    if (process.env.ALLOT_UPDATE_OPENAPI_TYPES === '1') writeFileSync(CLIENT_TYPES, generated);
    expect(generated, 'regenerate with ALLOT_UPDATE_OPENAPI_TYPES=1 (packages/client)').toBe(
      readFileSync(CLIENT_TYPES, 'utf8'),
    );
  });
});
