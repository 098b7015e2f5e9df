/**
 * Borrowing (DESIGN.md §3): a debit that this region's rights plus overdraft cannot cover, while
 * reachable peers hold enough, is not declined at once. The region asks the peers with the most
 * rights for what it lacks (a `borrow` frame; each donor decides alone and answers with a durable
 * `move` of its own log) and the debit waits, at most `borrowWaitMs`, for those rights to arrive.
 * Other tenants' debits go on meanwhile: a waiting debit is a promise, not a lock. Each time events
 * of the tenant are folded here the waiting debits are decided again, oldest first; whatever is
 * still short when the wait runs out is declined with the reason the cluster view gives.
 * Pure bookkeeping over what the replica hands it through `BorrowHost`: no clock, no I/O.
 */
import { availableAt, type LedgerState, type OriginId } from '@allot/core';
import type { DeclineReason } from './api.js';
import type { ReplicationFrame } from './frames.js';
import { BORROW_ASK_FACTOR, BORROW_ASKS_PER_WAIT_MAX, BORROW_WAITERS_MAX } from './limits.js';
import type { TimerHandle } from './ports.js';
import type { ReachablePeer } from './rebalancing.js';

/** What borrowing needs from the replica. */
export interface BorrowHost {
  /** This replica's current incarnation. */
  readonly origin: OriginId;
  /** How long a debit may wait for rights, ms (0: never waits). */
  readonly borrowWaitMs: number;
  /** A transport is attached (peers may be reached at all). */
  attached(): boolean;
  /** The current in-memory fold. */
  state(): LedgerState;
  /** The replica's clock. */
  now(): number;
  /** Sets a timer on the replica's clock. */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  /** Every peer region known, by region. */
  peers(): ReadonlyMap<string, ReachablePeer>;
  /** Sends a frame to a peer region; false if it could not be sent. */
  send(region: string, frame: ReplicationFrame): boolean;
  /** A debit waited `ms` for rights and then was `result` (metrics). */
  waited(ms: number, result: 'accepted' | 'declined'): void;
}

/** A waiting debit: decided again by `retry` (null: still short), or `expire`d when the wait ends. */
interface Waiter<T> {
  readonly tenant: string;
  readonly since: number;
  readonly retry: () => T | null;
  readonly expire: () => T;
  readonly resolve: (outcome: T) => void;
  readonly amount: number;
  asks: number;
  timer: TimerHandle | null;
}

/**
 * Why `amount` cannot be paid at `origin` now: `insufficient` when the tenant's credits known here
 * (every origin's live rights, plus this region's overdraft headroom) fall short; `unreachable` when
 * they would do but part of them is at regions cut off from this one; `timeout` otherwise (the
 * reachable cluster holds enough, the rights did not arrive in time).
 */
export function declineReason(
  state: LedgerState,
  tenant: string,
  origin: OriginId,
  now: number,
  amount: number,
  headroom: number,
  reachable: ReadonlySet<OriginId>,
): DeclineReason {
  const { total, near } = creditsKnown(state, tenant, origin, now, headroom, reachable);
  if (total < amount) return 'insufficient';
  return near < amount ? 'unreachable' : 'timeout';
}

/**
 * The tenant's live credits known at `origin` (every origin's live rights by this clock, plus the
 * origin's overdraft `headroom`): in all (`total`), and at the origin and the `reachable` ones (`near`).
 */
export function creditsKnown(
  state: LedgerState,
  tenant: string,
  origin: OriginId,
  now: number,
  headroom: number,
  reachable: ReadonlySet<OriginId>,
): { total: number; near: number } {
  let total = headroom;
  let near = headroom;
  for (const other of state.origins) {
    const rights = availableAt(state, tenant, other, now, 0);
    total += rights;
    if (other === origin || reachable.has(other)) near += rights;
  }
  return { total, near };
}

/** One replica's waiting debits and the rights it asked for them. */
export class Borrowing {
  private readonly waiters = new Map<string, Waiter<unknown>[]>();
  private count = 0;

  /** Borrowing for the replica behind `host`. */
  constructor(private readonly host: BorrowHost) {}

  /** Debits waiting for rights now. */
  get waiting(): number {
    return this.count;
  }

  /** The current origins of the connected peers. */
  reachableOrigins(): Set<OriginId> {
    const out = new Set<OriginId>();
    for (const peer of this.host.peers().values())
      if (peer.connected && peer.origin !== null) out.add(peer.origin);
    return out;
  }

  /**
   * Whether a debit short of `shortfall` for the tenant should wait: waiting is on, a peer is
   * reachable, room is left, and the connected peers hold at least the shortfall as known here (or
   * nothing of the tenant is known here yet: its grants may still be on their way).
   */
  worthWaiting(tenant: string, shortfall: number): boolean {
    const host = this.host;
    if (host.borrowWaitMs <= 0 || !host.attached() || this.count >= BORROW_WAITERS_MAX) return false;
    const reachable = this.reachableOrigins();
    if (reachable.size === 0) return false;
    const state = host.state();
    if (!state.tenants.has(tenant)) return true;
    return this.peerRights(tenant, reachable) >= shortfall;
  }

