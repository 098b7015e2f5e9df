/**
 * The byte-level parts of the segment codec (segment.ts): a growable writer and a bounded reader of
 * unsigned LEB128 varints (safe integers only, minimal encodings only, so that a decoded segment
 * re-encodes to the very same bytes), ASCII id strings and length-prefixed byte runs. The reader
 * checks every length against the bytes left before it reads or allocates anything.
 */

import { zeroedBytes } from './small-bytes.js';

/** Bytes that do not decode as a segment: where, and why. Decoding throws nothing else. */
export class SegmentError extends Error {
  override readonly name = 'SegmentError';
  /** The offset in the segment's bytes where decoding stopped. */
  readonly offset: number;
  constructor(offset: number, problem: string) {
    super(`segment invalid at byte ${offset}: ${problem}`);
    this.offset = offset;
  }
}

/** An event that cannot be written as a segment (a value out of the codec's range): a bug at its writer. */
export class SegmentEncodeError extends Error {
  override readonly name = 'SegmentEncodeError';
}

/** Bytes of the longest varint: 8 × 7 bits hold every safe integer (53 bits). */
const VARINT_BYTES_MAX = 8;
const TWO_POW_7 = 128;

/** A growable byte buffer that segments are written into. */
export class ByteWriter {
  private buffer: Uint8Array;
  /** Bytes written so far. */
  length = 0;

  /** A writer with room for `capacity` bytes before it grows. */
  constructor(capacity = 256) {
    this.buffer = zeroedBytes(capacity);
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = zeroedBytes(capacity);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  /** Appends one byte. */
  byte(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  /** Appends `value` (a safe integer ≥ 0) as an unsigned LEB128 varint. */
  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0)
      throw new SegmentEncodeError(`${value} is not an integer in 0..2^53 − 1`);
    this.reserve(VARINT_BYTES_MAX);
    let rest = value;
    while (rest >= TWO_POW_7) {
      this.buffer[this.length++] = (rest % TWO_POW_7) | 0x80;
      rest = Math.floor(rest / TWO_POW_7);
    }
    this.buffer[this.length++] = rest;
  }

  /** Appends `bytes` as they are. */
  bytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Appends `text` length first if it is ASCII (and true), or nothing (and false). */
  asciiIfAscii(text: string): boolean {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
    this.ascii(text);
    return true;
  }

  /** Appends an ASCII string, length first. */
  ascii(text: string): void {
    this.varint(text.length);
    this.reserve(text.length);
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 0x80) throw new SegmentEncodeError(`${JSON.stringify(text)} is not ASCII`);
      this.buffer[this.length++] = code;
    }
  }

  /**
   * Appends what `other` holds, length first (a length-prefixed record). A short record (most:
   * a debit's is ~30 bytes) is copied byte by byte: a view for `set` would be an object per record.
   */
  prefixed(other: ByteWriter): void {
    const length = other.length;
    this.varint(length);
    this.reserve(length);
    const to = this.buffer;
    if (length <= 64) {
      const from = other.buffer;
      const at = this.length;
      for (let i = 0; i < length; i++) to[at + i] = from[i] as number;
    } else to.set(other.buffer.subarray(0, length), this.length);
    this.length += length;
  }

  /** The bytes written so far (a view; copy before writing more). */
  view(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  /** Forgets what was written, keeping the memory. */
  reset(): void {
    this.length = 0;
  }
}

/** Strings up to this length are read through SHORT_CODES rather than a view of the bytes. */
const SHORT_ASCII_MAX = 64;
/**
 * Char codes of the short string being read, one array per length (reading is synchronous: one
 * buffer of each length serves all; no array's length is ever set).
 */
const SHORT_CODES: number[][] = Array.from({ length: SHORT_ASCII_MAX + 1 }, (_, length) =>
  new Array<number>(length).fill(0),
);

/** A cursor over hostile bytes: every read is bounded by the bytes left, and fails with a SegmentError. */
export class ByteReader {
  /** The offset of the next byte to read. */
  offset: number;

  /** A reader of `bytes` from `offset` up to `end`. */
  constructor(
    readonly bytes: Uint8Array,
    offset = 0,
    readonly end = bytes.length,
  ) {
    this.offset = offset;
  }

  /** Bytes not read yet. */
  get left(): number {
    return this.end - this.offset;
  }

  /** A SegmentError at the current offset. */
  fail(problem: string): SegmentError {
    return new SegmentError(this.offset, problem);
  }

  /** One byte. */
  byte(): number {
    if (this.offset >= this.end) throw this.fail('ends early');
    return this.bytes[this.offset++] as number;
  }

  /** An unsigned LEB128 varint: a safe integer, in its shortest form. */
  varint(): number {
    const start = this.offset;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      if (this.offset >= this.end) throw this.fail('ends inside a number');
      const byte = this.bytes[this.offset++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) throw new SegmentError(start, 'a number not in its shortest form');
        if (!Number.isSafeInteger(value)) throw new SegmentError(start, 'a number past 2^53 − 1');
        return value;
      }
      scale *= TWO_POW_7;
    }
    throw new SegmentError(start, 'a number longer than 8 bytes');
  }

  /**
   * True, having read it, when a length-prefixed `null` (4, then the 4 bytes) comes next; false,
   * having read nothing, otherwise. Most metadata is null: no view of its bytes is made for it.
   */
  nullText(): boolean {
    const at = this.offset;
    const bytes = this.bytes;
    if (
      at + 5 > this.end ||
      bytes[at] !== 4 ||
      bytes[at + 1] !== 0x6e ||
      bytes[at + 2] !== 0x75 ||
      bytes[at + 3] !== 0x6c ||
      bytes[at + 4] !== 0x6c
    )
      return false;
    this.offset = at + 5;
    return true;
  }

  /** A length that must fit in the bytes left, each item taking at least `itemBytesMin` bytes. */
  count(what: string, itemBytesMin: number): number {
    const start = this.offset;
    const count = this.varint();
    if (count * itemBytesMin > this.left)
      throw new SegmentError(start, `${what} ${count} is more than the bytes left can hold`);
    return count;
  }

  /** An ASCII string of at most `lengthMax` characters (the caller checks what it must match). */
  ascii(lengthMax: number): string {
    const start = this.offset;
    const length = this.varint();
    if (length > lengthMax)
      throw new SegmentError(start, `a string of ${length} bytes (at most ${lengthMax})`);
    if (length > this.left) throw new SegmentError(start, 'a string past the end');
    const bytes = this.bytes;
    const from = this.offset;
    if (length <= SHORT_ASCII_MAX) {
      // Ids and keys, millions of them at a checkpoint's load: no view object per string.
      const codes = SHORT_CODES[length] as number[];
      for (let i = 0; i < length; i++) {
        const byte = bytes[from + i] as number;
        if (byte >= 0x80) throw new SegmentError(from + i, 'a string byte that is not ASCII');
        codes[i] = byte;
      }
      this.offset += length;
      return String.fromCharCode.apply(null, codes);
    }
    const view = bytes.subarray(from, from + length);
    for (let i = 0; i < length; i++) {
      if ((view[i] as number) >= 0x80) throw new SegmentError(from + i, 'a string byte that is not ASCII');
    }
    this.offset += length;
    // At most KEY_LENGTH_MAX arguments: far below any engine's limit on an argument list.
    return String.fromCharCode.apply(null, view as unknown as number[]);
  }

  /** A run of `length` bytes, as a view (checked against the bytes left first). */
  take(length: number): Uint8Array {
    if (length > this.left) throw this.fail(`${length} bytes past the end`);
    const view = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return view;
  }
}
