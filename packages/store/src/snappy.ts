/**
 * Snappy decompression (the raw format, github.com/google/snappy/format_description.txt), for the
 * index blocks of LevelDB tables, which LevelDB compresses like any other block. Every length and
 * offset is checked: a damaged block is an error, never a read out of bounds.
 */

import { LEVELDB_BLOCK_BYTES_MAX } from './limits.js';

/** Why Snappy data could not be decompressed. */
export class SnappyError extends Error {
  override readonly name = 'SnappyError';
}

/** The bytes that the raw Snappy data `input` decompresses to. */
export function snappyUncompress(input: Uint8Array): Uint8Array {
  let pos = 0;
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= input.length || shift > 28) throw new SnappyError('bad uncompressed length');
    const byte = input[pos++] as number;
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  if (length > LEVELDB_BLOCK_BYTES_MAX) throw new SnappyError(`uncompressed length ${length} is too large`);
  const output = new Uint8Array(length);
  let out = 0;
  const need = (n: number) => {
    if (pos + n > input.length) throw new SnappyError('truncated input');
  };
  while (pos < input.length) {
    const tag = input[pos++] as number;
    const type = tag & 3;
    if (type === 0) {
      let run = tag >>> 2;
      if (run >= 60) {
        const bytes = run - 59;
        need(bytes);
        run = 0;
        for (let i = 0; i < bytes; i++) run += (input[pos + i] as number) * 2 ** (8 * i);
        pos += bytes;
      }
      run += 1;
      need(run);
      if (out + run > length) throw new SnappyError('literal past the uncompressed length');
      output.set(input.subarray(pos, pos + run), out);
      pos += run;
      out += run;
      continue;
    }
    let run: number;
    let offset: number;
    if (type === 1) {
      need(1);
      run = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | (input[pos++] as number);
    } else if (type === 2) {
      need(2);
      run = (tag >>> 2) + 1;
      offset = (input[pos] as number) | ((input[pos + 1] as number) << 8);
      pos += 2;
    } else {
      need(4);
      run = (tag >>> 2) + 1;
      offset =
        ((input[pos] as number) |
          ((input[pos + 1] as number) << 8) |
          ((input[pos + 2] as number) << 16) |
          ((input[pos + 3] as number) << 24)) >>>
        0;
      pos += 4;
    }
    if (offset === 0 || offset > out) throw new SnappyError(`copy offset ${offset} outside the output`);
    if (out + run > length) throw new SnappyError('copy past the uncompressed length');
    // Byte by byte: a copy may overlap its own output (offset < run repeats a pattern).
    for (let i = 0; i < run; i++, out++) output[out] = output[out - offset] as number;
  }
  if (out !== length) throw new SnappyError(`decompressed ${out} bytes, not ${length}`);
  return output;
}
