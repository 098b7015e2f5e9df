import { type Canonical, canonicalJson } from '@allot/core';
import type { ReplicationFrame } from '@allot/replica';
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessage, UnsendableMessageError } from '../src/codec.js';
import { HANDSHAKE_BYTES_MAX, HANDSHAKES_PENDING_MAX } from '../src/limits.js';
import type { PeerConfig } from '../src/options.js';
import { CloseCode } from '../src/protocol.js';
import { WebSocketTransport } from '../src/websocket-transport.js';
import { CLUSTER, everyFrame, newKey, RawPeer, Region, rawPublicKey, waitFor } from './support.js';

const open: Region[] = [];
const raws: RawPeer[] = [];

async function region(name: string, options: Parameters<typeof Region.listen>[1] = {}): Promise<Region> {
  const made = await Region.listen(name, options);
  open.push(made);
  return made;
}

async function raw(url: string): Promise<RawPeer> {
  const peer = await RawPeer.open(url);
  raws.push(peer);
  return peer;
}

afterEach(async () => {
  for (const peer of raws.splice(0)) peer.ws.terminate();
  await Promise.all(open.splice(0).map((made) => made.close()));
});

/** The canonical text of frames, comparing byte fields by value. */
function text(frames: readonly ReplicationFrame[]): string {
  return canonicalJson(
    JSON.parse(
      JSON.stringify(frames, (_key, value: unknown) => (value instanceof Uint8Array ? [...value] : value)),
    ) as Canonical,
  );
}

/**
 * Starts `regions` (all attached, so all accepting) one after the other, each once it is connected
 * to every other: a region does not dial a peer it already has a link with, so no two dials cross
 * (crossing dials are the subject of their own test).
 */
async function startInTurn(regions: readonly Region[]): Promise<void> {
  for (const made of regions) {
    made.t.start();
    await waitFor(
      () => regions.every((other) => other === made || made.connectedTo(other.name)),
      `${made.name} to connect to every other region`,
    );
  }
}

/** Two regions `eu` and `us`, each configured with the other, started, and connected. */
async function connectedPair(options: Parameters<Region['connect']>[1] = {}): Promise<[Region, Region]> {
  const eu = await region('eu', { incarnation: 'euinceu2' });
  const us = await region('us', { incarnation: 'usincus2' });
  eu.connect([us.asPeer()], options);
  us.connect([eu.asPeer()], options);
  await startInTurn([eu, us]);
  return [eu, us];
}

/** A transport under test for `target` that knows a raw peer `rp` (never dialed: it is not started). */
async function acceptorFor(options: Parameters<Region['connect']>[1] = {}) {
  const target = await region('eu');
  const key = newKey();
  const peerRegion = await region('rp', { key });
  target.connect([peerRegion.asPeer()], options);
  return { target, key };
}

