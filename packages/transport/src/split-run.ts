/**
 * Cutting a long `events` run into frames that each pass the receiver's checks (issue 9 item 7: a
 * live push of a commit of more than EVENTS_PER_FRAME_MAX own events failed on every send). Each
 * piece is at most EVENTS_PER_FRAME_MAX events and `bytesMax` encoded bytes, and ends at a signed
 * event, so the receiver verifies each piece on its own, in order. An origin signs its head at
 * least every HEAD_SIGN_INTERVAL_EVENTS own events and at the end of each commit, so a run of its
 * own log always has a cut within reach. Pure.
 */
import { EVENTS_PER_FRAME_MAX, type ReplicationFrame, type WireEvent } from '@allot/replica';

type EventsFrame = Extract<ReplicationFrame, { type: 'events' }>;

/** The pieces of `frame` encoded, or why it cannot be cut into frames of at most `bytesMax` bytes. */
export type SplitRun =
  | { readonly pieces: readonly Uint8Array[]; readonly problem: null }
  | { readonly pieces: null; readonly problem: string };

/**
 * `frame` cut into encoded frames of at most EVENTS_PER_FRAME_MAX events and `bytesMax` bytes,
 * each ending at a signed event, longest first (greedy): `encode` is the codec's encoder.
 */
export function splitRun(
  frame: EventsFrame,
  bytesMax: number,
  encode: (frame: ReplicationFrame) => Uint8Array,
): SplitRun {
  const { events, origin } = frame;
  const pieces: Uint8Array[] = [];
  let start = 0;
  while (start < events.length) {
    const limit = Math.min(events.length, start + EVENTS_PER_FRAME_MAX);
    let piece: Uint8Array | null = null;
    let end = limit;
    // The longest piece from `start` that ends at a signed event and fits in bytesMax.
    for (; end > start; end--) {
      if ((events[end - 1] as WireEvent).signature === null) continue;
      const bytes = encode({ type: 'events', origin, events: events.slice(start, end) });
      if (bytes.length <= bytesMax) {
        piece = bytes;
        break;
      }
    }
    if (piece === null) {
      const seq = (events[start] as WireEvent).event.seq;
      return {
        pieces: null,
        problem: `the run of ${origin} from seq ${seq} has no signed event within ${EVENTS_PER_FRAME_MAX} events and ${bytesMax} bytes`,
      };
    }
    pieces.push(piece);
    start = end;
  }
  return { pieces, problem: null };
}
