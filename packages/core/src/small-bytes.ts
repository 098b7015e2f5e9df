/**
 * Zeroed byte arrays for the hot paths. A small one is a view cut from a shared 64 KiB block: an
 * ArrayBuffer of its own lives off the heap and costs ~0.5 µs to make (and more to collect), a view
 * ~0.05, and every commit makes a few (a segment writer's buffer, each sealed store record). A block
 * is freed once no view into it lives, so a view kept for long keeps its block's 64 KiB: use these
 * for bytes that are written out or dropped, not for small values held for a process's life.
 */

/** Bytes of each shared block that small arrays are cut from. */
const BLOCK_BYTES = 64 * 1024;
/** Arrays up to this size are cut from a shared block. */
const SMALL_BYTES_MAX = 4 * 1024;
let block = new ArrayBuffer(0);
let blockUsed = 0;

/** A zeroed Uint8Array of `length` bytes (a view into a shared block when small; see above). */
export function zeroedBytes(length: number): Uint8Array {
  if (length > SMALL_BYTES_MAX) return new Uint8Array(length);
  if (blockUsed + length > block.byteLength) {
    block = new ArrayBuffer(BLOCK_BYTES);
    blockUsed = 0;
  }
  const bytes = new Uint8Array(block, blockUsed, length);
  blockUsed += length;
  return bytes;
}
