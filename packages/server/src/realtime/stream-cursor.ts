/**
 * Cursors of GET /v1/stream: the version vector of what a consumer has been sent. Each origin's log
 * is folded in seq order, so what a consumer has seen of it is a prefix, and the vector says
 * exactly where to resume in every log, on any node of the cluster and after any restart. Written
 * as base64url of `s1,origin=seq,…` (a version tag, seq in base 36, origins sorted): opaque, URL-
 * and header-safe, one fixed form, so a made-up string is told apart from a real cursor, and never
 * empty (an empty `id:` would make a client reconnect with no cursor, from "now", skipping events).
 */
import { isOriginId, type OriginId } from '@allot/core';
import { STREAM_CURSOR_LENGTH_MAX } from '../limits.js';

/** What a consumer has been sent of each origin's log (absent: nothing). */
export type SentVector = Map<OriginId, number>;

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const SEQ = /^[0-9a-z]{1,11}$/;
/** The first part of every cursor: its form's version. */
const CURSOR_TAG = 's1';

/** The cursor of `vector` (origins in order, zero seqs left out). */
export function streamCursorOf(vector: ReadonlyMap<OriginId, number>): string {
  const parts: string[] = [CURSOR_TAG];
  for (const origin of [...vector.keys()].sort()) {
    const seq = vector.get(origin) ?? 0;
    if (seq > 0) parts.push(`${origin}=${seq.toString(36)}`);
  }
  return Buffer.from(parts.join(','), 'utf8').toString('base64url');
}

/** The vector of `cursor`, or why it is not a stream cursor. */
export function parseStreamCursor(cursor: string): SentVector | { readonly problem: string } {
  if (cursor.length > STREAM_CURSOR_LENGTH_MAX) {
    return { problem: `it is longer than ${STREAM_CURSOR_LENGTH_MAX} characters` };
  }
  if (!BASE64URL.test(cursor)) return { problem: 'it is not a stream cursor' };
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const vector: SentVector = new Map();
  const [tag, ...parts] = text.split(',');
  if (tag !== CURSOR_TAG) return { problem: 'it is not a stream cursor' };
  for (const part of parts) {
    const [origin, seq, extra] = part.split('=');
    if (extra !== undefined || origin === undefined || seq === undefined) {
      return { problem: 'it is not a stream cursor' };
    }
    const value = Number.parseInt(seq, 36);
    if (!isOriginId(origin) || !SEQ.test(seq) || !Number.isSafeInteger(value) || value < 1) {
      return { problem: 'it is not a stream cursor' };
    }
    if (vector.has(origin)) return { problem: 'it names an origin twice' };
    vector.set(origin, value);
  }
  // One fixed form: the same vector always has the same cursor.
  if (streamCursorOf(vector) !== cursor) return { problem: 'it is not a stream cursor' };
  return vector;
}