describe('WebSocketTransport: links', () => {
  it('connects two regions and carries every frame type both ways', async () => {
    const [eu, us] = await connectedPair();
    expect(eu.handlers.of('up')).toEqual([{ kind: 'up', region: 'us', origin: 'us#usincus2' }]);
    expect(us.handlers.of('up')).toEqual([{ kind: 'up', region: 'eu', origin: 'eu#euinceu2' }]);
    const frames = everyFrame();
    for (const frame of frames) {
      expect(eu.t.send('us', frame)).toBe(true);
      expect(us.t.send('eu', frame)).toBe(true);
    }
    await waitFor(
      () =>
        us.handlers.framesFrom('eu').length === frames.length &&
        eu.handlers.framesFrom('us').length === frames.length,
      'every frame to arrive',
    );
    expect(text(us.handlers.framesFrom('eu'))).toBe(text(frames));
    expect(text(eu.handlers.framesFrom('us'))).toBe(text(frames));
    expect(eu.handlers.of('down')).toEqual([]);
    const [link] = eu.t.peers();
    expect(link).toMatchObject({ region: 'us', url: us.url, connected: true });
    expect(link?.lastHeardMs).toBeGreaterThanOrEqual(0);
  });

  it('connects three regions pairwise, one link per pair', async () => {
    const names = ['eu', 'us', 'ap'] as const;
    const regions = await Promise.all(names.map((name) => region(name, { incarnation: `${name}aaaaaa` })));
    for (const made of regions) {
      made.connect(regions.filter((other) => other !== made).map((other) => other.asPeer()));
    }
    await startInTurn(regions);
    let accepted = 0;
    await waitFor(() => {
      void Promise.all(regions.map((made) => made.acceptedConnections())).then((counts) => {
        accepted = counts.reduce((total, count) => total + count, 0);
      });
      return accepted === 3;
    }, 'three connections in all');
    for (const from of regions) {
      for (const to of regions) {
        if (from === to) continue;
        expect(from.t.send(to.name, { type: 'pull', origin: from.origin, fromSeq: 1 })).toBe(true);
      }
    }
    await waitFor(() => regions.every((made) => made.handlers.of('frame').length === 2), 'six frames');
    for (const made of regions) {
      const others = regions.filter((other) => other !== made);
      expect(
        made.handlers
          .of('up')
          .map((call) => call.origin)
          .sort(),
      ).toEqual(others.map((other) => other.origin).sort());
      for (const other of others) {
        expect(made.handlers.framesFrom(other.name)).toEqual([
          { type: 'pull', origin: other.origin, fromSeq: 1 },
        ]);
      }
    }
  });

  it('keeps exactly one connection when both regions dial at once: the one the smaller region dialed', async () => {
    for (let round = 0; round < 3; round++) {
      const eu = await region('eu');
      const us = await region('us');
      const euTransport = eu.connect([us.asPeer()]);
      const usTransport = us.connect([eu.asPeer()]);
      euTransport.start();
      usTransport.start();
      let settled = false;
      await waitFor(() => {
        void Promise.all([eu.acceptedConnections(), us.acceptedConnections()]).then(([atEu, atUs]) => {
          settled = atEu === 0 && atUs === 1 && eu.connectedTo('us') && us.connectedTo('eu');
        });
        return settled;
      }, 'one connection, dialed by eu');
      // Whatever the interleaving, each side ends up with the link up, and frames flow on it.
      expect(eu.handlers.calls.at(-1)).toMatchObject({ kind: 'up', region: 'us' });
      expect(us.handlers.calls.at(-1)).toMatchObject({ kind: 'up', region: 'eu' });
      expect(us.t.send('eu', { type: 'pull', origin: us.origin, fromSeq: 1 })).toBe(true);
      await waitFor(() => eu.handlers.framesFrom('us').length === 1, 'a frame on the kept link');
      await Promise.all([eu.close(), us.close()]);
      open.splice(0);
    }
  });

  it('reconnects after a peer closes and starts again, with its new incarnation', async () => {
    const eu = await region('eu');
    const us = await region('us', { incarnation: 'usfirst2' });
    eu.connect([us.asPeer()]);
    us.connect([eu.asPeer()]);
    await startInTurn([us, eu]);
    const { port, key } = us;
    await us.close();
    open.splice(open.indexOf(us), 1);
    await waitFor(() => eu.handlers.of('down').length === 1, 'eu to see us go');
    expect(eu.t.send('us', { type: 'pull', origin: eu.origin, fromSeq: 1 })).toBe(false);
    // The new us accepts but never dials: eu's redial (with backoff) is what brings the link back.
    const again = await region('us', { port, key, incarnation: 'ussecond' });
    again.connect([eu.asPeer()]);
    await waitFor(() => eu.connectedTo('us') && again.connectedTo('eu'), 'eu to redial us');
    expect(eu.handlers.of('up').map((call) => call.origin)).toEqual(['us#usfirst2', 'us#ussecond']);
    expect(again.t.send('eu', { type: 'pull', origin: again.origin, fromSeq: 1 })).toBe(true);
    await waitFor(() => eu.handlers.framesFrom('us').length === 1, 'a frame from the new us');
  });

  it('answers false from send when not connected, and lists every configured peer', async () => {
    const eu = await region('eu');
    const us = await region('us');
    const transport = eu.connect([us.asPeer()]);
    const pull: ReplicationFrame = { type: 'pull', origin: eu.origin, fromSeq: 1 };
    expect(transport.send('us', pull)).toBe(false);
    expect(transport.send('nowhere', pull)).toBe(false);
    expect(transport.peers()).toEqual([
      { region: 'us', url: us.url, connected: false, lastHeardMs: null, rttMs: null },
    ]);
    transport.start();
    await waitFor(
      () => eu.logger.lines.some((line) => line.message === 'peer unreachable, will retry'),
      'a dial',
    );
    expect(transport.send('us', pull)).toBe(false);
    await transport.close();
    expect(transport.send('us', pull)).toBe(false);
  });

  it('measures the round trip', async () => {
    const [eu, us] = await connectedPair({ pingIntervalMs: 20, peerTimeoutMs: 5_000 });
    await waitFor(() => typeof eu.t.peers()[0]?.rttMs === 'number', 'an rtt at eu');
    await waitFor(() => typeof us.t.peers()[0]?.rttMs === 'number', 'an rtt at us');
    expect(eu.t.peers()[0]?.rttMs).toBeGreaterThanOrEqual(0);
  });

  it('closes a link that falls silent, and tells the replica', async () => {
    const { target, key } = await acceptorFor({ pingIntervalMs: 20, peerTimeoutMs: 200 });
    const peer = await raw(target.url);
    await peer.handshake('rp', 'aaaaaaaa', key);
    await waitFor(() => target.handlers.of('up').length === 1, 'the link');
    // The raw peer never answers pings.
    expect(await peer.closure()).toMatchObject({ code: CloseCode.peerTimeout });
    expect(target.handlers.calls.map((call) => call.kind)).toEqual(['up', 'down']);
  });

  it('drops a peer on request, tells the replica after the call returns, and redials', async () => {
    const [eu, us] = await connectedPair();
    let downDuringDrop = -1;
    // A long reason with non-ASCII characters: what fits a close frame goes to the peer.
    const reason = `event 3 does not chain: ${'é'.repeat(200)}`;
    eu.handlers.onFrame = () => {
      eu.t.drop('us', reason);
      downDuringDrop = eu.handlers.of('down').length;
    };
    us.t.send('eu', { type: 'pull', origin: us.origin, fromSeq: 1 });
    await waitFor(() => eu.handlers.of('down').length === 1, 'the drop');
    eu.handlers.onFrame = null;
    expect(downDuringDrop).toBe(0);
    expect(eu.logger.closes('warn', CloseCode.dropped)).toMatchObject([{ fields: { reason } }]);
    await waitFor(() => us.handlers.of('down').length >= 1, 'us to see the drop');
    const told = us.logger.lines.find((line) => line.message === 'peer disconnected')?.fields.reason;
    expect(told).toBe(`closed by the peer (4007 event 3 does not chain: ${'?'.repeat(123 - 24)})`);
    // Both sides redial; if their dials cross, one is kept and the replica may see it come up twice.
    await waitFor(
      () => eu.connectedTo('us') && us.connectedTo('eu') && eu.handlers.calls.at(-1)?.kind === 'up',
      'the link again',
    );
    expect(us.t.send('eu', { type: 'pull', origin: us.origin, fromSeq: 2 })).toBe(true);
    await waitFor(() => eu.handlers.framesFrom('us').length === 2, 'a frame on the new link');
  });

  it('answers false when the send buffer is full, and delivers every frame it accepted', async () => {
    const frameBytesMax = 256 * 1024;
    const [eu, us] = await connectedPair({ frameBytesMax, sendBufferBytesMax: frameBytesMax });
    const frame: ReplicationFrame = { type: 'control', message: new Uint8Array(200 * 1024).fill(7) };
    let accepted = 0;
    // The receiver cannot read while this loop runs, so the socket buffers fill up.
    for (let i = 0; i < 10_000 && eu.t.send('us', frame); i++) accepted++;
    expect(accepted).toBeLessThan(10_000);
    await waitFor(() => us.handlers.framesFrom('eu').length === accepted, 'the accepted frames');
    await waitFor(() => eu.t.send('us', frame), 'room in the buffer again');
  });

  it('sends a frame of exactly frameBytesMax, and refuses a malformed or larger one: a bug of the replica', async () => {
    const frameBytesMax = 64 * 1024;
    const [eu, us] = await connectedPair({ frameBytesMax, sendBufferBytesMax: 2 * frameBytesMax });
    expect(() => eu.t.send('us', { type: 'pull', origin: eu.origin, fromSeq: 0 })).toThrow(
      UnsendableMessageError,
    );
    expect(() => eu.t.send('us', controlOfSize(frameBytesMax + 1))).toThrow(
      `a control frame of ${frameBytesMax + 1} bytes is over the frame limit of ${frameBytesMax}`,
    );
    expect(eu.t.send('us', controlOfSize(frameBytesMax))).toBe(true);
    await waitFor(() => us.handlers.framesFrom('eu').length === 1, 'the largest frame');
  });

  it('validates its options', () => {
    const key = newKey();
    const base = {
      cluster: CLUSTER,
      region: 'eu',
      incarnation: 'aaaaaaaa',
      crypto: {
        publicKey: new Uint8Array(32),
        hash: () => key as never,
        sign: () => key as never,
        verify: () => false,
      },
      peers: [] as PeerConfig[],
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    };
    const peer = { region: 'us', url: 'ws://127.0.0.1:1/v1/replication', publicKey: new Uint8Array(32) };
    expect(() => new WebSocketTransport({ ...base, region: 'EU' })).toThrow(/invalid region/);
    expect(() => new WebSocketTransport({ ...base, incarnation: '1' })).toThrow(/invalid incarnation/);
    expect(() => new WebSocketTransport({ ...base, cluster: '' })).toThrow(/invalid cluster/);
    expect(() => new WebSocketTransport({ ...base, peers: [{ ...peer, region: 'eu' }] })).toThrow(
      /its own peer/,
    );
    expect(() => new WebSocketTransport({ ...base, peers: [peer, peer] })).toThrow(/configured twice/);
    expect(() => new WebSocketTransport({ ...base, peers: [{ ...peer, url: 'http://x' }] })).toThrow(
      /ws: or wss:/,
    );
    expect(
      () => new WebSocketTransport({ ...base, peers: [{ ...peer, publicKey: new Uint8Array(33) }] }),
    ).toThrow(/32 raw/);
    expect(() => new WebSocketTransport({ ...base, frameBytesMax: 0 })).toThrow(/positive integer/);
    expect(() => new WebSocketTransport({ ...base, sendBufferBytesMax: 1024 })).toThrow(
      /at least frameBytesMax/,
    );
    expect(() => new WebSocketTransport({ ...base, backoffMsMin: 10, backoffMsMax: 5 })).toThrow(
      /backoffMsMax/,
    );
    expect(() => new WebSocketTransport({ ...base, pingIntervalMs: 10, peerTimeoutMs: 10 })).toThrow(
      /peerTimeoutMs/,
    );
    expect(() => new WebSocketTransport(base).start()).toThrow(/attach the replica handlers/);
  });
});

