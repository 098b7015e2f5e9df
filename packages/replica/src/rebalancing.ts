/**
 * Adaptive rebalancing of spending rights between regions (DESIGN.md §3): a region tracks its own
 * spend rate per tenant, asks the richest reachable peer for rights when it runs below its
 * low-water mark, gives away half of its surplus when asked, and splits a new grant across the
 * reachable regions by the tenant's weights. Pure bookkeeping on what the replica hands it through
 * `RebalancingHost`: no clock of its own, no I/O.
 */
import {
  availableAt,
  grantDefinitions,
  type LedgerState,
  type OriginId,
  tenantOverdraftInUse,
} from '@allot/core';
import type { BorrowFrame, ReplicationFrame } from './frames.js';
import {
  BORROW_ASKS_KEPT_MAX,
  LOW_WATER_ROUND_TRIPS,
  PENDING_SHARES_MAX,
  RIGHTS_REQUEST_INTERVAL_MS,
  SPEND_RATE_WINDOW_MS,
} from './limits.js';

/** What rebalancing needs to know of one peer region. */
export interface ReachablePeer {
  readonly origin: OriginId | null;
  readonly connected: boolean;
}

/** What the replica gives rebalancing: its state, its peers, and a way to move rights. */
export interface RebalancingHost {
  /** This replica's current incarnation. */
  readonly origin: OriginId;
  /** This replica's region. */
  readonly region: string;
  /** How long a debit may wait for rights, ms: an ask not served in full is kept this long. */
  readonly borrowWaitMs: number;
  /** Rebalancing is configured adaptive. */
  adaptive(): boolean;
  /** A transport is attached (peers may be reached at all). */
  attached(): boolean;
  /** This replica's own log is confirmed whole (it may give rights away). */
  logConfirmed(): boolean;
  /** The current in-memory fold. */
  state(): LedgerState;
  /** The tenant's per-region weights for splitting a grant. */
  weights(tenant: string): Readonly<Record<string, number>>;
  /** The current round-trip estimate in ms. */
  rttMs(): number;
  /** The round trip to a peer region as last measured, ms (the slowest peer's before one is). */
  rttMsTo(region: string): number;
  /** The replica's clock. */
  now(): number;
  /** Every peer region known, by region. */
  peers(): ReadonlyMap<string, ReachablePeer>;
  /** The peer state of one region (created if unknown). */
  peer(region: string): ReachablePeer;
  /** Sends a frame to a peer region; false if it could not be sent. */
  send(region: string, frame: ReplicationFrame): boolean;
  /**
   * Σ amounts of this region's debits of the tenant waiting for rights (borrowing); with `within`,
   * only those that many credits can pay (oldest first).
   */
  waitingFor(tenant: string, within?: number): number;
  /** What this region could pay for the tenant with its own and its connected peers' rights, as known here. */
  reachableCredits(tenant: string): number;
  /** This region's claim on the tenant's rights (`Borrowing.claim`): null when no waiting debit here could be paid. */
  claim(tenant: string): number | null;
  /** Moves rights of the tenant to `to` if the ledger accepts it (appended, observed). */
  moveRights(tenant: string, to: OriginId, amount: number): void;
}

/**
 * Whether `region`'s waiting debits come before `other`'s when both claim a tenant's rights from the
 * same moment (`claimPrecedes`): a fixed order every region agrees on (by region id).
 */
export function borrowPrecedes(region: string, other: string): boolean {
  return region < other;
}

/**
 * Whether a claim on a tenant's rights (`Borrowing.claim`: when the oldest payable waiting debit of
 * `region` began waiting, null for none) comes before `other`'s claim of `otherRegion`: the older
 * claim first, a tie by region (`borrowPrecedes`), no claim last. Both ends of an ask compare the
 * same two figures, so rights flow one way between them: toward the oldest debit the cluster can pay.
 */
