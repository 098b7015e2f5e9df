/**
 * The cluster's one link policy (issue 10): the transport's defaults are LINK_POLICY, the node
 * passes it whole, and the simulator's network imports it, so they can no longer drift apart (the
 * simulator once assumed a 10 s redial cap where nodes used 1 s).
 */
import { FRAME_CONTROL_BYTES_MAX, LINK_POLICY } from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../src/options.js';
import { minimalOptions } from './support.js';

const options = minimalOptions();

describe('the link policy', () => {
  it('is what a transport runs with when given nothing else', () => {
    const resolved = resolveOptions(options);
    for (const [name, value] of Object.entries(LINK_POLICY)) {
      expect(resolved[name as keyof typeof LINK_POLICY], name).toBe(value);
    }
  });

  it('is one the transport accepts whole, as the node passes it', () => {
    expect(() => resolveOptions({ ...options, ...LINK_POLICY })).not.toThrow();
  });

  it('redials within a second, so a healed partition converges within its 2 s goal', () => {
    expect(LINK_POLICY.backoffMsMin).toBeLessThanOrEqual(LINK_POLICY.backoffMsMax);
    expect(LINK_POLICY.backoffMsMax).toBeLessThanOrEqual(1_000);
  });

  it('closes a link after several missed pings, and a missing hello before the handshake times out', () => {
    expect(LINK_POLICY.peerTimeoutMs).toBeGreaterThanOrEqual(3 * LINK_POLICY.pingIntervalMs);
    expect(LINK_POLICY.helloTimeoutMs).toBeLessThanOrEqual(LINK_POLICY.handshakeTimeoutMs);
  });

  it('carries the largest control frame, and buffers two full frames per peer', () => {
    expect(LINK_POLICY.frameBytesMax).toBeGreaterThan(FRAME_CONTROL_BYTES_MAX);
    expect(LINK_POLICY.sendBufferBytesMax).toBeGreaterThanOrEqual(2 * LINK_POLICY.frameBytesMax);
  });
});
