/**
 * The fan-out of GET /v1/stream (API.md): every event made durable here (the replica's feed) and
 * every alert, to each consumer whose filter takes it, as Server-Sent Events. A consumer that
 * resumes from a cursor first replays what it missed from the logs (each origin's log after its
 * seq, through the store's readLog), with live events buffered meanwhile and deduplicated by seq,
 * so nothing is skipped or sent twice. Bounded: a cap on consumers, a cap on each one's unread
 * bytes and on what it buffers while catching up (past either: `event: overflow` with the cursor
 * to resume from, then closed), a replay limit, and one shared heartbeat timer.
 */
import type { ServerResponse } from 'node:http';
import type { OriginId } from '@allot/core';
import { type DurableEventsListener, type StoredEvent, toHex } from '@allot/replica';
import { apiError } from '../errors.js';
import {
  STREAM_BUFFER_BYTES_MAX,
  STREAM_CONSUMERS_MAX_DEFAULT,
  STREAM_HEARTBEAT_MS,
  STREAM_ID_REFRESH_EVENTS,
  STREAM_PENDING_EVENTS_MAX,
  STREAM_RESUME_EVENTS_MAX,
  STREAM_RESUME_PAGE_EVENTS,
  STREAM_RETRY_MS,
} from '../limits.js';
import { eventJson } from '../views.js';
import { type SentVector, streamCursorOf } from './stream-cursor.js';

/** An alert as the stream and webhooks carry it (API.md "Alerts and webhooks"). */
export interface AlertJson {
  readonly alertId: string;
  readonly tenant: string;
  readonly threshold: number;
  readonly balance: number;
  /** RFC 3339. */
  readonly at: string;
}

/** Where a stream's events come from: the replica's feed and the store's logs. */
export interface StreamSource {
  /** Subscribes to every batch of events once durable, in fold order; returns the unsubscribe. */
  subscribe(listener: DurableEventsListener): () => void;
  /** The stored (durable) head of every origin. */
  heads(): Promise<readonly { readonly origin: OriginId; readonly seq: number }[]>;
  /** Up to `limit` stored events of `origin` with seq ≥ `fromSeq`, in seq order. */
  readLog(origin: OriginId, fromSeq: number, limit: number): Promise<readonly StoredEvent[]>;
}

/** How a stream hub runs (defaults in limits.ts). */
export interface StreamHubOptions {
  readonly consumersMax?: number;
  readonly bufferBytesMax?: number;
  readonly heartbeatMs?: number;
  /** Events a resume may replay (default STREAM_RESUME_EVENTS_MAX). */
  readonly resumeEventsMax?: number;
}

/** What a consumer asked for: one tenant (null: all) from a cursor (null: from now on). */
export interface StreamRequest {
  readonly tenant: string | null;
  readonly after: SentVector | null;
}

type Pending =
  | { readonly kind: 'events'; readonly events: readonly StoredEvent[] }
  | {
      readonly kind: 'alert';
      readonly alert: AlertJson;
    };

/** One connected consumer. */
class Consumer {
  /** What it has been sent (or skipped, for another tenant) of each origin's log. */
  readonly sent: SentVector;
  /** Live events and alerts that arrived while it was catching up. */
  pending: Pending[] | null = [];
  pendingEvents = 0;
  skipped = 0;
  closed = false;

  constructor(
    readonly tenant: string | null,
    sent: SentVector,
    readonly response: ServerResponse,
    readonly bufferBytesMax: number,
  ) {
    this.sent = sent;
  }

  /** The cursor of what it has been sent. */
  cursor(): string {
    return streamCursorOf(this.sent);
  }

  /** Writes the events it has not been sent yet and its filter takes, advancing its vector. */
  deliver(events: readonly StoredEvent[], json: (index: number) => string): void {
    for (let i = 0; i < events.length; i++) {
      const { event } = events[i] as StoredEvent;
      if (event.seq <= (this.sent.get(event.origin) ?? 0)) continue; // replayed already
      this.sent.set(event.origin, event.seq);
      if (this.tenant !== null && event.tenant !== this.tenant) {
        this.skipped += 1;
        if (this.skipped >= STREAM_ID_REFRESH_EVENTS) {
          this.skipped = 0;
          this.write(`id: ${this.cursor()}\n\n`);
        }
        continue;
      }
      this.skipped = 0;
      this.write(`id: ${this.cursor()}\ndata: ${json(i)}\n\n`);
    }
  }

