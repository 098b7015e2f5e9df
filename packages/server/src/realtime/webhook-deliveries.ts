/**
 * Webhook deliveries from the store's durable outbox (API.md "Alerts and webhooks"). An alert
 * becomes one delivery per configured endpoint, written to the outbox (with the alert states that
 * changed, atomically) before anything is sent, so a crash or restart loses none; each attempt
 * POSTs the alert's JSON signed at that moment, and its outcome is written back. Per endpoint and
 * tenant, deliveries go in order: the oldest one waiting blocks the later ones until it is
 * delivered or given up. Retries back off exponentially with full jitter for 24 h, then the
 * delivery is marked failed. Delivery is at least once: a crash after the receiver answered and
 * before the outcome was written sends it again (the receiver dedupes by alertId).
 */
import type { OutboxRecord } from '@allot/replica';
import {
  WEBHOOK_BACKOFF_BASE_MS,
  WEBHOOK_BACKOFF_MAX_MS,
  WEBHOOK_CONCURRENCY_MAX,
  WEBHOOK_LOG_KEEP,
  WEBHOOK_PENDING_MAX,
  WEBHOOK_RETRY_HORIZON_MS,
  WEBHOOK_TIMEOUT_MS,
} from '../limits.js';
import { formatRfc3339 } from '../time.js';
import type { AlertJson } from './stream-hub.js';
import { SIGNATURE_HEADER, signWebhook } from './webhook-signature.js';

/** One configured receiver (config `webhooks`). */
export interface WebhookEndpoint {
  readonly url: string;
  readonly secret: string;
}

/** The outbox part of the Store port. */
export interface OutboxStore {
  writeOutbox(puts: readonly OutboxRecord[], deletes: readonly string[]): Promise<void>;
}

/** What a delivery's attempts came to. */
export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

/** One attempt: the receiver's HTTP status, or why none came. */
export interface DeliveryAttempt {
  readonly at: number;
  readonly status?: number;
  readonly error?: string;
}

/** One delivery of one alert to one endpoint, as the outbox keeps it. */
export interface DeliveryRecord {
  readonly seq: number;
  readonly alertId: string;
  readonly tenant: string;
  readonly url: string;
  /** The exact JSON body sent on every attempt. */
  readonly body: string;
  readonly createdAt: number;
  status: DeliveryStatus;
  readonly attempts: DeliveryAttempt[];
  nextAttemptAt: number | null;
}

/** A delivery as GET /v1/webhooks/deliveries lists it. */
export interface DeliveryView {
  readonly deliveryId: string;
  readonly alertId: string;
  readonly tenant: string;
  readonly url: string;
  readonly status: DeliveryStatus;
  readonly createdAt: string;
  readonly nextAttemptAt: string | null;
  readonly attempts: readonly { at: string; status?: number; error?: string }[];
}

/** What deliveries report, turned into metrics. */
export interface DeliveryObserver {
  pending(count: number): void;
  finished(result: 'delivered' | 'failed'): void;
  attempted(result: 'ok' | 'http_error' | 'timeout' | 'network'): void;
}

/** How deliveries run; the defaults are limits.ts's. Tests shorten the waits. */
export interface DeliveryOptions {
  readonly endpoints: readonly WebhookEndpoint[];
  readonly store: OutboxStore;
  readonly observer?: DeliveryObserver;
  readonly logger?: {
    warn(fields: object, message: string): void;
    error(fields: object, message: string): void;
  };
  readonly now?: () => number;
  readonly random?: () => number;
  readonly backoffBaseMs?: number;
  readonly backoffMaxMs?: number;
  readonly horizonMs?: number;
  readonly timeoutMs?: number;
}

/** Outbox key prefix of deliveries; the number is 16 digits, so key order is delivery order. */
export const DELIVERY_PREFIX = 'd/';

