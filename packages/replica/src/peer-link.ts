/**
 * The replica's link to its peers (DESIGN.md §4): the transport, the state of every peer, the
 * periodic summaries (and the round trip and lag they measure), and every received frame checked
 * and routed: summaries, pulls, runs of segments (to the replica's receiveRun), rights requests
 * and loans (rebalancing), forwarded hold settles, control-document messages. A frame that does
 * not check drops the peer and changes nothing. The replica reaches it through `PeerLinkHost`.
 */
import { type OriginId, regionOf } from '@allot/core';
import type { AntiEntropy } from './anti-entropy.js';
import type { ReplicaObserver } from './api.js';
import type { Archiving } from './archiving.js';
import { ControlDocument, ControlRefused } from './control.js';
import type { ReplicationFrame, SegmentsFrame } from './frames.js';
import { GateLosses } from './gate-losses.js';
import type { GroupCommit } from './group-commit.js';
import type { HoldForwarding } from './hold-forwarding.js';
import type { JoinFrame } from './join-frames.js';
import { RESEND_AFTER_MS, RESEND_AFTER_ROUND_TRIPS, RTT_MS_FLOOR, SUMMARY_INTERVAL_MS } from './limits.js';
import { originProblem, versionVectorProblem } from './peer-input.js';
import { forgetAcknowledged, forgetSent, newPeerState, type PeerState } from './peers.js';
import type { Clock, Logger, LogHead, TimerHandle, Transport } from './ports.js';
import type { Rebalancing } from './rebalancing.js';

/** What the peer link needs of its replica. */
export interface PeerLinkHost {
  readonly origin: OriginId;
  /** Regions this node knows: itself and its configured peers; a peer may name no other. */
  readonly knownRegions: ReadonlySet<string>;
  /** The state of every peer, by region (shared with the replica's other parts). */
  readonly peers: Map<string, PeerState>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer: ReplicaObserver | undefined;
  readonly ownLog: GroupCommit;
  readonly antiEntropy: AntiEntropy;
  readonly rebalancing: Rebalancing;
  readonly forwarding: HoldForwarding;
  readonly archiving: Archiving | null;
  /** The control document (replaced when the fold is rebuilt). */
  control(): ControlDocument;
  /** The stored head of every origin (replaced when the fold is rebuilt). */
  heads(): ReadonlyMap<OriginId, LogHead>;
  closing(): boolean;
  broken(): boolean;
  /** This node's own log is confirmed whole (it takes writes). */
  logConfirmed(): boolean;
  /** A new incarnation has not caught up with its peers yet (no overdraft). */
  overdraftWithheld(): boolean;
  /** Durably records the incarnations not recorded yet. */
  recordHeard(origins: Iterable<OriginId>): Promise<void>;
  /** A peer's checked summary: every incarnation it names is heard of here too. */
  noteHeard(vector: Readonly<Record<OriginId, number>>): void;
  /** A peer's summary may show that this new incarnation caught up with it. */
  checkCaughtUp(region: string, theirs: Readonly<Record<OriginId, number>>): void;
  /** While not writable: becomes writable once every peer confirmed this node's log whole. */
  checkLogWhole(): void;
  /** True when this replica has folded at least `vector` of every origin it names. */
  holdsAllOf(vector: Readonly<Record<OriginId, number>>): boolean;
  /** Checks, folds and persists a received run of segments. */
  receiveRun(region: string, frame: SegmentsFrame): void;
  /** A peer's link closed or opened anew: the runs held from it are let go (`RemoteEvents.linkChanged`). */
  runLinkChanged(region: string): void;
  /** A join frame (join-frames.ts): a joiner's ask to serve, or an answer for this node's joiner. */
  joinFrame(region: string, frame: JoinFrame): void;
  /** A peer's checked summary, for this node's joiner (the first decides whether to join). */
  joinSummary(region: string, vector: Readonly<Record<OriginId, number>>): void;
  /** This node decided to join by checkpoint and has not installed it yet: runs are not folded. */
  joining(): boolean;
  /** A peer's link closed (the joiner may be waiting on it). */
  joinPeerDown(region: string): void;
}

