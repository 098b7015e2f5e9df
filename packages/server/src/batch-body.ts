/**
 * The body of a POST /v1/debits/batch answer, `{"results":[…]}`, as bytes: each result serialized
 * by the route's compiled serializer for one result and written as UTF-8 straight into one growing
 * buffer. The whole body as one string is a rope of ~10^5 concatenations (2.5 MB for 8,190
 * results), and encoding it flattens the rope first: ~17 ms an answer on this machine. A Buffer per
 * result joined by Buffer.concat took ~3 ms, a quarter of it the copies of 16,000 small chunks.
 */

const OPEN = '{"results":[';
const CLOSE = ']}';
const COMMA = 0x2c;
/** Bytes at most of one UTF-16 code unit in UTF-8 (a surrogate pair, two units, takes 4). */
const UTF8_BYTES_PER_UNIT_MAX = 3;

/** `out` with room for `needed` bytes, its first `used` kept (doubling). */
function withRoom(out: Buffer, used: number, needed: number): Buffer {
  if (needed <= out.length) return out;
  let size = out.length * 2;
  while (size < needed) size *= 2;
  const grown = Buffer.allocUnsafe(size);
  out.copy(grown, 0, 0, used);
  return grown;
}

/** `{"results":[…]}` of `results`, each written by `serializeResult` (JSON text of one result). */
export function batchBody<T>(results: readonly T[], serializeResult: (result: T) => string): Buffer {
  let out: Buffer = Buffer.allocUnsafe(Math.max(256, results.length * 160));
  let at = out.write(OPEN, 0, 'latin1');
  for (let i = 0; i < results.length; i++) {
    const text = serializeResult(results[i] as T);
    out = withRoom(out, at, at + 1 + text.length * UTF8_BYTES_PER_UNIT_MAX);
    if (i > 0) out[at++] = COMMA;
    at += out.write(text, at, 'utf8');
  }
  out = withRoom(out, at, at + CLOSE.length);
  at += out.write(CLOSE, at, 'latin1');
  return out.subarray(0, at);
}
