/**
 * The durable-event feed of a replica: listeners called with each batch of events once it is
 * durable here (own commits once their commit resolved, peers' runs once stored and folded), in
 * fold order, so that each origin's events arrive in seq order, each once. The stream, alerts and
 * webhooks of the server listen here; the replica itself never waits for them.
 */
import { decodeSegmentRange } from '@allot/core';
import type { Logger, StoredEvent, StoredSegment } from './ports.js';

/** Called with the events one commit made durable, in the order they were folded. */
export type DurableEventsListener = (events: readonly StoredEvent[]) => void;

/** The listeners of one replica's durable events. */
export class EventFeed {
  private readonly listeners = new Set<DurableEventsListener>();

  constructor(private readonly logger: Logger) {}

  /** Calls `listener` with every batch made durable from now on; returns the unsubscribe. */
  subscribe(listener: DurableEventsListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Hands the events of `segments` (one commit's, in fold order) to every listener: decoded only
   * when someone listens, so the commit path pays nothing for a feed nobody reads.
   */
  publishSegments(segments: readonly StoredSegment[]): void {
    if (this.listeners.size === 0 || segments.length === 0) return;
    const events: StoredEvent[] = [];
    for (const segment of segments) {
      const count = segment.lastSeq - segment.firstSeq + 1;
      const { events: decoded, records } = decodeSegmentRange(segment.bytes, 0, count);
      decoded.forEach((event, i) => {
        events.push({ event, record: records[i] as Uint8Array });
      });
    }
    this.publish(events);
  }

  /** Listeners subscribed now. */
  get size(): number {
    return this.listeners.size;
  }

  /**
   * Hands `events` to every listener. The events are durable whatever a listener does: a listener
   * that throws is a bug of that listener, logged at error with its stack; the others still get
   * the events and the commit path goes on (failing writers for a reader's bug would be worse).
   */
  publish(events: readonly StoredEvent[]): void {
    if (events.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (error) {
        this.logger.error({ err: error, events: events.length }, 'a durable-event listener failed');
      }
    }
  }
}