  /** Writes an alert when its filter takes it (alerts carry no cursor: they are not in a log). */
  alert(alert: AlertJson): void {
    if (this.tenant !== null && alert.tenant !== this.tenant) return;
    this.write(`event: alert\ndata: ${JSON.stringify(alert)}\n\n`);
  }

  write(text: string): void {
    if (!this.closed) this.response.write(text);
  }

  /** True when it left more unread than its buffer holds. */
  get overflowing(): boolean {
    return this.response.writableLength > this.bufferBytesMax;
  }

  /** Ends the stream with `event: overflow` and the cursor to resume from. */
  overflow(reason: 'slow_consumer' | 'catch_up_buffer'): void {
    if (this.closed) return;
    this.response.write(`event: overflow\ndata: ${JSON.stringify({ cursor: this.cursor(), reason })}\n\n`);
    this.end();
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.response.end();
  }
}

/** The consumers of one node's stream. */
export class StreamHub {
  private readonly consumers = new Set<Consumer>();
  private readonly consumersMax: number;
  private readonly bufferBytesMax: number;
  private readonly heartbeatMs: number;
  private readonly resumeEventsMax: number;
  private heartbeat: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly source: StreamSource,
    options: StreamHubOptions = {},
  ) {
    this.consumersMax = options.consumersMax ?? STREAM_CONSUMERS_MAX_DEFAULT;
    this.bufferBytesMax = options.bufferBytesMax ?? STREAM_BUFFER_BYTES_MAX;
    this.heartbeatMs = options.heartbeatMs ?? STREAM_HEARTBEAT_MS;
    this.resumeEventsMax = options.resumeEventsMax ?? STREAM_RESUME_EVENTS_MAX;
  }

  /** Consumers connected now. */
  get size(): number {
    return this.consumers.size;
  }

  /**
   * Checks `request` and starts serving it on `response` (its headers not sent yet): an ApiError is
   * thrown, before anything is written, for a full hub or a cursor too far behind; after that the
   * stream runs until the client leaves, overflows, or the hub closes.
   */
  async open(request: StreamRequest, response: ServerResponse, beforeWrite: () => void): Promise<void> {
    if (this.consumers.size >= this.consumersMax) {
      throw apiError(
        'unavailable',
        { reason: `${this.consumersMax} stream consumers are connected, the most this node serves` },
        { reason: 'stream_consumers', limit: this.consumersMax },
        { 'retry-after': String(Math.ceil(STREAM_RETRY_MS / 1000)) },
      );
    }
    const consumer = new Consumer(request.tenant, new Map(), response, this.bufferBytesMax);
    this.consumers.add(consumer);
    this.start();
    // Subscribed before the heads are read: whatever is not in them arrives as pending (no gap);
    // what is in both is deduplicated by seq.
    let heads: readonly { origin: OriginId; seq: number }[];
    try {
      heads = await this.source.heads();
    } catch (error) {
      this.consumers.delete(consumer);
      throw error;
    }
    let behind = 0;
    if (request.after === null) {
      for (const head of heads) consumer.sent.set(head.origin, head.seq);
    } else {
      for (const [origin, seq] of request.after) consumer.sent.set(origin, seq);
      for (const head of heads) behind += Math.max(0, head.seq - (consumer.sent.get(head.origin) ?? 0));
    }
    if (behind > this.resumeEventsMax) {
      this.consumers.delete(consumer);
      throw apiError(
        'stream_cursor_behind',
        { behind, limit: this.resumeEventsMax },
        { behind, limit: this.resumeEventsMax },
      );
    }
    beforeWrite();
    response.on('close', () => {
      consumer.closed = true;
      this.consumers.delete(consumer);
    });
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    consumer.write(`retry: ${STREAM_RETRY_MS}\nid: ${consumer.cursor()}\n\n`);
    try {
      await this.catchUp(consumer, heads);
    } catch (error) {
      consumer.end();
      throw error;
    }
    const pending = consumer.pending ?? [];
    consumer.pending = null;
    for (const item of pending) {
      if (item.kind === 'alert') consumer.alert(item.alert);
      else consumer.deliver(item.events, (i) => JSON.stringify(eventView(item.events[i] as StoredEvent)));
    }
    if (consumer.overflowing) consumer.overflow('slow_consumer');
  }

  /** Replays each origin's log from the consumer's cursor up to the heads read when it connected. */
  private async catchUp(
    consumer: Consumer,
    heads: readonly { origin: OriginId; seq: number }[],
  ): Promise<void> {
    for (const head of [...heads].sort((a, b) => (a.origin < b.origin ? -1 : 1))) {
      while (!consumer.closed && (consumer.sent.get(head.origin) ?? 0) < head.seq) {
        const from = (consumer.sent.get(head.origin) ?? 0) + 1;
        const limit = Math.min(STREAM_RESUME_PAGE_EVENTS, head.seq - from + 1);
        const events = await this.source.readLog(head.origin, from, limit);
        if (events.length === 0 || events[0]?.event.seq !== from) {
          throw new Error(`the log of ${head.origin} has no event ${from} below its head ${head.seq}`);
        }
        consumer.deliver(events, (i) => JSON.stringify(eventView(events[i] as StoredEvent)));
        if (consumer.pending === null) return;
        if (consumer.pendingEvents > STREAM_PENDING_EVENTS_MAX) {
          consumer.overflow('catch_up_buffer');
          return;
        }
        // The socket's buffer drains before the next page: replay never outruns the client.
        if (consumer.response.writableNeedDrain) {
          await new Promise<void>((resolve) => {
            consumer.response.once('drain', resolve);
            consumer.response.once('close', resolve);
          });
        }
      }
    }
  }

  /** Sends an alert to every consumer whose filter takes it. */
  publishAlert(alert: AlertJson): void {
    for (const consumer of this.consumers) {
      if (consumer.pending !== null) consumer.pending.push({ kind: 'alert', alert });
      else {
        consumer.alert(alert);
        if (consumer.overflowing) consumer.overflow('slow_consumer');
      }
    }
  }

  /** Ends every stream (the node is stopping) and stops listening. */
  close(): void {
    for (const consumer of this.consumers) consumer.end();
    this.consumers.clear();
    this.stop();
  }

  private readonly onEvents: DurableEventsListener = (events) => {
    const cache: (string | undefined)[] = new Array(events.length);
    const json = (i: number): string => {
      let text = cache[i];
      if (text === undefined) {
        text = JSON.stringify(eventView(events[i] as StoredEvent));
        cache[i] = text;
      }
      return text;
    };
    for (const consumer of this.consumers) {
      if (consumer.pending !== null) {
        consumer.pending.push({ kind: 'events', events });
        consumer.pendingEvents += events.length;
        continue;
      }
      consumer.deliver(events, json);
      if (consumer.overflowing) consumer.overflow('slow_consumer');
    }
  };

  /** Listens to the feed and beats while there are consumers. */
  private start(): void {
    if (this.unsubscribe === null) this.unsubscribe = this.source.subscribe(this.onEvents);
    if (this.heartbeat === null) {
      this.heartbeat = setInterval(() => {
        // A comment line keeps proxies from timing the stream out; the id moves the client's resume
        // cursor past what a tenant stream skipped (an id alone dispatches no event).
        for (const consumer of this.consumers) {
          if (consumer.pending === null) consumer.write(`: heartbeat\nid: ${consumer.cursor()}\n\n`);
        }
        if (this.consumers.size === 0) this.stop();
      }, this.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  private stop(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}

function eventView(stored: StoredEvent): Record<string, unknown> {
  return eventJson({ event: stored.event, hash: toHex(stored.hash) });
}
