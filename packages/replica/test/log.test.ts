/**
 * The head's signing bytes are written out directly (log.ts) and must stay the canonical JSON that
 * every stored signature, `allot audit verify` and an auditor's own tools compute: a property holds
 * them equal to core's generic canonical encoder for any cluster, origin, seq and hash.
 */
import { canonicalBytes } from '@allot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { headSigningBytes, toHex } from '../src/log.js';

const generic = (cluster: string, origin: string, seq: number, hash: Uint8Array) =>
  canonicalBytes({ cluster, origin, seq, hash: toHex(hash), kind: 'allot-log-head-v1' });

describe('head signing bytes', () => {
  it('equal the canonical JSON of the head, for any text, seq and hash', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary' }),
        fc.oneof(fc.maxSafeNat(), fc.double({ noNaN: true, noDefaultInfinity: true })),
        fc.uint8Array({ minLength: 0, maxLength: 64 }),
        (cluster, origin, seq, hash) => {
          expect(headSigningBytes(cluster, origin, seq, hash)).toEqual(generic(cluster, origin, seq, hash));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('refuse a seq the canonical encoder refuses', () => {
    for (const seq of [Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => generic('c', 'eu#1', seq, new Uint8Array(32))).toThrow(TypeError);
      expect(() => headSigningBytes('c', 'eu#1', seq, new Uint8Array(32))).toThrow(TypeError);
    }
  });

  it('hex of a view is of its own bytes only', () => {
    const whole = Uint8Array.from([0, 1, 0xab, 0xff, 0x10]);
    expect(toHex(whole.subarray(1, 4))).toBe('01abff');
    expect(toHex(new Uint8Array(0))).toBe('');
  });
});
