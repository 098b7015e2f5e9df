/**
 * The times of an origin's own events (issue 11): the replica's clock, but never before the time of
 * an event the origin already wrote. A node's clock may step back (NTP, a restart on another host);
 * its log's times then still rise with seq, so "every event with a time ≤ t" is a prefix of the log
 * and a balance as of t names it exactly with a version vector (as-of.ts).
 */
import type { OriginId } from '@allot/core';
import type { Store } from './ports.js';

/** The floor under the times of an origin's next events. */
export class OwnEventTimes {
  private floor = 0;

  /** The time of the next own event when the clock says `now`: now, or the last own event's time. */
  next(now: number): number {
    if (now > this.floor) this.floor = now;
    return this.floor;
  }

  /** Notes the time of an own event written earlier (recovered, or fetched back from a peer). */
  observe(at: number): void {
    if (at > this.floor) this.floor = at;
  }
}

/** The time of event `seq` of `origin` in the store (0 when it holds none there). */
export async function storedEventTime(store: Store, origin: OriginId, seq: number): Promise<number> {
  if (seq < 1) return 0;
  const [last] = await store.readLog(origin, seq, 1);
  return last?.event.seq === seq ? last.event.at : 0;
}
