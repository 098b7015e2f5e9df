import { LINK_POLICY } from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../src/codec.js';
import {
  CLUSTER_ID_LENGTH_MAX,
  HANDSHAKE_BYTES_MAX,
  HANDSHAKES_PENDING_MAX,
  HANDSHAKES_PENDING_PER_ADDRESS_MAX,
  HANDSHAKES_RESERVED_FOR_PEERS,
  NONCE_BYTES,
} from '../src/limits.js';
import { PROTOCOL_VERSION } from '../src/protocol.js';
import { WebSocketTransport } from '../src/websocket-transport.js';
import { minimalOptions } from './support.js';

describe('how the transport limits relate', () => {
  it('fits the largest hello and auth in a handshake message, and a handshake message in a frame', () => {
    const hello = encodeMessage({
      type: 'hello',
      cluster: '\u{10ffff}'.repeat(CLUSTER_ID_LENGTH_MAX / 2),
      protocol: Number.MAX_SAFE_INTEGER,
      region: 'a'.repeat(32),
      incarnation: 'a'.repeat(16),
      nonce: new Uint8Array(NONCE_BYTES),
      signature: new Uint8Array(64),
    });
    expect(hello.length).toBeLessThanOrEqual(HANDSHAKE_BYTES_MAX);
    expect(encodeMessage({ type: 'auth', signature: new Uint8Array(64) }).length).toBeLessThan(
      HANDSHAKE_BYTES_MAX,
    );
    expect(HANDSHAKE_BYTES_MAX).toBeLessThan(LINK_POLICY.frameBytesMax);
  });

  it('leaves strangers slots from several addresses, and peers a reserve', () => {
    expect(HANDSHAKES_RESERVED_FOR_PEERS).toBeLessThan(HANDSHAKES_PENDING_MAX);
    expect(HANDSHAKES_PENDING_PER_ADDRESS_MAX * 4).toBeLessThanOrEqual(
      HANDSHAKES_PENDING_MAX - HANDSHAKES_RESERVED_FOR_PEERS,
    );
  });

  it('times out a missing hello before the whole handshake, and refuses options that would not', () => {
    expect(LINK_POLICY.helloTimeoutMs).toBeLessThan(LINK_POLICY.handshakeTimeoutMs);
    const options = minimalOptions();
    expect(
      () => new WebSocketTransport({ ...options, helloTimeoutMs: 5_001, handshakeTimeoutMs: 5_000 }),
    ).toThrow(/helloTimeoutMs must be at most handshakeTimeoutMs/);
    expect(
      () => new WebSocketTransport({ ...options, helloTimeoutMs: 5_000, handshakeTimeoutMs: 5_000 }),
    ).not.toThrow();
    // A shorter handshake timeout alone shortens the default hello timeout with it.
    expect(() => new WebSocketTransport({ ...options, handshakeTimeoutMs: 100 })).not.toThrow();
    expect(PROTOCOL_VERSION).toBe(9);
  });
});
