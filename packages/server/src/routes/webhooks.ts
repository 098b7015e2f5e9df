/** GET /v1/webhooks/deliveries (admin): the webhook delivery log, newest first, with every attempt. */
import type { FastifyInstance } from 'fastify';
import { WEBHOOK_LOG_PAGE_MAX } from '../limits.js';
import type { WebhookDeliveries } from '../realtime/webhook-deliveries.js';
import { getDeliveriesSchema } from '../realtime-schemas.js';

/** Registers the delivery log route. */
export function registerWebhookRoutes(app: FastifyInstance, deliveries: WebhookDeliveries): void {
  app.get<{ Querystring: { limit?: string } }>(
    '/v1/webhooks/deliveries',
    { schema: getDeliveriesSchema, config: { access: { roles: ['admin'], scope: 'every-tenant' } } },
    async (request) => {
      const asked = request.query.limit === undefined ? WEBHOOK_LOG_PAGE_MAX : Number(request.query.limit);
      return { deliveries: deliveries.list(Math.min(asked, WEBHOOK_LOG_PAGE_MAX)) };
    },
  );
}
