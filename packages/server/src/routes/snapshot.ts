/**
 * GET /v1/snapshot (auditor, admin; not for tenant-scoped tokens): every tenant's figures at one
 * version vector: the node's current one, or with `?at=<version vector JSON>` exactly those log
 * prefixes (as-of.ts). JSON by default; with `Accept: application/x-ndjson` the header object on the
 * first line, then one tenant per line. Both are streamed, so millions of tenants never sit in one
 * string.
 */
import { Readable } from 'node:stream';
import { parseVersionVector, type SnapshotHeader, type SnapshotTenant } from '@allot/replica';
import type { FastifyInstance } from 'fastify';
import { getSnapshotAtSchema } from '../as-of-schemas.js';
import { apiError } from '../errors.js';
import { SNAPSHOT_CHUNK_TENANTS } from '../limits.js';
import type { RouteContext } from '../route-context.js';
import { RETRY_AFTER_SECONDS } from '../route-context.js';
import { NDJSON_MEDIA_TYPE } from '../schemas.js';
import { snapshotJsonChunks } from '../snapshot-body.js';
import { snapshotHeaderJson, snapshotTenantJson } from '../views.js';

/** The NDJSON media type of API.md. */
export const NDJSON = NDJSON_MEDIA_TYPE;

/**
 * True when the Accept header prefers NDJSON: it lists application/x-ndjson with q > 0 and no
 * JSON type with a higher q. Absent or anything else: JSON.
 */
export function prefersNdjson(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  let ndjson = 0;
  let json = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    const qParam = params.find((param) => param.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === NDJSON) ndjson = Math.max(ndjson, q);
    if (type === 'application/json') json = Math.max(json, q);
  }
  return ndjson > 0 && ndjson >= json;
}

function* ndjsonLines(header: object, tenants: readonly SnapshotTenant[]): Generator<string> {
  yield `${JSON.stringify(header)}\n`;
  for (let from = 0; from < tenants.length; from += SNAPSHOT_CHUNK_TENANTS) {
    let chunk = '';
    for (const tenant of tenants.slice(from, from + SNAPSHOT_CHUNK_TENANTS)) {
      chunk += `${JSON.stringify(snapshotTenantJson(tenant))}\n`;
    }
    yield chunk;
  }
}

/**
 * The snapshot at the version vector in `text` (as-of.ts), or the API error saying why not: bad
 * JSON, a seq inside a segment or prefixes that do not fold together are a 400, a seq past what
 * this node holds a 404 not_found.
 */
async function snapshotAtVector(
  context: RouteContext,
  text: string,
): Promise<{ header: SnapshotHeader; tenants: SnapshotTenant[] }> {
  const parsed = parseVersionVector(text);
  if ('problem' in parsed) {
    throw apiError(
      'invalid_request',
      { problem: `querystring/at: ${parsed.problem}` },
      { location: 'querystring', field: '/at' },
    );
  }
  const taken = await context.replica().snapshotAt(parsed.vector);
  if ('header' in taken) return taken;
  if (taken.status === 'inside_segment') {
    const { origin, seq, firstSeq, lastSeq } = taken;
    throw apiError(
      'invalid_request',
      {
        problem:
          `querystring/at: seq ${seq} of ${origin} falls inside its segment of seqs ${firstSeq}–${lastSeq}; ` +
          `a snapshot is taken at segment ends (signed heads): ask for ${firstSeq - 1} or ${lastSeq}`,
      },
      { location: 'querystring', field: '/at', origin, seq, segment: { firstSeq, lastSeq } },
    );
  }
  if (taken.status === 'busy') {
    throw apiError(
      'unavailable',
      { reason: `another snapshot at a version vector is being folded (at most ${taken.limit} at once)` },
      { reason: 'snapshot_busy' },
      { 'retry-after': String(RETRY_AFTER_SECONDS) },
    );
  }
  if (taken.status === 'does_not_fold') {
    const { origin, seq, problem } = taken;
    throw apiError(
      'invalid_request',
      {
        problem:
          `querystring/at: the prefixes it names do not fold together: event ${seq} of ${origin} ` +
          `needs an event the vector leaves out (${problem})`,
      },
      { location: 'querystring', field: '/at', origin, seq },
    );
  }
  const { origin, seq, held } = taken;
  throw apiError(
    'not_found',
    { what: `events of ${origin} up to seq ${seq}: this node holds its log up to seq ${held}` },
    { origin, seq, held },
  );
}

/** Registers the snapshot route. */
export function registerSnapshotRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get<{ Querystring: { at?: string } }>(
    '/v1/snapshot',
    {
      schema: getSnapshotAtSchema,
      config: { access: { roles: ['auditor', 'admin'], scope: 'every-tenant' } },
    },
    async (request, reply) => {
      const { at } = request.query;
      const { header, tenants } =
        at === undefined ? await context.replica().snapshot() : await snapshotAtVector(context, at);
      const headerJson = snapshotHeaderJson(header);
      reply.header('vary', 'accept');
      if (prefersNdjson(request.headers.accept)) {
        reply.type(NDJSON);
        return reply.send(Readable.from(ndjsonLines(headerJson, tenants)));
      }
      reply.type('application/json; charset=utf-8');
      return reply.send(Readable.from(snapshotJsonChunks(headerJson, tenants)));
    },
  );
}
