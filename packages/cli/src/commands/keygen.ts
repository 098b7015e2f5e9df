/** `allot keygen --out <file>`: writes a new Ed25519 region key and prints its public key (base64). */
import { generateRegionKey, rawPublicKey, writeRegionKey } from '@allot/store';

/** Writes a new key to `out` (never over an existing file); returns the public key in base64. */
export function keygen(out: string): string {
  const key = generateRegionKey();
  writeRegionKey(out, key);
  return Buffer.from(rawPublicKey(key)).toString('base64');
}
