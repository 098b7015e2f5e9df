/**
 * GET /v1/stream (API.md) as an async iterator: a Server-Sent Events parser (the WHATWG rules:
 * `field: value` lines, `data` lines joined, a blank line dispatches, `:` comments ignored) over
 * fetch, with bounded lines. The iterator resumes without a gap: after a dropped connection it
 * reconnects with `Last-Event-ID` set to the last id it gave out, trying the next region when one
 * is unreachable; after an `overflow` event (the server closed a consumer too slow for its buffer)
 * it resumes from the cursor that event names.
 */

import { AllotApiError, AllotStreamError } from './errors.js';
import type { Http } from './http.js';
import { isRetryable } from './http.js';
import { STREAM_LINE_BYTES_MAX, STREAM_RECONNECTS_MAX } from './limits.js';
import type { LedgerEvent } from './types.js';

/** What to stream. */
export interface StreamOptions {
  /** Only this tenant's events (a scoped token must name one of its tenants). */
  readonly tenant?: string;
  /** Resume after this cursor (an event's `id`). */
  readonly after?: string;
  /** Stops the stream: the iterator ends without an error. */
  readonly signal?: AbortSignal;
}

/** An alert of the stream (API.md "Alerts and webhooks"). */
export interface StreamAlert {
  readonly alertId: string;
  readonly tenant: string;
  readonly threshold: number;
  readonly balance: number;
  readonly at: string;
}

/**
 * One event of the stream: a ledger event (SSE type `message`, its `kind` in the data) or an alert
 * (`alert`). Types the client does not know (a newer server) are skipped.
 */
export type StreamEvent =
  | {
      readonly event: 'message';
      /** The stream's cursor after it: pass it as `after` to resume after it. */
      readonly id: string | null;
      readonly data: LedgerEvent;
    }
  | { readonly event: 'alert'; readonly id: string | null; readonly data: StreamAlert };

/** One parsed SSE block, before its data is read as JSON. */
interface RawEvent {
  readonly event: string;
  readonly id: string | null;
  readonly data: string;
}

/** Parses SSE text chunks into events; keeps the partial line and block between chunks. */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  /** The `id:` of the block being read (WHATWG's last event ID buffer). */
  private idBuffer: string | null = null;
  private committedId: string | null = null;

  /**
   * The last event id of a complete block (WHATWG's last event ID): an id-only block moves it too,
   * a block cut by the end of a chunk does not yet.
   */
  get lastEventId(): string | null {
    return this.committedId;
  }

  /** The events completed by `chunk`. Throws AllotStreamError on a line past STREAM_LINE_BYTES_MAX. */
  push(chunk: string): RawEvent[] {
    this.buffer += chunk;
    const events: RawEvent[] = [];
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      // A CR at the very end may be the first half of a CRLF cut by the chunking: wait for more.
      if (end < 0 || (end === this.buffer.length - 1 && this.buffer.endsWith('\r'))) break;
      const line = this.buffer.slice(0, end);
      const breakLength = this.buffer.startsWith('\r\n', end) ? 2 : 1;
      this.buffer = this.buffer.slice(end + breakLength);
      const event = this.line(line);
      if (event !== null) events.push(event);
    }
    if (this.buffer.length > STREAM_LINE_BYTES_MAX) {
      throw new AllotStreamError(`a stream line is longer than ${STREAM_LINE_BYTES_MAX} bytes`);
    }
    return events;
  }

  private line(line: string): RawEvent | null {
    if (line === '') {
      // A block ends: its id becomes the last event id; without data it dispatches nothing (WHATWG).
      this.committedId = this.idBuffer;
      const event =
        this.data.length === 0
          ? null
          : { event: this.event || 'message', id: this.committedId, data: this.data.join('\n') };
      this.data = [];
      this.event = '';
      return event;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    // The last event id persists across blocks (WHATWG); an id with NUL is ignored.
    else if (field === 'id' && !value.includes('\0')) this.idBuffer = value;
    return null;
  }
}

/** The cursor an overflow event names to resume from (`cursor` in its data), else its id. */
function overflowCursor(data: unknown, id: string | null): string | null {
  if (typeof data === 'object' && data !== null) {
    const { cursor } = data as { cursor?: unknown };
    if (typeof cursor === 'string') return cursor;
  }
  return id;
}

function streamPath(options: StreamOptions, after: string | null): string {
  const query = new URLSearchParams();
  if (options.tenant !== undefined) query.set('tenant', options.tenant);
  if (after !== null) query.set('after', after);
  return query.size === 0 ? '/v1/stream' : `/v1/stream?${query}`;
}

/** The events of GET /v1/stream, resumed across reconnects (see the module's doc). */
export async function* streamEvents(
  http: Http,
  options: StreamOptions,
): AsyncGenerator<StreamEvent, void, undefined> {
  const aborted = () => options.signal?.aborted === true;
  let after: string | null = options.after ?? null;
  let failures = 0;
  while (!aborted()) {
    const base = http.current;
    let response: Response;
    try {
      response = await http.open(base, streamPath(options, after), {
        method: 'GET',
        headers: http.headers({
          accept: 'text/event-stream',
          ...(after === null ? {} : { 'last-event-id': after }),
        }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      if (aborted()) return;
      if (++failures > STREAM_RECONNECTS_MAX) throw error;
      http.prefer(http.order[1] ?? base);
      await http.backoff(failures - 1);
      continue;
    }
    if (!response.ok) {
      const body = await response.text().then(
        (text) => {
          try {
            return JSON.parse(text) as unknown;
          } catch {
            return text;
          }
        },
        () => null,
      );
      const error = new AllotApiError(response.status, body, `${base}/v1/stream`);
      if (!isRetryable(response.status) || ++failures > STREAM_RECONNECTS_MAX) throw error;
      await http.backoff(failures - 1);
      continue;
    }
    if (response.body === null) throw new AllotStreamError('the stream answered without a body');
    http.prefer(base);
    const parser = new SseParser();
    const decoder = new TextDecoder();
    let overflowed = false;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        for (const raw of parser.push(decoder.decode(chunk, { stream: true }))) {
          let data: unknown;
          try {
            data = raw.data === '' ? null : (JSON.parse(raw.data) as unknown);
          } catch {
            throw new AllotStreamError(`a stream event's data is not JSON: ${raw.data.slice(0, 80)}`);
          }
          if (raw.event === 'overflow') {
            after = overflowCursor(data, raw.id) ?? after;
            overflowed = true;
            break;
          }
          failures = 0;
          if (raw.id !== null) after = raw.id;
          if (raw.event === 'message') yield { event: 'message', id: raw.id, data: data as LedgerEvent };
          else if (raw.event === 'alert') yield { event: 'alert', id: raw.id, data: data as StreamAlert };
        }
        if (overflowed) break;
        // An id-only block (the cursor at connect, after filtered events) moves the resume point.
        after = parser.lastEventId ?? after;
      }
    } catch (error) {
      if (aborted()) return;
      if (error instanceof AllotStreamError) throw error;
      // The connection dropped mid-stream: resume from the last id, here or at the next region.
      if (++failures > STREAM_RECONNECTS_MAX) throw error;
      await http.backoff(failures - 1);
      continue;
    }
    if (overflowed) continue;
    // The server ended the stream (a restart, a deploy): resume from the last id.
    if (++failures > STREAM_RECONNECTS_MAX) {
      throw new AllotStreamError(`the stream ended ${failures} times in a row without an event`);
    }
    await http.backoff(failures - 1);
  }
}
