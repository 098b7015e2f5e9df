/**
 * The handshake as pure steps (STYLE.md): (state, message) → (next state, what to send) or a
 * refusal with its close code. No sockets, clocks or randomness here: the nonce and the channel
 * binding come in with the state, the keys through the Crypto port, and the transport does the
 * sending, timing and closing. The messages and the signed transcript are in protocol.ts.
 */
import type { Crypto } from '@allot/replica';
import {
  CloseCode,
  type HandshakeParty,
  type HelloMessage,
  PROTOCOL_VERSION,
  type Role,
  type TransportMessage,
  transcriptBytes,
  type WireMessage,
} from './protocol.js';

/** What a handshake needs of this node. */
export interface HandshakeContext {
  readonly cluster: string;
  readonly region: string;
  readonly incarnation: string;
  /** Signs with this region's key; verifies with a peer's configured key. */
  readonly crypto: Crypto;
  /** The configured public key of `region`, or undefined for a region that is not a peer. */
  readonly peerKey: (region: string) => Uint8Array | undefined;
}

/** Where one connection's handshake is. */
export type HandshakeState =
  | {
      readonly step: 'await-hello';
      readonly role: Role;
      /** This side's challenge. */
      readonly nonce: Uint8Array;
      /** The region dialed (dialer), or null (acceptor: any configured peer may call). */
      readonly expected: string | null;
      /** The TLS exporter value of the connection, or null on plain ws. */
      readonly channel: Uint8Array | null;
    }
  | {
      readonly step: 'await-auth' | 'await-ready';
      readonly role: Role;
      readonly nonce: Uint8Array;
      readonly channel: Uint8Array | null;
      /** The peer as its hello named it (proven by its signature in 'await-ready'). */
      readonly peer: HandshakeParty;
    }
  | { readonly step: 'up'; readonly role: Role; readonly peer: HandshakeParty };

/** The outcome of one step. */
export type HandshakeStep =
  | {
      readonly ok: true;
      readonly state: HandshakeState;
      /** The message to answer with, if any. */
      readonly send: TransportMessage | null;
    }
  | {
      readonly ok: false;
      readonly code: number;
      readonly reason: string;
      /** The configured region the message claimed to be from, for log lines (not proven). */
      readonly claimed: string | null;
    };

/** The state of a connection that has heard nothing yet. */
export type AwaitingHello = Extract<HandshakeState, { step: 'await-hello' }>;

/** The state a new connection starts in. */
export function initialHandshake(
  role: Role,
  nonce: Uint8Array,
  expected: string | null,
  channel: Uint8Array | null,
): AwaitingHello {
  return { step: 'await-hello', role, nonce, expected, channel };
}

/** This side's hello: unsigned from a dialer, signed (`signature`) from an acceptor. */
export function helloMessage(
  context: HandshakeContext,
  nonce: Uint8Array,
  signature: Uint8Array | null,
): HelloMessage {
  return {
    type: 'hello',
    cluster: context.cluster,
    protocol: PROTOCOL_VERSION,
    region: context.region,
    incarnation: context.incarnation,
    nonce,
    signature,
  };
}

function refuse(code: number, reason: string, claimed: string | null = null): HandshakeStep {
  return { ok: false, code, reason, claimed };
}

function outOfTurn(state: HandshakeState, message: WireMessage, claimed: string | null): HandshakeStep {
  return refuse(CloseCode.policy, `unexpected ${message.type} during ${state.step}`, claimed);
}

/** Why `hello` cannot open a handshake here (cluster, protocol, region), or null. */
function helloProblem(
  context: HandshakeContext,
  hello: HelloMessage,
  expected: string | null,
): { code: number; reason: string } | null {
  if (hello.cluster !== context.cluster) {
    return { code: CloseCode.wrongCluster, reason: `cluster ${hello.cluster} is not ${context.cluster}` };
  }
  if (hello.protocol !== PROTOCOL_VERSION) {
    return {
      code: CloseCode.wrongProtocol,
      reason: `protocol ${hello.protocol} is not ${PROTOCOL_VERSION}`,
    };
  }
  if (context.peerKey(hello.region) === undefined) {
    return { code: CloseCode.stranger, reason: `region ${hello.region} is not a configured peer` };
  }
  if (expected !== null && hello.region !== expected) {
    return { code: CloseCode.stranger, reason: `answered as ${hello.region}, not ${expected}` };
  }
  return null;
}

