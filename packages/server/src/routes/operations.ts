/** GET /healthz, /readyz and /metrics: no token, for probes and Prometheus. */
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../metrics.js';
import { getHealthSchema, getMetricsSchema, getReadySchema } from '../operations-schemas.js';
import { notReadyError } from '../route-context.js';
import type { ServedReplica } from '../served-replica.js';

/**
 * Registers the operations routes; `isReady` says whether the replica serves, `replica` gives it
 * (undefined until open) for the state metrics read at each scrape.
 */
export function registerOperationsRoutes(
  app: FastifyInstance,
  metrics: Metrics,
  isReady: () => boolean,
  replica: () => ServedReplica | undefined,
): void {
  app.get('/healthz', { schema: getHealthSchema }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: getReadySchema }, async () => {
    if (!isReady()) throw notReadyError();
    return { status: 'ready' };
  });

  app.get('/metrics', { schema: getMetricsSchema }, async (_request, reply) => {
    metrics.nodeState.sample(replica());
    const text = await metrics.registry.metrics();
    reply.type(metrics.registry.contentType);
    return text;
  });
}