export function claimPrecedes(
  since: number | null,
  region: string,
  other: number | null,
  otherRegion: string,
): boolean {
  if (since === null) return false;
  if (other === null) return true;
  return since < other || (since === other && borrowPrecedes(region, otherRegion));
}

/** A borrow ask kept for the part not served yet. */
interface KeptAsk extends KeptFor {
  readonly amount: number;
  /** The asker's incarnation, as this node knew it when the ask came. */
  readonly origin: OriginId;
  /** The asker's own log head when it asked: its moves up to this seq came before the ask. */
  readonly head: number;
  /** The asker's claim when it asked (`Borrowing.claim`). */
  readonly since: number | null;
  /** The smallest of the asker's waiting debits when it asked. */
  readonly least: number;
}

/**
 * How long a kept ask lasts (this node's clock): `until`, past which none of the asker's debits it
 * asked for still waits (the ask's `waitsMs` from when it came, at most borrowWaitMs); `likely`,
 * past which rights sent would likely reach them too late (a round trip to the asker less).
 */
interface KeptFor {
  readonly until: number;
  readonly likely: number;
}

/** What a borrow ask says beyond its tenant (`BorrowFrame`). */
export type BorrowAsk = Pick<BorrowFrame, 'amount' | 'head' | 'since' | 'least' | 'waitsMs'>;

/** What a kept ask is served by once its time is set (`KeptAsk`). */
type AskTerms = Pick<BorrowAsk, 'amount' | 'head' | 'since' | 'least'>;

/** One replica's rebalancing: spend rates and outstanding rights requests per tenant. */
export class Rebalancing {
  private readonly spendRates = new Map<string, { perMs: number; at: number }>();
  private readonly rightsRequested = new Map<string, number>();
  /** Per tenant, shares of grants split here owed to regions that were unreachable then. */
  private readonly pendingShares = new Map<string, Map<string, number>>();
  /**
   * Per tenant and asking region, the part of its last borrow ask `lend` could not give, until when,
   * and the asker's incarnation and log head when it asked (`askerLent`).
   */
  private readonly keptAsks = new Map<string, Map<string, KeptAsk>>();

  /** Rebalancing for the replica behind `host`. */
  constructor(private readonly host: RebalancingHost) {}

  /** Records spend at this region for the tenant (an exponentially decaying rate, credits per ms). */
  recordSpend(tenant: string, amount: number, now: number): void {
    const known = this.spendRates.get(tenant);
    // A clock that steps back must not inflate the rate: time running backwards decays nothing.
    const decay = known === undefined ? 0 : Math.exp(-Math.max(0, now - known.at) / SPEND_RATE_WINDOW_MS);
    const perMs = (known?.perMs ?? 0) * decay + amount / SPEND_RATE_WINDOW_MS;
    // Updated in place: this runs per debit, and the rate is this module's alone.
    if (known === undefined) this.spendRates.set(tenant, { perMs, at: now });
    else {
      known.perMs = perMs;
      known.at = now;
    }
  }

  /** The rights this region wants to hold for the tenant: its spend over a few round trips. */
  private lowWater(tenant: string, now: number): number {
    const rate = this.spendRates.get(tenant);
    if (rate === undefined) return 0;
    const perMs = rate.perMs * Math.exp(-Math.max(0, now - rate.at) / SPEND_RATE_WINDOW_MS);
    return Math.ceil(perMs * this.host.rttMs() * LOW_WATER_ROUND_TRIPS);
  }

  /** Σ live rights of `origin` for the tenant, as this replica sees them. */
  private rightsAt(tenant: string, origin: OriginId | null, now: number): number {
    return origin === null ? 0 : availableAt(this.host.state(), tenant, origin, now, 0);
  }

