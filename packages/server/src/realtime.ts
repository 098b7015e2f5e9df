/**
 * The real-time side of a node (issue 13): the stream hub (GET /v1/stream), the alert watcher and
 * the webhook deliveries, on one replica's durable-event feed and one store's logs and outbox.
 * `Realtime.open` reads the outbox once (alert states, deliveries waiting) and starts them; the app
 * serves the stream and the delivery log from it; `close` stops them before the store closes.
 */
import type { OriginId } from '@allot/core';
import type { OutboxRecord, Replica, StoredEvent } from '@allot/replica';
import type { Registry } from 'prom-client';
import { AlertWatcher, alertStatesOf } from './realtime/alert-watcher.js';
import { createRealtimeMetrics, type RealtimeMetrics } from './realtime/realtime-metrics.js';
import { StreamHub, type StreamHubOptions } from './realtime/stream-hub.js';
import {
  type DeliveryOptions,
  WebhookDeliveries,
  type WebhookEndpoint,
} from './realtime/webhook-deliveries.js';

/** What real time needs of the store: the logs to replay and the outbox. */
export interface RealtimeStore {
  heads(): Promise<readonly { readonly origin: OriginId; readonly seq: number }[]>;
  readLog(origin: OriginId, fromSeq: number, limit: number): Promise<readonly StoredEvent[]>;
  writeOutbox(puts: readonly OutboxRecord[], deletes: readonly string[]): Promise<void>;
  readOutbox(): Promise<OutboxRecord[]>;
}

/** What real time needs of the replica. */
export type RealtimeReplica = Pick<Replica, 'feed' | 'policy' | 'balance' | 'holdsEnded' | 'now'>;

/** How real time runs. */
export interface RealtimeOptions {
  readonly replica: RealtimeReplica;
  readonly store: RealtimeStore;
  /** Config `webhooks`: where alerts are POSTed. */
  readonly webhooks: readonly WebhookEndpoint[];
  /** The registry of the node's metrics (the alert and delivery metrics join it). */
  readonly registry: Registry;
  readonly logger: {
    warn(fields: object, message: string): void;
    error(fields: object, message: string): void;
  };
  readonly stream?: StreamHubOptions;
  /** Shorter waits for tests (defaults: limits.ts). */
  readonly delivery?: Omit<DeliveryOptions, 'endpoints' | 'store' | 'observer' | 'logger'>;
}

/** The stream, alerts and webhooks of one node. */
export class Realtime {
  private constructor(
    /** The consumers of GET /v1/stream. */
    readonly hub: StreamHub,
    /** The webhook deliveries and their log. */
    readonly webhooks: WebhookDeliveries,
    private readonly alerts: AlertWatcher,
    /** The alert and delivery metrics. */
    readonly metrics: RealtimeMetrics,
  ) {}

  /** Reads the outbox, then starts watching for alerts and delivering what waits. */
  static async open(options: RealtimeOptions): Promise<Realtime> {
    const { replica, store } = options;
    const metrics = createRealtimeMetrics(options.registry);
    const hub = new StreamHub(
      {
        subscribe: (listener) => replica.feed.subscribe(listener),
        heads: () => store.heads(),
        readLog: (origin, fromSeq, limit) => store.readLog(origin, fromSeq, limit),
      },
      options.stream,
    );
    const stored = await store.readOutbox();
    const webhooks = new WebhookDeliveries(
      {
        ...options.delivery,
        endpoints: options.webhooks,
        store,
        observer: metrics.deliveryObserver,
        logger: options.logger,
      },
      stored,
    );
    const alerts = new AlertWatcher(
      {
        subscribeTenants: (listener) => replica.feed.subscribeTenants(listener),
        policy: (tenant) => replica.policy(tenant),
        figures: (tenant) => {
          const figures = replica.balance(tenant);
          return figures === undefined ? undefined : { ...figures, holdsEnded: replica.holdsEnded(tenant) };
        },
        now: () => replica.now(),
      },
      {
        enqueue: (alert, extra) => webhooks.enqueue(alert, extra),
        publish: (alert) => {
          metrics.alertsTotal.inc();
          hub.publishAlert(alert);
        },
      },
      alertStatesOf(stored),
      options.logger,
    );
    alerts.start();
    webhooks.start();
    return new Realtime(hub, webhooks, alerts, metrics);
  }

  /** Ends the streams, stops alerts and deliveries; resolves once their outbox writes are done. */
  async close(): Promise<void> {
    this.hub.close();
    await this.alerts.close();
    await this.webhooks.close();
  }
}
