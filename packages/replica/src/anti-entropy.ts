/**
 * Anti-entropy and live pushes (DESIGN.md §4): each peer gets what its summary shows it lacks of
 * every log, read from the store as stored segments (sent as their very bytes, each run ending at a
 * signature kept here) within its window, and every just-durable batch of own segments (each
 * signed) goes at once to the peers that have everything before it. Summaries name what this
 * replica holds durably. The replica hands in what it knows through `AntiEntropyHost`.
 */
import { type OriginId, type RetiredOrigin, regionOf } from '@allot/core';
import type { ReplicationFrame, WireSegment } from './frames.js';
import { FRAME_SEGMENT_BYTES_MAX, PEER_WINDOW_EVENTS, PUSH_READ_SEGMENTS, RELAY_AFTER_MS } from './limits.js';
import { signatureKept } from './log.js';
import { inFlightTo, markSent, type PeerState } from './peers.js';
import type { Logger, LogHead, StoredSegment } from './ports.js';

/** A stored segment as sent. */
function wireOf(segment: StoredSegment): WireSegment {
  return {
    firstSeq: segment.firstSeq,
    lastSeq: segment.lastSeq,
    bytes: segment.bytes,
    signature: segment.signature,
  };
}

/** What anti-entropy needs of the replica: its logs, its peers, its clock and its transport. */
export interface AntiEntropyHost {
  /** This replica's current incarnation. */
  readonly origin: OriginId;
  /** Where failed pushes are logged. */
  readonly logger: Logger;
  /** The replica's clock. */
  now(): number;
  /** A transport is attached. */
  attached(): boolean;
  /** The durable head of every log held here. */
  heads(): ReadonlyMap<OriginId, LogHead>;
  /** Every peer region known, by region. */
  peers(): ReadonlyMap<string, PeerState>;
  /** The peer state of one region (created if unknown). */
  peer(region: string): PeerState;
  /** Up to `limit` durable segments of `origin`'s log from the one holding `fromSeq`. */
  readSegments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]>;
  /** Retired incarnations: their logs are pushed only through their retired seq (peers refuse more). */
  retired(): ReadonlyMap<OriginId, RetiredOrigin>;
  /** Sends a frame to a peer region; false if it could not be sent. */
  send(region: string, frame: ReplicationFrame): boolean;
  /** What a summary says: the durable version vector (with heard incarnations) and control state. */
  summary(): { versionVector: Record<OriginId, number>; control: Uint8Array };
}

/** Own segments just made durable, as pushLive needs them. */
export interface DurableBatch {
  /** The first own seq of the batch (null: no own events). */
  readonly ownFirstSeq: number | null;
  readonly lastSeq: number;
  /** The batch's own segments, in order. */
  readonly segments: readonly StoredSegment[];
}

/** Pushes of events to peers and summaries to them, for one replica. */
export class AntiEntropy {
  /** Anti-entropy for the replica behind `host`. */
  constructor(private readonly host: AntiEntropyHost) {}

  /** Tells the peer what this replica holds durably (its summary). */
  sendSummary(region: string): void {
    const { versionVector, control } = this.host.summary();
    this.host.send(region, { type: 'summary', versionVector, control });
  }

  /** pushMissing, with a failure logged (the next summary retries). */
  pushMissingLogged(region: string): void {
    this.pushMissing(region).catch((error: unknown) => {
      this.host.logger.error({ err: error, peer: region }, 'push to peer failed; the next summary retries');
    });
  }