  /** After a debit: below the low-water mark (or declined), ask the richest reachable peer. */
  maybeRequestRights(tenant: string, shortfall: number): void {
    const host = this.host;
    if (!host.adaptive() || !host.attached()) return;
    const now = host.now();
    const low = this.lowWater(tenant, now);
    const mine = this.rightsAt(tenant, host.origin, now);
    if (shortfall <= 0 && mine >= low) return;
    if (now < (this.rightsRequested.get(tenant) ?? -Infinity) + RIGHTS_REQUEST_INTERVAL_MS) return;
    let richest: { region: string; rights: number } | null = null;
    for (const [region, peer] of host.peers()) {
      if (!peer.connected) continue;
      const rights = this.rightsAt(tenant, peer.origin, now);
      if (rights > 0 && (richest === null || rights > richest.rights)) richest = { region, rights };
    }
    if (richest === null) return;
    const amount = Math.max(1, shortfall, 2 * low - mine);
    if (host.send(richest.region, { type: 'rights-request', tenant, amount }))
      this.rightsRequested.set(tenant, now);
  }

  /** A peer asks for rights: give at most half of the surplus above our own low-water mark. */
  donate(region: string, tenant: string, amount: number): void {
    const host = this.host;
    if (!host.adaptive() || !host.logConfirmed()) return;
    const peer = host.peer(region);
    if (peer.origin === null || !peer.connected) return; // never to a region we cannot reach
    const now = host.now();
    if (tenantOverdraftInUse(host.state(), tenant, host.origin) > 0) return;
    // Debits waiting here for rights are demand too: what they need is not surplus.
    const surplus =
      this.rightsAt(tenant, host.origin, now) - this.lowWater(tenant, now) - host.waitingFor(tenant);
    const give = Math.min(amount, Math.floor(surplus / 2));
    if (give < 1) return;
    host.moveRights(tenant, peer.origin, give);
  }

  /**
   * A peer's debit waits for rights (borrowing): give what is asked, up to all live rights held
   * here. Unlike `donate` this does not keep a reserve: the debit is the demand, and rights this
   * region needs later come back the same way. Never to a region we cannot reach, never while this
   * region repays overdraft (what it receives goes to that first), never before its log is whole.
   *
   * When debits of the tenant wait here too, two regions short of the same last credits would hand
   * them back and forth and both run out of time (issue 12): rights flow one way only, toward the
   * oldest waiting debit the cluster can pay. Each region's claim is when its oldest payable waiting
   * debit began waiting (`Borrowing.claim`; none when the credits it can reach pay none of them),
   * and an ask carries the asker's (`since`). A region whose claim comes first (`claimPrecedes`)
   * keeps what its own payable waiting debits need and lends only the rest; one whose claim comes
   * after the asker's, or that has none, gives what is asked — unless the asker has none either:
   * then a lender keeps what its own waiting debits need, since lending between regions none of
   * which can pay a debit with what it sees only moves the last credits round until one can (swarm
   * seeds 5587, 6335). A fixed region order alone let the last credits go round it, each region
   * lending to the one before it whether or not that one's debits could be paid (swarm seed 10150,
   * property draw 1220799643). What it cannot give now is kept while the asker's debits wait (its
   * `waitsMs`, at most this node's borrowWaitMs) and given when rights arrive (`rightsArrived`).
   * `head` is the asker's own log head when it asked (`askerLent`).
   */
  lend(region: string, tenant: string, ask: BorrowAsk): void {
    const host = this.host;
    const { waitsMs, ...terms } = ask;
    // The asker's debits stop waiting at most waitsMs after now (the ask was sent before it came);
    // rights sent take a one-way trip, and the ask took one: likely too late a round trip before.
    const until = host.now() + Math.min(host.borrowWaitMs, waitsMs);
    this.lendUntil(region, tenant, terms, { until, likely: until - host.rttMsTo(region) });
  }

