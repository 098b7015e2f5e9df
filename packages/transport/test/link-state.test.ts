/**
 * The link state's laws, now that they are functions of their own (peer-state.ts, connection.ts):
 * a redial waits within the backoff's bounds, and two links between the same pair of regions are
 * resolved to the same one at both ends.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { type Connection, newConnection, replaces } from '../src/connection.js';
import { newPeerState, redialDelayMs } from '../src/peer-state.js';

const fakeSocket = {} as WebSocket;

function connection(serial: number, dialed: boolean, region: string, incarnation: string): Connection {
  const made = newConnection(fakeSocket, serial, dialed, region).connection;
  made.incarnation = incarnation;
  return made;
}

describe('redial backoff', () => {
  it('waits at least the minimum and at most the cap that doubles with each failure, never past the maximum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.integer({ min: 0, max: 100 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (backoffMsMin, extra, attempt, random) => {
          const backoff = { backoffMsMin, backoffMsMax: backoffMsMin + extra };
          const peer = newPeerState({ region: 'us', url: 'ws://127.0.0.1:1', publicKey: new Uint8Array(32) });
          peer.attempt = attempt;
          const delay = redialDelayMs(peer, backoff, random);
          const cap = Math.min(backoff.backoffMsMax, backoffMsMin * 2 ** Math.min(attempt + 1, 30));
          expect(delay).toBeGreaterThanOrEqual(backoffMsMin);
          expect(delay).toBeLessThanOrEqual(cap);
          expect(delay).toBeLessThanOrEqual(backoff.backoffMsMax);
        },
      ),
    );
  });
});

describe('two links between the same regions', () => {
  it('of one incarnation, crossing: both ends keep the one the smaller region dialed', () => {
    fc.assert(
      fc.property(fc.nat(100), fc.nat(100), fc.nat(100), fc.nat(100), (s1, s2, s3, s4) => {
        // eu dialed link X, us dialed link Y; each end numbers its connections on its own.
        const atEu = { x: connection(s1, true, 'us', 'u1'), y: connection(s2, false, 'us', 'u1') };
        const atUs = { x: connection(s3, false, 'eu', 'e1'), y: connection(s4, true, 'eu', 'e1') };
        const euKeepsY = replaces(atEu.y, atEu.x, 'eu');
        const usKeepsY = replaces(atUs.y, atUs.x, 'us');
        expect(euKeepsY).toBe(usKeepsY);
        expect(euKeepsY).toBe(false); // eu < us: the link eu dialed stays
      }),
    );
  });

  it('of a new incarnation or the same direction: the newer one replaces the older', () => {
    const older = connection(1, true, 'us', 'u1');
    expect(replaces(connection(2, false, 'us', 'u2'), older, 'eu')).toBe(true);
    expect(replaces(connection(2, true, 'us', 'u1'), older, 'eu')).toBe(true);
    expect(replaces(connection(0, true, 'us', 'u1'), older, 'eu')).toBe(false);
  });
});
