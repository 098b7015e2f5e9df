import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type HandshakeContext,
  type HandshakeState,
  handshakeStep,
  helloMessage,
  initialHandshake,
} from '../src/handshake.js';
import {
  CloseCode,
  type HelloMessage,
  type Role,
  type Transcript,
  type TransportMessage,
  transcriptBytes,
} from '../src/protocol.js';
import { CLUSTER, newKey, testCrypto } from './support.js';

/** A node of the cluster eu / us / ap, each knowing the others' keys. */
function cluster() {
  const keys = { eu: newKey(), us: newKey(), ap: newKey() };
  const cryptos = {
    eu: testCrypto(keys.eu),
    us: testCrypto(keys.us),
    ap: testCrypto(keys.ap),
  };
  const context = (region: keyof typeof keys, incarnation: string): HandshakeContext => ({
    cluster: CLUSTER,
    region,
    incarnation,
    crypto: cryptos[region],
    peerKey: (other) =>
      other !== region && Object.hasOwn(cryptos, other)
        ? cryptos[other as keyof typeof cryptos].publicKey
        : undefined,
  });
  return { context, cryptos };
}

function nonce(): Uint8Array {
  return new Uint8Array(randomBytes(32));
}

/** Applies a step that must succeed. */
function ok(context: HandshakeContext, state: HandshakeState, message: TransportMessage) {
  const step = handshakeStep(context, state, message);
  if (!step.ok) throw new Error(`refused: ${step.code} ${step.reason}`);
  return step;
}

