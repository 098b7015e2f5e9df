import { afterEach, describe, expect, it } from 'vitest';
import {
  HANDSHAKE_BYTES_MAX,
  HANDSHAKES_PENDING_MAX,
  HANDSHAKES_PENDING_PER_ADDRESS_MAX,
  HANDSHAKES_RESERVED_FOR_PEERS,
} from '../src/limits.js';
import { CloseCode, type HelloMessage } from '../src/protocol.js';
import { RawPeer, Region, waitFor } from './support.js';

const open: Region[] = [];
const raws: RawPeer[] = [];

async function region(name: string, options: Parameters<typeof Region.listen>[1] = {}): Promise<Region> {
  const made = await Region.listen(name, options);
  open.push(made);
  return made;
}

async function raw(url: string, localAddress?: string): Promise<RawPeer> {
  const peer = await RawPeer.open(url, localAddress === undefined ? {} : { localAddress });
  raws.push(peer);
  return peer;
}

afterEach(async () => {
  for (const peer of raws.splice(0)) peer.ws.terminate();
  await Promise.all(open.splice(0).map((made) => made.close()));
});

/** eu and us, each configured with the other, not started (neither dials). */
async function pair(options: Parameters<Region['connect']>[1] = {}): Promise<[Region, Region]> {
  const eu = await region('eu', { incarnation: 'euinceu2' });
  const us = await region('us', { incarnation: 'usincus2' });
  eu.connect([us.asPeer()], options);
  us.connect([eu.asPeer()], options);
  return [eu, us];
}

/** The `n`th loopback address other than 127.0.0.1 (a stranger's address on this host). */
function strangerAddress(n: number): string {
  return `127.0.${Math.floor(n / 250) + 1}.${(n % 250) + 2}`;
}

describe('WebSocketTransport: the reflection attack (issue 9)', () => {
  it('refuses a stranger who passes us’s handshake proof to eu as its own, and neither side comes up', async () => {
    const [eu, us] = await pair();
    // The stranger dials eu claiming to be us.
    const toEu = await raw(eu.url);
    toEu.send(toEu.hello('us', us.incarnation));
    await toEu.awaitMessage('hello');
    const euHello = toEu.received.find((message) => message.type === 'hello') as HelloMessage;
    // It dials us claiming to be eu, with eu's challenge as its nonce, so that us signs over it.
    const toUs = await raw(us.url);
    toUs.send(toUs.hello('eu', eu.incarnation, { nonce: euHello.nonce }));
    await toUs.awaitMessage('hello');
    const usHello = toUs.received.find((message) => message.type === 'hello') as HelloMessage;
    expect(usHello.signature).not.toBeNull();
    // And presents us's signature to eu as its proof of us's key.
    toEu.send({ type: 'auth', signature: usHello.signature as Uint8Array });
    expect(await toEu.closure()).toEqual({
      code: CloseCode.badSignature,
      reason: 'auth signature does not verify with the configured key',
    });
    // Nothing came up, nothing reached either replica, and the stranger never got a frame.
    expect(eu.handlers.calls).toEqual([]);
    expect(us.handlers.calls).toEqual([]);
    expect(toEu.received.map((message) => message.type)).toEqual(['hello']);
    expect(toUs.received.map((message) => message.type)).toEqual(['hello']);
    expect(eu.logger.closes('warn', CloseCode.badSignature)).toMatchObject([{ fields: { peer: 'us' } }]);
    // The real regions still link up.
    eu.t.start();
    await waitFor(() => eu.connectedTo('us') && us.connectedTo('eu'), 'the real link');
  });
});

