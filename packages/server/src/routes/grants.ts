/** POST /v1/tenants/{tenant}/grants (admin): create a grant, replay it, or refuse a conflicting one. */
import { PRIORITY_DEFAULT } from '@allot/core';
import type { FastifyInstance } from 'fastify';
import { apiError } from '../errors.js';
import { notReadyError, type RouteContext, unavailableError, unexpected } from '../route-context.js';
import { parseRfc3339 } from '../time.js';
import { balanceJson, grantJson } from '../views.js';
import { postGrantSchema } from '../write-schemas.js';

/** The body of a grant request, as its schema admits it. */
interface GrantBody {
  readonly grantId: string;
  readonly amount: number;
  readonly priority?: number;
  readonly expiresAt?: string | null;
}

/** Registers the grant route. */
export function registerGrantRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post<{ Params: { tenant: string }; Body: GrantBody }>(
    '/v1/tenants/:tenant/grants',
    { schema: postGrantSchema, config: { access: { roles: ['admin'], scope: 'tenant' } } },
    async (request, reply) => {
      const { tenant } = request.params;
      const { grantId, amount } = request.body;
      let expiresAt: number | null = null;
      if (request.body.expiresAt !== undefined && request.body.expiresAt !== null) {
        expiresAt = parseRfc3339(request.body.expiresAt);
        if (expiresAt === null) {
          throw apiError(
            'invalid_request',
            { problem: 'body/expiresAt is not a valid RFC 3339 time between 1970 and 9999' },
            { location: 'body', field: '/expiresAt', rule: 'date-time' },
          );
        }
      }
      const priority = request.body.priority ?? PRIORITY_DEFAULT;
      const outcome = await context.replica().grant({ tenant, grantId, amount, priority, expiresAt });
      switch (outcome.status) {
        case 'accepted':
          reply.code(201);
          return { grant: grantJson(outcome.grant), balance: balanceJson(outcome.balance) };
        case 'replayed':
          reply.code(200).header('idempotent-replayed', 'true');
          return { grant: grantJson(outcome.grant), balance: balanceJson(outcome.balance) };
        case 'conflict':
          throw apiError(
            'grant_id_conflict',
            { grantId },
            { grantId, grant: outcome.grant === null ? null : grantJson(outcome.grant) },
          );
        case 'invalid':
          if (outcome.reason === 'expires_in_past') {
            throw apiError(
              'invalid_request',
              { problem: 'body/expiresAt is not in the future' },
              { location: 'body', field: '/expiresAt', rule: 'expires_in_past' },
            );
          }
          throw apiError(
            'invalid_request',
            { problem: outcome.detail ?? 'the grant is invalid' },
            { location: 'body' },
          );
        case 'rejected':
          if (outcome.reason === 'grant_limit') {
            throw apiError('grant_limit', { tenant, limit: outcome.limit }, { limit: outcome.limit });
          }
          throw apiError(
            'amount_limit',
            { what: `total granted to tenant ${tenant}`, limit: outcome.limit },
            { limit: outcome.limit },
          );
        case 'unavailable':
          throw unavailableError(outcome);
        case 'not_ready':
          throw notReadyError(outcome);
        default:
          return unexpected(outcome, 'grant outcome');
      }
    },
  );
}