  /**
   * Rights of the tenant may have arrived here (a peer's move folded, or credits back by an own
   * refund or released hold, after this region's own waiting debits took theirs): the borrow asks
   * kept because they could not be served in full are served now, while their debits may still
   * wait. The asker counted on rights this region did not hold yet, or on none at all: without
   * this it heard nothing until its next ask, often after its wait (swarm seeds 613, 1192).
   * Asks whose debits rights would likely reach too late are served after the others, with what
   * they leave: served alike, they took the last credits from debits still waiting (swarm seed
   * 13058: us gave a released 70 to ap's 33 and eu's 17, both timed out by the time the rights came,
   * and eu's 27 timed out with 74 credits in the cluster). Not dropped: a round trip is a guess, and
   * one measured long dropped an ask whose debit the rights would have reached (swarm seed 13297).
   */
  rightsArrived(tenant: string): void {
    const asks = this.keptAsks.get(tenant);
    if (asks === undefined) return;
    this.keptAsks.delete(tenant);
    const now = this.host.now();
    const live = [...asks].filter(([, ask]) => now <= ask.until);
    // Those that rights sent now would likely reach in time first; the others get what they leave.
    this.serveKept(
      tenant,
      live.filter(([, ask]) => now <= ask.likely),
    );
    this.serveKept(
      tenant,
      live.filter(([, ask]) => now > ask.likely),
    );
  }

  /** Serves kept asks of the tenant from what this region holds: claims first, then the rest. */
  private serveKept(tenant: string, asks: readonly (readonly [string, KeptAsk])[]): void {
    // The oldest claim is served first, as when the asks came: what arrives may not serve them all,
    // and an ask that came first must not take what an older claim waits for (swarm seed 5876).
    const live = asks
      .map(([region, ask]) => ({ region, ask, claim: this.liveClaim(ask.since) }))
      .sort((a, b) =>
        claimPrecedes(a.claim, a.region, b.claim, b.region)
          ? -1
          : claimPrecedes(b.claim, b.region, a.claim, a.region)
            ? 1
            : 0,
      );
    for (const { region, ask, claim } of live) if (claim !== null) this.lendUntil(region, tenant, ask, ask);
    // Asks without a claim share what is left: first each asker's smallest waiting debit, then the
    // rest. Given whole to the first, the last credits paid none of the others' debits while a
    // smaller one timed out elsewhere (swarm hold seed 3629: us gave the 59 a capture returned to
    // ap's ask of 151, and eu's 9 timed out).
    const claimless = live.filter(({ claim }) => claim === null);
    const given = new Map<string, number>();
    if (claimless.length > 1)
      for (const { region, ask } of claimless)
        if (ask.least < ask.amount)
          given.set(region, this.lendUntil(region, tenant, { ...ask, amount: ask.least }, ask));
    for (const { region, ask } of claimless) {
      const rest = ask.amount - (given.get(region) ?? 0);
      if (rest > 0) this.lendUntil(region, tenant, { ...ask, amount: rest }, ask);
    }
  }

  /**
   * `region` moved rights of the tenant away (the move of `origin` at `seq`, folded here): its debits
   * did not wait for them then (`lend` gives only what they do not need), so a kept ask it sent
   * before the move is stale. Served, it would send back rights the region gave away, and two
   * regions without debits would hand the last credits back and forth while a third waited for
   * them (swarm seed 143). An ask sent after the move (at or past its seq: the move was in the
   * asker's log when it asked) is the newer word and stays kept: a frame may overtake the run of
   * events before it, and a debit that began waiting after the move was declined for want of the
   * rights this node would have served (swarm seed 4002). A move of another incarnation of the
   * region than the one that asked cannot be placed against the ask's head: dropped as before.
   */
  askerLent(region: string, tenant: string, origin: OriginId, seq: number): void {
    const asks = this.keptAsks.get(tenant);
    const ask = asks?.get(region);
    if (asks === undefined || ask === undefined) return;
    if (ask.origin === origin && seq <= ask.head) return;
    asks.delete(region);
    if (asks.size === 0) this.keptAsks.delete(tenant);
  }

