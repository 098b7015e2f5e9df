/**
 * Joining by checkpoint (issue 11; DESIGN.md §2 "Checkpoints and retention", §4 `checkpoint`): a
 * node that starts with nothing stored, or far behind (restored from an old backup, off for days),
 * whose first peer summary shows more than `thresholdEvents` events it lacks of the other origins,
 * receives a checkpoint plus the tails after it instead of every event. A node far behind installs
 * one only over logs it covers (join-install.ts): its own log is never rebased, and own events the
 * peers lack are kept, folded on top and pushed as usual.
 *
 * One attempt: ask every connected peer for its newest checkpoint (`join-offer`, each signature
 * checked with the signer's configured key; a bad one closes that link); pick the newest offer (the
 * largest vector total); ask every other connected peer for its hash of the fold at that vector;
 * accept only when the regions that answered agree — every asked region by default (`agree: 'all'`),
 * or at least `agree` regions with the offerer counted — and none names another hash; fetch the
 * bytes from the offerer in bounded chunks; check them against the agreed hash (a mismatch closes
 * the offerer's link) and decode them (a CheckpointError refuses them). Then the replica installs
 * them (`JoinHost.install`) and the tails come through the normal verified path, each chained from
 * the checkpoint's head hash of its origin. A failed attempt changes nothing and is retried; after
 * JOIN_ATTEMPTS_MAX, or when every asked peer answered that it holds no checkpoint, the node
 * catches up on every event instead, from the peers that hold them (a peer serves a prefix it
 * archived from its archive files; one that itself joined by checkpoint holds nothing below its
 * log base, and another peer must serve that). An attempt when no peer is connected is not made:
 * the next peer summary starts it.
 *
 * Either way the node takes no write (`refusesWrites`) until it has folded everything its peers'
 * summaries showed while it was joining (`target`): a debit decided on a fold that lacks the
 * cluster's history could repeat an idempotency key already spent elsewhere. Reads are served
 * meanwhile. Should no reachable peer hold those events any more, writes keep waiting (safe, not
 * available), and one warn line names the origins still missing.
 *
 * Its options and what it needs of the replica are in join-host.ts; an attempt's phases and checks
 * (an offer's signature, the newest offer, the hash agreement, the fetched bytes) in join-attempt.ts.
 */
import type { OriginId } from '@allot/core';
import { canonicalVector } from './as-of.js';
import {
  checkedCheckpoint,
  hashAgreement,
  newestOffer,
  type Offer,
  offerSigned,
  type Phase,
} from './join-attempt.js';
import type { JoinChunkFrame, JoinHashFrame, JoinOfferFrame } from './join-frames.js';
import { InstallRefused, type JoinHost, type JoinOptions } from './join-host.js';
import { JOIN_ANSWER_WAIT_MS, JOIN_ATTEMPTS_MAX, JOIN_CATCH_UP_WARN_MS, JOIN_RETRY_MS } from './limits.js';
import type { TimerHandle } from './ports.js';
import { sameBytes } from './values.js';

export {
  type FetchedCheckpoint,
  InstallRefused,
  type JoinHost,
  type JoinOptions,
  joinOptionsProblem,
} from './join-host.js';

/** The joining state of one replica, from its start until it joined or decided on plain catch-up. */
export class Joiner {
  private phase: Phase = { name: 'deciding' };
  private timer: TimerHandle | null = null;
  private attempts = 0;
  private readonly started: number;
  private bytesReceived = 0;
  /** What the peers' summaries showed while joining (own origin left out): writes wait for it. */
  private readonly target: Record<OriginId, number> = {};
  /** Set once `target` is folded here (or joining was decided without asking anyone). */
  private caughtUp = false;
  private missingWarned = false;
  private finishedAt = 0;

  constructor(
    private readonly host: JoinHost,
    private readonly options: JoinOptions,
  ) {
    this.started = host.clock.now();
  }

  /** True until the node installed a checkpoint or decided on plain catch-up. */
  get active(): boolean {
    return this.phase.name !== 'done';
  }

  /** True once the node decided to join by checkpoint, until it is installed (or given up). */
  get joining(): boolean {
    return this.phase.name !== 'deciding' && this.phase.name !== 'done';
  }

  /**
   * True while a node that set out to join takes no writes: while joining, then until it has
   * folded everything its peers held meanwhile (`target`). False for one decided plainly at once.
   */
  get refusesWrites(): boolean {
    if (this.joining) return true;
    if (this.phase.name !== 'done' || this.caughtUp) return false;
    if (!this.host.holds(this.target)) {
      this.warnMissing();
      return true;
    }
    this.caughtUp = true;
    this.host.logger.info(
      { target: this.target },
      'holds everything the peers held while it joined: taking writes',
    );
    return false;
  }

