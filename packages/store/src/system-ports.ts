/**
 * The replica's non-storage ports on Node.js: the system clock and timers, crypto-strong random
 * numbers, SHA-256 and Ed25519 from node:crypto, and region keys on disk (PKCS#8 PEM, mode 0600).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Clock, Crypto, Rng, TimerHandle } from '@allot/replica';

/**
 * The system clock: integer ms since the epoch, and host timers, unref'd: a waiting timer never
 * keeps a process alive. A 0 ms timer is one turn of the event loop (what is queued runs first, I/O
 * included): an immediate, which holds the process for that turn only. Work a caller awaits takes
 * such turns (a checkpoint written a piece per turn, which a close waits for; a drain after a failed
 * commit): as an unref'd timer, a process with nothing else to keep it alive (a tool, a script)
 * ended in the middle of them, its awaited close never settled (bench:replica, now and then).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const ms = Math.max(0, Math.floor(delayMs));
    if (ms === 0) {
      const immediate = setImmediate(callback);
      return { cancel: () => clearImmediate(immediate) };
    }
    const timer = setTimeout(callback, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

/** Crypto-strong random numbers, drawn in blocks to keep the syscall off the hot path. */
export function systemRng(): Rng {
  let block = randomBytes(4096);
  let offset = 0;
  return {
    nextUint32(): number {
      if (offset + 4 > block.length) {
        block = randomBytes(4096);
        offset = 0;
      }
      const value = block.readUInt32LE(offset);
      offset += 4;
      return value;
    },
  };
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it (RFC 8410). */
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The raw 32-byte Ed25519 public key of `key` (a private or public KeyObject). */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32));
}

/** A public KeyObject from a raw 32-byte Ed25519 key. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new TypeError(`an Ed25519 public key has 32 bytes, not ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** A new Ed25519 private key. */
export function generateRegionKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

/** Writes `key` as PKCS#8 PEM readable only by its owner; refuses to overwrite a file. */
export function writeRegionKey(path: string, key: KeyObject): void {
  writeFileSync(path, key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600, flag: 'wx' });
}

/** Reads a region key written by `writeRegionKey` (throws with the reason when it is not one). */
export function readRegionKey(path: string): KeyObject {
  const key = createPrivateKey(readFileSync(path));
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`${path}: not an Ed25519 private key (${key.asymmetricKeyType ?? 'unknown'})`);
  }
  return key;
}

/** The Crypto port with this region's private key. */
export function nodeCrypto(privateKey: KeyObject): Crypto {
  const publicKey = rawPublicKey(privateKey);
  const publicKeys = new Map<string, KeyObject>();
  return {
    publicKey,
    hash: (bytes) => new Uint8Array(createHash('sha256').update(bytes).digest()),
    sign: (bytes) => new Uint8Array(sign(null, bytes, privateKey)),
    verify(raw, bytes, signature) {
      const id = Buffer.from(raw).toString('base64');
      let key = publicKeys.get(id);
      if (key === undefined) {
        key = publicKeyFromRaw(raw);
        publicKeys.set(id, key);
      }
      return verify(null, bytes, key, signature);
    },
  };
}
