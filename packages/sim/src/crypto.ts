/**
 * The Crypto port in the simulator. Hashes are real SHA-256 (the hash chains are part of what is
 * simulated). Signatures are either real Ed25519 with keys derived from the seed, or a keyed
 * SHA-256 of the same size that verifies exactly when Ed25519 would (same key, same bytes): the
 * simulator has no adversary to forge one, and it is ~30× cheaper, which is most of a replica's
 * cost per commit and per received run.
 */
import { createHash, createPrivateKey } from 'node:crypto';
import { type Crypto, sameBytes } from '@allot/replica';
import { nodeCrypto } from '@allot/store';
import type { RandomStream } from './rng.js';

const SIGNATURE_BYTES = 64;
const KEY_BYTES = 32;

/** DER prefix of an Ed25519 PKCS#8 private key; the 32-byte seed follows (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

function randomBytes(rng: RandomStream, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i += 4) {
    const word = rng.nextUint32();
    for (let j = 0; j < 4 && i + j < length; j++) bytes[i + j] = (word >>> (8 * j)) & 0xff;
  }
  return bytes;
}

/** A simulated signature: SHA-256(publicKey ‖ bytes) ‖ SHA-256(that ‖ publicKey), 64 bytes. */
function simulatedSignature(publicKey: Uint8Array, bytes: Uint8Array): Uint8Array {
  const first = sha256(publicKey, bytes);
  const signature = new Uint8Array(SIGNATURE_BYTES);
  signature.set(first, 0);
  signature.set(sha256(first, publicKey), KEY_BYTES);
  return signature;
}

/** The Crypto port of one region, its key drawn from `rng` (a stream of the run's seed). */
export function regionCrypto(kind: 'simulated' | 'ed25519', rng: RandomStream): Crypto {
  const secret = randomBytes(rng, KEY_BYTES);
  if (kind === 'ed25519') {
    const key = createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, secret]),
      format: 'der',
      type: 'pkcs8',
    });
    return nodeCrypto(key);
  }
  const publicKey = sha256(new TextEncoder().encode('allot-sim-key'), secret);
  return {
    publicKey,
    hash: (bytes) => sha256(bytes),
    sign: (bytes) => simulatedSignature(publicKey, bytes),
    verify: (key, bytes, signature) =>
      signature.length === SIGNATURE_BYTES && sameBytes(simulatedSignature(key, bytes), signature),
  };
}