describe('WebSocketTransport: before authentication', () => {
  it(`refuses a 4 MiB message before the handshake with 1009, and the real peer still links`, async () => {
    const [eu, us] = await pair();
    const floods = await Promise.all(Array.from({ length: 8 }, (_, n) => raw(eu.url, strangerAddress(n))));
    for (const flood of floods) flood.sendBytes(new Uint8Array(4 * 1024 * 1024));
    for (const flood of floods) expect((await flood.closure()).code).toBe(CloseCode.tooBig);
    // One warning for the flood, the rest at debug.
    expect(eu.logger.closes('warn', CloseCode.tooBig).map((line) => line.fields.reason)).toEqual([
      `message over the handshake limit of ${HANDSHAKE_BYTES_MAX} bytes`,
    ]);
    expect(eu.logger.closes('debug', CloseCode.tooBig)).toHaveLength(floods.length - 1);
    us.t.start();
    await waitFor(() => eu.connectedTo('us') && us.connectedTo('eu'), 'the real link');
    expect(eu.handlers.of('frame')).toEqual([]);
  });

  it('does not let 64+ idle sockets keep a configured peer out', async () => {
    const [eu, us] = await pair({ helloTimeoutMs: 60_000, handshakeTimeoutMs: 60_000 });
    const strangerSlots = HANDSHAKES_PENDING_MAX - HANDSHAKES_RESERVED_FOR_PEERS;
    const addresses = strangerSlots / HANDSHAKES_PENDING_PER_ADDRESS_MAX;
    const idle: RawPeer[] = [];
    for (let n = 0; n < addresses; n++) {
      for (let i = 0; i < HANDSHAKES_PENDING_PER_ADDRESS_MAX; i++)
        idle.push(await raw(eu.url, strangerAddress(n)));
      // One more from the same address is refused.
      await expect(RawPeer.open(eu.url, { localAddress: strangerAddress(n) })).rejects.toThrow(/503/);
    }
    // Every stranger slot is held: strangers from fresh addresses are refused too.
    for (let n = addresses; n < addresses + 16; n++) {
      await expect(RawPeer.open(eu.url, { localAddress: strangerAddress(n) })).rejects.toThrow(/503/);
    }
    expect(idle).toHaveLength(strangerSlots);
    // us dials from 127.0.0.1, the host of its configured URL: a reserved slot is its.
    us.t.start();
    await waitFor(() => eu.connectedTo('us') && us.connectedTo('eu'), 'us to link up past the strangers');
    expect(idle.every((peer) => peer.closedWith === null)).toBe(true);
    // One warning per kind of refusal, however many there were.
    const warnings = eu.logger.lines.filter(
      (line) => line.level === 'warn' && /upgrade refused/.test(line.message),
    );
    expect(warnings.map((line) => line.message).sort()).toEqual([
      'replication upgrade refused: too many handshakes in flight',
      'replication upgrade refused: too many handshakes in flight from this address',
    ]);
  });

  it('closes a socket that sends no hello in time, which gives its slot back', async () => {
    const [eu] = await pair({ helloTimeoutMs: 100, handshakeTimeoutMs: 60_000 });
    const address = strangerAddress(0);
    const first = await Promise.all(
      Array.from({ length: HANDSHAKES_PENDING_PER_ADDRESS_MAX }, () => raw(eu.url, address)),
    );
    for (const peer of first) {
      expect(await peer.closure()).toEqual({ code: CloseCode.handshakeTimeout, reason: 'no hello in time' });
    }
    // The slots are free again.
    const again = await raw(eu.url, address);
    expect(again.closedWith).toBeNull();
    // Idle strangers are not news: nothing above debug.
    expect(eu.logger.lines.filter((line) => line.level !== 'debug')).toEqual([]);
  });

  it('keeps the address a peer authenticated from: its next handshakes there are not capped as a stranger’s', async () => {
    // us listens on 127.0.0.9 (what eu has configured) but dials eu from 127.0.0.1.
    const eu = await region('eu');
    const us = await region('us', { host: '127.0.0.9' });
    eu.connect([us.asPeer()]);
    us.connect([eu.asPeer()]);
    const fill = () =>
      Promise.all(Array.from({ length: HANDSHAKES_PENDING_PER_ADDRESS_MAX }, () => raw(eu.url, '127.0.0.1')));
    const idle = await fill();
    // 127.0.0.1 is a stranger's address to eu so far: strangers there keep us out.
    us.t.start();
    await waitFor(
      () => us.logger.lines.some((line) => /503/.test(String(line.fields.error))),
      'us to be refused while strangers hold its address',
    );
    for (const peer of idle) peer.ws.terminate();
    await waitFor(() => eu.connectedTo('us') && us.connectedTo('eu'), 'us to link once they are gone');
    // Now it is us's address: more handshakes from it than a stranger's cap are taken.
    const more = await Promise.all(
      Array.from({ length: HANDSHAKES_PENDING_PER_ADDRESS_MAX + 1 }, () => raw(eu.url, '127.0.0.1')),
    );
    expect(more.every((peer) => peer.closedWith === null)).toBe(true);
  });
});
