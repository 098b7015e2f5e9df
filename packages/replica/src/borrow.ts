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
import {
  availableAt,
  type LedgerState,
  type OriginId,
  regionOf,
  rightsOwedToOverdraft,
  tenantOverdraftInUse,
  unsettledDuplicates,
} from '@allot/core';
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
  /** The tenant's overdraft allowance at this region as debits are decided now (0 when withheld). */
  overdraftLimit(tenant: string): number;
  /** The replica's clock. */
  now(): number;
  /** Sets a timer on the replica's clock. */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
  /** Every peer region known, by region. */
  peers(): ReadonlyMap<string, ReachablePeer>;
  /** Sends a frame to a peer region; false if it could not be sent. */
  send(region: string, frame: ReplicationFrame): boolean;
  /** The last seq of this incarnation's own log, written or not yet durable (0 before any). */
  ownHead(): number;
  /** What this region could pay for the tenant with its own and its connected peers' rights, as known here. */
  reachableCredits(tenant: string): number;
  /** A debit waited `ms` for rights and then was `result` (metrics). */
  waited(ms: number, result: 'accepted' | 'declined'): void;
  /**
   * A debit of the tenant stopped waiting here without being paid: what this region kept back for
   * it may serve the asks its peers left here (`Rebalancing.rightsArrived`).
   */
  released(tenant: string): void;
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
  /** The asks last sent for this debit (region:amount,…), not sent again unchanged. */
  lastAsks: string;
  timer: TimerHandle | null;
  /** Halfway through the wait: the tenant asks the peers it has not asked yet. */
  halfway: TimerHandle | null;
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
  overdraftLimit: number,
  reachable: ReadonlySet<OriginId>,
): DeclineReason {
  const { total, near } = creditsKnown(state, tenant, origin, now, overdraftLimit, reachable);
  if (total < amount) return 'insufficient';
  return near < amount ? 'unreachable' : 'timeout';
}

/**
 * What the revokes of duplicate grants that `origin`'s region accepted still owe for the tenant
 * (issue 17): rights arriving there go to them before any debit. A region's current incarnation
 * takes on what its lost ones owe (`revokeDuplicates` once caught up), so a debt of an earlier
 * incarnation counts here too: a new incarnation that borrows only for its debit would see every
 * right it is lent taken by the revoke (swarm seed 1034).
 */
export function revokesOwed(state: LedgerState, tenant: string, origin: OriginId): number {
  const ledger = state.tenants.get(tenant);
  if (ledger === undefined) return 0;
  const region = regionOf(origin);
  let owed = 0;
  for (const duplicate of unsettledDuplicates(ledger))
    if (regionOf(duplicate.loser.origin) === region) owed += duplicate.owed ?? 0;
  return owed;
}

/**
 * What rights arriving at `origin` for the tenant pay before a debit there can use any: the revokes
 * its region still owes (`revokesOwed`) and overdraft past the allowance `overdraftLimit`
 * (`rightsOwedToOverdraft`: a repay takes arriving rights first). A region that borrows only for
 * its debit would see the repay or the revoke take what it is lent.
 */
export function owedFirst(
  state: LedgerState,
  tenant: string,
  origin: OriginId,
  overdraftLimit: number,
): number {
  return revokesOwed(state, tenant, origin) + rightsOwedToOverdraft(state, tenant, origin, overdraftLimit);
}

/**
 * The tenant's rights another region could lend now, as known here: none while it repays overdraft
 * (`lend` gives nothing then), and not what its revokes still owe (it takes those first).
 */
export function lendableAt(state: LedgerState, tenant: string, origin: OriginId, now: number): number {
  if (tenantOverdraftInUse(state, tenant, origin) > 0) return 0;
  return Math.max(0, availableAt(state, tenant, origin, now, 0) - revokesOwed(state, tenant, origin));
}

/**
 * The tenant's live credits known at `origin` that a debit there could use: its own rights and
 * what is left of its overdraft allowance `overdraftLimit`, less what arriving rights pay first
 * (`owedFirst`), plus what every other origin could lend (`lendableAt`); in all (`total`), and at
 * the origin and the `reachable` ones (`near`).
 */
