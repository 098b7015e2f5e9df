/**
 * Frames a replica ignores while its gate is shut (recovery, snapshot, checkpoint: group-commit.ts
 * `exclusively`) that would otherwise be lost for good. The sender of a run counts it as sent, and
 * only a summary that shows it held, a pull or a new link makes it send again; a run ignored here is
 * none of these, and when it was the last the sender had (or filled its window) it never sends
 * more: a catching-up node stalled with every link up (bench:join, 880,334 of 1,006,246 events).
 * So each ignored run becomes a pull of its origin once the gate is open, and an ignored pull is
 * acted on then. Summaries need nothing: they come again every interval. Sans I/O.
 */
import type { OriginId } from '@allot/core';
import type { PullFrame, ReplicationFrame } from './frames.js';

/** Per peer region, the origins to pull (from what is held) or to push (from `fromSeq`) later. */
export class GateLosses {
  private readonly lost = new Map<string, Map<OriginId, { pullFrom: boolean; pushFrom: number | null }>>();
  private waiting = false;

  /** True when `frame` is one whose loss must be made good once the gate opens (then noted). */
  note(region: string, frame: ReplicationFrame): boolean {
    if (frame.type !== 'segments' && frame.type !== 'pull') return false;
    const known = this.owed(region, frame.origin);
    if (frame.type === 'segments') known.pullFrom = true;
    else known.pushFrom = Math.min(known.pushFrom ?? frame.fromSeq, frame.fromSeq);
    return true;
  }

  /**
   * Received events of `origin` that `region` sent were folded and then undone (a failed commit
   * rebuilt the fold): the sender counts them as sent, so they are pulled again, as an ignored run is.
   */
  noteUndone(region: string, origin: OriginId): void {
    this.owed(region, origin).pullFrom = true;
  }

  /** What is owed with `region` for `origin` (made when there is none yet). */
  private owed(region: string, origin: OriginId): { pullFrom: boolean; pushFrom: number | null } {
    let origins = this.lost.get(region);
    if (origins === undefined) {
      origins = new Map();
      this.lost.set(region, origins);
    }
    let known = origins.get(origin);
    if (known === undefined) {
      known = { pullFrom: false, pushFrom: null };
      origins.set(origin, known);
    }
    return known;
  }

  /** Runs `then` once `gate` opens, unless a wait is under way already. */
  afterGate(gate: Promise<void>, then: () => void): void {
    if (this.waiting) return;
    this.waiting = true;
    void gate.then(() => {
      this.waiting = false;
      then();
    });
  }

  /** The link to `region` closed: a new one starts from the peers' summaries, nothing is owed. */
  forget(region: string): void {
    this.lost.delete(region);
  }

  /**
   * What is owed, taken: per region, the pulls to send it (`held`: the seq held here of an origin)
   * and the pulls it sent that are to be acted on as if they came now.
   */
  take(held: (origin: OriginId) => number): { region: string; send: PullFrame[]; act: PullFrame[] }[] {
    const owed: { region: string; send: PullFrame[]; act: PullFrame[] }[] = [];
    for (const [region, origins] of this.lost) {
      const send: PullFrame[] = [];
      const act: PullFrame[] = [];
      for (const [origin, { pullFrom, pushFrom }] of origins) {
        if (pullFrom) send.push({ type: 'pull', origin, fromSeq: held(origin) + 1 });
        if (pushFrom !== null) act.push({ type: 'pull', origin, fromSeq: pushFrom });
      }
      owed.push({ region, send, act });
    }
    this.lost.clear();
    return owed;
  }
}