  /**
   * A peer's summary (checked): the first one decides between a checkpoint and plain catch-up by
   * how many events the peer holds that this node (`held`: each origin's seq here, pending
   * included) lacks of the other origins; plain when the peer holds own events this node lacks
   * (restored from a backup: its own log comes back from the peers first, log-confirm.ts).
   */
  summary(
    region: string,
    vector: Readonly<Record<OriginId, number>>,
    held: ReadonlyMap<OriginId, number>,
  ): void {
    if (this.phase.name === 'done') return;
    for (const [origin, seq] of Object.entries(vector))
      if (origin !== this.host.origin && seq > (this.target[origin] ?? 0)) this.target[origin] = seq;
    if (this.phase.name !== 'deciding') return;
    const own = this.host.origin;
    if ((vector[own] ?? 0) > (held.get(own) ?? 0)) {
      this.host.logger.info(
        { peer: region, ownSeq: held.get(own) ?? 0, peerHolds: vector[own] },
        'a peer holds own events this node lacks: catching up on every event',
      );
      this.finish(false);
      return;
    }
    let behind = 0;
    for (const [origin, seq] of Object.entries(vector))
      if (origin !== own) behind += Math.max(0, seq - (held.get(origin) ?? 0));
    if (behind <= this.options.thresholdEvents) {
      this.host.logger.info(
        { peer: region, events: behind, threshold: this.options.thresholdEvents },
        'peers hold few events: catching up on every event',
      );
      this.finish(false);
      return;
    }
    this.host.logger.info(
      { peer: region, events: behind, threshold: this.options.thresholdEvents },
      'joining by checkpoint: asking the peers for their newest',
    );
    this.attempt();
  }

  /** A join frame a peer sent (shape checked). */
  received(region: string, frame: JoinOfferFrame | JoinHashFrame | JoinChunkFrame): void {
    switch (frame.type) {
      case 'join-offer':
        this.offerReceived(region, frame);
        break;
      case 'join-hash':
        this.hashReceived(region, frame);
        break;
      case 'join-chunk':
        this.chunkReceived(region, frame);
        break;
    }
  }

  /** A link closed: an attempt waiting on that peer goes on without it (or starts again). */
  peerDown(region: string): void {
    const phase = this.phase;
    if (phase.name === 'offers' && phase.asked.delete(region)) {
      phase.unanswered += 1;
      this.maybeDecideOffers();
    } else if (phase.name === 'hashes' && phase.asked.delete(region)) this.maybeDecideHashes();
    else if (phase.name === 'chunks' && phase.offer.region === region)
      this.failed('the offering peer went away');
  }

  /** Stops the timers (the replica closes). */
  close(): void {
    this.timer?.cancel();
    this.timer = null;
    if (this.phase.name !== 'done') this.phase = { name: 'done' };
  }

  private attempt(): void {
    const asked = new Set(this.host.connected());
    if (asked.size === 0) {
      // Nobody to ask now (every link down): not an attempt; the next peer summary starts one.
      this.phase = { name: 'deciding' };
      return;
    }
    this.attempts += 1;
    this.phase = { name: 'offers', asked, offers: [], unanswered: 0 };
    for (const region of asked) this.host.send(region, { type: 'join-offer-ask' });
    this.arm(() => this.decideOffers());
    this.maybeDecideOffers();
  }

  private arm(then: () => void): void {
    this.timer?.cancel();
    this.timer = this.host.clock.setTimer(JOIN_ANSWER_WAIT_MS, then);
  }

  private offerReceived(region: string, frame: JoinOfferFrame): void {
    const phase = this.phase;
    if (phase.name !== 'offers' || !phase.asked.has(region)) return;
    phase.asked.delete(region);
    if (frame.vector !== null && frame.hash !== null && frame.signature !== null) {
      if (!offerSigned(this.host, region, frame.vector, frame.hash, frame.signature)) {
        this.host.drop(
          region,
          "join-offer: the checkpoint's signature does not verify with the region's key",
        );
        this.maybeDecideOffers();
        return;
      }
      phase.offers.push({
        region,
        vector: canonicalVector(frame.vector),
        hash: frame.hash,
        size: frame.size,
      });
    }
    this.maybeDecideOffers();
  }

  private maybeDecideOffers(): void {
    if (this.phase.name === 'offers' && this.phase.asked.size === 0) this.decideOffers();
  }

  private decideOffers(): void {
    const phase = this.phase;
    if (phase.name !== 'offers') return;
    const offer = newestOffer(phase.offers);
    if (offer === undefined) {
      // A peer that went away (or did not answer in time) may hold one: that is a failed attempt.
      if (phase.unanswered + phase.asked.size > 0) {
        this.failed('no offer came, and not every asked peer answered');
        return;
      }
      this.host.logger.warn({}, 'no peer offers a checkpoint: catching up on every event');
      this.finish(false);
      return;
    }
    const asked = new Set(this.host.connected().filter((region) => region !== offer.region));
    this.phase = { name: 'hashes', offer, asked, answers: new Map() };
    for (const region of asked) this.host.send(region, { type: 'join-hash-ask', vector: offer.vector });
    this.arm(() => this.decideHashes());
    this.maybeDecideHashes();
  }

