/**
 * The body of a POST /v1/debits/batch answer, `{"results":[…]}`, as bytes: each result serialized
 * by the route's compiled serializer for one result and encoded on its own, then the pieces joined.
 * The whole body as one string is a rope of ~10^5 concatenations (2.5 MB for 8,190 results), and
 * encoding it flattens the rope first: ~17 ms an answer on this machine, against ~3 ms in pieces.
 */

const OPEN = Buffer.from('{"results":[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']}');

/** `{"results":[…]}` of `results`, each written by `serializeResult` (JSON text of one result). */
export function batchBody<T>(results: readonly T[], serializeResult: (result: T) => string): Buffer {
  const chunks: Buffer[] = [OPEN];
  for (let i = 0; i < results.length; i++) {
    if (i > 0) chunks.push(COMMA);
    chunks.push(Buffer.from(serializeResult(results[i] as T), 'utf8'));
  }
  chunks.push(CLOSE);
  return Buffer.concat(chunks);
}