describe('handshake steps', () => {
  it('brings both ends up, on plain ws and on a TLS channel, each ending with the other proven', () => {
    const { context } = cluster();
    for (const channel of [null, nonce()]) {
      const eu = context('eu', 'euincarn');
      const us = context('us', 'usincarn');
      const dialer = initialHandshake('dialer', nonce(), 'us', channel);
      const acceptor = initialHandshake('acceptor', nonce(), null, channel);
      const hello = helloMessage(eu, dialer.nonce, null);
      const answered = ok(us, acceptor, hello);
      expect(answered.state.step).toBe('await-auth');
      const authed = ok(eu, dialer, answered.send as TransportMessage);
      expect(authed.send?.type).toBe('auth');
      const ready = ok(us, answered.state, authed.send as TransportMessage);
      expect(ready.state).toMatchObject({ step: 'up', peer: { region: 'eu', incarnation: 'euincarn' } });
      const up = ok(eu, authed.state, ready.send as TransportMessage);
      expect(up.state).toMatchObject({ step: 'up', peer: { region: 'us', incarnation: 'usincarn' } });
    }
  });

  it('refuses the reflection attack: a stranger passing us’s proof to eu as its own', () => {
    const { context } = cluster();
    const eu = context('eu', 'euincarn');
    const us = context('us', 'usincarn');
    // The stranger dials eu claiming to be us.
    const atEu = initialHandshake('acceptor', nonce(), null, null);
    const strangerNonce = nonce();
    const euAnswer = ok(eu, atEu, helloMessage(us, strangerNonce, null));
    const euHello = euAnswer.send as HelloMessage;
    // It dials us claiming to be eu, with eu's challenge as its own nonce, so us signs over it.
    const atUs = initialHandshake('acceptor', euHello.nonce, null, null);
    const usAnswer = ok(us, atUs, helloMessage(eu, euHello.nonce, null));
    const usHello = usAnswer.send as HelloMessage;
    // And presents us's signature to eu as the dialer's proof.
    const forged = handshakeStep(eu, euAnswer.state, {
      type: 'auth',
      signature: usHello.signature as Uint8Array,
    });
    expect(forged).toMatchObject({ ok: false, code: CloseCode.badSignature, claimed: 'us' });
    // Replaying eu's own signature back at it fails the same way.
    const mirrored = handshakeStep(eu, euAnswer.state, {
      type: 'auth',
      signature: euHello.signature as Uint8Array,
    });
    expect(mirrored).toMatchObject({ ok: false, code: CloseCode.badSignature });
  });

  it('refuses a hello signature from another channel (a relay between two TLS sessions)', () => {
    const { context } = cluster();
    const eu = context('eu', 'euincarn');
    const us = context('us', 'usincarn');
    // us dials the relay on channel A; the relay dials eu on channel B and forwards the hellos.
    const usDialer = initialHandshake('dialer', nonce(), 'eu', nonce());
    const atEu = initialHandshake('acceptor', nonce(), null, nonce());
    const euAnswer = ok(eu, atEu, helloMessage(us, usDialer.nonce, null));
    const relayed = handshakeStep(us, usDialer, euAnswer.send as TransportMessage);
    expect(relayed).toMatchObject({ ok: false, code: CloseCode.badSignature, claimed: 'eu' });
  });

  it('verifies only with the configured key of the region the hello names', () => {
    const { context, cryptos } = cluster();
    const eu = context('eu', 'euincarn');
    const dialer = initialHandshake('dialer', nonce(), 'us', null);
    // ap (a configured peer, with a valid key of its own) answers a dial to us, as us: refused by name.
    const asAp = ok(
      context('ap', 'apincarn'),
      initialHandshake('acceptor', nonce(), null, null),
      helloMessage(eu, dialer.nonce, null),
    );
    expect(handshakeStep(eu, dialer, asAp.send as TransportMessage)).toMatchObject({
      ok: false,
      code: CloseCode.stranger,
      reason: 'answered as ap, not us',
    });
    // ap's key signing a hello that names us: the signature is checked with us's key, and fails.
    const hello = asAp.send as HelloMessage;
    const signed = transcriptBytes({
      signer: 'acceptor',
      cluster: CLUSTER,
      dialer: { region: 'eu', incarnation: 'euincarn', nonce: dialer.nonce },
      acceptor: { region: 'us', incarnation: 'apincarn', nonce: hello.nonce },
      channel: null,
    });
    const posing = { ...hello, region: 'us', signature: cryptos.ap.sign(signed) };
    expect(handshakeStep(eu, dialer, posing)).toMatchObject({ ok: false, code: CloseCode.badSignature });
  });

  it('refuses messages out of turn, another cluster or protocol, and strangers, naming the claimed peer', () => {
    const { context } = cluster();
    const eu = context('eu', 'euincarn');
    const us = context('us', 'usincarn');
    const acceptor = initialHandshake('acceptor', nonce(), null, null);
    const hello = helloMessage(us, nonce(), null);
    const cases: [TransportMessage, number, string, string | null][] = [
      [
        { type: 'auth', signature: new Uint8Array(64) },
        CloseCode.policy,
        'unexpected auth during await-hello',
        null,
      ],
      [
        { ...hello, signature: new Uint8Array(64) },
        CloseCode.policy,
        'unexpected hello during await-hello',
        'us',
      ],
      [{ ...hello, cluster: 'other' }, CloseCode.wrongCluster, `cluster other is not ${CLUSTER}`, 'us'],
      [{ ...hello, protocol: 1 }, CloseCode.wrongProtocol, 'protocol 1 is not 9', 'us'],
      [{ ...hello, region: 'xx' }, CloseCode.stranger, 'region xx is not a configured peer', null],
      [{ ...hello, region: 'eu' }, CloseCode.stranger, 'region eu is not a configured peer', null],
    ];
    for (const [message, code, reason, claimed] of cases) {
      expect(handshakeStep(eu, acceptor, message)).toEqual({ ok: false, code, reason, claimed });
    }
    const waiting = ok(eu, acceptor, hello).state;
    expect(handshakeStep(eu, waiting, { type: 'ready' })).toMatchObject({
      ok: false,
      code: CloseCode.policy,
    });
  });

  it('makes a signature useless under any transcript that differs in one field (property)', () => {
    const crypto = testCrypto(newKey());
    const bytes = fc.uint8Array({ minLength: 32, maxLength: 32 });
    const party = fc.record({
      region: fc.constantFrom('eu', 'us', 'ap'),
      incarnation: fc.constantFrom('aaaaaaaa', 'bbbbbbbb'),
      nonce: bytes,
    });
    const transcript = fc.record({
      signer: fc.constantFrom<Role>('dialer', 'acceptor'),
      cluster: fc.constantFrom(CLUSTER, 'other'),
      dialer: party,
      acceptor: party,
      channel: fc.option(bytes, { nil: null }),
    });
    const flip = (value: Uint8Array) => value.map((byte, index) => (index === 0 ? byte ^ 1 : byte));
    const other = (region: string) => (region === 'eu' ? 'us' : 'eu');
    const mutations: ((t: Transcript) => Transcript)[] = [
      (t) => ({ ...t, signer: t.signer === 'dialer' ? 'acceptor' : 'dialer' }),
      (t) => ({ ...t, cluster: `${t.cluster}x` }),
      (t) => ({ ...t, dialer: t.acceptor, acceptor: t.dialer }),
      (t) => ({ ...t, dialer: { ...t.dialer, region: other(t.dialer.region) } }),
      (t) => ({ ...t, acceptor: { ...t.acceptor, region: other(t.acceptor.region) } }),
      (t) => ({ ...t, dialer: { ...t.dialer, incarnation: 'cccccccc' } }),
      (t) => ({ ...t, acceptor: { ...t.acceptor, incarnation: 'cccccccc' } }),
      (t) => ({ ...t, dialer: { ...t.dialer, nonce: flip(t.dialer.nonce) } }),
      (t) => ({ ...t, acceptor: { ...t.acceptor, nonce: flip(t.acceptor.nonce) } }),
      (t) => ({ ...t, channel: t.channel === null ? new Uint8Array(32) : null }),
      (t) => ({ ...t, channel: t.channel === null ? new Uint8Array(32).fill(1) : flip(t.channel) }),
    ];
    fc.assert(
      fc.property(transcript, fc.nat(mutations.length - 1), (signed, which) => {
        const changed = (mutations[which] as (t: Transcript) => Transcript)(signed);
        const signature = crypto.sign(transcriptBytes(signed));
        expect(crypto.verify(crypto.publicKey, transcriptBytes(signed), signature)).toBe(true);
        const identical =
          which === 2 && JSON.stringify(signed.dialer, hexed) === JSON.stringify(signed.acceptor, hexed);
        expect(crypto.verify(crypto.publicKey, transcriptBytes(changed), signature)).toBe(identical);
      }),
      { numRuns: 300 },
    );
  });
  it('never brings a stranger up at an acceptor, whatever it sends and whatever acceptors it asks to sign (property)', () => {
    const { context } = cluster();
    const eu = context('eu', 'euincarn');
    const oracles = { us: context('us', 'usincarn'), ap: context('ap', 'apincarn'), eu };
    type Action =
      | { kind: 'hello'; region: string; incarnation: string; nonce: 'fresh' | 'target'; signed: boolean }
      | {
          kind: 'auth';
          source: 'random' | 'us' | 'ap' | 'eu';
          claim: 'eu' | 'us' | 'ap';
          nonce: 'fresh' | 'target';
        }
      | { kind: 'ready' }
      | { kind: 'pull' };
    const action: fc.Arbitrary<Action> = fc.oneof(
      fc.record({
        kind: fc.constant('hello' as const),
        region: fc.constantFrom('us', 'us', 'ap', 'xx', 'eu'),
        incarnation: fc.constantFrom('usincarn', 'apincarn', 'euincarn'),
        nonce: fc.constantFrom('fresh' as const, 'target' as const),
        signed: fc.constantFrom(false, false, false, true),
      }),
      fc.record({
        kind: fc.constant('auth' as const),
        source: fc.constantFrom('random' as const, 'us' as const, 'ap' as const, 'eu' as const),
        claim: fc.constantFrom('eu' as const, 'us' as const, 'ap' as const),
        nonce: fc.constantFrom('fresh' as const, 'target' as const),
      }),
      fc.constant({ kind: 'ready' as const }),
      fc.constant({ kind: 'pull' as const }),
    );
    // Mostly a hello that opens a handshake, so that the runs reach the proof.
    const opening: fc.Arbitrary<Action> = fc.record({
      kind: fc.constant('hello' as const),
      region: fc.constantFrom('us', 'ap'),
      incarnation: fc.constantFrom('usincarn', 'apincarn'),
      nonce: fc.constantFrom('fresh' as const, 'target' as const),
      signed: fc.constantFrom(false, false, false, false, true),
    });
    let challenged = 0;
    fc.assert(
      fc.property(opening, fc.array(action, { maxLength: 5 }), fc.boolean(), (first, rest, tls) => {
        const actions: Action[] = [first, ...rest];
        const channel = tls ? nonce() : null;
        let state: HandshakeState = initialHandshake('acceptor', nonce(), null, channel);
        let targetNonce = state.step === 'await-hello' ? state.nonce : new Uint8Array(32);
        for (const each of actions) {
          let message: TransportMessage | { type: 'pull'; origin: string; fromSeq: number };
          if (each.kind === 'hello') {
            const chosen = each.nonce === 'target' ? targetNonce : nonce();
            message = {
              ...helloMessage(oracles.us, chosen, each.signed ? new Uint8Array(64) : null),
              region: each.region,
              incarnation: each.incarnation,
            };
          } else if (each.kind === 'auth') {
            let signature: Uint8Array = new Uint8Array(randomBytes(64));
            if (each.source !== 'random') {
              // Ask an honest acceptor to answer a hello of the stranger's choosing: its signature
              // covers the stranger's chosen nonce (eu's challenge, if it likes), in the acceptor role.
              const oracle = oracles[each.source];
              const claimed = each.claim === each.source ? 'eu' : each.claim;
              const asked = handshakeStep(
                oracle,
                initialHandshake('acceptor', each.nonce === 'target' ? targetNonce : nonce(), null, channel),
                helloMessage(oracles[claimed], each.nonce === 'target' ? targetNonce : nonce(), null),
              );
              if (asked.ok && asked.send?.type === 'hello' && asked.send.signature !== null) {
                signature = asked.send.signature;
              }
            }
            message = { type: 'auth', signature };
          } else if (each.kind === 'ready') {
            message = { type: 'ready' };
          } else {
            message = { type: 'pull', origin: 'us#usincarn', fromSeq: 1 };
          }
          const step = handshakeStep(eu, state, message as TransportMessage);
          if (!step.ok) return;
          state = step.state;
          if (state.step === 'await-auth') {
            targetNonce = state.nonce;
            challenged++;
          }
          expect(state.step).not.toBe('up');
        }
      }),
      { numRuns: 300 },
    );
    // The runs reached the step that matters: a signed challenge awaiting the stranger's proof.
    expect(challenged).toBeGreaterThan(150);
  });
});

function hexed(_key: string, value: unknown): unknown {
  return value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value;
}