/** The transport, the peers' state, the summaries, and the routing of received frames. */
export class PeerLink {
  /** The transport, once attached. */
  transport: Transport | null = null;
  /** The slowest peer's round trip, ms, refreshed every summary interval (for low-water marks). */
  rttMs = RTT_MS_FLOOR;
  /** Each connected peer's round trip as last measured, ms, refreshed with `rttMs`. */
  private readonly rtts = new Map<string, number>();
  private summaryTimer: TimerHandle | null = null;
  /** Peers already reported as holding more of our own log than we made durable (one line each). */
  private readonly reportedFork = new Set<string>();
  /** Runs and pulls ignored while the gate was shut: made good once it opens (gate-losses.ts). */
  private readonly gateLosses = new GateLosses();

  constructor(private readonly host: PeerLinkHost) {}

  /** Connects the replica to its peers; call once, after open. */
  attach(transport: Transport): void {
    if (this.transport !== null) throw new Error('a transport is attached already');
    this.transport = transport;
    for (const link of transport.peers()) this.peer(link.region);
    transport.attach({
      peerUp: (region, origin) => this.up(region, origin),
      peerDown: (region) => this.down(region),
      frame: (region, frame) => this.receiveFrame(region, frame),
    });
    this.armSummaries();
  }

  peer(region: string): PeerState {
    let peer = this.host.peers.get(region);
    if (peer === undefined) {
      peer = newPeerState();
      this.host.peers.set(region, peer);
    }
    return peer;
  }

  private up(region: string, origin: OriginId): void {
    const peer = this.peer(region);
    peer.origin = origin;
    peer.connected = true;
    peer.versionVector = {};
    forgetSent(peer);
    peer.upAt = this.host.clock.now();
    peer.progress.clear();
    this.host.runLinkChanged(region);
    peer.summarized = false;
    this.host.observer?.peerConnected?.(region, true);
    this.host.logger.debug({ peer: region, origin }, 'peer connected');
    // The handshake authenticated the incarnation: remember it, and name it to its node once durable.
    if (regionOf(origin) === region && originProblem(origin, this.host.knownRegions) === null)
      void this.host.recordHeard([origin]).then(() => {
        if (this.peer(region).connected && !this.host.closing()) this.host.antiEntropy.sendSummary(region);
      });
    this.host.antiEntropy.sendSummary(region);
    this.send(region, { type: 'control', message: this.host.control().syncStep1() });
  }

  private down(region: string): void {
    // A transport may close a duplicate connection after the kept one came up: trust its state.
    if (this.transport?.peers().find((link) => link.region === region)?.connected === true) return;
    const peer = this.peer(region);
    peer.connected = false;
    forgetSent(peer);
    this.gateLosses.forget(region);
    this.host.runLinkChanged(region);
    this.host.forwarding.peerDown(region);
    this.host.joinPeerDown(region);
    this.host.observer?.peerConnected?.(region, false);
    this.host.logger.debug({ peer: region }, 'peer disconnected');
  }

  send(region: string, frame: ReplicationFrame): boolean {
    try {
      return this.transport?.send(region, frame) ?? false;
    } catch (error) {
      // A frame the transport cannot send (over its byte limit) is not sent; the peer stays
      // behind on that origin until the run fits (see the README's limits).
      this.host.logger.error({ err: error, peer: region, frame: frame.type }, 'frame not sendable');
      return false;
    }
  }

  /** The round trip to `region` as last measured, ms; the slowest peer's (`rttMs`) before one is. */
  rttMsTo(region: string): number {
    return this.rtts.get(region) ?? this.rttMs;
  }

  private armSummaries(): void {
    this.summaryTimer = this.host.clock.setTimer(SUMMARY_INTERVAL_MS, () => {
      if (this.host.closing()) return;
      // The transport's view of its links is the truth; up/down callbacks can race a duplicate
      // connection's close, so the cached flags are re-read here.
      let rtt = RTT_MS_FLOOR;
      for (const link of this.transport?.peers() ?? []) {
        const peer = this.peer(link.region);
        if (peer.connected !== link.connected) forgetSent(peer);
        peer.connected = link.connected;
        if (link.rttMs === null) this.rtts.delete(link.region);
        else {
          this.rtts.set(link.region, Math.max(RTT_MS_FLOOR, link.rttMs));
          rtt = Math.max(rtt, link.rttMs);
        }
      }
      this.rttMs = rtt;
      for (const [region, peer] of this.host.peers)
        if (peer.connected) this.host.antiEntropy.sendSummary(region);
      this.reportLag();
      this.armSummaries();
    });
  }