  /** Sends a peer what it lacks of every log, from the store, within its window. */
  async pushMissing(region: string): Promise<void> {
    const host = this.host;
    const peer = host.peer(region);
    if (!peer.connected) return;
    if (peer.pushing) {
      // An acknowledgement arrived mid-push: it may have opened the window; do not lose it.
      peer.pushAgain = true;
      return;
    }
    peer.pushing = true;
    try {
      const now = host.now();
      for (const [origin, head] of [...host.heads()]) {
        // Relay another origin's events only to a peer that does not get them directly. The
        // origins of the peer's own region have no other writer: what it lacks of them (a lost
        // tail, an earlier incarnation's log) goes at once, so it can take writes again. This
        // region's earlier incarnations have no writer either: their logs are pushed from here
        // directly, like our own (nobody else would before RELAY_AFTER_MS, and a grant they
        // defined stays unknown to the peer meanwhile: rights lent on it cannot be spent there,
        // swarm seed 982).
        const stalledSince = peer.progress.get(origin)?.at ?? peer.upAt;
        const peersRegion = peer.origin !== null && regionOf(origin) === regionOf(peer.origin);
        const direct = origin === host.origin || regionOf(origin) === regionOf(host.origin);
        if (!direct && !peersRegion && now - stalledSince < RELAY_AFTER_MS) continue;
        const upTo = Math.min(head.seq, host.retired().get(origin)?.through ?? head.seq);
        for (;;) {
          const inFlight = inFlightTo(peer);
          if (inFlight >= PEER_WINDOW_EVENTS || !peer.connected) return;
          const from = Math.max(peer.versionVector[origin] ?? 0, peer.sent.get(origin) ?? 0) + 1;
          if (from > upTo) break;
          // Whole segments within a frame's bytes; the one holding `from` may start before it (the
          // receiver skips what it has). One frame at most past the window.
          const run = await host.readSegments(origin, from, PUSH_READ_SEGMENTS);
          const segments: WireSegment[] = [];
          let bytes = 0;
          for (const segment of run) {
            if (segments.length > 0 && bytes + segment.bytes.length > FRAME_SEGMENT_BYTES_MAX) break;
            if (segment.lastSeq > upTo) break;
            segments.push(wireOf(segment));
            bytes += segment.bytes.length;
          }
          // A run ends at a segment whose signature is kept here: its signature vouches for the
          // rest. Stored stretches keep SIGNED_STRETCH_SEGMENTS_MAX and SIGNED_STRETCH_BYTES_MAX, so
          // this window holds one, except in a log cut short (a retired seq inside a stretch).
          while (
            segments.length > 0 &&
            !signatureKept((segments[segments.length - 1] as WireSegment).signature)
          )
            segments.pop();
          const last = segments[segments.length - 1];
          if (last === undefined) {
            if (run.length > 0 && (run[0] as StoredSegment).lastSeq <= upTo)
              host.logger.warn(
                { peer: region, origin, fromSeq: from, upTo },
                'no segment with a kept signature to end a push at: the peer gets these from another region',
              );
            break;
          }
          if (!host.send(region, { type: 'segments', origin, segments })) return;
          markSent(peer, origin, last.lastSeq, host.now());
        }
      }
    } finally {
      peer.pushing = false;
    }
    if (peer.pushAgain) {
      peer.pushAgain = false;
      await this.pushMissing(region);
    }
  }

  /** Pushes a just-durable batch of own events to every peer that has everything before it. */
  pushLive(batch: DurableBatch): void {
    const host = this.host;
    const first = batch.ownFirstSeq;
    if (first === null || !host.attached()) return;
    let segments: WireSegment[] | null = null;
    for (const [region, peer] of host.peers()) {
      if (!peer.connected) continue;
      const has = Math.max(peer.versionVector[host.origin] ?? 0, peer.sent.get(host.origin) ?? 0);
      if (has < first - 1) {
        // The peer lacks events before these (frames let go unacknowledged, or a pull): a push
        // from the store sends them, and these after. One may be under way already, its range read
        // before this batch was durable: it goes again when done (`pushAgain`). Before, this batch
        // was skipped, and so was every one after it, until the peer's next summary (swarm seed
        // 504: ap's moves for us's waiting debit sat 200 ms behind a resend of one segment).
        this.pushMissingLogged(region);
        continue;
      }
      const count = batch.lastSeq - first + 1;
      // A batch whose segments outgrow a frame (a paused region's backlog) goes by pushMissing.
      if (has !== first - 1 || inFlightTo(peer) + count > PEER_WINDOW_EVENTS) continue;
      segments ??= batch.segments.map(wireOf);
      if (segments.reduce((sum, segment) => sum + segment.bytes.length, 0) > FRAME_SEGMENT_BYTES_MAX) return;
      if (host.send(region, { type: 'segments', origin: host.origin, segments }))
        markSent(peer, host.origin, batch.lastSeq, host.now());
    }
  }
}