  /**
   * Asks peers for `shortfall` of the tenant's rights and resolves with the first outcome `retry`
   * gives (called whenever the tenant's rights may have grown), or with `expire()` after
   * borrowWaitMs.
   */
  wait<T>(
    tenant: string,
    amount: number,
    shortfall: number,
    retry: () => T | null,
    expire: () => T,
  ): Promise<T> {
    const host = this.host;
    return new Promise<T>((resolve) => {
      const waiter: Waiter<T> = {
        tenant,
        since: host.now(),
        retry,
        expire,
        resolve,
        amount,
        asks: 0,
        timer: null,
      };
      const list = this.waiters.get(tenant) ?? [];
      // Debits of the tenant waiting before this one take what arrives first: ask for them too.
      const ahead = list.reduce((sum, other) => sum + other.amount, 0);
      list.push(waiter as Waiter<unknown>);
      this.waiters.set(tenant, list);
      this.count += 1;
      waiter.timer = host.setTimer(host.borrowWaitMs, () => {
        waiter.timer = null;
        this.finish(waiter as Waiter<unknown>, waiter.retry() ?? waiter.expire(), 'declined');
      });
      this.ask(waiter as Waiter<unknown>, shortfall + ahead);
    });
  }

  /**
   * Events of the tenant were folded: its waiting debits are decided again, oldest first. One
   * still short asks again (the view of who holds what may have changed), a bounded number of times.
   */
  wake(tenant: string): void {
    const list = this.waiters.get(tenant);
    if (list === undefined) return;
    let ahead = 0;
    for (const waiter of [...list]) {
      const outcome = waiter.retry();
      if (outcome !== null) {
        this.finish(waiter, outcome, 'accepted');
        continue;
      }
      ahead += waiter.amount;
      if (waiter.asks < BORROW_ASKS_PER_WAIT_MAX) {
        const mine = availableAt(this.host.state(), tenant, this.host.origin, this.host.now(), 0);
        // What this debit and those still waiting before it need beyond what is here.
        this.ask(waiter, Math.max(1, ahead - mine));
      }
    }
  }

  /**
   * A debit of the tenant went through on rights held here while others wait: what they were
   * counting on may be gone, so they ask again now rather than when the next events arrive.
   */
  spent(tenant: string): void {
    const list = this.waiters.get(tenant);
    if (list === undefined) return;
    const mine = availableAt(this.host.state(), tenant, this.host.origin, this.host.now(), 0);
    let ahead = 0;
    for (const waiter of list) {
      ahead += waiter.amount;
      if (waiter.asks < BORROW_ASKS_PER_WAIT_MAX) this.ask(waiter, Math.max(1, ahead - mine));
    }
  }

  /** The replica closes: every waiting debit gets its expiry outcome now. */
  close(): void {
    for (const list of [...this.waiters.values()])
      for (const waiter of [...list]) this.finish(waiter, waiter.expire(), 'declined');
  }

  private finish(waiter: Waiter<unknown>, outcome: unknown, result: 'accepted' | 'declined'): void {
    const list = this.waiters.get(waiter.tenant);
    const at = list?.indexOf(waiter) ?? -1;
    if (list === undefined || at < 0) return; // settled already
    list.splice(at, 1);
    if (list.length === 0) this.waiters.delete(waiter.tenant);
    this.count -= 1;
    waiter.timer?.cancel();
    waiter.timer = null;
    const outcomeStatus = (outcome as { status?: unknown }).status;
    this.host.waited(
      Math.max(0, this.host.now() - waiter.since),
      outcomeStatus === 'declined' ? 'declined' : result,
    );
    waiter.resolve(outcome);
  }

  /** Σ live rights of the connected peers for the tenant, as known here. */
  private peerRights(tenant: string, reachable: ReadonlySet<OriginId>): number {
    const state = this.host.state();
    const now = this.host.now();
    let total = 0;
    for (const origin of reachable) total += availableAt(state, tenant, origin, now, 0);
    return total;
  }

  /**
   * Asks the richest connected peers for `shortfall`, each for what it holds, until the asks cover
   * it; when the peers hold nothing known here, every connected peer is asked for all of it.
   */
  private ask(waiter: Waiter<unknown>, need: number): void {
    const host = this.host;
    waiter.asks += 1;
    // As much again for the debits that follow (the demand is here now), so that one of them taking
    // what arrives does not leave this one short for another round trip.
    const shortfall = Math.min(Number.MAX_SAFE_INTEGER, need * BORROW_ASK_FACTOR);
    const state = host.state();
    const now = host.now();
    const donors: { region: string; rights: number }[] = [];
    for (const [region, peer] of host.peers()) {
      if (!peer.connected || peer.origin === null) continue;
      donors.push({ region, rights: availableAt(state, waiter.tenant, peer.origin, now, 0) });
    }
    donors.sort((a, b) => b.rights - a.rights || (a.region < b.region ? -1 : 1));
    if (donors.every((donor) => donor.rights <= 0)) {
      for (const donor of donors)
        host.send(donor.region, { type: 'borrow', tenant: waiter.tenant, amount: shortfall });
      return;
    }
    let left = shortfall;
    for (const donor of donors) {
      if (left <= 0 || donor.rights <= 0) break;
      const amount = Math.min(left, donor.rights);
      if (host.send(donor.region, { type: 'borrow', tenant: waiter.tenant, amount })) left -= amount;
    }
  }
}
