/**
 * The checksums and the decompression under the damaged-disk checks: CRC-32C against its published
 * check values, Snappy on hand-made streams (and refusing damaged ones), and sealed records that
 * refuse every single-bit change of their value or key.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, maskCrc } from '../src/crc32c.js';
import { openRecord, RECORD_CHECKSUM_BYTES, StoreCorruptError, sealRecord } from '../src/index.js';
import { SnappyError, snappyUncompress } from '../src/snappy.js';

const ascii = (text: string) => new TextEncoder().encode(text);

describe('CRC-32C', () => {
  it('gives the published check values, in one piece or continued', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283); // RFC 3720 / the CRC catalogue's check
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43); // RFC 3720 B.4: 32 bytes of ones
    const bytes = new Uint8Array(1_000).map((_, i) => (i * 37) % 256);
    expect(crc32c(bytes, 0, 1_000)).toBe(crc32c(bytes, 333, 1_000, crc32c(bytes, 0, 333)));
    // LevelDB's mask (util/crc32c.h): rotate right 15, add 0xa282ead8.
    expect(maskCrc(0)).toBe(0xa282ead8);
    expect(maskCrc(0x8000)).toBe((1 + 0xa282ead8) >>> 0);
  });
});

describe('Snappy', () => {
  it('decompresses literals and copies, overlapping ones included', () => {
    // Length 10; literal "ab" (tag 0x04); copy of 8 from offset 2 with a 1-byte offset (tag type 1).
    const stream = new Uint8Array([10, 0x04, 0x61, 0x62, ((8 - 4) << 2) | 1, 2]);
    expect(new TextDecoder().decode(snappyUncompress(stream))).toBe('ababababab');
    // A 2-byte-offset copy (tag type 2) of 3 bytes from offset 3, after literal "xyz".
    const two = new Uint8Array([6, 0x08, 0x78, 0x79, 0x7a, ((3 - 1) << 2) + 2, 3, 0]);
    expect(new TextDecoder().decode(snappyUncompress(two))).toBe('xyzxyz');
    // A long literal: length − 1 in one extra byte (tag 60 << 2).
    const long = new Uint8Array(70).fill(0x41);
    expect(snappyUncompress(new Uint8Array([70, 60 << 2, 69, ...long]))).toEqual(long);
  });

  it('refuses damaged streams with an error, never reading outside', () => {
    const cases: [number[], RegExp][] = [
      [[10, 0x04, 0x61, 0x62, ((8 - 4) << 2) + 1, 3], /copy offset 3 outside the output/],
      [[10, 0x04, 0x61], /truncated input/],
      [[3, 0x04, 0x61, 0x62], /decompressed 2 bytes, not 3/],
      [[1, 0x04, 0x61, 0x62], /literal past the uncompressed length/],
      [[0xff, 0xff, 0xff, 0xff, 0x7f], /too large/],
      [[0x80], /bad uncompressed length/],
    ];
    for (const [bytes, problem] of cases) {
      expect(() => snappyUncompress(new Uint8Array(bytes))).toThrow(SnappyError);
      expect(() => snappyUncompress(new Uint8Array(bytes))).toThrow(problem);
    }
  });
});

describe('sealed records', () => {
  it('open to their payload under their own key only', () => {
    const payload = new Uint8Array([1, 2, 3, 4, 5]);
    const sealed = sealRecord('v2/meta', payload);
    expect(sealed).toHaveLength(payload.length + RECORD_CHECKSUM_BYTES);
    expect(openRecord('v2/meta', sealed)).toEqual(payload);
    expect(() => openRecord('v2/counter', sealed)).toThrow(StoreCorruptError);
    // A key beyond the reused buffer, and one that is not ASCII, seal and open the same way.
    for (const key of [`v2/${'k'.repeat(2_000)}`, 'v2/ünï']) {
      expect(openRecord(key, sealRecord(key, payload))).toEqual(payload);
    }
  });

  it('refuse any one flipped bit of the value, and any other key', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (payload, key, at, bit) => {
          const sealed = sealRecord(key, payload);
          const damaged = new Uint8Array(sealed);
          const i = at % damaged.length;
          damaged[i] = (damaged[i] as number) ^ (1 << bit);
          expect(() => openRecord(key, damaged)).toThrow(/fails its checksum/);
          expect(() => openRecord(`${key}x`, sealed)).toThrow(/fails its checksum/);
          expect(openRecord(key, sealed)).toEqual(payload);
        },
      ),
      { numRuns: 300 },
    );
  });
});
