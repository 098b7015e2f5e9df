/**
 * `allot tail --url URL --token T [--tenant t] [--json]`: prints a node's GET /v1/stream as lines,
 * one per event or alert, for operators. It keeps the last `id:` and, when the connection drops
 * (or the node closes a slow consumer with `event: overflow`), reconnects with it as
 * `Last-Event-ID` after a backoff with jitter: nothing is skipped or printed twice. A refusal that a
 * retry cannot fix (a bad token, a scope, a cursor too far behind) ends it with one line, exit 1.
 */

/** What went wrong tailing, in one line. */
export class TailError extends Error {
  override readonly name = 'TailError';
}

/** Options of `allot tail`. */
export interface TailOptions {
  readonly url: string;
  readonly token: string;
  readonly tenant?: string;
  readonly json?: boolean;
  /** Resume after this cursor (an `id:` printed with --json). */
  readonly after?: string;
}

/** The first wait before a reconnect; doubled per failed try up to TAIL_RECONNECT_MS_MAX. */
export const TAIL_RECONNECT_MS_MIN = 500;

/** The longest wait between reconnects: a node back from a restart is seen within 30 s. */
export const TAIL_RECONNECT_MS_MAX = 30_000;

/** One SSE message. */
interface Message {
  readonly event: string;
  readonly id: string | null;
  readonly data: string;
}

/** One line for a ledger event or an alert (the JSON itself with `json`). */
export function formatLine(message: Message, json: boolean): string | null {
  if (message.data === '') return null;
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(message.data) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (json) {
    return JSON.stringify(
      message.event === 'message' ? { id: message.id, event: value } : { [message.event]: value },
    );
  }
  if (message.event === 'alert') {
    return `${value.at} ALERT    ${value.tenant} balance ${value.balance} below ${value.threshold} (alert ${value.alertId})`;
  }
  if (message.event !== 'message') return null;
  const amount = typeof value.amount === 'number' ? ` ${value.amount}` : '';
  const key = typeof value.idempotencyKey === 'string' ? ` key=${value.idempotencyKey}` : '';
  const grant = typeof value.grantId === 'string' ? ` grant=${value.grantId}` : '';
  return `${value.at} ${String(value.kind).padEnd(8)} ${value.tenant}${amount}${grant}${key} ${value.origin}:${value.seq}`;
}

/** Parses SSE text as it arrives: complete messages out, the rest kept. */
export class SseParser {
  private buffer = '';
  /** The last `id:` seen, as an EventSource keeps it. */
  lastId: string | null = null;

  push(chunk: string): Message[] {
    this.buffer += chunk.replaceAll('\r\n', '\n');
    const messages: Message[] = [];
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end < 0) return messages;
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      let id: string | null = null;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = value;
        else if (field === 'id') id = value;
        else if (field === 'data') data.push(value);
      }
      if (id !== null) this.lastId = id;
      messages.push({ event, id, data: data.join('\n') });
    }
  }
}

/**
 * Tails the stream until `signal` aborts (resolves) or the node refuses for good (rejects with a
 * TailError). Writes one line per event or alert to `out`, notes on reconnects to `err`.
 */
export async function tail(
  options: TailOptions,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  signal: AbortSignal,
): Promise<void> {
  let endpoint: URL;
  try {
    endpoint = new URL('/v1/stream', options.url);
  } catch {
    throw new TailError(`--url: not a URL: ${options.url}`);
  }
  if (options.tenant !== undefined) endpoint.searchParams.set('tenant', options.tenant);
  const parser = new SseParser();
  parser.lastId = options.after ?? null;
  let failures = 0;
  while (!signal.aborted) {
    let reason: string;
    try {
      const response = await fetch(endpoint, {
        headers: {
          authorization: `Bearer ${options.token}`,
          accept: 'text/event-stream',
          ...(parser.lastId === null ? {} : { 'last-event-id': parser.lastId }),
        },
        signal,
      });
      if (response.status !== 200 || response.body === null) {
        const text = await response.text();
        let detail = text.slice(0, 300);
        try {
          const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
          if (body.error?.code !== undefined) detail = `${body.error.code}: ${body.error.message ?? ''}`;
        } catch {
          // not JSON: show the text as it came
        }
        // A 503 (a full node, one not ready yet) or a 429 passes; anything else a retry cannot fix.
        if (response.status !== 503 && response.status !== 429) {
          throw new TailError(`${endpoint.href}: HTTP ${response.status}: ${detail}`);
        }
        reason = `HTTP ${response.status}: ${detail}`;
      } else {
        failures = 0;
        const decoder = new TextDecoder();
        reason = 'the node closed the stream';
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          for (const message of parser.push(decoder.decode(chunk, { stream: true }))) {
            if (message.event === 'overflow') {
              reason = 'this client fell behind (overflow)';
              continue;
            }
            const line = formatLine(message, options.json ?? false);
            if (line !== null) out.write(`${line}\n`);
          }
        }
      }
    } catch (error) {
      if (error instanceof TailError) throw error;
      if (signal.aborted) return;
      const cause = (error as Error).cause as { code?: string } | undefined;
      reason = cause?.code ?? (error as Error).message;
    }
    if (signal.aborted) return;
    failures += 1;
    const ceiling = Math.min(TAIL_RECONNECT_MS_MAX, TAIL_RECONNECT_MS_MIN * 2 ** Math.min(failures - 1, 10));
    const wait = Math.ceil(ceiling / 2 + Math.random() * (ceiling / 2));
    err.write(`allot tail: ${reason}; reconnecting in ${wait} ms\n`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, wait);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}
