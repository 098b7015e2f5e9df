import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { CloseCode } from '../src/protocol.js';
import { WebSocketTransport } from '../src/websocket-transport.js';
import { CLUSTER, everyFrame, newKey, RawPeer, Region, testCrypto, waitFor } from './support.js';
import {
  httpsServerOptions,
  makeCertificateAuthority,
  type TestCertificateAuthority,
} from './tls-support.js';

let ca: TestCertificateAuthority;
let rogue: TestCertificateAuthority;
const open: Region[] = [];
const closers: (() => Promise<void> | void)[] = [];

beforeAll(() => {
  ca = makeCertificateAuthority('allot-cluster-ca');
  rogue = makeCertificateAuthority('someone-else');
});

afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await Promise.all(open.splice(0).map((made) => made.close()));
});

async function region(name: string, options: Parameters<typeof Region.listen>[1] = {}): Promise<Region> {
  const made = await Region.listen(name, options);
  open.push(made);
  return made;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

describe('WebSocketTransport over TLS', () => {
  it('links two regions over wss:// with certificates from the cluster CA, and carries every frame', async () => {
    const eu = await region('eu', { tls: ca.tlsFor(ca.issue('eu')) });
    const us = await region('us', { tls: ca.tlsFor(ca.issue('us')) });
    expect(us.url).toMatch(/^wss:/);
    eu.connect([us.asPeer()]);
    us.connect([eu.asPeer()]);
    eu.t.start();
    await waitFor(() => eu.connectedTo('us') && us.connectedTo('eu'), 'the link over TLS');
    const frames = everyFrame();
    for (const frame of frames) expect(eu.t.send('us', frame)).toBe(true);
    await waitFor(() => us.handlers.framesFrom('eu').length === frames.length, 'every frame');
  });

  it('refuses a peer whose certificate is from another CA, in both directions', async () => {
    const eu = await region('eu', { tls: ca.tlsFor(ca.issue('eu')) });
    // us has a certificate from another CA (it trusts the cluster's, so it can check eu's).
    const us = await region('us', { tls: { ...rogue.tlsFor(rogue.issue('us')), ca: ca.ca } });
    eu.connect([us.asPeer()]).start();
    us.connect([eu.asPeer()]).start();
    await waitFor(
      () =>
        eu.logger.lines.some((line) => /no client certificate from the cluster CA/.test(line.message)) &&
        eu.logger.lines.some((line) => line.message === 'peer unreachable, will retry'),
      'both directions to fail',
    );
    expect(eu.handlers.calls).toEqual([]);
    expect(us.handlers.calls).toEqual([]);
    // eu did not accept us's server certificate either.
    const dialError = eu.logger.lines.find((line) => line.message === 'peer unreachable, will retry');
    expect(String(dialError?.fields.error)).toMatch(/certificate/i);
    // A client with no certificate at all is refused before any handshake.
    await expect(RawPeer.open(eu.url, { ca: ca.ca })).rejects.toThrow(/403/);
  });

  it('refuses a plain upgrade when TLS is configured', async () => {
    const eu = await region('eu');
    const transport = new WebSocketTransport({
      cluster: CLUSTER,
      region: 'eu',
      incarnation: 'aaaaaaaa',
      crypto: eu.crypto,
      peers: [],
      logger: eu.logger,
      tls: ca.tlsFor(ca.issue('eu')),
    });
    transport.attach(eu.handlers);
    transport.attachTo(eu.server);
    eu.transport = transport;
    await expect(RawPeer.open(eu.url)).rejects.toThrow(/403/);
    expect(eu.logger.lines.map((line) => line.message)).toContain(
      'replication upgrade refused: not over TLS',
    );
  });

  it('refuses at construction a ws:// peer off loopback, and wss:// without tls', () => {
    const base = {
      cluster: CLUSTER,
      region: 'eu',
      incarnation: 'aaaaaaaa',
      crypto: testCrypto(newKey()),
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    };
    const peer = (url: string) => [{ region: 'us', url, publicKey: new Uint8Array(32) }];
    expect(
      () => new WebSocketTransport({ ...base, peers: peer('ws://10.0.0.2:7001/v1/replication') }),
    ).toThrow('peer us url ws://10.0.0.2:7001/v1/replication is not wss://');
    expect(
      () => new WebSocketTransport({ ...base, peers: peer('ws://allot-us:7001/v1/replication') }),
    ).toThrow(/^peer us url .* is not wss:\/\//);
    expect(
      () => new WebSocketTransport({ ...base, peers: peer('wss://10.0.0.2:7001/v1/replication') }),
    ).toThrow('peer us url wss://10.0.0.2:7001/v1/replication is wss:// but no tls is configured');
    for (const url of ['ws://127.0.0.1:1/v1/replication', 'ws://localhost:1/x', 'ws://[::1]:1/x']) {
      expect(() => new WebSocketTransport({ ...base, peers: peer(url) }), url).not.toThrow();
    }
    const tls = ca.tlsFor(ca.issue('eu'));
    expect(
      () => new WebSocketTransport({ ...base, tls, peers: peer('wss://10.0.0.2:7001/x') }),
    ).not.toThrow();
  });

  /**
   * A relay between us and eu that terminates TLS on both sides with a certificate of its own from
   * the cluster CA (a stolen node certificate, or a compromised proxy): us's URL for eu points at it.
   */
  async function relay(target: string, secure: boolean): Promise<string> {
    const mallory = ca.tlsFor(ca.issue('mallory'));
    const server = secure ? createHttpsServer(httpsServerOptions(mallory)) : createHttpServer();
    const wss = new WebSocketServer({ server, perMessageDeflate: false });
    const sockets: WebSocket[] = [];
    wss.on('connection', (inbound) => {
      const outbound = new WebSocket(target, { perMessageDeflate: false, ...(secure ? mallory : {}) });
      sockets.push(inbound, outbound);
      const queued: RawData[] = [];
      inbound.on('message', (data) => {
        if (outbound.readyState === WebSocket.OPEN) outbound.send(data);
        else queued.push(data);
      });
      outbound.on('open', () => {
        for (const data of queued.splice(0)) outbound.send(data);
      });
      outbound.on('message', (data) => inbound.send(data));
      outbound.on('close', () => inbound.terminate());
      inbound.on('close', () => outbound.terminate());
      outbound.on('error', () => {});
      inbound.on('error', () => {});
    });
    closers.push(() => {
      // Upgraded sockets are no longer the HTTP server's: end them here, or its close would wait.
      for (const socket of sockets) socket.terminate();
      wss.close();
    });
    const port = await listen(server);
    return `${secure ? 'wss' : 'ws'}://127.0.0.1:${port}/v1/replication`;
  }

  it('binds the handshake to the TLS channel: a relay with a valid certificate cannot pass proofs on', async () => {
    const eu = await region('eu', { tls: ca.tlsFor(ca.issue('eu')) });
    const us = await region('us', { tls: ca.tlsFor(ca.issue('us')) });
    eu.connect([us.asPeer()]);
    us.connect([{ ...eu.asPeer(), url: await relay(eu.url, true) }]).start();
    await waitFor(
      () => us.logger.closes('warn', CloseCode.badSignature).length > 0,
      'us to refuse the relayed hello',
    );
    expect(us.logger.closes('warn', CloseCode.badSignature)[0]?.fields.reason).toBe(
      'hello signature does not verify with the configured key',
    );
    expect(eu.handlers.calls).toEqual([]);
    expect(us.handlers.calls).toEqual([]);
  });

  it('(the same relay on plain ws passes the handshake through: it is a faithful relay)', async () => {
    const eu = await region('eu');
    const us = await region('us');
    eu.connect([us.asPeer()]);
    us.connect([{ ...eu.asPeer(), url: await relay(eu.url, false) }]).start();
    await waitFor(() => eu.connectedTo('us') && us.connectedTo('eu'), 'the relayed link');
  });
});