/** The transcript bytes `signer` signs on a connection in `state` with `peer`. */
function signedBytes(
  context: HandshakeContext,
  role: Role,
  signer: Role,
  nonce: Uint8Array,
  peer: HandshakeParty,
  channel: Uint8Array | null,
): Uint8Array {
  const self: HandshakeParty = { region: context.region, incarnation: context.incarnation, nonce };
  return transcriptBytes({
    signer,
    cluster: context.cluster,
    dialer: role === 'dialer' ? self : peer,
    acceptor: role === 'acceptor' ? self : peer,
    channel,
  });
}

function party(hello: HelloMessage): HandshakeParty {
  return { region: hello.region, incarnation: hello.incarnation, nonce: hello.nonce };
}

/**
 * One step of the handshake: `message` arrived on a connection in `state`. Signatures are checked
 * only with the configured key of the region the hello named.
 */
export function handshakeStep(
  context: HandshakeContext,
  state: HandshakeState,
  message: WireMessage,
): HandshakeStep {
  switch (state.step) {
    case 'await-hello': {
      const claimed =
        message.type === 'hello' && context.peerKey(message.region) !== undefined ? message.region : null;
      const expectSigned = state.role === 'dialer';
      if (message.type !== 'hello' || (message.signature !== null) !== expectSigned) {
        return outOfTurn(state, message, state.expected ?? claimed);
      }
      const problem = helloProblem(context, message, state.expected);
      if (problem !== null) return refuse(problem.code, problem.reason, state.expected ?? claimed);
      const peer = party(message);
      const key = context.peerKey(peer.region) as Uint8Array;
      if (state.role === 'acceptor') {
        const signature = context.crypto.sign(
          signedBytes(context, 'acceptor', 'acceptor', state.nonce, peer, state.channel),
        );
        return {
          ok: true,
          state: { step: 'await-auth', role: 'acceptor', nonce: state.nonce, channel: state.channel, peer },
          send: helloMessage(context, state.nonce, signature),
        };
      }
      const theirs = signedBytes(context, 'dialer', 'acceptor', state.nonce, peer, state.channel);
      if (!context.crypto.verify(key, theirs, message.signature as Uint8Array)) {
        return refuse(
          CloseCode.badSignature,
          'hello signature does not verify with the configured key',
          peer.region,
        );
      }
      const signature = context.crypto.sign(
        signedBytes(context, 'dialer', 'dialer', state.nonce, peer, state.channel),
      );
      return {
        ok: true,
        state: { step: 'await-ready', role: 'dialer', nonce: state.nonce, channel: state.channel, peer },
        send: { type: 'auth', signature },
      };
    }
    case 'await-auth': {
      if (message.type !== 'auth') return outOfTurn(state, message, state.peer.region);
      const key = context.peerKey(state.peer.region) as Uint8Array;
      const theirs = signedBytes(context, 'acceptor', 'dialer', state.nonce, state.peer, state.channel);
      if (!context.crypto.verify(key, theirs, message.signature)) {
        return refuse(
          CloseCode.badSignature,
          'auth signature does not verify with the configured key',
          state.peer.region,
        );
      }
      return { ok: true, state: { step: 'up', role: 'acceptor', peer: state.peer }, send: { type: 'ready' } };
    }
    case 'await-ready':
      if (message.type !== 'ready') return outOfTurn(state, message, state.peer.region);
      return { ok: true, state: { step: 'up', role: 'dialer', peer: state.peer }, send: null };
    case 'up':
      return outOfTurn(state, message, state.peer.region);
  }
}
