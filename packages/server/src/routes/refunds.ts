/** POST /v1/tenants/{tenant}/debits/{debitId}/refunds (admin): give a debit back, all or part. */
import { AMOUNT_MAX, parseEventRecordId } from '@allot/core';
import type { FastifyInstance } from 'fastify';
import { apiError } from '../errors.js';
import { notReadyError, type RouteContext, unavailableError, unexpected } from '../route-context.js';
import { balanceJson, refundJson } from '../views.js';
import { postRefundSchema } from '../write-schemas.js';

/** The body of a refund request, as its schema admits it. */
interface RefundBody {
  readonly amount?: number;
  readonly idempotencyKey: string;
}

/** Registers the refund route. */
export function registerRefundRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post<{ Params: { tenant: string; debitId: string }; Body: RefundBody }>(
    '/v1/tenants/:tenant/debits/:debitId/refunds',
    { schema: postRefundSchema, config: { access: { roles: ['admin'], scope: 'tenant' } } },
    async (request, reply) => {
      const { tenant, debitId } = request.params;
      const notFound = () =>
        apiError('not_found', { what: `debit ${debitId} of tenant ${tenant}` }, { debitId, tenant });
      // A string that is no debit id names no debit: 404, as for an id of a debit not known here.
      if (parseEventRecordId(debitId) === null) throw notFound();
      const { amount, idempotencyKey } = request.body;
      const outcome = await context.replica().refund({ tenant, debitId, amount, idempotencyKey });
      switch (outcome.status) {
        case 'accepted':
          reply.code(201);
          return { refund: refundJson(outcome.refund), balance: balanceJson(outcome.balance) };
        case 'replayed':
          reply.code(200).header('idempotent-replayed', 'true');
          return { refund: refundJson(outcome.refund), balance: balanceJson(outcome.balance) };
        case 'conflict':
          throw apiError(
            'idempotency_key_conflict',
            { idempotencyKey },
            { idempotencyKey, refundId: outcome.refund.refundId, debitId: outcome.refund.debitId },
          );
        case 'not_found':
          throw notFound();
        case 'wrong_region':
          throw apiError(
            'wrong_region',
            { debitId, region: outcome.region },
            { region: outcome.region, debitId },
          );
        case 'exceeds_debit':
          throw apiError(
            'refund_exceeds_debit',
            { requested: outcome.requested, refundable: outcome.refundable, debitId },
            { requested: outcome.requested, refundable: outcome.refundable, debitId },
          );
        case 'rejected':
          if (outcome.reason === 'nothing_to_credit')
            throw apiError('refund_not_creditable', { debitId }, { debitId });
          throw apiError(
            'amount_limit',
            { what: `total refunded of tenant ${tenant}`, limit: AMOUNT_MAX },
            { limit: AMOUNT_MAX },
          );
        case 'invalid':
          throw apiError('invalid_request', { problem: outcome.detail }, { location: 'body' });
        case 'unavailable':
          throw unavailableError(outcome);
        case 'not_ready':
          throw notReadyError(outcome);
        default:
          return unexpected(outcome, 'refund outcome');
      }
    },
  );
}
