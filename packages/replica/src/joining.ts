/**
 * The replica's side of joining by checkpoint (issue 19): a joiner's asks served from the store
 * (join-serve.ts), the answers routed to this node's own joiner (join.ts), and what that joiner
 * needs of the replica: installing a fetched checkpoint and asking the peers again afterwards. The
 * replica reaches it through `JoiningHost`.
 */
import type { OriginId } from '@allot/core';
import type { AntiEntropy } from './anti-entropy.js';
import type { ReplicaObserver } from './api.js';
import type { GroupCommit } from './group-commit.js';
import type { Joiner, JoinHost } from './join.js';
import type { JoinFrame } from './join-frames.js';
import { persistJoined } from './join-install.js';
import { JoinServer } from './join-serve.js';
import type { PeerLink } from './peer-link.js';
import type { PeerState } from './peers.js';
import type { Clock, Crypto, Logger, LogHead, Store } from './ports.js';

/** What the join wiring needs of its replica. */
export interface JoiningHost {
  readonly cluster: string;
  readonly origin: OriginId;
  readonly store: Store;
  readonly crypto: Crypto;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer: ReplicaObserver | undefined;
  readonly peerKeys: Readonly<Record<string, Uint8Array>>;
  readonly retentionMs: number;
  readonly peers: ReadonlyMap<string, PeerState>;
  readonly ownLog: GroupCommit;
  link(): PeerLink;
  antiEntropy(): AntiEntropy;
  /** The stored heads (replaced when the store is recovered). */
  heads(): ReadonlyMap<OriginId, LogHead>;
  /** What this replica holds durably: the version vector of its stored heads. */
  durableVersionVector(): Record<OriginId, number>;
  /** The record window of this replica's fold. */
  recordWindow(): { records: number; bucketMs: number };
  /** Rebuilds everything from the store. */
  recover(): Promise<void>;
  /** This node's joiner, while it has one. */
  joiner(): Joiner | null;
  /** True when the fold holds at least `vector` (retired origins counted through their retired seq). */
  holds(vector: Readonly<Record<OriginId, number>>): boolean;
}

/** Serves joiners and wires this node's own joiner to the replica. */
export class Joining {
  private readonly server: JoinServer;

  constructor(private readonly host: JoiningHost) {
    this.server = new JoinServer({
      store: host.store,
      crypto: host.crypto,
      logger: host.logger,
      cluster: host.cluster,
      recordWindow: () => host.recordWindow(),
      retentionMs: host.retentionMs,
      send: (region, frame) => host.link().send(region, frame),
    });
  }

  /** What the joiner needs of this replica (join.ts); installing runs alone and rebuilds the fold from the store. */
  joinHost(): JoinHost {
    const host = this.host;
    return {
      cluster: host.cluster,
      crypto: host.crypto,
      clock: host.clock,
      logger: host.logger,
      peerKey: (region) => host.peerKeys[region],
      connected: () =>
        [...host.peers]
          .filter(([, peer]) => peer.connected)
          .map(([region]) => region)
          .sort(),
      send: (region, frame) => host.link().send(region, frame),
      drop: (region, reason) => host.link().transport?.drop(region, reason),
      recordWindow: () => host.recordWindow(),
      holds: (vector) => host.holds(vector),
      origin: host.origin,
      install: (fetched) =>
        host.ownLog.exclusively(async () => {
          await persistJoined(host, host.cluster, host.origin, fetched);
          await host.recover();
        }),
      finished: ({ joined, attempted, bytes, ms }) => {
        if (!attempted) return; // decided plainly at the first summary: no run was held back
        if (joined) {
          host.logger.info(
            { vector: host.durableVersionVector(), bytes, ms },
            'joined by checkpoint: the tails after it come from the peers',
          );
          host.observer?.joinedByCheckpoint?.(bytes, ms / 1000);
        }
        // Runs pushed while joining were not taken: ask again from what is held (a pull resets
        // what the peer counts as sent), and say what is held now.
        for (const [region, peer] of host.peers) {
          if (!peer.connected) continue;
          for (const [origin, seq] of Object.entries(peer.versionVector)) {
            const held = host.heads().get(origin)?.seq ?? 0;
            if (seq > held && origin !== host.origin)
              host.link().send(region, { type: 'pull', origin, fromSeq: held + 1 });
          }
          host.antiEntropy().sendSummary(region);
        }
      },
    };
  }

  /** A join frame: a joiner's ask served from the store (join-serve.ts), or an answer for this node's joiner. */
  received(region: string, frame: JoinFrame): void {
    const failed = (error: unknown) =>
      this.host.logger.warn({ err: error, peer: region, frame: frame.type }, 'answering a joiner failed');
    switch (frame.type) {
      case 'join-offer-ask':
        this.server.offer(region).catch(failed);
        break;
      case 'join-hash-ask':
        this.server.hash(region, frame).catch(failed);
        break;
      case 'join-chunk-ask':
        this.server.chunk(region, frame).catch(failed);
        break;
      default:
        this.host.joiner()?.received(region, frame);
    }
  }
}
