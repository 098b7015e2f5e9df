/**
 * Test support: Ed25519 keys and the Crypto port on node:crypto, valid events and frames of every
 * kind, handlers and a logger that record what they are told, regions listening on real HTTP
 * servers on 127.0.0.1, and a hand-driven peer that speaks the handshake byte by byte.
 */
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  encodeSegment,
  eventRecordId,
  type LedgerEvent,
  type OriginId,
  originId,
  type TenantEventBody,
} from '@allot/core';
import type { Crypto, Logger, ReplicationFrame, TransportHandlers, WireSegment } from '@allot/replica';
import { WebSocket } from 'ws';
import { decodeMessage, encodeMessage } from '../src/codec.js';
import type { PeerConfig, TransportTls, WebSocketTransportOptions } from '../src/options.js';
import { type HelloMessage, PROTOCOL_VERSION, transcriptBytes, type WireMessage } from '../src/protocol.js';
import { WebSocketTransport } from '../src/websocket-transport.js';
import { httpsServerOptions } from './tls-support.js';

export const CLUSTER = 'acme-credits';
export const EU = originId('eu', 'aaaaaaaa');
export const US = originId('us', 'bbbbbbbb');
export const T0 = 1_700_000_000_000;

// ---------------------------------------------------------------------------------------------
// Keys and the Crypto port (the store's nodeCrypto, which transport tests may not import)

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The raw 32-byte public key of an Ed25519 key. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** The least options a transport takes: a cluster, an id, a fresh key, no peers, a silent logger. */
export function minimalOptions(): WebSocketTransportOptions {
  return {
    cluster: CLUSTER,
    region: 'eu',
    incarnation: 'aaaaaaaa',
    crypto: testCrypto(newKey()),
    peers: [],
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  };
}

/** The Crypto port signing with `privateKey`. */
export function testCrypto(privateKey: KeyObject): Crypto {
  return {
    publicKey: rawPublicKey(privateKey),
    hash: (bytes) => new Uint8Array(createHash('sha256').update(bytes).digest()),
    sign: (bytes) => new Uint8Array(sign(null, bytes, privateKey)),
    verify(raw, bytes, signature) {
      const key = createPublicKey({
        key: Buffer.concat([ED25519_SPKI_PREFIX, raw]),
        format: 'der',
        type: 'spki',
      });
      return verify(null, bytes, key, signature);
    },
  };
}

/** A new Ed25519 private key. */
export function newKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

// ---------------------------------------------------------------------------------------------
// Events and frames

/** A 64-byte stand-in for a head signature (the shape check looks at its length only). */
export function signature(fill: number): Uint8Array {
  return new Uint8Array(64).fill(fill);
}

/** One body of every kind, for `tenant` at `origin` (a move goes to `to`). */
export function everyKind(tenant: string, origin: OriginId, to: OriginId): TenantEventBody[] {
  return [
    { kind: 'grant', tenant, grantId: 'g1', amount: 2 ** 40, priority: 0, expiresAt: T0 + 1 },
    {
      kind: 'debit',
      tenant,
      amount: 2 ** 32,
      idempotencyKey: 'k1',
      parts: [{ grantId: 'g1', amount: 2 ** 32 }],
      overdraft: 0,
      metadata: { model: 'x', tokens: [1, 2.5], nested: { ünï: '😀', lone: '\ud800' } },
    },
    {
      kind: 'refund',
      tenant,
      debitId: eventRecordId(origin, 2),
      amount: 3,
      idempotencyKey: 'r1',
      parts: [{ grantId: 'g1', amount: 2 }],
      overdraft: 1,
    },
    { kind: 'move', tenant, to, parts: [{ grantId: 'g1', amount: 5 }] },
    { kind: 'expire', tenant, grantId: 'g1', amount: Number.MAX_SAFE_INTEGER },
    { kind: 'repay', tenant, amount: 4, parts: [{ grantId: 'g1', amount: 4 }] },
  ];
}

