/** Test support: a real HTTP client of GET /v1/stream that parses Server-Sent Events as they come. */
import { request } from 'node:http';

/** One SSE message as a client sees it. */
export interface SseMessage {
  readonly event: string;
  readonly id: string | null;
  readonly data: string;
}

/** An open stream: the messages so far, the last id, waiting for more, closing. */
export interface SseStream {
  readonly status: number;
  readonly messages: SseMessage[];
  /** The last `id:` seen (as EventSource keeps it). */
  lastId(): string | null;
  /** Resolves once `predicate` holds of the messages (polls as data arrives). */
  until(predicate: (messages: readonly SseMessage[]) => boolean, what?: string): Promise<void>;
  /** Resolves when the server ended the stream. */
  readonly ended: Promise<void>;
  close(): void;
}

/** Opens `path` on `base` with `headers`; resolves once the status is known (the body, if not 200, in `body`). */
export function openStream(
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<SseStream & { body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), { headers }, (res) => {
      res.setEncoding('utf8');
      const messages: SseMessage[] = [];
      let lastId: string | null = null;
      let buffer = '';
      let body = '';
      const waiters = new Set<() => void>();
      let endedResolve: () => void = () => {};
      const ended = new Promise<void>((done) => {
        endedResolve = done;
      });
      res.on('data', (chunk: string) => {
        body += chunk;
        buffer += chunk;
        for (;;) {
          const end = buffer.indexOf('\n\n');
          if (end < 0) break;
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let id: string | null = null;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') event = value;
            if (field === 'id') id = value;
            if (field === 'data') data.push(value);
          }
          if (id !== null) lastId = id;
          if (data.length > 0) messages.push({ event, id, data: data.join('\n') });
        }
        for (const waiter of [...waiters]) waiter();
      });
      res.on('end', () => {
        endedResolve();
        for (const waiter of [...waiters]) waiter();
      });
      res.on('error', () => endedResolve());
      let finished = false;
      res.on('close', () => {
        finished = true;
        endedResolve();
        for (const waiter of [...waiters]) waiter();
      });
      resolve({
        status: res.statusCode ?? 0,
        messages,
        get body() {
          return body;
        },
        lastId: () => lastId,
        until(predicate, what = 'the expected messages') {
          return new Promise<void>((done, fail) => {
            const check = () => {
              if (predicate(messages)) {
                waiters.delete(check);
                clearTimeout(timer);
                done();
              } else if (finished) {
                waiters.delete(check);
                clearTimeout(timer);
                fail(new Error(`the stream ended before ${what}: ${JSON.stringify(messages.slice(-3))}`));
              }
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`no ${what} within 10 s: ${JSON.stringify(messages.slice(-3))}`));
            }, 10_000);
            waiters.add(check);
            check();
          });
        },
        ended,
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
