/**
 * Cursors of a tenant's events. A cursor is the entry number (keys.ts) of the last event a page
 * returned, in base 36: short in a URL, opaque to clients, and still valid after later commits
 * because entry numbers only grow.
 */
import { StoreCursorError } from './errors.js';

/** 2^53 − 1 in base 36 has 11 digits. */
const CURSOR_PATTERN = /^[0-9a-z]{1,11}$/;

/** The cursor that resumes after entry number `entry`. */
export function cursorOf(entry: number): string {
  return entry.toString(36);
}

/**
 * The entry number a cursor resumes after (0 for null, the start). Anything this store could not
 * have handed out is a StoreCursorError: not base 36 in canonical form, or past its last entry
 * (a cursor from another node's store).
 */
export function parseCursor(cursor: string | null, lastEntry: number): number {
  if (cursor === null) return 0;
  if (typeof cursor !== 'string' || !CURSOR_PATTERN.test(cursor)) {
    throw new StoreCursorError(String(cursor), 'not a cursor of this store');
  }
  const entry = Number.parseInt(cursor, 36);
  if (!Number.isSafeInteger(entry) || cursorOf(entry) !== cursor) {
    throw new StoreCursorError(cursor, 'not a cursor of this store');
  }
  if (entry > lastEntry) throw new StoreCursorError(cursor, 'it is past the last event of this store');
  return entry;
}
