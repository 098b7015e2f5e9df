/**
 * The simulated network: one Transport per region process, over the scheduler. A link joins two
 * regions like the WebSocket transport's single connection per pair: it is dialled (a handshake
 * of one round trip) and carries frames with a delay drawn per frame. Like TCP, a live connection
 * never loses a frame in the middle of its stream: a lost frame resets the connection (both sides
 * see it close), and a partition holds what is sent into it (retransmitted, delivered late once it
 * heals) until the peer timeout closes the connection after LINK_POLICY.peerTimeoutMs of silence; a
 * paused peer is silent too. Connections also close when a process dies or a replica drops one; closed
 * links are redialled with the transport's backoff. Whatever was in flight on a closed connection
 * is lost, and both replicas hear `peerDown` (each when it would notice).
 * Every frame is deep-copied (nothing is shared between replicas; `cloneFrame`, structuredClone's
 * result for frames at a tenth of its cost) and shape-checked with the replica's own
 * `frameProblem`, as the real transport does on receipt.
 */
import {
  frameProblem,
  LINK_POLICY,
  type PeerLink,
  type ReplicationFrame,
  type Transport,
  type TransportHandlers,
} from '@allot/replica';
import type { NetworkSpec } from './api.js';
import { cloneFrame, frameBytes, reasonKind } from './frames.js';
import type { HostileDirection, Tampered } from './hostile.js';
import {
  type Direction,
  type Endpoint,
  type Flight,
  type Link,
  type NetworkCounters,
  newLink,
  type Side,
} from './links.js';
import type { Scheduler } from './scheduler.js';
import { SimulationFailure } from './scheduler.js';

