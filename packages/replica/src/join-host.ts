/**
 * The joiner's edges (join.ts): how it is configured (`JoinOptions`, checked by
 * `joinOptionsProblem`), what it needs of the replica (`JoinHost`), and the checkpoint it hands the
 * replica to install (`FetchedCheckpoint`) or that installing refused (`InstallRefused`).
 */
import type { DecodedCheckpoint, OriginId, RecordWindowOptions } from '@allot/core';
import type { ReplicationFrame } from './frames.js';
import { JOIN_AGREE_MAX, JOIN_THRESHOLD_EVENTS_MAX, JOIN_THRESHOLD_EVENTS_MIN } from './limits.js';
import type { Clock, Crypto, Logger } from './ports.js';

/** When and how a node joins by checkpoint (config `join`). */
export interface JoinOptions {
  /** A peer holding more events than this node by more than this makes it join by checkpoint. */
  readonly thresholdEvents: number;
  /** How many regions must agree on the checkpoint's hash: every asked one, or at least this many. */
  readonly agree: 'all' | number;
}

/** What is wrong with `options`, or null when they are within their bounds. */
export function joinOptionsProblem(options: JoinOptions): string | null {
  const { thresholdEvents, agree } = options;
  if (
    !Number.isSafeInteger(thresholdEvents) ||
    thresholdEvents < JOIN_THRESHOLD_EVENTS_MIN ||
    thresholdEvents > JOIN_THRESHOLD_EVENTS_MAX
  )
    return `join.thresholdEvents must be an integer from ${JOIN_THRESHOLD_EVENTS_MIN} to ${JOIN_THRESHOLD_EVENTS_MAX}, not ${thresholdEvents}`;
  if (agree !== 'all' && (!Number.isSafeInteger(agree) || agree < 1 || agree > JOIN_AGREE_MAX))
    return `join.agree must be "all" or an integer from 1 to ${JOIN_AGREE_MAX}, not ${String(agree)}`;
  return null;
}

/** A checkpoint refused before anything was written: it does not cover what this node holds. */
export class InstallRefused extends Error {}

/** A checkpoint fetched, checked and decoded: what the replica installs. */
export interface FetchedCheckpoint {
  readonly vector: Readonly<Record<OriginId, number>>;
  readonly bytes: Uint8Array;
  readonly hash: Uint8Array;
  readonly decoded: DecodedCheckpoint;
  /** The region whose bytes they are, and the regions that agreed on the hash (the offerer first). */
  readonly agreed: readonly string[];
}

/** What the joiner needs of the replica. */
export interface JoinHost {
  readonly cluster: string;
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The configured public key of `region`, or undefined. */
  peerKey(region: string): Uint8Array | undefined;
  /** The regions connected now. */
  connected(): string[];
  send(region: string, frame: ReplicationFrame): boolean;
  /** Closes the link to `region` because what it sent does not verify. */
  drop(region: string, reason: string): void;
  recordWindow(): RecordWindowOptions;
  /** True when this node has folded at least `vector` of every origin it names (retired ones as counted). */
  holds(vector: Readonly<Record<OriginId, number>>): boolean;
  /** This node's current incarnation: what the peers hold of it is not waited for here (log-confirm.ts). */
  readonly origin: OriginId;
  /** Installs `checkpoint` as the state at its vector and persists it; rejects when it could not. */
  install(checkpoint: FetchedCheckpoint): Promise<void>;
  /**
   * Joining is over: `joined` with a checkpoint (its bytes and ms), or not (plain catch-up);
   * `attempted` false when it was decided at the first summary without asking anyone (nothing held back).
   */
  finished(outcome: { joined: boolean; attempted: boolean; bytes: number; ms: number }): void;
}
