/** Test support: a real HTTP receiver of webhooks in the test process, scripted per request. */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got. */
export interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** What the receiver does with a request: answer with a status, or never answer (a timeout). */
export type Behaviour = number | 'hang';

/** A listening receiver. */
export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** Behaviours for the next requests, in order; after them, `fallback`. */
  readonly script: Behaviour[];
  fallback: Behaviour;
  /** Resolves once `count` requests arrived. */
  until(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a receiver on a loopback port. */
export async function startReceiver(fallback: Behaviour = 200): Promise<Receiver> {
  const received: Received[] = [];
  const script: Behaviour[] = [];
  const waiters = new Set<() => void>();
  const hanging = new Set<IncomingMessage>();
  const state = { fallback };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      const behaviour = script.shift() ?? state.fallback;
      for (const waiter of [...waiters]) waiter();
      if (behaviour === 'hang') {
        hanging.add(request);
        return;
      }
      response.writeHead(behaviour, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/allot`,
    received,
    script,
    get fallback() {
      return state.fallback;
    },
    set fallback(value: Behaviour) {
      state.fallback = value;
    },
    until(count) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (received.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the receiver got ${received.length} requests, not ${count}, within 15 s`));
        }, 15_000);
        waiters.add(check);
        check();
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
