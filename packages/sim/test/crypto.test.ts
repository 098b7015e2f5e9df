/**
 * The simulator's signatures (a keyed SHA-512 whose secret only the run's keyring holds) verify and
 * refuse exactly as real Ed25519 does: the same signer, bytes and signature are accepted by both
 * ports; another key, a changed byte of the bytes or of the signature, a signature cut short or
 * grown, and a key the run does not hold are refused by both. Hashes are SHA-256 in both.
 */
import { createHash } from 'node:crypto';
import type { Crypto } from '@allot/replica';
import { regionCrypto, SimKeyring, streamOf } from '@allot/sim';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const runs = Number(process.env.ALLOT_PROPERTY_RUNS ?? 100);

/** Two regions of a run, and one region of another run (a key the run's keyring does not hold). */
function ports(kind: 'simulated' | 'ed25519', seed: number): { eu: Crypto; us: Crypto; stranger: Crypto } {
  const keyring = new SimKeyring();
  return {
    eu: regionCrypto(kind, streamOf(seed, 'keys:eu'), keyring),
    us: regionCrypto(kind, streamOf(seed, 'keys:us'), keyring),
    stranger: regionCrypto(kind, streamOf(seed + 1, 'keys:eu'), new SimKeyring()),
  };
}

type Change =
  | { readonly kind: 'none' }
  | { readonly kind: 'other key' }
  | { readonly kind: 'stranger key' }
  | { readonly kind: 'bytes'; readonly at: number; readonly xor: number }
  | { readonly kind: 'signature'; readonly at: number; readonly xor: number }
  | { readonly kind: 'cut'; readonly keep: number }
  | { readonly kind: 'grow'; readonly extra: number };

const change: fc.Arbitrary<Change> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.constant({ kind: 'other key' as const }),
  fc.constant({ kind: 'stranger key' as const }),
  fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('signature' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), keep: fc.integer({ min: 0, max: 63 }) }),
  fc.record({ kind: fc.constant('grow' as const), extra: fc.integer({ min: 1, max: 8 }) }),
);

/** Whether `port`'s verify accepts eu's signature of `bytes` after `what` was done to it. */
function verdict(set: ReturnType<typeof ports>, bytes: Uint8Array, what: Change): boolean {
  const signature = set.eu.sign(bytes);
  let key = set.eu.publicKey;
  let signed = bytes;
  let shown = signature;
  switch (what.kind) {
    case 'none':
      break;
    case 'other key':
      key = set.us.publicKey;
      break;
    case 'stranger key':
      key = set.stranger.publicKey;
      break;
    case 'bytes': {
      if (bytes.length === 0) {
        signed = new Uint8Array([what.xor]);
        break;
      }
      signed = bytes.slice();
      const at = what.at % bytes.length;
      signed[at] = (signed[at] as number) ^ what.xor;
      break;
    }
    case 'signature': {
      shown = signature.slice();
      const at = what.at % signature.length;
      shown[at] = (shown[at] as number) ^ what.xor;
      break;
    }
    case 'cut':
      shown = signature.slice(0, what.keep);
      break;
    case 'grow':
      shown = new Uint8Array(signature.length + what.extra);
      shown.set(signature);
      break;
  }
  return set.us.verify(key, signed, shown);
}

describe('simulated signatures', () => {
  it('verify and refuse exactly as Ed25519 does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.uint8Array({ maxLength: 300 }),
        change,
        (seed, bytes, what) => {
          const simulated = verdict(ports('simulated', seed), bytes, what);
          const ed25519 = verdict(ports('ed25519', seed), bytes, what);
          expect(simulated).toBe(ed25519);
          expect(simulated).toBe(what.kind === 'none');
        },
      ),
      { numRuns: runs },
    );
  });

  it('are 64 bytes, the same for the same key and bytes, and hash with SHA-256', () => {
    const { eu, us } = ports('simulated', 7);
    const bytes = new TextEncoder().encode('segment head');
    expect(eu.sign(bytes)).toHaveLength(64);
    expect(eu.sign(bytes)).toEqual(eu.sign(bytes));
    expect(eu.sign(bytes)).not.toEqual(us.sign(bytes));
    expect(Buffer.from(eu.hash(bytes)).toString('hex')).toBe(
      createHash('sha256').update(bytes).digest('hex'),
    );
    expect(Object.getPrototypeOf(eu.hash(bytes))).toBe(Uint8Array.prototype);
  });
});
