/**
 * GET /v1/stream (API.md): Server-Sent Events of every event durable here from now on, or after a
 * cursor (`Last-Event-ID` first, else `?after=`), for one tenant or all. Auditors and admins; a
 * tenant-scoped token must name one of its tenants. The fan-out is the StreamHub's.
 */
import type { FastifyInstance } from 'fastify';
import { inScope, tenantForbidden } from '../auth.js';
import { apiError } from '../errors.js';
import { parseStreamCursor } from '../realtime/stream-cursor.js';
import type { StreamHub } from '../realtime/stream-hub.js';
import { getStreamSchema } from '../realtime-schemas.js';

/** Registers GET /v1/stream on `hub`. */
export function registerStreamRoute(app: FastifyInstance, hub: StreamHub): void {
  app.get<{ Querystring: { tenant?: string; after?: string } }>(
    '/v1/stream',
    { schema: getStreamSchema, config: { access: { roles: ['auditor', 'admin'], scope: 'per-item' } } },
    async (request, reply) => {
      const principal = request.principal;
      const tenant = request.query.tenant ?? null;
      if (principal !== null && principal.tenants !== null) {
        if (tenant === null) {
          throw apiError(
            'forbidden',
            { action: 'stream every tenant: it is scoped to some tenants; name one with ?tenant=' },
            { reason: 'tenant_scope' },
          );
        }
        if (!inScope(principal, tenant)) throw tenantForbidden(tenant);
      }
      const header = request.headers['last-event-id'];
      const given = (Array.isArray(header) ? header[0] : header) ?? request.query.after;
      let after = null;
      if (given !== undefined && given !== '') {
        const parsed = parseStreamCursor(given);
        if (!(parsed instanceof Map)) {
          throw apiError(
            'invalid_request',
            {
              problem: `the stream cursor is not valid: ${parsed.problem}; pass an id: of an earlier stream`,
            },
            {
              location: header === undefined ? 'querystring' : 'header',
              field: header === undefined ? '/after' : 'last-event-id',
            },
          );
        }
        after = parsed;
      }
      try {
        await hub.open({ tenant, after }, reply.raw, () => reply.hijack());
      } catch (error) {
        if (!reply.sent && !reply.raw.headersSent) throw error;
        // Once streaming, a failure ends the stream (the client resumes from its last id); ours to log.
        request.log.error({ err: error }, 'stream failed');
      }
    },
  );
}
