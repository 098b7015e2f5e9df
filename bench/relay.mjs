// A TCP relay per directed link between two real nodes (this kernel has no netem): it forwards
// bytes, and its owner can cut it (close every connection, refuse new ones), black-hole it (keep
// connections open, drop every byte), delay it, or heal it. Used by the real-process tests and
// by bench:replication.
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** One directed link's relay to `targetPort` on loopback. */
export class Relay {
  /** @param {number} targetPort */
  constructor(targetPort) {
    this.targetPort = targetPort;
    /** @type {Set<import('node:net').Socket>} */
    this.sockets = new Set();
    /** @type {'pass' | 'cut' | 'blackhole'} */
    this.mode = 'pass';
    this.delayMs = 0;
    this.port = 0;
    // Both legs without Nagle's delay, as the nodes' own WebSocket sockets are: with it, a small
    // frame behind an unacknowledged one waited for a delayed ACK (up to 40 ms on Linux), and that
    // was most of bench:replication's visibility tail (p99 85-88 ms, 38-61 ms without).
    this.server = createServer({ noDelay: true }, (client) => this.accept(client));
  }

  /** Starts listening on a free loopback port; resolves to it. */
  async listen() {
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => resolve(undefined)));
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('relay has no port');
    this.port = address.port;
    return this.port;
  }

  /** @param {import('node:net').Socket} client */
  accept(client) {
    if (this.mode === 'cut') {
      client.destroy();
      return;
    }
    const upstream = connect({ port: this.targetPort, host: '127.0.0.1', noDelay: true });
    this.sockets.add(client);
    this.sockets.add(upstream);
    /** @param {import('node:net').Socket} from @param {import('node:net').Socket} to */
    const forward = (from, to) => {
      from.on('data', (chunk) => {
        if (this.mode !== 'pass') return; // black-holed: the bytes are gone
        if (this.delayMs === 0) to.write(chunk);
        else setTimeout(() => to.writable && to.write(chunk), this.delayMs);
      });
      from.on('close', () => to.destroy());
      from.on('error', () => to.destroy());
    };
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => this.sockets.delete(client));
    upstream.on('close', () => this.sockets.delete(upstream));
  }

  /** Closes every connection through the relay and refuses new ones. */
  cut() {
    this.mode = 'cut';
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  /** Keeps connections open but drops every byte, both ways. */
  blackhole() {
    this.mode = 'blackhole';
  }

  /** Forwards again, with no delay. */
  heal() {
    this.mode = 'pass';
    this.delayMs = 0;
  }

  /** Delays every chunk by `ms`. @param {number} ms */
  delay(ms) {
    this.delayMs = ms;
  }

  /** Stops the relay and closes its connections. */
  async close() {
    this.cut();
    await new Promise((resolve) => this.server.close(() => resolve(undefined)));
  }
}

/** A free loopback TCP port (listen on 0, read it, close). @returns {Promise<number>} */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = server.address();
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Whether `port` can be bound on loopback now. @param {number} port @returns {Promise<boolean>} */
function portIsFree(port) {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive free loopback ports below the kernel's ephemeral range, for nodes
 * whose ports are known before they start (peers dial them directly; `allot dev` takes a base port).
 * A port probed with `freePort` comes from that range, and between the probe and the node's bind the
 * kernel may hand it to any outgoing connection or listener on port 0 (a fresh clone's `npm test`:
 * EADDRINUSE in tls-cluster.test.ts); a port below the range is never handed out, so only another
 * explicit bind could take it.
 * @param {number} [count] @returns {Promise<number>}
 */
export async function portOutsideEphemeral(count = 1) {
  let low = 32768; // Linux's default lower bound
  try {
    low =
      Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // Not Linux: keep the default.
  }
  const from = Math.max(1024, Math.min(20_000, low - 2_000));
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = from + Math.floor(Math.random() * (low - count - from));
    const free = await Promise.all(Array.from({ length: count }, (_, i) => portIsFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports below the ephemeral range`);
}