/** The outbox key of delivery `seq`. */
export function deliveryKey(seq: number): string {
  return `${DELIVERY_PREFIX}${String(seq).padStart(16, '0')}`;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The outbox record of `record`. */
function deliveryRecordOf(record: DeliveryRecord): OutboxRecord {
  return { key: deliveryKey(record.seq), value: utf8.encode(JSON.stringify(record)) };
}

/** The delivery in an outbox record; throws naming the key when it is not one (a bug or damage). */
export function parseDeliveryRecord(record: OutboxRecord): DeliveryRecord {
  const value = JSON.parse(fromUtf8.decode(record.value)) as DeliveryRecord;
  if (
    typeof value !== 'object' ||
    value === null ||
    deliveryKey(value.seq) !== record.key ||
    typeof value.body !== 'string' ||
    typeof value.url !== 'string' ||
    !Array.isArray(value.attempts)
  ) {
    throw new Error(`outbox record ${record.key} is not a webhook delivery`);
  }
  return value;
}

/** The webhook deliveries of one node. */
export class WebhookDeliveries {
  private readonly records = new Map<number, DeliveryRecord>();
  private readonly inFlight = new Map<number, AbortController>();
  private nextSeq = 1;
  private writes: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    private readonly options: DeliveryOptions,
    stored: readonly OutboxRecord[],
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    for (const record of stored) {
      if (!record.key.startsWith(DELIVERY_PREFIX)) continue;
      const delivery = parseDeliveryRecord(record);
      this.records.set(delivery.seq, delivery);
      this.nextSeq = Math.max(this.nextSeq, delivery.seq + 1);
    }
    this.report();
  }

  /** Starts attempting what waits (after a restart: what the outbox held). */
  start(): void {
    this.schedule();
  }

  /**
   * Writes one delivery of `alert` per endpoint, with `extra` outbox records (alert states), in
   * one durable outbox write; resolves once written (then the attempts start).
   */
  enqueue(alert: AlertJson | null, extra: readonly OutboxRecord[]): Promise<void> {
    const created: DeliveryRecord[] = [];
    if (alert !== null) {
      const pending = this.pendingCount();
      if (pending + this.options.endpoints.length > WEBHOOK_PENDING_MAX) {
        this.options.logger?.error(
          { alertId: alert.alertId, tenant: alert.tenant, pending },
          'webhook outbox full: this alert is not delivered to webhooks (it is in the stream)',
        );
        for (const _ of this.options.endpoints) this.options.observer?.finished('failed');
      } else {
        const body = JSON.stringify(alert);
        const at = this.now();
        for (const endpoint of this.options.endpoints) {
          created.push({
            seq: this.nextSeq++,
            alertId: alert.alertId,
            tenant: alert.tenant,
            url: endpoint.url,
            body,
            createdAt: at,
            status: 'pending',
            attempts: [],
            nextAttemptAt: at,
          });
        }
      }
    }
    if (created.length === 0 && extra.length === 0) return Promise.resolve();
    return this.write([...created.map(deliveryRecordOf), ...extra], []).then(() => {
      for (const record of created) this.records.set(record.seq, record);
      this.report();
      this.schedule();
    });
  }

  /** The newest `limit` deliveries, newest first. */
  list(limit: number): DeliveryView[] {
    return [...this.records.values()]
      .sort((a, b) => b.seq - a.seq)
      .slice(0, limit)
      .map((record) => ({
        deliveryId: deliveryKey(record.seq).slice(DELIVERY_PREFIX.length),
        alertId: record.alertId,
        tenant: record.tenant,
        url: record.url,
        status: record.status,
        createdAt: formatRfc3339(record.createdAt),
        nextAttemptAt: record.nextAttemptAt === null ? null : formatRfc3339(record.nextAttemptAt),
        attempts: record.attempts.map((attempt) => ({
          at: formatRfc3339(attempt.at),
          ...(attempt.status === undefined ? {} : { status: attempt.status }),
          ...(attempt.error === undefined ? {} : { error: attempt.error }),
        })),
      }));
  }

  /** Stops: no new attempts, the ones in flight aborted (they stay pending in the outbox), writes finished. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    for (const controller of this.inFlight.values()) controller.abort();
    await this.writes;
  }

  private pendingCount(): number {
    let count = 0;
    for (const record of this.records.values()) if (record.status === 'pending') count += 1;
    return count;
  }

  private report(): void {
    this.options.observer?.pending(this.pendingCount());
  }

  /** One outbox write after the ones before it (their order is the outbox's order). */
  private write(puts: readonly OutboxRecord[], deletes: readonly string[]): Promise<void> {
    const done = this.writes.then(() => this.options.store.writeOutbox(puts, deletes));
    this.writes = done.catch(() => undefined);
    return done;
  }

  /** The head of each lane (endpoint, tenant): the oldest delivery waiting there. */
  private laneHeads(): DeliveryRecord[] {
    const heads = new Map<string, DeliveryRecord>();
    for (const record of [...this.records.values()].sort((a, b) => a.seq - b.seq)) {
      if (record.status !== 'pending') continue;
      const lane = `${record.url}\n${record.tenant}`;
      if (!heads.has(lane)) heads.set(lane, record);
    }
    return [...heads.values()];
  }

  /** Starts every due lane head (within the concurrency cap) and arms the timer for the next. */
  private schedule(): void {
    if (this.closed) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const now = this.now();
    let next = Number.POSITIVE_INFINITY;
    for (const head of this.laneHeads()) {
      if (this.inFlight.has(head.seq)) continue;
      const due = head.nextAttemptAt ?? now;
      if (due > now) {
        next = Math.min(next, due);
        continue;
      }
      if (this.inFlight.size >= WEBHOOK_CONCURRENCY_MAX) break;
      void this.attempt(head);
    }
    if (next !== Number.POSITIVE_INFINITY) {
      this.timer = setTimeout(() => this.schedule(), Math.max(0, next - now));
      this.timer.unref();
    }
  }

  private async attempt(record: DeliveryRecord): Promise<void> {
    const endpoint = this.options.endpoints.find((each) => each.url === record.url);
    const controller = new AbortController();
    this.inFlight.set(record.seq, controller);
    const at = this.now();
    let attempt: DeliveryAttempt;
    if (endpoint === undefined) {
      attempt = { at, error: 'the endpoint is no longer configured' };
    } else {
      attempt = await this.post(endpoint, record, at, controller);
    }
    this.inFlight.delete(record.seq);
    if (this.closed) return; // aborted by close: still pending in the outbox, tried after the restart
    const ok = attempt.status !== undefined && attempt.status >= 200 && attempt.status < 300;
    this.options.observer?.attempted(
      ok
        ? 'ok'
        : attempt.status !== undefined
          ? 'http_error'
          : attempt.error === 'timeout'
            ? 'timeout'
            : 'network',
    );
    record.attempts.push(attempt);
    const horizon = record.createdAt + (this.options.horizonMs ?? WEBHOOK_RETRY_HORIZON_MS);
    if (ok) {
      record.status = 'delivered';
      record.nextAttemptAt = null;
    } else {
      const base = this.options.backoffBaseMs ?? WEBHOOK_BACKOFF_BASE_MS;
      const max = this.options.backoffMaxMs ?? WEBHOOK_BACKOFF_MAX_MS;
      const exponent = Math.min(record.attempts.length - 1, 40);
      const ceiling = Math.min(max, base * 2 ** exponent);
      // Full jitter between half and all of the ceiling: receivers back from an outage are not stampeded.
      const wait = Math.ceil(ceiling / 2 + this.random() * (ceiling / 2));
      const nextAt = this.now() + wait;
      if (endpoint === undefined || nextAt > horizon) {
        record.status = 'failed';
        record.nextAttemptAt = null;
      } else {
        record.nextAttemptAt = nextAt;
      }
    }
    const deletes = record.status === 'pending' ? [] : this.trimmed();
    try {
      await this.write([deliveryRecordOf(record)], deletes.map(deliveryKey));
    } catch (error) {
      // The outcome is not durable: the delivery stays as the outbox has it (sent again after a restart).
      this.options.logger?.error(
        { err: error, seq: record.seq },
        'webhook outcome not written to the outbox',
      );
    }
    for (const seq of deletes) this.records.delete(seq);
    if (record.status !== 'pending') {
      this.options.observer?.finished(record.status);
      if (record.status === 'failed') {
        this.options.logger?.warn(
          { alertId: record.alertId, url: record.url, attempts: record.attempts.length },
          'webhook delivery failed for good',
        );
      }
    }
    this.report();
    this.schedule();
  }

  /** The oldest finished deliveries past WEBHOOK_LOG_KEEP, to delete. */
  private trimmed(): number[] {
    const finished = [...this.records.values()]
      .filter((record) => record.status !== 'pending')
      .sort((a, b) => a.seq - b.seq);
    return finished.slice(0, Math.max(0, finished.length - WEBHOOK_LOG_KEEP)).map((record) => record.seq);
  }

  private async post(
    endpoint: WebhookEndpoint,
    record: DeliveryRecord,
    at: number,
    controller: AbortController,
  ): Promise<DeliveryAttempt> {
    const timeoutMs = this.options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const response = await fetch(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signWebhook(endpoint.secret, record.body, Math.floor(at / 1000)),
          'allot-delivery': deliveryKey(record.seq).slice(DELIVERY_PREFIX.length),
          'allot-alert-id': record.alertId,
        },
        body: record.body,
        redirect: 'manual',
        signal: controller.signal,
      });
      // The body is not needed; reading it frees the connection (bounded by the timeout).
      await response.arrayBuffer().catch(() => undefined);
      return { at, status: response.status };
    } catch (error) {
      if (timedOut) return { at, error: 'timeout' };
      const cause = (error as Error).cause as { code?: string; message?: string } | undefined;
      return { at, error: String(cause?.code ?? cause?.message ?? (error as Error).message).slice(0, 200) };
    } finally {
      clearTimeout(timer);
    }
  }
}