/** The network between the regions of one run. */
export class SimNetwork {
  readonly counters: NetworkCounters = {
    messages: 0,
    bytes: 0,
    lost: 0,
    duplicated: 0,
    reordered: 0,
    resets: 0,
    timeouts: 0,
    connects: 0,
    drops: {},
  };
  private readonly links = new Map<string, Link>();
  private readonly endpoints = new Map<string, { endpoint: Endpoint; handlers: TransportHandlers }>();
  private blocked = new Set<string>();
  private blockedChanges = 0;
  /** Hostile directions `from>to` now (issue 15), and every one there ever was (for the tally). */
  private readonly hostile = new Map<string, HostileDirection>();
  readonly hostileEver: HostileDirection[] = [];
  private hostileSwitches = 0;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly regions: readonly string[],
    private readonly spec: NetworkSpec,
    seed: number,
  ) {
    for (const a of regions)
      for (const b of regions) if (a < b) this.links.set(`${a}|${b}`, newLink(a, b, seed));
  }

  /** True when a partition cuts frames from `from` to `to` now (they wait in flight for the heal). */
  isBlocked(from: string, to: string): boolean {
    return this.blocked.has(`${from}>${to}`);
  }

  /** Times the set of blocked directions changed (a partition began or ended, a flapping link flapped). */
  get partitionChanges(): number {
    return this.blockedChanges;
  }

  /** Sets the directed pairs `from>to` that partitions block from now on; healed ones deliver what they held. */
  setBlocked(pairs: ReadonlySet<string>): void {
    if (pairs.size !== this.blocked.size || [...pairs].some((pair) => !this.blocked.has(pair)))
      this.blockedChanges += 1;
    this.blocked = new Set(pairs);
    this.updateSilence();
    for (const link of this.links.values()) {
      for (const direction of link.directions.values()) {
        if (direction.held === 0 || this.isBlocked(direction.from, direction.to)) continue;
        const held = direction.held;
        direction.held = 0;
        for (let i = 0; i < held; i++) this.scheduleDelivery(link, direction);
      }
    }
  }

  /** Whether what some region sends on some link is tampered with now (a `hostile` fault). */
  anyHostile(): boolean {
    return this.hostile.size > 0;
  }

  /** Times a direction turned hostile or honest again. */
  get hostileChanges(): number {
    return this.hostileSwitches;
  }

  /** Makes what `from` sends to `to` hostile (issue 15), or honest again with null. */
  setHostile(from: string, to: string, hostile: HostileDirection | null): void {
    this.linkOf(from, to); // throws for a pair that has no link
    this.hostileSwitches += 1;
    if (hostile === null) this.hostile.delete(`${from}>${to}`);
    else {
      this.hostile.set(`${from}>${to}`, hostile);
      this.hostileEver.push(hostile);
    }
  }

  /** Whether every link is up (the cluster has booted). */
  allUp(): boolean {
    for (const link of this.links.values()) {
      if (!link.up) return false;
      for (const side of link.sides.values()) if (!side.connected || side.epoch !== link.epoch) return false;
    }
    return true;
  }

  /** The Transport of a region process; its links are dialled once the replica attaches. */
  transport(endpoint: Endpoint): Transport {
    const region = endpoint.region;
    return {
      attach: (handlers) => {
        this.endpoints.set(region, { endpoint, handlers });
        for (const link of this.linksOf(region)) {
          // A process that starts dials its peers at once.
          if (link.retry !== null) this.scheduler.cancel(link.retry);
          link.retry = null;
          link.attempt = 0;
          this.dial(link);
        }
      },
      send: (to, frame) => this.current(endpoint) && this.send(region, to, frame),
      drop: (to, reason) => {
        if (!this.current(endpoint)) return;
        const kind = reasonKind(reason);
        this.counters.drops[kind] = (this.counters.drops[kind] ?? 0) + 1;
        const link = this.linkOf(region, to);
        if (link.up) this.close(link, region, this.scheduler.now);
      },
      peers: () => this.peersOf(region),
    };
  }

  /** The process of `region` died: its links close, and its peers hear of it after a delay. */
  detach(region: string): void {
    const attached = this.endpoints.get(region);
    this.endpoints.delete(region);
    if (attached === undefined) return;
    for (const link of this.linksOf(region)) {
      if (!link.up) continue;
      const peer = link.a === region ? link.b : link.a;
      const noticeAt = this.isBlocked(region, peer)
        ? this.scheduler.now + LINK_POLICY.peerTimeoutMs
        : this.scheduler.now + this.delay(link, region);
      this.closeAt(link, new Map([[peer, noticeAt]]));
    }
  }

  /** A region's pause began or ended: silence starts or stops; a resumed process redials. */
  pauseChanged(region: string): void {
    this.updateSilence();
    const attached = this.endpoints.get(region);
    if (attached === undefined || attached.endpoint.paused()) return;
    for (const link of this.linksOf(region)) {
      if (link.up || link.dialing) continue;
      if (link.retry !== null) this.scheduler.cancel(link.retry);
      link.retry = null;
      this.dial(link);
    }
  }

  private current(endpoint: Endpoint): boolean {
    return this.endpoints.get(endpoint.region)?.endpoint === endpoint && endpoint.alive();
  }

  private linkOf(a: string, b: string): Link {
    const link = this.links.get(a < b ? `${a}|${b}` : `${b}|${a}`);
    if (link === undefined) throw new Error(`no link between ${a} and ${b}`);
    return link;
  }

  private *linksOf(region: string): Iterable<Link> {
    for (const link of this.links.values()) if (link.a === region || link.b === region) yield link;
  }

  private direction(link: Link, from: string): Direction {
    return link.directions.get(from) as Direction;
  }

  private side(link: Link, region: string): Side {
    return link.sides.get(region) as Side;
  }

  /** One-way delay of the next frame from `from` on `link`. */
  private delay(link: Link, from: string): number {
    const { min, max } = this.spec.delayMs;
    return this.direction(link, from).rng.int(Math.ceil(min), Math.floor(max));
  }

  private canConnect(link: Link): boolean {
    for (const region of [link.a, link.b]) {
      const attached = this.endpoints.get(region);
      if (attached === undefined || !attached.endpoint.alive() || attached.endpoint.paused()) return false;
    }
    return !this.isBlocked(link.a, link.b) && !this.isBlocked(link.b, link.a);
  }

  private dial(link: Link): void {
    if (link.up || link.dialing || link.retry !== null) return;
    if (!this.canConnect(link)) {
      this.redial(link);
      return;
    }
    link.dialing = true;
    const rtt = this.delay(link, link.a) + this.delay(link, link.b);
    this.scheduler.after(rtt, () => {
      link.dialing = false;
      if (link.up) return;
      if (this.canConnect(link)) this.establish(link, rtt);
      else this.redial(link);
    });
  }

  /** Schedules the next dial: full jitter up to a cap that doubles per failure (the transport's backoff). */
  private redial(link: Link): void {
    if (link.retry !== null) return;
    const cap = Math.min(
      LINK_POLICY.backoffMsMax,
      LINK_POLICY.backoffMsMin * 2 ** Math.min(link.attempt + 1, 30),
    );
    const delayMs = Math.round(LINK_POLICY.backoffMsMin + link.rng.next() * (cap - LINK_POLICY.backoffMsMin));
    link.attempt += 1;
    link.retry = this.scheduler.after(delayMs, () => {
      link.retry = null;
      this.dial(link);
    });
  }

  private establish(link: Link, rttMs: number): void {
    link.epoch += 1;
    link.up = true;
    link.attempt = 0;
    link.rttMs = rttMs;
    this.counters.connects += 1;
    const epoch = link.epoch;
    for (const direction of link.directions.values()) {
      direction.silentSince = null;
      direction.lastDeliverAt = this.scheduler.now;
    }
    for (const region of [link.a, link.b]) {
      const peer = region === link.a ? link.b : link.a;
      const attached = this.endpoints.get(region);
      const peerOrigin = this.endpoints.get(peer)?.endpoint.origin;
      if (attached === undefined || peerOrigin === undefined) continue;
      attached.endpoint.run(() => {
        if (!link.up || link.epoch !== epoch) return;
        const side = this.side(link, region);
        side.connected = true;
        side.epoch = epoch;
        side.lastHeardAt = this.scheduler.now;
        attached.handlers.peerUp(peer, peerOrigin);
      });
    }
    this.updateSilence();
  }

  /** Closes `link` from `region`'s side: it knows at `at`, the peer one delay later (or after a timeout if cut). */
  private close(link: Link, region: string, at: number): void {
    const peer = region === link.a ? link.b : link.a;
    const peerAt = this.isBlocked(region, peer)
      ? at + LINK_POLICY.peerTimeoutMs
      : at + this.delay(link, region);
    this.closeAt(
      link,
      new Map([
        [region, at],
        [peer, peerAt],
      ]),
    );
  }

  /** Closes `link`; each side in `noticeAt` learns it (peerDown) at its time, if its process lives. */
  private closeAt(link: Link, noticeAt: ReadonlyMap<string, number>): void {
    if (!link.up) return;
    link.up = false;
    const epoch = link.epoch;
    for (const direction of link.directions.values()) direction.silentSince = null;
    for (const [region, at] of noticeAt) {
      const attached = this.endpoints.get(region);
      if (attached === undefined) continue;
      const peer = region === link.a ? link.b : link.a;
      this.scheduler.at(at, () => {
        if (this.endpoints.get(region) !== attached) return; // that process is gone
        attached.endpoint.run(() => {
          const side = this.side(link, region);
          if (!side.connected || side.epoch !== epoch) return;
          side.connected = false;
          attached.handlers.peerDown(peer);
        });
      });
    }
    this.redial(link);
  }

  /** Starts or stops the peer timeout of every direction that partitions or pauses silence. */
  private updateSilence(): void {
    const now = this.scheduler.now;
    for (const link of this.links.values()) {
      if (!link.up) continue;
      for (const direction of link.directions.values()) {
        const sender = this.endpoints.get(direction.from)?.endpoint;
        const silent =
          this.isBlocked(direction.from, direction.to) || sender === undefined || sender.paused();
        if (!silent) {
          direction.silentSince = null;
          continue;
        }
        if (direction.silentSince !== null) continue;
        direction.silentSince = now;
        const epoch = link.epoch;
        this.scheduler.at(now + LINK_POLICY.peerTimeoutMs, () => {
          if (!link.up || link.epoch !== epoch || direction.silentSince !== now) return;
          // The receiver hears nothing for the timeout and closes the link.
          this.counters.timeouts += 1;
          this.close(link, direction.to, this.scheduler.now);
        });
      }
    }
  }

  private send(from: string, to: string, frame: ReplicationFrame): boolean {
    const link = this.linkOf(from, to);
    const side = this.side(link, from);
    if (!side.connected) return false;
    const direction = this.direction(link, from);
    if (direction.bytesInFlight > LINK_POLICY.sendBufferBytesMax) return false;
    const copy = cloneFrame(frame);
    const problem = frameProblem(copy);
    if (problem !== null) {
      // The replica catches transport errors as unsendable frames; a malformed frame is a bug.
      this.scheduler.fail(
        new SimulationFailure(
          `${from} sent a malformed ${frame.type} frame to ${to}: ${problem}`,
          this.scheduler.now,
        ),
      );
      return false;
    }
    const bytes = frameBytes(copy);
    this.counters.messages += 1;
    this.counters.bytes += bytes;
    if (!link.up || side.epoch !== link.epoch) {
      this.counters.lost += 1;
      return true; // into a connection that is gone: the sender cannot tell yet
    }
    if (direction.rng.chance(this.spec.loss)) {
      this.counters.lost += 1;
      this.counters.resets += 1;
      this.close(link, from, this.scheduler.now);
      return true;
    }
    const hostile = this.hostile.get(`${from}>${to}`);
    if (hostile !== undefined) {
      this.arriveTampered(link, direction, hostile.tamper(copy, link.epoch), bytes);
      return true;
    }
    this.enqueue(link, direction, copy, bytes);
    if (direction.rng.chance(this.spec.duplicate)) {
      this.counters.duplicated += 1;
      this.enqueue(link, direction, cloneFrame(frame), bytes);
    }
    return true;
  }

  /**
   * What a hostile wire made of a frame: frames to deliver (the first overtaking some in flight), or
   * bytes the receiving transport refuses when they arrive, closing the link as the real one does.
   */
  private arriveTampered(link: Link, direction: Direction, tampered: Tampered, bytes: number): void {
    if (tampered.kind === 'refuse') {
      const epoch = link.epoch;
      this.scheduler.after(this.delay(link, direction.from), () => {
        if (!link.up || link.epoch !== epoch) return;
        const kind = `hostile bytes refused by the transport: ${reasonKind(tampered.reason).slice(0, 60)}`;
        this.counters.drops[kind] = (this.counters.drops[kind] ?? 0) + 1;
        this.close(link, direction.to, this.scheduler.now);
      });
      return;
    }
    tampered.frames.forEach((frame, i) => {
      this.enqueue(link, direction, frame, bytes);
      if (i === 0 && tampered.overtakes > 0 && direction.queue.length > 1) {
        // Beyond TCP: the frame jumps ahead of up to `overtakes` frames still in flight.
        const flight = direction.queue.pop() as Flight;
        direction.queue.splice(Math.max(0, direction.queue.length - tampered.overtakes), 0, flight);
      }
    });
  }

  private enqueue(link: Link, direction: Direction, frame: ReplicationFrame, bytes: number): void {
    const flight: Flight = { frame, epoch: link.epoch, bytes };
    // Overtaking: the new frame goes before the last one still in flight (delivery times stay
    // in order; which frame each delivery carries changes).
    if (direction.queue.length > 0 && direction.rng.chance(this.spec.reorder)) {
      direction.queue.splice(direction.queue.length - 1, 0, flight);
      this.counters.reordered += 1;
    } else {
      direction.queue.push(flight);
    }
    direction.bytesInFlight += bytes;
    this.scheduleDelivery(link, direction);
  }

  /** One more delivery of the direction's head, one delay from now (after the ones before it). */
  private scheduleDelivery(link: Link, direction: Direction): void {
    const deliverAt = Math.max(
      this.scheduler.now + this.delay(link, direction.from),
      direction.lastDeliverAt,
    );
    direction.lastDeliverAt = deliverAt;
    this.scheduler.at(deliverAt, () => this.deliverHead(link, direction));
  }

  private deliverHead(link: Link, direction: Direction): void {
    if (direction.queue.length === 0) return;
    if (this.isBlocked(direction.from, direction.to)) {
      // Held in the partition (TCP retransmits): the head and all behind it wait for the heal.
      direction.held += 1;
      return;
    }
    const flight = direction.queue.shift() as Flight;
    direction.bytesInFlight -= flight.bytes;
    const attached = this.endpoints.get(direction.to);
    if (attached === undefined || !link.up || flight.epoch !== link.epoch) {
      this.counters.lost += 1;
      return;
    }
    attached.endpoint.run(() => {
      const side = this.side(link, direction.to);
      if (!link.up || flight.epoch !== link.epoch || !side.connected || side.epoch !== flight.epoch) {
        this.counters.lost += 1;
        return;
      }
      side.lastHeardAt = this.scheduler.now;
      attached.handlers.frame(direction.from, flight.frame);
    });
  }

  private peersOf(region: string): PeerLink[] {
    const now = this.scheduler.now;
    const peers: PeerLink[] = [];
    for (const peer of this.regions) {
      if (peer === region) continue;
      const link = this.linkOf(region, peer);
      const side = this.side(link, region);
      const incoming = this.direction(link, peer);
      // A live link is pinged every LINK_POLICY.pingIntervalMs: silence beyond that means a cut or a pause.
      const heard =
        incoming.silentSince === null
          ? Math.min(now - side.lastHeardAt, LINK_POLICY.pingIntervalMs)
          : now - Math.min(side.lastHeardAt, incoming.silentSince);
      peers.push({
        region: peer,
        url: `sim://${peer}`,
        connected: side.connected,
        lastHeardMs: side.connected ? Math.max(0, heard) : null,
        rttMs: side.connected ? link.rttMs : null,
      });
    }
    return peers;
  }
}