  private reportLag(): void {
    const report = this.host.observer?.replicationLag;
    if (report === undefined) return;
    const known = new Map<OriginId, number>();
    for (const peer of this.host.peers.values()) {
      for (const [origin, seq] of Object.entries(peer.versionVector))
        known.set(origin, Math.max(known.get(origin) ?? 0, seq));
    }
    for (const [origin, seq] of known)
      report.call(this.host.observer, origin, Math.max(0, seq - (this.host.heads().get(origin)?.seq ?? 0)));
  }

  private receiveFrame(region: string, frame: ReplicationFrame): void {
    if (this.host.closing() || this.host.broken()) return;
    // Join frames read only the store or the joiner's own state: a gate does not hold them up.
    if (frame.type.startsWith('join-')) {
      this.host.joinFrame(region, frame as JoinFrame);
      return;
    }
    const gate = this.host.ownLog.gate;
    if (gate !== null) {
      // A summary comes again; a run or a pull ignored now is made good once the gate opens.
      if (this.gateLosses.note(region, frame)) this.gateLosses.afterGate(gate, () => this.afterGate());
      return;
    }
    const peer = this.peer(region);
    peer.connected = true; // the transport delivers frames only from an authenticated, live link
    switch (frame.type) {
      case 'summary': {
        const refused = versionVectorProblem(frame.versionVector, this.host.knownRegions);
        if (refused !== null) {
          this.transport?.drop(region, refused);
          return;
        }
        // Every summary names its sender's incarnation (Incarnations.summaryVector). One that does
        // not was rewritten on its way: swarm seed 5533, a wire that renamed ap's origin to us's
        // in ap's summary, whose two entries then decoded as one showing nothing of us's log, and
        // us took writes over seqs ap held (a fork).
        if (peer.origin !== null && frame.versionVector[peer.origin] === undefined) {
          this.transport?.drop(region, `summary does not name the sender's incarnation ${peer.origin}`);
          return;
        }
        const now = this.host.clock.now();
        for (const [origin, seq] of Object.entries(frame.versionVector)) {
          const known = peer.progress.get(origin);
          if (known === undefined || seq > known.seq) peer.progress.set(origin, { seq, at: now });
        }
        peer.versionVector = { ...frame.versionVector };
        peer.summarized = true;
        this.host.joinSummary(region, frame.versionVector);
        this.host.archiving?.noteSummary(region, frame.versionVector);
        this.host.noteHeard(frame.versionVector);
        if (this.host.overdraftWithheld()) this.host.checkCaughtUp(region, frame.versionVector);
        this.host.checkLogWhole();
        this.checkNoFork(region, frame.versionVector);
        // Shares of grants split while this region was cut off go to it once nothing it holds is
        // missing here (a duplicate grant id among them is then known, and revoked instead).
        if (this.host.holdsAllOf(frame.versionVector)) this.host.rebalancing.peerCaughtUp(region);
        // What the peer acknowledged is no longer in flight; what it still lacks long after it was
        // sent was let go on the way (RESEND_AFTER_MS) and goes again with the push below.
        const again = forgetAcknowledged(peer, now, RESEND_AFTER_MS + RESEND_AFTER_ROUND_TRIPS * this.rttMs);
        if (again.length > 0)
          this.host.logger.debug(
            { peer: region, origins: again },
            'frames sent were not acknowledged: sent again',
          );
        let missing: Uint8Array | null;
        try {
          missing = this.host.control().syncStep2For(frame.control);
        } catch (error) {
          this.transport?.drop(region, (error as Error).message);
          return;
        }
        if (missing !== null) this.send(region, { type: 'control', message: missing });
        this.host.antiEntropy.pushMissingLogged(region);
        break;
      }
      case 'pull':
        if (originProblem(frame.origin, this.host.knownRegions) !== null) {
          this.transport?.drop(region, `pull of ${originProblem(frame.origin, this.host.knownRegions)}`);
          return;
        }
        peer.versionVector[frame.origin] = Math.min(peer.versionVector[frame.origin] ?? 0, frame.fromSeq - 1);
        forgetSent(peer, frame.origin);
        this.host.antiEntropy.pushMissingLogged(region);
        break;
      case 'segments':
        if (originProblem(frame.origin, this.host.knownRegions) !== null) {
          this.transport?.drop(region, `segments of ${originProblem(frame.origin, this.host.knownRegions)}`);
          return;
        }
        // While joining nothing is folded: a checkpoint may yet be installed under the logs.
        if (!this.host.joining()) this.host.receiveRun(region, frame);
        break;
      case 'rights-request':
        this.host.rebalancing.donate(region, frame.tenant, frame.amount);
        break;
      case 'borrow':
        this.host.rebalancing.lend(region, frame.tenant, frame);
        break;
      case 'hold-settle':
        this.host.forwarding.received(region, frame);
        break;
      case 'hold-settled':
        this.host.forwarding.answered(region, frame);
        break;
      case 'control':
        this.receiveControl(region, frame.message);
        break;
    }
  }

