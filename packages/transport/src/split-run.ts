/**
 * Cutting a long `segments` run into frames that each pass the receiver's checks (issue 9 item 7:
 * a run longer than one frame must be split, never refused). Each piece is whole segments, at most
 * `bytesMax` encoded bytes, and ends at a segment with a kept signature (the receiver verifies a
 * piece with its last segment's signature, the chain vouching for the rest): a stretch between two
 * such segments (SIGNED_STRETCH_BYTES_MAX) always fits in a frame of the link policy's size, so
 * the receiver verifies each piece on its own, in order. Pure.
 */
import {
  FRAME_SEGMENT_BYTES_MAX,
  type ReplicationFrame,
  signatureKept,
  type WireSegment,
} from '@allot/replica';

type SegmentsFrame = Extract<ReplicationFrame, { type: 'segments' }>;

/** The pieces of `frame` encoded, or why it cannot be cut into frames of at most `bytesMax` bytes. */
export type SplitRun =
  | { readonly pieces: readonly Uint8Array[]; readonly problem: null }
  | { readonly pieces: null; readonly problem: string };

/**
 * `frame` cut into encoded frames of whole segments of at most `bytesMax` bytes, longest first
 * (greedy by the segments' bytes, then checked encoded): `encode` is the codec's encoder.
 */
export function splitRun(
  frame: SegmentsFrame,
  bytesMax: number,
  encode: (frame: ReplicationFrame) => Uint8Array,
): SplitRun {
  const { segments, origin } = frame;
  const pieces: Uint8Array[] = [];
  let start = 0;
  while (start < segments.length) {
    // The segments that fit by their bytes (and the frame check's bound on them), then fewer while
    // the encoded frame is over.
    const segmentBytesMax = Math.min(bytesMax, FRAME_SEGMENT_BYTES_MAX);
    let end = start;
    let bytes = 0;
    while (end < segments.length && bytes + (segments[end] as WireSegment).bytes.length <= segmentBytesMax) {
      bytes += (segments[end] as WireSegment).bytes.length;
      end += 1;
    }
    let piece: Uint8Array | null = null;
    for (; end > start; end--) {
      if (!signatureKept((segments[end - 1] as WireSegment).signature)) continue;
      const encoded = encode({ type: 'segments', origin, segments: segments.slice(start, end) });
      if (encoded.length <= bytesMax) {
        piece = encoded;
        break;
      }
    }
    if (piece === null) {
      const seq = (segments[start] as WireSegment).firstSeq;
      return {
        pieces: null,
        problem: `the segments of ${origin} from seq ${seq} to the next with a kept signature do not fit in a frame of ${bytesMax} bytes`,
      };
    }
    pieces.push(piece);
    start = end;
  }
  return { pieces, problem: null };
}
