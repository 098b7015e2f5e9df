/**
 * Cursors of a tenant's events. A cursor is the entry number (keys.ts) of the last event a page
 * returned, in base 36, written with all its 11 digits: short in a URL, opaque to clients, still
 * valid after later commits because entry numbers only grow, and of one fixed form, so that a
 * made-up string (`abc`) is told apart from a real cursor instead of read as a far position.
 */
import { StoreCursorError } from './errors.js';

/** Digits of a cursor: 2^53 − 1 in base 36 has 11. */
const CURSOR_DIGITS = 11;

const CURSOR_PATTERN = /^[0-9a-z]{11}$/;

/** The cursor that resumes after entry number `entry`. */
export function cursorOf(entry: number): string {
  return entry.toString(36).padStart(CURSOR_DIGITS, '0');
}

/** True when `text` has the form of a cursor this store hands out (whether or not it is past the end). */
export function isCursor(text: string): boolean {
  if (!CURSOR_PATTERN.test(text)) return false;
  return Number.isSafeInteger(Number.parseInt(text, 36));
}

/**
 * The entry number a cursor resumes after (0 for null, the start). Anything this store could not
 * have handed out is a StoreCursorError: not of the cursor's form, or past its last entry (a cursor
 * from another node's store).
 */
export function parseCursor(cursor: string | null, lastEntry: number): number {
  if (cursor === null) return 0;
  if (typeof cursor !== 'string' || !isCursor(cursor)) {
    throw new StoreCursorError(String(cursor), 'not a cursor of this store');
  }
  const entry = Number.parseInt(cursor, 36);
  if (entry > lastEntry) throw new StoreCursorError(cursor, 'it is past the last event of this store');
  return entry;
}
