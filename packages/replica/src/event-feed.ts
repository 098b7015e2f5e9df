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

/** Called with the tenants whose events one commit made durable (never empty). */
export type DurableTenantsListener = (tenants: ReadonlySet<string>) => void;

/** The listeners of one replica's durable events. */
export class EventFeed {
  private readonly listeners = new Set<DurableEventsListener>();
  private readonly tenantListeners = new Set<DurableTenantsListener>();

  constructor(private readonly logger: Logger) {}

  /** Calls `listener` with every batch made durable from now on; returns the unsubscribe. */
  subscribe(listener: DurableEventsListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Calls `listener` with the tenants of every batch made durable from now on, at the moment the
   * events' listeners get them: for readers that need only who changed (alerts), so that no event
   * is decoded for them. Returns the unsubscribe.
   */
  subscribeTenants(listener: DurableTenantsListener): () => void {
    this.tenantListeners.add(listener);
    return () => {
      this.tenantListeners.delete(listener);
    };
  }

  /**
   * Hands the events of `segments` (one commit's, in fold order) to every listener, and `tenants`
   * (every tenant with an event in them) to every tenants' listener: decoded only when someone
   * listens to events, so the commit path pays nothing for a feed nobody reads.
   */
  publishSegments(segments: readonly StoredSegment[], tenants: ReadonlySet<string>): void {
    if (segments.length === 0) return;
    if (tenants.size > 0) {
      for (const listener of this.tenantListeners) {
        try {
          listener(tenants);
        } catch (error) {
          this.logger.error({ err: error, tenants: tenants.size }, 'a durable-tenants listener failed');
        }
      }
    }
    if (this.listeners.size === 0) return;
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

  /** Listeners subscribed now (of events and of tenants). */
  get size(): number {
    return this.listeners.size + this.tenantListeners.size;
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
