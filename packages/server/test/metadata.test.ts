import { describe, expect, it } from 'vitest';
import { METADATA_BYTES_MAX, METADATA_DEPTH_MAX } from '../src/limits.js';
import { jsonBytes, metadataError } from '../src/metadata.js';

/** Metadata whose JSON is exactly `bytes` long. */
function metadataOfBytes(bytes: number): Record<string, string> {
  const overhead = jsonBytes({ x: '' });
  return { x: 'y'.repeat(bytes - overhead) };
}

describe('debit metadata', () => {
  it('keeps metadata up to its byte limit, measured as UTF-8 of its JSON', () => {
    expect(jsonBytes(metadataOfBytes(METADATA_BYTES_MAX))).toBe(METADATA_BYTES_MAX);
    expect(metadataError(metadataOfBytes(METADATA_BYTES_MAX), '/metadata')).toBeNull();
    expect(
      metadataError({ model: 'x', tokens: [1, 2.5, -0], nested: { ok: true, none: null } }, '/metadata'),
    ).toBeNull();
  });

  it('answers 413 payload_too_large one byte past the limit', () => {
    const error = metadataError(metadataOfBytes(METADATA_BYTES_MAX + 1), '/metadata');
    expect(error?.statusCode).toBe(413);
    expect(error?.body.code).toBe('payload_too_large');
    expect(error?.body.details).toEqual({
      field: '/metadata',
      bytes: METADATA_BYTES_MAX + 1,
      limitBytes: METADATA_BYTES_MAX,
    });
  });

  it('counts multi-byte characters as their UTF-8 bytes', () => {
    // 'é' is 2 bytes in UTF-8: 2,100 of them are 4,200 bytes.
    expect(metadataError({ x: 'é'.repeat(2_100) }, '/metadata')?.body.code).toBe('payload_too_large');
    expect(metadataError({ x: 'é'.repeat(2_000) }, '/metadata')).toBeNull();
  });

  it('refuses nesting deeper than its limit', () => {
    let deep: unknown = 1;
    for (let level = 0; level < METADATA_DEPTH_MAX; level++) deep = [deep];
    expect(metadataError({ deep }, '/metadata')?.body.code).toBe('invalid_request');
    let fits: unknown = 1;
    for (let level = 0; level < METADATA_DEPTH_MAX - 2; level++) fits = [fits];
    expect(metadataError({ fits }, '/metadata')).toBeNull();
  });

  it('refuses nesting far beyond any stack without overflowing', () => {
    let deep: unknown = 1;
    for (let level = 0; level < 100_000; level++) deep = { a: deep };
    expect(metadataError({ deep }, '/metadata')?.body.details).toMatchObject({ rule: 'metadata' });
  });

  it('refuses numbers that cannot be kept exactly', () => {
    expect(metadataError({ x: Number.POSITIVE_INFINITY }, '/metadata')?.body).toMatchObject({
      code: 'invalid_request',
      details: { field: '/metadata/x' },
    });
    expect(metadataError({ a: [{ 'b/c': 2 ** 53 }] }, '/metadata')?.body.details).toMatchObject({
      field: '/metadata/a/0/b~1c',
    });
    expect(metadataError({ x: 2 ** 53 - 1, y: -(2 ** 53 - 1), z: 0.1 }, '/metadata')).toBeNull();
  });
});