  /** `lend`; what it does not give now is kept for `keep` (`rightsArrived`). Returns what it gave. */
  private lendUntil(region: string, tenant: string, ask: AskTerms, keep: KeptFor): number {
    const { until, likely } = keep;
    const host = this.host;
    const { amount, head, since, least } = ask;
    this.keptAsks.get(tenant)?.delete(region); // the newest ask of a region replaces its last
    if (!host.logConfirmed()) return 0;
    const peer = host.peer(region);
    if (peer.origin === null || !peer.connected) return 0;
    if (tenantOverdraftInUse(host.state(), tenant, host.origin) > 0) {
      // What arrives repays the overdraft first; what is left then may serve the ask.
      this.keepAsk(tenant, region, { amount, until, likely, origin: peer.origin, head, since, least });
      return 0;
    }
    const now = host.now();
    const rights = this.rightsAt(tenant, host.origin, now);
    // Only for the waiting debits the reachable cluster can pay: a hopeless one must not starve
    // others. Counted debit by debit, not all or nothing: the last 12 credits cannot pay debits of
    // 11, 10 and 9 together but can pay the 11, and a region that kept nothing for it gave its
    // rights away to a region after it, which gave them back (swarm seeds 639, 1440).
    // An asker whose claim ends before rights could reach it ranks after any claim here, but it
    // could pay debits with what it saw, as this region cannot: it is not claimless (swarm seed
    // 3883: us kept its 18 for a 26 it could not pay from eu, whose claim on a debit of 18 had run
    // out on the way, and eu's payable 14 timed out).
    const mine = host.claim(tenant);
    const theirs = this.liveClaim(since);
    let kept = 0;
    if (claimPrecedes(mine, host.region, theirs, region))
      kept = host.waitingFor(tenant, host.reachableCredits(tenant));
    else if (mine === null && since === null && !this.lendingPays(tenant, peer.origin, least, rights))
      kept = host.waitingFor(tenant);
    const give = Math.min(amount, rights - kept);
    if (give < amount)
      this.keepAsk(tenant, region, {
        amount: amount - Math.max(0, give),
        until,
        likely,
        origin: peer.origin,
        head,
        since,
        least,
      });
    if (give < 1) return 0;
    host.moveRights(tenant, peer.origin, give);
    return give;
  }

  /**
   * Neither this region nor the asker has a claim: lending is worth it only when it makes a debit
   * payable, so the last credits do not go round regions none of which can pay (swarm seeds 5587,
   * 6335). It does when none of this region's waiting debits fits in the `rights` it holds and the
   * asker's smallest, `least`, fits in those with what the asker holds as known here: the asker
   * saw too little to claim, but rights that reached this region since (a refund here) would pay
   * it (swarm seed 7286: us kept a refund of 10 for its own 20 while eu's 9 timed out).
   */
  private lendingPays(tenant: string, asker: OriginId, least: number, rights: number): boolean {
    const host = this.host;
    if (host.waitingFor(tenant, rights) > 0) return false;
    return least <= rights + this.rightsAt(tenant, asker, host.now());
  }

  /**
   * An asker's claim as a lender with waiting debits of its own weighs it: none once rights sent now
   * could not reach the asker before the debit that made the claim stops waiting (it began waiting
   * at `since`, and waits borrowWaitMs — this node's, the cluster's setting — while rights take half
   * a round trip). Oldest first favours the debit nearest its end; rights lent to one that ends
   * before they arrive are lost to the lender's own debits and come back too late (swarm seed
   * 18808: ap gave its last 3 to us 18 ms before us's debit of 6 stopped waiting, then timed out
   * its own 5). A claim is the asker's word on its clock: this only orders lending, as the claim
   * does.
   */
  private liveClaim(since: number | null): number | null {
    const host = this.host;
    if (since === null) return null;
    return since + host.borrowWaitMs < host.now() + host.rttMs() / 2 ? null : since;
  }

  /** Keeps the part of a borrow ask not served, bounded by BORROW_ASKS_KEPT_MAX tenants. */
  private keepAsk(tenant: string, region: string, ask: KeptAsk): void {
    if (ask.until < this.host.now()) return; // none of the debits it asked for waits any longer
    let asks = this.keptAsks.get(tenant);
    if (asks === undefined) {
      if (this.keptAsks.size >= BORROW_ASKS_KEPT_MAX) {
        const oldest = this.keptAsks.keys().next().value;
        if (oldest !== undefined) this.keptAsks.delete(oldest);
      }
      asks = new Map();
      this.keptAsks.set(tenant, asks);
    }
    asks.set(region, ask);
  }

