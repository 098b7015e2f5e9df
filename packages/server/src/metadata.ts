/**
 * Checks of debit metadata beyond its schema (a JSON object): its size (API.md: at most 4 KiB),
 * its nesting, and its numbers. Metadata is hashed into the event and kept forever, so it must
 * encode exactly: a number that JSON.parse turned into Infinity (1e400) cannot be encoded, and an
 * integer past 2^53 − 1 has already lost digits the client sent, so both are refused rather than
 * stored changed.
 */
import { type ApiError, apiError } from './errors.js';
import { METADATA_BYTES_MAX, METADATA_DEPTH_MAX } from './limits.js';

/** Why `value` (at JSON pointer `path`) cannot be kept, or null; walks at most METADATA_DEPTH_MAX deep. */
function shapeProblem(value: unknown, path: string, depth: number): { path: string; problem: string } | null {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { path, problem: 'is a number too large for a double' };
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
      return { path, problem: 'is an integer beyond 2^53 − 1 that would lose digits (send it as a string)' };
    }
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= METADATA_DEPTH_MAX) return { path, problem: `nests deeper than ${METADATA_DEPTH_MAX} levels` };
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = shapeProblem(value[index], `${path}/${index}`, depth + 1);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [name, field] of Object.entries(value)) {
    const escaped = name.replaceAll('~', '~0').replaceAll('/', '~1');
    const found = shapeProblem(field, `${path}/${escaped}`, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

/** UTF-8 length of the JSON text of `value`. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/**
 * Null when `metadata` (already known to be a JSON object) may be kept, else the error: 413
 * payload_too_large past METADATA_BYTES_MAX (it is a size limit of the request content, like the
 * body's), 400 invalid_request for nesting or numbers. `field` is its JSON pointer in the body.
 */
export function metadataError(metadata: unknown, field: string): ApiError | null {
  const shape = shapeProblem(metadata, field, 0);
  if (shape !== null) {
    return apiError(
      'invalid_request',
      { problem: `${shape.path} ${shape.problem}` },
      { location: 'body', field: shape.path, rule: 'metadata' },
    );
  }
  const bytes = jsonBytes(metadata);
  if (bytes > METADATA_BYTES_MAX) {
    return apiError(
      'payload_too_large',
      { what: 'metadata', limitBytes: METADATA_BYTES_MAX },
      { field, bytes, limitBytes: METADATA_BYTES_MAX },
    );
  }
  return null;
}