  private hashReceived(region: string, frame: JoinHashFrame): void {
    const phase = this.phase;
    if (phase.name !== 'hashes' || !phase.asked.has(region)) return;
    if (JSON.stringify(canonicalVector(frame.vector)) !== JSON.stringify(phase.offer.vector)) return;
    phase.asked.delete(region);
    phase.answers.set(region, frame.hash);
    this.maybeDecideHashes();
  }

  private maybeDecideHashes(): void {
    if (this.phase.name === 'hashes' && this.phase.asked.size === 0) this.decideHashes();
  }

  private decideHashes(): void {
    const phase = this.phase;
    if (phase.name !== 'hashes') return;
    const { offer, answers, asked } = phase;
    const agreement = hashAgreement(offer, answers, asked, this.options.agree);
    if ('problem' in agreement) {
      this.failed(agreement.problem);
      return;
    }
    const { agreed } = agreement;
    this.host.logger.info(
      { vector: offer.vector, from: offer.region, agreed, bytes: offer.size },
      'the regions agree on a checkpoint: fetching it',
    );
    this.phase = { name: 'chunks', offer, agreed, chunks: [], got: 0 };
    this.askChunk();
  }

  private askChunk(): void {
    const phase = this.phase;
    if (phase.name !== 'chunks') return;
    this.arm(() => this.failed('the offering peer did not send the next chunk in time'));
    this.host.send(phase.offer.region, { type: 'join-chunk-ask', hash: phase.offer.hash, offset: phase.got });
  }

  private chunkReceived(region: string, frame: JoinChunkFrame): void {
    const phase = this.phase;
    if (phase.name !== 'chunks' || region !== phase.offer.region) return;
    if (!sameBytes(frame.hash, phase.offer.hash) || frame.offset !== phase.got) return;
    if (frame.size !== phase.offer.size) {
      this.host.drop(
        region,
        `join-chunk: a checkpoint of ${frame.size} bytes, offered as ${phase.offer.size}`,
      );
      this.failed('the offering peer changed the size of its checkpoint');
      return;
    }
    if (frame.bytes.length === 0) {
      this.failed('the offering peer no longer holds the checkpoint');
      return;
    }
    phase.chunks.push(frame.bytes);
    phase.got += frame.bytes.length;
    this.bytesReceived += frame.bytes.length;
    if (phase.got < phase.offer.size) {
      this.askChunk();
      return;
    }
    this.timer?.cancel();
    this.checkAndInstall(phase.offer, phase.agreed, phase.chunks);
  }

  private checkAndInstall(offer: Offer, agreed: string[], chunks: readonly Uint8Array[]): void {
    const checked = checkedCheckpoint(this.host, offer, chunks);
    if ('problem' in checked) {
      if (checked.drop !== undefined) this.host.drop(offer.region, checked.drop);
      this.failed(checked.problem);
      return;
    }
    const { bytes, decoded } = checked;
    this.phase = { name: 'installing' };
    this.host.install({ vector: offer.vector, bytes, hash: offer.hash, decoded, agreed }).then(
      () => this.finish(true),
      (error: unknown) => {
        if (error instanceof InstallRefused) {
          this.failed(`the checkpoint does not cover this node's logs: ${error.message}`);
          return;
        }
        this.host.logger.error({ err: error }, 'the checkpoint could not be installed');
        this.failed('the checkpoint could not be installed');
      },
    );
  }

  /** One warn line, after JOIN_CATCH_UP_WARN_MS, naming the origins the writes still wait for. */
  private warnMissing(): void {
    if (this.missingWarned || this.host.clock.now() - this.finishedAt < JOIN_CATCH_UP_WARN_MS) return;
    this.missingWarned = true;
    const missing = Object.entries(this.target)
      .filter(([origin, seq]) => !this.host.holds({ [origin]: seq }))
      .map(([origin, seq]) => `${origin} to seq ${seq}`);
    this.host.logger.warn(
      { missing },
      'writes still wait for events the peers held while this node joined: no reachable peer has served them (a peer that joined by checkpoint holds nothing below its log base)',
    );
  }

  /** This attempt failed (nothing was changed): another after a pause, or plain catch-up. */
  private failed(why: string): void {
    this.timer?.cancel();
    if (this.attempts >= JOIN_ATTEMPTS_MAX) {
      this.host.logger.warn(
        { problem: why, attempts: this.attempts },
        'joining by checkpoint failed: catching up on every event',
      );
      this.finish(false);
      return;
    }
    this.host.logger.warn({ problem: why, attempt: this.attempts }, 'join attempt refused: trying again');
    this.phase = { name: 'waiting' };
    this.timer = this.host.clock.setTimer(JOIN_RETRY_MS, () => this.attempt());
  }

  private finish(joined: boolean): void {
    this.timer?.cancel();
    this.timer = null;
    this.phase = { name: 'done' };
    this.finishedAt = this.host.clock.now();
    if (this.attempts === 0) this.caughtUp = true; // decided at once: nothing held back, nothing to wait for
    this.host.finished({
      joined,
      attempted: this.attempts > 0,
      bytes: this.bytesReceived,
      ms: this.host.clock.now() - this.started,
    });
  }
}