  /**
   * Received events of `origins` were folded and then undone: a failed commit (or a refold) rebuilt
   * the fold from the store, which never held them. Their senders count them as sent and would send
   * them again only after RESEND_AFTER_MS without progress, while this region lacks what they
   * carried (a grant, rights lent to it: swarm seeds 3419 and 4431 declined for seconds after a
   * write error). Each connected peer is pulled from what is held, once the gate opens; a peer
   * relays another region's log only when it would anyway (anti-entropy.ts).
   */
  pullUndone(origins: readonly OriginId[]): void {
    if (origins.length === 0) return;
    for (const [region, peer] of this.host.peers) {
      if (!peer.connected) continue;
      for (const origin of origins) this.gateLosses.noteUndone(region, origin);
    }
    const gate = this.host.ownLog.gate;
    if (gate !== null) this.gateLosses.afterGate(gate, () => this.afterGate());
    else this.afterGate();
  }

  /** The gate opened (or another shut meanwhile): pulls for the runs ignored, the pulls ignored acted on. */
  private afterGate(): void {
    if (this.host.closing() || this.host.broken()) return;
    const gate = this.host.ownLog.gate;
    if (gate !== null) {
      this.gateLosses.afterGate(gate, () => this.afterGate());
      return;
    }
    const own = this.host.origin;
    const owed = this.gateLosses.take((origin) => this.host.heads().get(origin)?.seq ?? 0);
    for (const { region, send, act } of owed) {
      if (!this.peer(region).connected) continue;
      for (const pull of send) if (pull.origin !== own || !this.host.logConfirmed()) this.send(region, pull);
      for (const pull of act) this.receiveFrame(region, pull);
    }
  }

  /**
   * Once writable, no peer can hold more of our own log than we made durable (peers get only what
   * is durable). One that says it does saw a log we lost and then wrote past: say so, loudly, once.
   */
  private checkNoFork(region: string, theirs: Readonly<Record<OriginId, number>>): void {
    const claimed = theirs[this.host.origin] ?? 0;
    if (!this.host.logConfirmed() || claimed <= this.host.ownLog.durableSeq || this.reportedFork.has(region))
      return;
    this.reportedFork.add(region);
    this.host.logger.error(
      { origin: this.host.origin, seq: this.host.ownLog.durableSeq, peer: region, peerHolds: claimed },
      'a peer holds more of our own log than was made durable here: the logs may have forked',
    );
  }

  private receiveControl(region: string, message: Uint8Array): void {
    let received: { updates: Uint8Array[]; reply: Uint8Array | null };
    try {
      received = this.host.control().receive(message);
    } catch (error) {
      if (!(error instanceof ControlRefused)) throw error;
      this.host.logger.warn(
        { peer: region, problem: error.message },
        'control message refused: peer dropped',
      );
      this.transport?.drop(region, error.message);
      return;
    }
    if (received.updates.length > 0) {
      const batch = this.host.ownLog.openBatch();
      batch.control.push(...received.updates);
      for (const [other, peer] of this.host.peers) {
        if (other !== region && peer.connected) {
          for (const update of received.updates)
            this.send(other, { type: 'control', message: ControlDocument.updateMessage(update) });
        }
      }
      this.host.ownLog.scheduleFlush();
    }
    if (received.reply !== null) this.send(region, { type: 'control', message: received.reply });
  }

  /** Stops the summaries (closing). */
  close(): void {
    this.summaryTimer?.cancel();
  }
}
