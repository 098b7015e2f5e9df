/** Prometheus metrics of alerts and webhook deliveries, registered in the node's registry. */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DeliveryObserver } from './webhook-deliveries.js';

/** The alert and webhook metrics, and the observer that feeds the delivery ones. */
export interface RealtimeMetrics {
  readonly alertsTotal: Counter;
  readonly deliveriesPending: Gauge;
  readonly deliveriesTotal: Counter<'result'>;
  readonly deliveryAttemptsTotal: Counter<'result'>;
  readonly deliveryObserver: DeliveryObserver;
}

/** Registers the alert and webhook metrics in `registry`. */
export function createRealtimeMetrics(registry: Registry): RealtimeMetrics {
  const registers = [registry];
  const alertsTotal = new Counter({
    name: 'allot_alerts_total',
    help: 'Alerts this node raised (a downward crossing of a tenant’s alert threshold).',
    registers,
  });
  const deliveriesPending = new Gauge({
    name: 'allot_webhook_deliveries_pending',
    help: 'Webhook deliveries waiting in the outbox (not delivered, not given up).',
    registers,
  });
  const deliveriesTotal = new Counter({
    name: 'allot_webhook_deliveries_total',
    help: 'Webhook deliveries finished, by result (delivered, failed after 24 h of retries).',
    labelNames: ['result'] as const,
    registers,
  });
  const deliveryAttemptsTotal = new Counter({
    name: 'allot_webhook_attempts_total',
    help: 'Webhook POST attempts, by result (ok, http_error, timeout, network).',
    labelNames: ['result'] as const,
    registers,
  });
  return {
    alertsTotal,
    deliveriesPending,
    deliveriesTotal,
    deliveryAttemptsTotal,
    deliveryObserver: {
      pending: (count) => deliveriesPending.set(count),
      finished: (result) => deliveriesTotal.inc({ result }),
      attempted: (result) => deliveryAttemptsTotal.inc({ result }),
    },
  };
}