export function creditsKnown(
  state: LedgerState,
  tenant: string,
  origin: OriginId,
  now: number,
  overdraftLimit: number,
  reachable: ReadonlySet<OriginId>,
): { total: number; near: number } {
  const own =
    availableAt(state, tenant, origin, now, overdraftLimit) -
    owedFirst(state, tenant, origin, overdraftLimit);
  let total = own;
  let near = own;
  for (const other of state.origins) {
    if (other === origin) continue;
    const rights = lendableAt(state, tenant, other, now);
    total += rights;
    if (reachable.has(other)) near += rights;
  }
  return { total, near };
}

/** One replica's waiting debits and the rights it asked for them. */
export class Borrowing {
  private readonly waiters = new Map<string, Waiter<unknown>[]>();
  private count = 0;
  /** Per tenant with debits waiting, the peers its last ask went to. */
  private readonly askedLast = new Map<string, Set<string>>();
  /** The tenant whose waiting debits `wake` is deciding now. */
  private waking: string | null = null;

  /** Borrowing for the replica behind `host`. */
  constructor(private readonly host: BorrowHost) {}

  /** Debits waiting for rights now. */
  get waiting(): number {
    return this.count;
  }

  /**
   * Σ amounts of the tenant's debits waiting here for rights; with `within`, only those that
   * `within` credits can pay, taken oldest first as `wake` decides them (one that does not fit is
   * passed over, a later smaller one may still fit).
   */
  waitingFor(tenant: string, within = Number.POSITIVE_INFINITY): number {
    let total = 0;
    for (const waiter of this.waiters.get(tenant) ?? [])
      if (total + waiter.amount <= within) total += waiter.amount;
    return total;
  }

