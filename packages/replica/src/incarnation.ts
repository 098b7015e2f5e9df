/** Incarnation ids: random per data directory, never a counter (DESIGN.md §1). */
import { INCARNATION_LENGTH } from './limits.js';
import type { Rng } from './ports.js';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/** A new incarnation id of INCARNATION_LENGTH base32 characters (5 random bits each). */
export function newIncarnation(rng: Rng): string {
  let id = '';
  // 2^32 is a multiple of 32, so `% 32` is uniform.
  for (let i = 0; i < INCARNATION_LENGTH; i++) id += ALPHABET[rng.nextUint32() % 32];
  return id;
}
