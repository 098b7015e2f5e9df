/**
 * The durable-event feed of a replica: listeners called with each batch of events once it is
 * durable here (own commits once their commit resolved, peers' runs once stored and folded), in
 * fold order, so that each origin's events arrive in seq order, each once. The stream, alerts and
 * webhooks of the server listen here; the replica itself never waits for them.
 */
import type { Logger, StoredEvent } from './ports.js';

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
