/**
 * An in-memory network of replicas for tests: a Transport per region, links that can be cut and
 * healed, frames delivered asynchronously in order per link (structured-cloned, as a wire would).
 */
import type { OriginId } from '@allot/core';
import {
  frameProblem,
  type PeerLink,
  type ReplicationFrame,
  type Transport,
  type TransportHandlers,
} from '@allot/replica';

interface Endpoint {
  readonly region: string;
  readonly origin: OriginId;
  readonly peers: readonly string[];
  handlers: TransportHandlers | null;
  readonly connected: Set<string>;
}

/** Regions joined by links the test controls. */
export class MemoryNetwork {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly cut = new Set<string>();
  /** Frames dropped by the receiver's `drop`, for assertions. */
  readonly drops: { from: string; to: string; reason: string }[] = [];
  sent = 0;
  /**
   * A hostile wire, when set: what arrives instead of each frame (already checked and copied), as
   * the simulator's `hostile` fault rewrites it; the link stays up.
   */
  rewrite: ((from: string, to: string, frame: ReplicationFrame) => ReplicationFrame) | null = null;

  private key(a: string, b: string): string {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  /** The transport of `region` (incarnation `origin`), whose peers are `peers`. */
  transport(region: string, origin: OriginId, peers: readonly string[]): Transport {
    // A region's new process: the links of its previous one closed with it (its peers hear so).
    const previous = this.endpoints.get(region);
    if (previous !== undefined) for (const peer of [...previous.connected]) this.disconnect(region, peer);
    const endpoint: Endpoint = { region, origin, peers, handlers: null, connected: new Set() };
    this.endpoints.set(region, endpoint);
    return {
      attach: (handlers) => {
        endpoint.handlers = handlers;
      },
      send: (to, frame) => this.deliver(region, to, frame),
      drop: (to, reason) => {
        this.drops.push({ from: region, to, reason });
        this.disconnect(region, to);
      },
      peers: (): PeerLink[] =>
        peers.map((peer) => ({
          region: peer,
          url: `memory://${peer}`,
          connected: endpoint.connected.has(peer),
          lastHeardMs: endpoint.connected.has(peer) ? 0 : null,
          rttMs: endpoint.connected.has(peer) ? 1 : null,
        })),
    };
  }

  /** Connects every pair of regions whose link is not cut. */
  connectAll(): void {
    for (const a of this.endpoints.values()) {
      for (const b of this.endpoints.values()) {
        if (a.region < b.region && !this.cut.has(this.key(a.region, b.region)))
          this.connect(a.region, b.region);
      }
    }
  }

  private connect(a: string, b: string): void {
    const x = this.endpoints.get(a);
    const y = this.endpoints.get(b);
    if (x === undefined || y === undefined || x.connected.has(b)) return;
    x.connected.add(b);
    y.connected.add(a);
    x.handlers?.peerUp(b, y.origin);
    y.handlers?.peerUp(a, x.origin);
  }

  private disconnect(a: string, b: string): void {
    const x = this.endpoints.get(a);
    const y = this.endpoints.get(b);
    if (x?.connected.has(b) !== true) return;
    x.connected.delete(b);
    y?.connected.delete(a);
    x.handlers?.peerDown(b);
    y?.handlers?.peerDown(a);
  }

  /** Cuts the link between a and b (both directions). */
  cutLink(a: string, b: string): void {
    this.cut.add(this.key(a, b));
    this.disconnect(a, b);
  }

  /** Heals the link between a and b and reconnects. */
  healLink(a: string, b: string): void {
    this.cut.delete(this.key(a, b));
    this.connectAll();
  }

  /** Isolates every region from every other. */
  isolateAll(): void {
    for (const a of this.endpoints.keys())
      for (const b of this.endpoints.keys()) if (a < b) this.cutLink(a, b);
  }

  /** Heals every link and reconnects. */
  healAll(): void {
    this.cut.clear();
    this.connectAll();
  }

  private deliver(from: string, to: string, frame: ReplicationFrame): boolean {
    const source = this.endpoints.get(from);
    if (source?.connected.has(to) !== true) return false;
    const copy = structuredClone(frame);
    // Every frame a replica sends must pass the check a real transport applies before delivery.
    const problem = frameProblem(copy);
    if (problem !== null) throw new Error(`${from} sent a malformed ${frame.type} frame: ${problem}`);
    this.sent += 1;
    const arriving = this.rewrite === null ? copy : this.rewrite(from, to, copy);
    setImmediate(() => {
      const target = this.endpoints.get(to);
      if (target?.connected.has(from) !== true) return; // the link went down in flight
      target.handlers?.frame(from, arriving);
    });
    return true;
  }
}
