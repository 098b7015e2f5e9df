/**
 * The auditor's export routes (issue 11, `allot audit export`): GET /v1/audit/keys, the public key
 * of every region this node knows, and GET /v1/audit/segments, one origin's log as the segments
 * its origin signed, paged. Auditor and admin only, and not for tenant-scoped tokens: a log holds
 * every tenant's events. GET /v1/audit/checkpoint serves the node's newest signed checkpoint
 * (DESIGN.md §2), which the export takes beside the logs; 404 while none is written.
 */
import { Readable } from 'node:stream';
import { checkpointHeads } from '@allot/core';
import { type StoredCheckpoint, toHex } from '@allot/replica';
import type { FastifyInstance } from 'fastify';
import { getAuditCheckpointSchema, getAuditKeysSchema, getAuditSegmentsSchema } from '../audit-schemas.js';
import { apiError } from '../errors.js';
import {
  AUDIT_CHECKPOINT_CHUNK_BYTES,
  AUDIT_PAGE_BYTES_MAX,
  AUDIT_SEGMENTS_PAGE_DEFAULT,
  AUDIT_SEGMENTS_PAGE_MAX,
} from '../limits.js';
import type { RouteContext } from '../route-context.js';

const AUDIT_ACCESS = { roles: ['auditor', 'admin'], scope: 'every-tenant' } as const;

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * The JSON body of GET /v1/audit/checkpoint in pieces: the bytes' base64 a chunk at a time (a
 * multiple of 3 bytes each), so no string as large as the checkpoint's base64 is ever built.
 */
function* checkpointJson(stored: StoredCheckpoint): Generator<string> {
  const vector: Record<string, number> = {};
  const heads = checkpointHeads(stored.bytes);
  for (const origin of [...heads.keys()].sort()) vector[origin] = (heads.get(origin) as { seq: number }).seq;
  yield `{"vector":${JSON.stringify(vector)},"hash":"${toHex(stored.hash)}","signature":"${toHex(stored.signature)}","bytes":"`;
  for (let at = 0; at < stored.bytes.length; at += AUDIT_CHECKPOINT_CHUNK_BYTES)
    yield base64(stored.bytes.subarray(at, at + AUDIT_CHECKPOINT_CHUNK_BYTES));
  yield '"}';
}

/** Registers the audit routes. */
export function registerAuditRoutes(app: FastifyInstance, context: RouteContext): void {
  app.get('/v1/audit/keys', { schema: getAuditKeysSchema, config: { access: AUDIT_ACCESS } }, async () => {
    const replica = context.replica();
    const keys: Record<string, string> = {};
    const known = replica.regionKeys();
    for (const region of Object.keys(known).sort()) keys[region] = base64(known[region] as Uint8Array);
    return { cluster: replica.cluster, region: replica.region, keys };
  });

  app.get(
    '/v1/audit/checkpoint',
    { schema: getAuditCheckpointSchema, config: { access: AUDIT_ACCESS } },
    async (_request, reply) => {
      const stored = await context.replica().newestCheckpoint();
      if (stored === null) throw apiError('not_found', { what: 'a checkpoint (none is written yet)' });
      reply.type('application/json; charset=utf-8');
      return reply.send(Readable.from(checkpointJson(stored)));
    },
  );

  app.get<{ Querystring: { origin: string; after?: string; limit?: string } }>(
    '/v1/audit/segments',
    { schema: getAuditSegmentsSchema, config: { access: AUDIT_ACCESS } },
    async (request) => {
      const { origin } = request.query;
      const after = request.query.after === undefined ? 0 : Number(request.query.after);
      const limit =
        request.query.limit === undefined ? AUDIT_SEGMENTS_PAGE_DEFAULT : Number(request.query.limit);
      if (!Number.isSafeInteger(after)) {
        throw apiError(
          'invalid_request',
          { problem: 'querystring/after must be a seq of at most 2^53 − 1' },
          { location: 'querystring', field: '/after' },
        );
      }
      if (limit > AUDIT_SEGMENTS_PAGE_MAX) {
        throw apiError(
          'invalid_request',
          { problem: `querystring/limit must be at most ${AUDIT_SEGMENTS_PAGE_MAX}` },
          { location: 'querystring', field: '/limit', limit: AUDIT_SEGMENTS_PAGE_MAX },
        );
      }
      const replica = context.replica();
      // An origin this node never heard of is not an empty log: the auditor asked for the wrong one.
      if (!(origin in replica.versionVector()))
        throw apiError('not_found', { what: `origin ${origin}` }, { origin });
      const read = await replica.auditSegments(origin, after + 1, limit);
      const segments = [];
      let bytes = 0;
      for (const segment of read) {
        if (segments.length > 0 && bytes + segment.bytes.length > AUDIT_PAGE_BYTES_MAX) break;
        bytes += segment.bytes.length;
        segments.push({
          firstSeq: segment.firstSeq,
          lastSeq: segment.lastSeq,
          bytes: base64(segment.bytes),
          hash: toHex(segment.hash),
          signature: toHex(segment.signature),
        });
      }
      const cut = segments.length < read.length || read.length === limit;
      const last = segments[segments.length - 1];
      return { origin, segments, next: cut && last !== undefined ? last.lastSeq : null };
    },
  );
}