  /**
   * This region's claim on the tenant's rights: when its oldest waiting debit that the credits it
   * can reach would pay (taken oldest first, as `waitingFor` with `reachableCredits`) began waiting;
   * null when none would be paid. Borrow asks carry it; lenders compare it with theirs.
   */
  claim(tenant: string): number | null {
    const list = this.waiters.get(tenant);
    if (list === undefined) return null;
    // The first that `waitingFor(tenant, within)` would count: the oldest one that fits alone.
    const within = this.host.reachableCredits(tenant);
    for (const waiter of list) if (waiter.amount <= within) return waiter.since;
    return null;
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
   * reachable, room is left, and the connected peers hold at least the shortfall and what arriving
   * rights pay first (`owedFirst`) as known here (or nothing of the tenant is known here yet: its
   * grants may still be on their way).
   */
  worthWaiting(tenant: string, shortfall: number): boolean {
    const host = this.host;
    if (host.borrowWaitMs <= 0 || !host.attached() || this.count >= BORROW_WAITERS_MAX) return false;
    const reachable = this.reachableOrigins();
    if (reachable.size === 0) return false;
    const state = host.state();
    if (!state.tenants.has(tenant)) return true;
    return this.peerRights(tenant, reachable) >= shortfall + this.owedHere(tenant);
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
        lastAsks: '',
        timer: null,
        halfway: null,
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
      const half = Math.floor(host.borrowWaitMs / 2);
      if (half > 0)
        waiter.halfway = host.setTimer(half, () => {
          waiter.halfway = null;
          this.askAgain(tenant, true);
        });
      this.ask(waiter as Waiter<unknown>, shortfall + ahead, ahead + amount);
    });
  }

  /**
   * Events of the tenant were folded: its waiting debits are decided again, oldest first. If some
   * are still short, the tenant asks again (the view of who holds what may have changed).
   */
  wake(tenant: string): void {
    const list = this.waiters.get(tenant);
    if (list === undefined) return;
    this.waking = tenant;
    try {
      for (const waiter of [...list]) {
        const outcome = waiter.retry();
        if (outcome !== null) this.finish(waiter, outcome, 'accepted');
      }
    } finally {
      this.waking = null;
    }
    this.askAgain(tenant);
  }

  /**
   * A debit of the tenant went through on rights held here while others wait: what they were
   * counting on may be gone, so the tenant asks again now rather than when the next events arrive.
   */
  spent(tenant: string): void {
    // A waiting debit paid by `wake` is still listed while it is decided: wake asks once after.
    if (this.waking !== tenant) this.askAgain(tenant);
  }

  /**
   * This region moved rights of the tenant away (lent to an older claim, donated, split a grant)
   * while debits of the tenant wait here: a peer drops the asks this region sent before such a move
   * (`Rebalancing.askerLent`, the move says it no longer needs them), and the next asks, the same as
   * the last, would not be sent. So the tenant asks again now, after the move (swarm seed 5411: ap
   * lent its 6 to eu's payable 10 while its own 19 waited; eu dropped ap's kept ask when the move
   * came, and a refund of 25 there went unlent until ap's 19 had timed out).
   */
  movedAway(tenant: string): void {
    const list = this.waiters.get(tenant);
    if (list === undefined) return;
    for (const waiter of list) waiter.lastAsks = '';
    this.askAgain(tenant);
  }

  /**
   * One ask for all the tenant's debits still waiting here (what they need together beyond what is
   * here), on behalf of the newest that has asks left: each waiting debit's asks cover the ones
   * before it, so asking for each would only repeat them. `elsewhere`: halfway through a wait, the
   * peers asked last are passed over. A peer that this region believes rich may hold nothing yet
   * (rights moved to it that it has not received, swarm seed 1421): it lends nothing and says
   * nothing, and the same ask would not be sent again, so the others are asked.
   */
  private askAgain(tenant: string, elsewhere = false): void {
    const list = this.waiters.get(tenant);
    if (list === undefined) return;
    let waiting = 0;
    let asker: Waiter<unknown> | null = null;
    for (const waiter of list) {
      waiting += waiter.amount;
      if (waiter.asks < BORROW_ASKS_PER_WAIT_MAX) asker = waiter;
    }
    if (asker === null) return;
    const mine = availableAt(this.host.state(), tenant, this.host.origin, this.host.now(), 0);
    const passOver = elsewhere ? (this.askedLast.get(tenant) ?? new Set<string>()) : new Set<string>();
    this.ask(asker, Math.max(1, waiting - mine), waiting, passOver);
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
    if (list.length === 0) {
      this.waiters.delete(waiter.tenant);
      this.askedLast.delete(waiter.tenant);
    }
    this.count -= 1;
    waiter.timer?.cancel();
    waiter.timer = null;
    waiter.halfway?.cancel();
    waiter.halfway = null;
    const outcomeStatus = (outcome as { status?: unknown }).status;
    this.host.waited(
      Math.max(0, this.host.now() - waiter.since),
      outcomeStatus === 'declined' ? 'declined' : result,
    );
    waiter.resolve(outcome);
    const paid = outcomeStatus === 'accepted' || outcomeStatus === 'replayed';
    // A lender keeps rights for its own waiting debits while an older claim's ask waits here; once
    // one ends unpaid they are free (swarm seed 1725: eu's 13 timed out holding 5 that us's payable
    // 16 had asked for, and us's ask was served only when the next rights arrived, after its wait).
    if (!paid) this.host.released(waiter.tenant);
  }

  /** What rights arriving here for the tenant pay before its debits (`owedFirst`). */
  private owedHere(tenant: string): number {
    const host = this.host;
    return owedFirst(host.state(), tenant, host.origin, host.overdraftLimit(tenant));
  }

  /** Σ live rights of the connected peers for the tenant, as known here. */
  private peerRights(tenant: string, reachable: ReadonlySet<OriginId>): number {
    const state = this.host.state();
    const now = this.host.now();
    let total = 0;
    for (const origin of reachable) total += lendableAt(state, tenant, origin, now);
    return total;
  }

  /**
   * Asks the richest connected peers for `need` (what the tenant's debits waiting here lack) and
   * more, below; each for what it can lend as known here, until the asks cover it; what they cannot
   * cover as known here is asked of every connected peer besides. The same asks as the
   * last ones of this debit are not sent again and do not count against BORROW_ASKS_PER_WAIT_MAX:
   * asks are spent on changes of who holds what.
   */
  private ask(
    waiter: Waiter<unknown>,
    need: number,
    waiting: number,
    passOver: ReadonlySet<string> = new Set(),
  ): void {
    const host = this.host;
    const state = host.state();
    const now = host.now();
    // Beyond the need, (BORROW_ASK_FACTOR − 1) × the waiting debits again: debits of the tenant that
    // arrive here meanwhile take what arrives as it comes (the demand is here now), and must not
    // leave the waiting ones short for another round trip. What arrives pays the revokes this
    // region still owes and its overdraft past the allowance first (issue 17, swarm seed 16071):
    // those are asked for too.
    const shortfall = Math.min(
      Number.MAX_SAFE_INTEGER,
      need + (BORROW_ASK_FACTOR - 1) * waiting + this.owedHere(waiter.tenant),
    );
    const donors: { region: string; rights: number }[] = [];
    for (const [region, peer] of host.peers()) {
      if (!peer.connected || peer.origin === null || passOver.has(region)) continue;
      donors.push({ region, rights: lendableAt(state, waiter.tenant, peer.origin, now) });
    }
    donors.sort((a, b) => b.rights - a.rights || (a.region < b.region ? -1 : 1));
    if (donors.length === 0) return;
    // The richest first, each for what it can lend as known here; what they cannot cover (`left`)
    // is asked of every connected peer on top: rights may have reached one unseen here yet (a
    // refund or a grant there), and a peer keeps an ask it cannot serve for when rights arrive — an
    // ask of 6 kept at a lender that then had 21 served 6, and the debit of 19 waiting for it
    // timed out (swarm seed 5411). Σ asked ≤ shortfall × donors: what a donor over-gives comes back
    // through rebalancing.
    const shares = new Map<string, number>();
    let left = shortfall;
    for (const donor of donors) {
      if (left <= 0 || donor.rights <= 0) break;
      const amount = Math.min(left, donor.rights);
      shares.set(donor.region, amount);
      left -= amount;
    }
    const asks: { region: string; amount: number }[] = [];
    for (const donor of donors) {
      const amount = (shares.get(donor.region) ?? 0) + Math.max(0, left);
      if (amount > 0) asks.push({ region: donor.region, amount });
    }
    const plan = asks.map((one) => `${one.region}:${one.amount}`).join(',');
    if (plan === waiter.lastAsks) return;
    waiter.lastAsks = plan;
    waiter.asks += 1;
    this.askedLast.set(waiter.tenant, new Set(asks.map((one) => one.region)));
    // The head tells a donor which of this region's moves came before the ask (`askerLent`).
    const head = host.ownHead();
    const since = this.claim(waiter.tenant);
    const least = this.least(waiter.tenant);
    const waitsMs = this.waitsMs(waiter.tenant);
    for (const one of asks) {
      const frame = {
        type: 'borrow',
        tenant: waiter.tenant,
        amount: one.amount,
        head,
        since,
        least,
        waitsMs,
      } as const;
      if (!host.send(one.region, frame)) waiter.lastAsks = ''; // not sent: the same asks may go next time
    }
  }

  /**
   * How long the newest of the tenant's debits waiting here will still wait, ms (a borrow ask's
   * `waitsMs`): a lender keeps an ask it cannot serve now that long at most, and serves it after
   * fresher asks once rights it sends would likely arrive too late (`Rebalancing.rightsArrived`).
   */
  private waitsMs(tenant: string): number {
    const host = this.host;
    const now = host.now();
    let waits = 0;
    for (const waiter of this.waiters.get(tenant) ?? [])
      waits = Math.max(waits, Math.min(host.borrowWaitMs, waiter.since + host.borrowWaitMs - now));
    return Math.floor(waits); // a whole number of ms from 0 to borrowWaitMs, as the frame check wants
  }

  /** The smallest of the tenant's debits waiting here (a borrow ask's `least`). */
  private least(tenant: string): number {
    let least = Number.MAX_SAFE_INTEGER;
    for (const waiter of this.waiters.get(tenant) ?? []) least = Math.min(least, waiter.amount);
    return least;
  }
}
