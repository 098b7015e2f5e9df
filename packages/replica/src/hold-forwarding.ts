/**
 * Forwarding of captures and voids to the holding region (DESIGN.md §3 "Holds"): only the region
 * that holds a hold decides how it ends; another region sends it a `hold-settle` frame and answers
 * its client with the `hold-settled` reply, or `region_unreachable` when the holder cannot be reached
 * or does not answer in time. Bookkeeping over what the replica hands it: no clock, no I/O.
 */
import type { HoldView, SettleCommand, SettleOutcome } from './api.js';
import type { HoldSettledFrame, HoldSettleFrame, ReplicationFrame } from './frames.js';
import { HOLD_FORWARD_TIMEOUT_MS, HOLD_FORWARDS_MAX } from './limits.js';
import type { TimerHandle } from './ports.js';

/** What forwarding needs from the replica. */
export interface ForwardingHost {
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  /** Sends a frame to a peer region; false if it could not be sent (not connected). */
  send(region: string, frame: ReplicationFrame): boolean;
  /** Settles a hold held here, for a peer (never forwarded again). */
  settleHere(command: SettleCommand): Promise<SettleOutcome>;
}

interface Pending {
  readonly region: string;
  readonly requested: number;
  readonly resolve: (outcome: SettleOutcome) => void;
  readonly timer: TimerHandle;
}

/** The settle outcome a `hold-settled` frame carries. */
function outcomeOf(frame: HoldSettledFrame, requested: number): SettleOutcome {
  const hold = frame.hold as HoldView;
  switch (frame.status) {
    case 'accepted':
    case 'replayed':
      return { status: frame.status, hold };
    case 'not_active':
    case 'stranded':
      return { status: frame.status, hold };
    case 'not_found':
      return { status: 'not_found' };
    case 'exceeds_hold':
      return { status: 'exceeds_hold', requested, held: frame.held as number };
    case 'invalid':
      return { status: 'invalid', reason: 'invalid_request', detail: 'refused by the holding region' };
    case 'unavailable':
      return { status: 'unavailable', reason: 'overloaded' };
  }
}

/** The `hold-settled` reply for an outcome decided here. */
function replyOf(id: number, outcome: SettleOutcome): HoldSettledFrame {
  switch (outcome.status) {
    case 'accepted':
    case 'replayed':
    case 'not_active':
    case 'stranded':
      return { type: 'hold-settled', id, status: outcome.status, hold: outcome.hold, held: null };
    case 'exceeds_hold':
      return { type: 'hold-settled', id, status: 'exceeds_hold', hold: null, held: outcome.held };
    case 'not_found':
    case 'invalid':
      return { type: 'hold-settled', id, status: outcome.status, hold: null, held: null };
    default:
      return { type: 'hold-settled', id, status: 'unavailable', hold: null, held: null };
  }
}

/** One replica's forwarded settles, in flight to holding regions. */
export class HoldForwarding {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  /** Forwarding for the replica behind `host`. */
  constructor(private readonly host: ForwardingHost) {}

  /** Sends the settle to `region` and resolves with its answer, or region_unreachable. */
  forward(region: string, command: SettleCommand): Promise<SettleOutcome> {
    const unreachable: SettleOutcome = { status: 'region_unreachable', region };
    if (this.pending.size >= HOLD_FORWARDS_MAX)
      return Promise.resolve({ status: 'unavailable', reason: 'overloaded' });
    const id = this.nextId;
    this.nextId = this.nextId >= Number.MAX_SAFE_INTEGER ? 0 : this.nextId + 1;
    const frame: HoldSettleFrame = {
      type: 'hold-settle',
      id,
      tenant: command.tenant,
      holdId: command.holdId,
      action: command.action,
      amount: command.action === 'capture' ? (command.amount ?? null) : null,
    };
    return new Promise<SettleOutcome>((resolve) => {
      if (!this.host.send(region, frame)) {
        resolve(unreachable);
        return;
      }
      const timer = this.host.setTimer(HOLD_FORWARD_TIMEOUT_MS, () => {
        this.pending.delete(id);
        resolve(unreachable);
      });
      this.pending.set(id, { region, requested: command.amount ?? 0, resolve, timer });
    });
  }

  /** A peer's answer: resolves the forwarded settle it answers (an answer to nothing is ignored). */
  answered(region: string, frame: HoldSettledFrame): void {
    const pending = this.pending.get(frame.id);
    if (pending === undefined || pending.region !== region) return;
    this.pending.delete(frame.id);
    pending.timer.cancel();
    pending.resolve(outcomeOf(frame, pending.requested));
  }

  /** A peer asks this region to settle a hold it holds: decide, then answer with the same id. */
  received(region: string, frame: HoldSettleFrame): void {
    const command: SettleCommand = {
      tenant: frame.tenant,
      holdId: frame.holdId,
      action: frame.action,
      ...(frame.amount === null ? {} : { amount: frame.amount }),
    };
    void this.host.settleHere(command).then((outcome) => this.host.send(region, replyOf(frame.id, outcome)));
  }

  /** The link to `region` went down: its forwarded settles answer region_unreachable now. */
  peerDown(region: string): void {
    for (const [id, pending] of [...this.pending]) {
      if (pending.region !== region) continue;
      this.pending.delete(id);
      pending.timer.cancel();
      pending.resolve({ status: 'region_unreachable', region });
    }
  }
}