  /**
   * Splits a new grant's rights across every region by the tenant's weights (default equal). The
   * shares of reachable regions move now; those of regions cut off are kept here and owed to them,
   * handed on once they are up and this node holds all they hold (`peerCaughtUp`): rights are never
   * pushed to an unreachable region.
   */
  splitGrant(tenant: string, amount: number): void {
    const host = this.host;
    if (!host.adaptive() || !host.attached()) return;
    const weights = host.weights(tenant);
    const peers = [...host.peers()].filter(([region]) => region !== host.region);
    if (peers.length === 0) return;
    // Debits of the tenant waiting here are paid from the grant first: the demand is here now, and
    // rights split away would have to be borrowed back (swarm seed 9869: a grant of 306 at us split
    // 102 to each peer while us waited for 117; its debit of 28 timed out). The rest is split.
    const split = amount - Math.min(amount, host.waitingFor(tenant, host.reachableCredits(tenant)));
    const weightOf = (region: string) => weights[region] ?? 1;
    const total = peers.reduce((sum, [region]) => sum + weightOf(region), weightOf(host.region));
    for (const [region, peer] of peers) {
      const share = Math.floor((split * weightOf(region)) / total);
      if (share < 1) continue;
      if (peer.connected && peer.origin !== null) host.moveRights(tenant, peer.origin, share);
      else this.owe(tenant, region, share);
    }
  }

  /**
   * A peer region is up and this node has folded everything its summary says it holds: hand it the
   * shares of grants split while it was cut off. Not at connect: a grant this region accepted while
   * cut off may be a duplicate of one the peer's log holds (issue 17), and its credits are revoked
   * here, from this region's rights — handing them on first would leave the revoke short (and the
   * tenant credited twice until rights came back). A tenant with a losing definition here gets no
   * hand-on at all: the revoke takes its credits back.
   */
  peerCaughtUp(region: string): void {
    const host = this.host;
    if (!host.adaptive() || !host.logConfirmed()) return;
    const peer = host.peer(region);
    if (peer.origin === null || !peer.connected) return;
    const now = host.now();
    for (const [tenant, shares] of [...this.pendingShares]) {
      const owed = shares.get(region);
      if (owed === undefined) continue;
      shares.delete(region);
      if (shares.size === 0) this.pendingShares.delete(tenant);
      if (tenantOverdraftInUse(host.state(), tenant, host.origin) > 0) continue;
      if (this.lostADefinition(tenant)) continue;
      // What this region spent meanwhile is not given twice: at most what it holds above its own
      // low-water mark.
      const give = Math.min(owed, this.rightsAt(tenant, host.origin, now) - this.lowWater(tenant, now));
      if (give >= 1) host.moveRights(tenant, peer.origin, give);
    }
  }

  /** True when a grant definition of `tenant` accepted here lost to another region's (a duplicate id). */
  private lostADefinition(tenant: string): boolean {
    const origin = this.host.origin;
    return grantDefinitions(this.host.state(), tenant).some((grant) =>
      grant.others.some((other) => other.origin === origin),
    );
  }

  /** Records `share` of a tenant's grant as owed to `region`, bounded by PENDING_SHARES_MAX tenants. */
  private owe(tenant: string, region: string, share: number): void {
    let shares = this.pendingShares.get(tenant);
    if (shares === undefined) {
      if (this.pendingShares.size >= PENDING_SHARES_MAX) {
        const oldest = this.pendingShares.keys().next().value;
        if (oldest !== undefined) this.pendingShares.delete(oldest);
      }
      shares = new Map();
      this.pendingShares.set(tenant, shares);
    }
    shares.set(region, (shares.get(region) ?? 0) + share);
  }
}
