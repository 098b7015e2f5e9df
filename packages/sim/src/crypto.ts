/**
 * The Crypto port in the simulator. Hashes are real SHA-256 (the hash chains are part of what is
 * simulated). Signatures are either real Ed25519 with keys derived from the seed, or a keyed hash
 * of the same size: SHA-512(secret ‖ bytes ‖ secret) with the region's 32-byte secret. It verifies
 * exactly when Ed25519 would (a signature by that key of those bytes; a test checks both ports
 * agree), and nothing in a run can forge one: a hostile wire sees public keys and signed bytes,
 * never a secret, which only the run's keyring holds. One hash call instead of an Ed25519 operation
 * is ~30× cheaper, and signing and verifying are most of a replica's crypto per commit and per run.
 */
import { createPrivateKey, hash as oneShotHash } from 'node:crypto';
import { type Crypto, sameBytes } from '@allot/replica';
import { nodeCrypto } from '@allot/store';
import type { RandomStream } from './rng.js';

const SIGNATURE_BYTES = 64;
const KEY_BYTES = 32;

/** DER prefix of an Ed25519 PKCS#8 private key; the 32-byte seed follows (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

const SIM_KEY_LABEL = new TextEncoder().encode('allot-sim-key');

/** SHA-256 of `bytes` as a plain Uint8Array (a Buffer's slice would share its memory). */
function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(oneShotHash('sha256', bytes, 'buffer'));
}

function randomBytes(rng: RandomStream, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 4) {
    const word = rng.nextUint32();
    for (let j = 0; j < 4 && i + j < length; j++) bytes[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return bytes;
}

/**
 * The secrets of one run's simulated keys, by public key: what lets a region verify another's
 * simulated signature. Only the regions' Crypto ports read it; a key it does not hold verifies
 * nothing (as an Ed25519 key that signed nothing would).
 */
export class SimKeyring {
  private readonly secrets = new Map<string, Uint8Array>();

  /** Keeps `secret` as the secret of `publicKey`. */
  add(publicKey: Uint8Array, secret: Uint8Array): void {
    this.secrets.set(Buffer.from(publicKey).toString('base64'), secret);
  }

  /** The secret of `publicKey`, or undefined for a key no region of the run holds. */
  secretOf(publicKey: Uint8Array): Uint8Array | undefined {
    return this.secrets.get(Buffer.from(publicKey).toString('base64'));
  }
}

/** A simulated signature: SHA-512(secret ‖ bytes ‖ secret), 64 bytes. */
function simulatedSignature(secret: Uint8Array, bytes: Uint8Array): Uint8Array {
  const keyed = new Uint8Array(bytes.length + 2 * KEY_BYTES);
  keyed.set(secret, 0);
  keyed.set(bytes, KEY_BYTES);
  keyed.set(secret, KEY_BYTES + bytes.length);
  return new Uint8Array(oneShotHash('sha512', keyed, 'buffer'));
}

/**
 * The Crypto port of one region, its key drawn from `rng` (a stream of the run's seed); a simulated
 * key's secret goes into `keyring`, which every region of the run shares.
 */
export function regionCrypto(kind: 'simulated' | 'ed25519', rng: RandomStream, keyring: SimKeyring): Crypto {
  const secret = randomBytes(rng, KEY_BYTES);
  if (kind === 'ed25519') {
    const key = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, secret]),
      format: 'der',
      type: 'pkcs8',
    });
    return nodeCrypto(key);
  }
  const labelled = new Uint8Array(SIM_KEY_LABEL.length + KEY_BYTES);
  labelled.set(SIM_KEY_LABEL, 0);
  labelled.set(secret, SIM_KEY_LABEL.length);
  const publicKey = sha256(labelled);
  keyring.add(publicKey, secret);
  return {
    publicKey,
    hash: sha256,
    sign: (bytes) => simulatedSignature(secret, bytes),
    verify: (key, bytes, signature) => {
      if (signature.length !== SIGNATURE_BYTES) return false;
      const signer = keyring.secretOf(key);
      return signer !== undefined && sameBytes(simulatedSignature(signer, bytes), signature);
    },
  };
}