describe('WebSocketTransport: refusals', () => {
  it('refuses a peer whose key is not the configured one, on both sides', async () => {
    const eu = await region('eu');
    const us = await region('us');
    // eu holds another key for us than the one us signs with; us holds eu's right key.
    eu.connect([{ ...us.asPeer(), publicKey: rawPublicKey(newKey()) }]).start();
    us.connect([eu.asPeer()]).start();
    // Both directions fail: as dialer eu cannot verify us's hello; as acceptor it cannot verify us's auth.
    const refused = (pattern: RegExp) =>
      eu.logger
        .closes('warn', CloseCode.badSignature)
        .some((line) => pattern.test(String(line.fields.reason)));
    await waitFor(
      () => refused(/^hello signature/) && refused(/^auth signature/),
      'both directions to be refused',
    );
    expect(eu.handlers.calls).toEqual([]);
    expect(us.handlers.calls).toEqual([]);
    expect(eu.connectedTo('us') || us.connectedTo('eu')).toBe(false);
  });

  it('refuses a region that is not a configured peer', async () => {
    const eu = await region('eu');
    const stranger = await region('xx');
    eu.connect([]);
    stranger.connect([eu.asPeer()]).start();
    const refusals = () => eu.logger.lines.filter((line) => line.fields.code === CloseCode.stranger);
    await waitFor(() => refusals().length >= 3, 'three refusals');
    // A stranger's repeated refusal is news once: the repeats are at debug.
    expect(refusals().filter((line) => line.level === 'warn')).toHaveLength(1);
    expect(eu.handlers.calls).toEqual([]);
    expect(stranger.handlers.calls).toEqual([]);
    const peer = await raw(eu.url);
    peer.send(peer.hello('xx', 'aaaaaaaa'));
    expect(await peer.closure()).toEqual({
      code: CloseCode.stranger,
      reason: 'region xx is not a configured peer',
    });
  });

  it('refuses another cluster, on both sides', async () => {
    const eu = await region('eu');
    const us = await region('us');
    eu.connect([us.asPeer()]).start();
    us.connect([eu.asPeer()], { cluster: 'other-cluster' }).start();
    // Each side refuses the other's dials, and learns from the close code why its own were refused.
    const lines = (made: Region, message: string) =>
      made.logger.lines.filter(
        (line) => line.fields.code === CloseCode.wrongCluster && line.message === message,
      );
    await waitFor(
      () =>
        [eu, us].every(
          (made) =>
            lines(made, 'replication connection refused').length >= 3 &&
            lines(made, 'replication handshake refused by the peer').length >= 3,
        ),
      'three refusals each way',
    );
    expect(eu.handlers.calls).toEqual([]);
    expect(us.handlers.calls).toEqual([]);
    // The same refusal again is not news: one warning per direction, the repeats at debug.
    for (const made of [eu, us]) {
      for (const message of ['replication connection refused', 'replication handshake refused by the peer']) {
        expect(lines(made, message).filter((line) => line.level === 'warn')).toHaveLength(1);
      }
    }
    expect(lines(eu, 'replication connection refused')[0]?.fields.reason).toBe(
      'cluster other-cluster is not acme-credits',
    );
  });

  it('refuses another protocol version, an old v8 peer with one warning', async () => {
    const { target } = await acceptorFor();
    for (const protocol of [8, 8, 10]) {
      const peer = await raw(target.url);
      peer.send(peer.hello('rp', 'aaaaaaaa', { protocol }));
      expect(await peer.closure()).toEqual({
        code: CloseCode.wrongProtocol,
        reason: `protocol ${protocol} is not 9`,
      });
    }
    expect(target.handlers.calls).toEqual([]);
    const warned = target.logger.closes('warn', CloseCode.wrongProtocol).map((line) => line.fields.reason);
    expect(warned).toEqual(['protocol 8 is not 9', 'protocol 10 is not 9']);
  });

  it('refuses a first message that is not a dialer hello', async () => {
    const { target, key } = await acceptorFor();
    const auth = await raw(target.url);
    auth.send({ type: 'auth', signature: new Uint8Array(64) });
    expect(await auth.closure()).toMatchObject({ code: CloseCode.policy });
    const frame = await raw(target.url);
    frame.send({ type: 'pull', origin: 'rp#aaaaaaaa', fromSeq: 1 });
    expect(await frame.closure()).toMatchObject({ code: CloseCode.policy });
    const signedHello = await raw(target.url);
    signedHello.send(signedHello.hello('rp', 'aaaaaaaa', { signature: new Uint8Array(64) }));
    expect(await signedHello.closure()).toMatchObject({ code: CloseCode.policy });
    // A bad auth signature after a good hello.
    const forged = await raw(target.url);
    await expect(forged.handshake('rp', 'aaaaaaaa', newKey())).rejects.toThrow(
      `closed during the handshake: ${CloseCode.badSignature} auth signature does not verify`,
    );
    // The right key gets through on a fresh connection.
    const honest = await raw(target.url);
    await honest.handshake('rp', 'aaaaaaaa', key);
    await waitFor(() => target.handlers.of('up').length === 1, 'the honest peer');
    expect(target.handlers.calls).toEqual([{ kind: 'up', region: 'rp', origin: 'rp#aaaaaaaa' }]);
  });

  it('closes a handshake that does not finish in time', async () => {
    const { target } = await acceptorFor({ handshakeTimeoutMs: 100 });
    const peer = await raw(target.url);
    expect(await peer.closure()).toEqual({ code: CloseCode.handshakeTimeout, reason: 'handshake timed out' });
    expect(target.handlers.calls).toEqual([]);
  });

  it('refuses an oversized handshake message before authentication', async () => {
    const { target } = await acceptorFor();
    const peer = await raw(target.url);
    peer.sendBytes(new Uint8Array(8 * 1024));
    expect(await peer.closure()).toMatchObject({ code: CloseCode.tooBig });
  });

  for (const [what, act, code] of [
    [
      'garbage bytes',
      (peer: RawPeer) => peer.sendBytes(new Uint8Array([0xc1, 0x00, 0xff])),
      CloseCode.policy,
    ],
    ['a text message', (peer: RawPeer) => peer.ws.send('{"type":"pull"}'), CloseCode.policy],
    [
      'an oversized message',
      (peer: RawPeer) => peer.sendBytes(new Uint8Array(64 * 1024 + 1)),
      CloseCode.tooBig,
    ],
    [
      'a frame that fails its shape check',
      (peer: RawPeer) => peer.sendBytes(encodeUnchecked({ type: 'pull', origin: 'rp#aaaaaaaa', fromSeq: 0 })),
      CloseCode.policy,
    ],
    [
      'a borrow frame without the asker’s log head',
      (peer: RawPeer) => peer.sendBytes(encodeUnchecked({ type: 'borrow', tenant: 'acme', amount: 7 })),
      CloseCode.policy,
    ],
    [
      'a borrow frame with a negative log head',
      (peer: RawPeer) =>
        peer.sendBytes(encodeUnchecked({ type: 'borrow', tenant: 'acme', amount: 7, head: -1, since: null })),
      CloseCode.policy,
    ],
    [
      'a borrow frame without the asker’s claim (a build of protocol 4)',
      (peer: RawPeer) =>
        peer.sendBytes(encodeUnchecked({ type: 'borrow', tenant: 'acme', amount: 7, head: 3 })),
      CloseCode.policy,
    ],
    [
      'a borrow frame without the smallest waiting debit (a build of protocol 5)',
      (peer: RawPeer) =>
        peer.sendBytes(encodeUnchecked({ type: 'borrow', tenant: 'acme', amount: 7, head: 3, since: null })),
      CloseCode.policy,
    ],
    [
      'a borrow frame whose smallest waiting debit is not an amount',
      (peer: RawPeer) =>
        peer.sendBytes(
          encodeUnchecked({
            type: 'borrow',
            tenant: 'acme',
            amount: 7,
            head: 3,
            since: null,
            least: 0,
            waitsMs: 0,
          }),
        ),
      CloseCode.policy,
    ],
    [
      'a borrow frame without how long its debits will wait (a build of protocol 7)',
      (peer: RawPeer) =>
        peer.sendBytes(
          encodeUnchecked({ type: 'borrow', tenant: 'acme', amount: 7, head: 3, since: null, least: 2 }),
        ),
      CloseCode.policy,
    ],
    ['a second hello', (peer: RawPeer) => peer.send(peer.hello('rp', 'aaaaaaaa')), CloseCode.policy],
  ] as const) {
    it(`closes a link on ${what} and hands the replica nothing`, async () => {
      const { target, key } = await acceptorFor({ frameBytesMax: 64 * 1024 });
      const peer = await raw(target.url);
      await peer.handshake('rp', 'aaaaaaaa', key);
      await waitFor(() => target.handlers.of('up').length === 1, 'the link');
      act(peer);
      // A valid frame right behind the bad one must not reach the replica either.
      peer.send({ type: 'pull', origin: 'rp#aaaaaaaa', fromSeq: 1 });
      expect((await peer.closure()).code).toBe(code);
      await waitFor(() => target.handlers.of('down').length === 1, 'peerDown');
      expect(target.handlers.of('frame')).toEqual([]);
      expect(target.handlers.calls.map((call) => call.kind)).toEqual(['up', 'down']);
    });
  }

  it('delivers a message of exactly frameBytesMax, and closes the link on one byte more', async () => {
    const frameBytesMax = 64 * 1024;
    const { target, key } = await acceptorFor({ frameBytesMax });
    const peer = await raw(target.url);
    await peer.handshake('rp', 'aaaaaaaa', key);
    peer.send(controlOfSize(frameBytesMax));
    await waitFor(() => target.handlers.of('frame').length === 1, 'the largest frame');
    peer.sendBytes(encodeMessage(controlOfSize(frameBytesMax + 1)));
    expect(await peer.closure()).toMatchObject({ code: CloseCode.tooBig });
    expect(target.logger.closes('warn', CloseCode.tooBig)).toHaveLength(1);
    await waitFor(() => target.handlers.of('down').length === 1, 'peerDown');
    expect(target.handlers.of('frame')).toHaveLength(1);
  });

  it(`decodes a handshake message of ${HANDSHAKE_BYTES_MAX} bytes, and refuses one byte more unread`, async () => {
    const { target } = await acceptorFor();
    const atLimit = await raw(target.url);
    atLimit.sendBytes(new Uint8Array(HANDSHAKE_BYTES_MAX));
    // Read and found not to be MessagePack of a hello: a policy close, not a size one.
    expect(await atLimit.closure()).toMatchObject({ code: CloseCode.policy });
    const past = await raw(target.url);
    past.sendBytes(new Uint8Array(HANDSHAKE_BYTES_MAX + 1));
    expect(await past.closure()).toMatchObject({ code: CloseCode.tooBig });
    expect(target.logger.closes('warn', CloseCode.tooBig).map((line) => line.fields.reason)).toEqual([
      `message over the handshake limit of ${HANDSHAKE_BYTES_MAX} bytes`,
    ]);
  });

  it(`answers 503 past ${HANDSHAKES_PENDING_MAX} handshakes in flight, and takes more once one ends`, async () => {
    const { target } = await acceptorFor();
    const pending = await Promise.all(Array.from({ length: HANDSHAKES_PENDING_MAX }, () => raw(target.url)));
    await expect(RawPeer.open(target.url)).rejects.toThrow(/503/);
    expect(target.logger.lines.filter((line) => /too many handshakes/.test(line.message))).toHaveLength(1);
    pending[0]?.ws.close();
    await pending[0]?.closure();
    let admitted: RawPeer | null = null;
    await waitFor(() => {
      if (admitted === null) {
        RawPeer.open(target.url).then(
          (peer) => {
            raws.push(peer);
            admitted = peer;
          },
          () => {},
        );
      }
      return admitted !== null;
    }, 'a handshake slot');
  });

  it('leaves upgrade paths of other listeners to them', async () => {
    const eu = await region('eu');
    eu.server.on('upgrade', (request, socket) => {
      if (request.url === '/v1/other') socket.end('HTTP/1.1 418 I am a teapot\r\nContent-Length: 0\r\n\r\n');
    });
    eu.connect([]);
    await expect(RawPeer.open(`ws://127.0.0.1:${eu.port}/v1/other`)).rejects.toThrow(/418/);
  });

  it('leaves other upgrade paths alone, and answers 503 before the replica is attached', async () => {
    const eu = await region('eu');
    eu.connect([]);
    await expect(RawPeer.open(`ws://127.0.0.1:${eu.port}/v1/other`)).rejects.toThrow(/404/);
    const early = await region('us');
    const transport = new WebSocketTransport({
      cluster: CLUSTER,
      region: 'us',
      incarnation: 'aaaaaaaa',
      crypto: early.crypto,
      peers: [],
      logger: early.logger,
    });
    transport.attachTo(early.server);
    early.transport = transport;
    await expect(RawPeer.open(early.url)).rejects.toThrow(/503/);
  });
});

/** A control frame whose encoding is exactly `bytes` long. */
function controlOfSize(bytes: number): ReplicationFrame {
  const overhead = (length: number) =>
    encodeMessage({ type: 'control', message: new Uint8Array(length) }).length - length;
  // The bin header grows with the length: settle on the length whose overhead fits exactly.
  let length = bytes - overhead(bytes);
  length = bytes - overhead(length);
  const frame: ReplicationFrame = { type: 'control', message: new Uint8Array(length).fill(1) };
  expect(encodeMessage(frame).length).toBe(bytes);
  return frame;
}

/** MessagePack of `value` without the codec's shape check (what a broken or hostile peer sends). */
function encodeUnchecked(value: unknown): Uint8Array {
  return new Uint8Array(packr.pack(value));
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });
