/**
 * Cluster operations (API.md "Cluster (admin)"): POST /v1/cluster/incarnations/{origin}/retire
 * retires a lost incarnation of this node's region. GET /v1/cluster is a read (reads.ts).
 */
import type { OriginId } from '@allot/core';
import type { FastifyInstance } from 'fastify';
import { postRetireSchema } from '../cluster-schemas.js';
import { apiError } from '../errors.js';
import {
  notReadyBecause,
  notReadyError,
  type RouteContext,
  unavailableError,
  unexpected,
} from '../route-context.js';

/** Registers the retire route. */
export function registerClusterRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post<{ Params: { origin: string } }>(
    '/v1/cluster/incarnations/:origin/retire',
    { schema: postRetireSchema, config: { access: { roles: ['admin'], scope: 'every-tenant' } } },
    async (request) => {
      const origin = request.params.origin as OriginId;
      const replica = context.replica();
      if (replica.retire === undefined)
        throw apiError('not_found', { what: `lost incarnation ${origin}: this node has no peers` });
      const outcome = await replica.retire(origin);
      switch (outcome.status) {
        case 'accepted':
          return outcome.retire;
        case 'not_found':
          throw apiError('not_found', { what: outcome.what }, { origin });
        case 'retired':
          throw apiError(
            'retired',
            { origin, seq: outcome.retired.through },
            { origin, by: outcome.retired.by, through: outcome.retired.through },
          );
        case 'behind':
          // A peer holds more of it: anti-entropy brings it here, then a retry counts it.
          throw notReadyBecause(
            `peer ${outcome.region} holds more of ${outcome.origin} than this node (${outcome.held} > ${outcome.here}): retry once it has caught up`,
            {
              reason: 'catching_up',
              region: outcome.region,
              origin: outcome.origin,
              held: outcome.held,
              here: outcome.here,
            },
          );
        case 'unreachable':
          // Every peer region must say how much of the lost incarnation it holds.
          throw apiError(
            'region_unreachable',
            { region: outcome.regions.join(', ') },
            { regions: outcome.regions },
            { 'retry-after': '1' },
          );
        case 'unavailable':
          throw unavailableError(outcome);
        case 'not_ready':
          throw notReadyError(outcome);
        default:
          return unexpected(outcome, 'retire outcome');
      }
    },
  );
}