/** A run of `origin`'s log from `fromSeq`, in segments of `perSegment` events, each with a stand-in signature. */
export function run(
  origin: OriginId,
  bodies: readonly TenantEventBody[],
  fromSeq = 1,
  perSegment = 2,
): WireSegment[] {
  const segments: WireSegment[] = [];
  for (let start = 0; start < bodies.length; start += perSegment) {
    const events = bodies
      .slice(start, start + perSegment)
      .map(
        (body, index) =>
          ({ ...body, origin, seq: fromSeq + start + index, at: T0 + start + index }) as LedgerEvent,
      );
    const firstSeq = fromSeq + start;
    segments.push({
      firstSeq,
      lastSeq: firstSeq + events.length - 1,
      bytes: encodeSegment(events),
      signature: signature(7),
    });
  }
  return segments;
}

/** One valid frame of every type. */
export function everyFrame(): ReplicationFrame[] {
  return [
    { type: 'summary', versionVector: { [EU]: 6, [US]: 0 }, control: new Uint8Array([0]) },
    { type: 'segments', origin: EU, segments: run(EU, everyKind('acme', EU, US)) },
    { type: 'pull', origin: US, fromSeq: 1 },
    { type: 'rights-request', tenant: 'acme', amount: 500 },
    { type: 'borrow', tenant: 'acme', amount: 7, head: 12, since: 1_893_456_000_250, least: 3, waitsMs: 180 },
    {
      type: 'hold-settle',
      id: 3,
      tenant: 'acme',
      holdId: 'eu.aaaaaaaaaaaaaaaa.4',
      action: 'capture',
      amount: 5,
    },
    {
      type: 'hold-settled',
      id: 3,
      status: 'accepted',
      hold: {
        holdId: 'eu.aaaaaaaaaaaaaaaa.4',
        tenant: 'acme',
        amount: 9,
        region: 'eu',
        expiresAt: 1_700_000_060_000,
        at: 1_700_000_000_000,
        status: 'captured',
        captured: 5,
      },
      held: null,
    },
    { type: 'control', message: new Uint8Array([0, 1, 2, 3]) },
    { type: 'join-offer-ask' },
    {
      type: 'join-offer',
      vector: { [EU]: 6 },
      hash: new Uint8Array(32).fill(7),
      signature: new Uint8Array(64).fill(8),
      size: 1_000,
    },
    { type: 'join-hash-ask', vector: { [EU]: 6 } },
    { type: 'join-hash', vector: { [EU]: 6 }, hash: new Uint8Array(32).fill(7) },
    { type: 'join-chunk-ask', hash: new Uint8Array(32).fill(7), offset: 0 },
    {
      type: 'join-chunk',
      hash: new Uint8Array(32).fill(7),
      offset: 0,
      size: 4,
      bytes: new Uint8Array([1, 2, 3, 4]),
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// What a transport tells its replica and logs

/** One call a transport made to its handlers. */
export type HandlerCall =
  | { readonly kind: 'up'; readonly region: string; readonly origin: OriginId }
  | { readonly kind: 'down'; readonly region: string }
  | { readonly kind: 'frame'; readonly region: string; readonly frame: ReplicationFrame };

/** Handlers that record every call, in order. */
export class RecordingHandlers implements TransportHandlers {
  readonly calls: HandlerCall[] = [];
  /** Called after recording each frame (a test may act from inside the handler). */
  onFrame: ((region: string, frame: ReplicationFrame) => void) | null = null;

  peerUp(region: string, origin: OriginId): void {
    this.calls.push({ kind: 'up', region, origin });
  }
  peerDown(region: string): void {
    this.calls.push({ kind: 'down', region });
  }
  frame(region: string, frame: ReplicationFrame): void {
    this.calls.push({ kind: 'frame', region, frame });
    this.onFrame?.(region, frame);
  }

  /** The calls of one kind. */
  of<K extends HandlerCall['kind']>(kind: K): Extract<HandlerCall, { kind: K }>[] {
    return this.calls.filter((call): call is Extract<HandlerCall, { kind: K }> => call.kind === kind);
  }

  /** The frames received from `region`. */
  framesFrom(region: string): ReplicationFrame[] {
    return this.of('frame')
      .filter((call) => call.region === region)
      .map((call) => call.frame);
  }
}

/** One logged line. */
export interface LogLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

/** A logger that keeps every line (set ALLOT_TEST_LOG=1 to print them too). */
export class RecordingLogger implements Logger {
  readonly lines: LogLine[] = [];
  constructor(private readonly name: string) {}

  private log(level: LogLine['level'], fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level, fields, message });
    if (process.env.ALLOT_TEST_LOG === '1') console.log(this.name, level, message, JSON.stringify(fields));
  }
  debug(fields: Record<string, unknown>, message: string): void {
    this.log('debug', fields, message);
  }
  info(fields: Record<string, unknown>, message: string): void {
    this.log('info', fields, message);
  }
  warn(fields: Record<string, unknown>, message: string): void {
    this.log('warn', fields, message);
  }
  error(fields: Record<string, unknown>, message: string): void {
    this.log('error', fields, message);
  }

  /** Lines at `level` whose close code is `code`. */
  closes(level: LogLine['level'], code: number): LogLine[] {
    return this.lines.filter((line) => line.level === level && line.fields.code === code);
  }
}

// ---------------------------------------------------------------------------------------------
// Waiting, bounded

/** Resolves once `condition` holds, polling; fails naming `what` after `timeoutMs` (generous). */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// ---------------------------------------------------------------------------------------------
// Regions on real HTTP servers

/** A region's HTTP server, key and recorders; its transport is made once every URL is known. */
export class Region {
  readonly key: KeyObject;
  readonly crypto: Crypto;
  readonly handlers = new RecordingHandlers();
  readonly logger: RecordingLogger;
  transport: WebSocketTransport | null = null;
  private constructor(
    readonly name: string,
    readonly incarnation: string,
    readonly server: Server,
    readonly port: number,
    key?: KeyObject,
    /** The region's CA, certificate and key when it serves HTTPS (and its links are wss://). */
    readonly tls: TransportTls | null = null,
    /** The loopback address it listens on. */
    readonly host = '127.0.0.1',
  ) {
    this.key = key ?? newKey();
    this.crypto = testCrypto(this.key);
    this.logger = new RecordingLogger(name);
  }

  /** A region listening on `host` (127.0.0.1; `port` 0: any free port), over HTTPS when given `tls`. */
  static async listen(
    name: string,
    options: { incarnation?: string; port?: number; key?: KeyObject; tls?: TransportTls; host?: string } = {},
  ): Promise<Region> {
    const respond = (_request: unknown, response: { statusCode: number; end(): void }) => {
      response.statusCode = 404;
      response.end();
    };
    const tls = options.tls ?? null;
    const server: Server =
      tls === null
        ? createServer(respond)
        : createHttpsServer(
            httpsServerOptions({ ca: String(tls.ca), cert: String(tls.cert), key: String(tls.key) }),
            respond,
          );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return new Region(name, options.incarnation ?? 'aaaaaaaa', server, port, options.key, tls, options.host);
  }

  get url(): string {
    return `${this.tls === null ? 'ws' : 'wss'}://${this.host}:${this.port}/v1/replication`;
  }

  get origin(): OriginId {
    return originId(this.name, this.incarnation);
  }

  /** This region as another region configures it. */
  asPeer(): PeerConfig {
    return { region: this.name, url: this.url, publicKey: this.crypto.publicKey };
  }

  /** Makes, attaches (handlers and server) the transport with `peers`; does not start it. */
  connect(
    peers: readonly PeerConfig[],
    options: Partial<WebSocketTransportOptions> = {},
  ): WebSocketTransport {
    const transport = new WebSocketTransport({
      cluster: CLUSTER,
      region: this.name,
      incarnation: this.incarnation,
      crypto: this.crypto,
      peers,
      logger: this.logger,
      backoffMsMin: 10,
      backoffMsMax: 100,
      ...(this.tls === null ? {} : { tls: this.tls }),
      ...options,
    });
    transport.attach(this.handlers);
    transport.attachTo(this.server);
    this.transport = transport;
    return transport;
  }

  /** The transport (made by `connect`). */
  get t(): WebSocketTransport {
    if (this.transport === null) throw new Error(`${this.name} has no transport`);
    return this.transport;
  }

  /** True when the transport reports `peer` connected. */
  connectedTo(peer: string): boolean {
    return this.t.peers().some((link) => link.region === peer && link.connected);
  }

  /** TCP connections this region's server accepted and still holds. */
  async acceptedConnections(): Promise<number> {
    return new Promise((resolve, reject) =>
      this.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );
  }

  /** Closes the transport and the server. */
  async close(): Promise<void> {
    await this.transport?.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------
// A peer driven by hand, for what a real transport never sends

/** How a raw peer's socket closed. */
export interface Closed {
  readonly code: number;
  readonly reason: string;
}

/** How a raw peer connects. */
export interface RawPeerOptions {
  readonly localAddress?: string;
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** A WebSocket to a transport, driven message by message. */
export class RawPeer {
  readonly received: WireMessage[] = [];
  readonly closed: Promise<Closed>;
  closedWith: Closed | null = null;
  readonly nonce = new Uint8Array(randomBytes(32));
  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closedWith = { code, reason: reason.toString() };
        resolve(this.closedWith);
      });
    });
    ws.on('error', () => {
      // The close event that follows is what tests look at.
    });
    ws.on('message', (data) => {
      const decoded = decodeMessage(new Uint8Array(data as Buffer));
      if (decoded.message !== null) this.received.push(decoded.message);
    });
  }

  /**
   * Opens a WebSocket to `url` (from `localAddress`, e.g. another loopback address, if given; over
   * wss:// with `ca` and a client `cert`/`key` if given).
   */
  static async open(url: string, options: RawPeerOptions = {}): Promise<RawPeer> {
    const peer = new RawPeer(
      new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024, ...options }),
    );
    await new Promise<void>((resolve, reject) => {
      peer.ws.once('open', () => resolve());
      peer.ws.once('error', reject);
    });
    return peer;
  }

  /** Sends raw bytes. */
  sendBytes(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  /** Sends an encoded message. */
  send(message: WireMessage): void {
    this.ws.send(encodeMessage(message));
  }

  /** The dialer's hello as region `region`, with `changes` applied. */
  hello(region: string, incarnation: string, changes: Partial<HelloMessage> = {}): HelloMessage {
    return {
      type: 'hello',
      cluster: CLUSTER,
      protocol: PROTOCOL_VERSION,
      region,
      incarnation,
      nonce: this.nonce,
      signature: null,
      ...changes,
    };
  }

  /**
   * Completes the handshake with the acceptor as `region` signing with `key`: hello, then auth over
   * the acceptor's nonce; resolves once `ready` arrives.
   */
  async handshake(region: string, incarnation: string, key: KeyObject): Promise<void> {
    this.send(this.hello(region, incarnation));
    await this.awaitMessage('hello');
    const answer = this.received.find((message) => message.type === 'hello') as HelloMessage;
    const signed = transcriptBytes({
      signer: 'dialer',
      cluster: CLUSTER,
      dialer: { region, incarnation, nonce: this.nonce },
      acceptor: { region: answer.region, incarnation: answer.incarnation, nonce: answer.nonce },
      channel: null,
    });
    this.send({ type: 'auth', signature: new Uint8Array(sign(null, signed, key)) });
    await this.awaitMessage('ready');
  }

  /** Resolves once a message of `type` arrived; throws with the close code if the socket closes first. */
  async awaitMessage(type: WireMessage['type']): Promise<void> {
    const arrived = () => this.received.some((message) => message.type === type);
    await waitFor(() => arrived() || this.closedWith !== null, `a ${type} message`);
    if (!arrived() && this.closedWith !== null) {
      throw new Error(`closed during the handshake: ${this.closedWith.code} ${this.closedWith.reason}`);
    }
  }

  /** Resolves with how the socket closed, within a generous bound. */
  async closure(): Promise<Closed> {
    await waitFor(() => this.closedWith !== null, 'the socket to close');
    return this.closedWith as Closed;
  }
}
