/**
 * The state of the simulated network's links (network.ts): a link per pair of regions, each with a
 * direction per sender (frames in flight, in delivery order) and a side per region (what that
 * region's transport believes about the connection).
 */
import type { OriginId } from '@allot/core';
import type { ReplicationFrame } from '@allot/replica';
import { type RandomStream, streamOf } from './rng.js';
import type { Task } from './scheduler.js';

/** One region process as the network sees it. */
export interface Endpoint {
  readonly region: string;
  readonly origin: OriginId;
  /** Runs `fn` in this process: now, or when its pause ends; never once it has died. */
  run(fn: () => void): void;
  alive(): boolean;
  paused(): boolean;
}

/** What the network did, for the run's metrics. */
export interface NetworkCounters {
  messages: number;
  bytes: number;
  lost: number;
  duplicated: number;
  reordered: number;
  resets: number;
  timeouts: number;
  connects: number;
  readonly drops: Record<string, number>;
}

export interface Flight {
  readonly frame: ReplicationFrame;
  readonly epoch: number;
  readonly bytes: number;
}

/** One direction of a link. */
export interface Direction {
  readonly from: string;
  readonly to: string;
  /** Frames in flight in delivery order; each delivery task delivers the head. */
  readonly queue: Flight[];
  /** Deliveries that came due while the direction was cut: they happen once it heals. */
  held: number;
  lastDeliverAt: number;
  bytesInFlight: number;
  /** Since when nothing (not even a ping) gets through, or null. */
  silentSince: number | null;
  readonly rng: RandomStream;
}

/** What one side of a link believes. */
export interface Side {
  connected: boolean;
  /** The connection it was told about last. */
  epoch: number;
  lastHeardAt: number;
}

export interface Link {
  readonly a: string;
  readonly b: string;
  /** Connection number: frames of an older connection are dropped. */
  epoch: number;
  up: boolean;
  dialing: boolean;
  retry: Task | null;
  /** Failed dials since the last success (the backoff's exponent). */
  attempt: number;
  rttMs: number;
  readonly directions: Map<string, Direction>;
  readonly sides: Map<string, Side>;
  readonly rng: RandomStream;
}

/** A link between `a` and `b` (a < b), down and never dialled, its random streams drawn from `seed`. */
export function newLink(a: string, b: string, seed: number): Link {
  const link: Link = {
    a,
    b,
    epoch: 0,
    up: false,
    dialing: false,
    retry: null,
    attempt: 0,
    rttMs: 0,
    directions: new Map(),
    sides: new Map(),
    rng: streamOf(seed, `network:dial:${a}|${b}`),
  };
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    link.directions.set(from, {
      from,
      to,
      queue: [],
      held: 0,
      lastDeliverAt: 0,
      bytesInFlight: 0,
      silentSince: null,
      rng: streamOf(seed, `network:${from}>${to}`),
    });
    link.sides.set(from, { connected: false, epoch: 0, lastHeardAt: 0 });
  }
  return link;
}
