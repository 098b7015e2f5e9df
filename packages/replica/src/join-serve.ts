/**
 * The peer's side of joining by checkpoint (issue 11): it offers its newest checkpoint that
 * verifies (vector, hash, its signature, size), answers a joiner's ask for its own hash of the fold
 * at a vector (computed from its nearest checkpoint at or below it plus its logs, join-fold.ts, and
 * kept for the next asker), and hands out the offered checkpoint's bytes in bounded chunks.
 */
import { checkpointHeads, type OriginId, type RecordWindowOptions } from '@allot/core';
import { canonicalVector } from './as-of.js';
import { canonicalCheckpoint, newestSignedCheckpoint } from './checkpoints.js';
import type { ReplicationFrame } from './frames.js';
import { checkpointBytesAt } from './join-fold.js';
import type { JoinChunkAskFrame, JoinHashAskFrame } from './join-frames.js';
import { JOIN_CHUNK_BYTES, JOIN_HASH_CACHE } from './limits.js';
import type { Crypto, Logger, Store, StoredCheckpoint } from './ports.js';
import { sameBytes } from './values.js';

/** What serving joiners needs of the replica. */
export interface JoinServeHost {
  readonly store: Store;
  readonly crypto: Crypto;
  readonly logger: Logger;
  readonly cluster: string;
  /** The record window the fold is made with (the replica's). */
  recordWindow(): RecordWindowOptions;
  /** The retention every checkpoint is encoded with (the replica's idempotency retention). */
  readonly retentionMs: number;
  send(region: string, frame: ReplicationFrame): boolean;
}

/** The vector of a stored checkpoint, from its header. */
function vectorOf(stored: StoredCheckpoint): Record<OriginId, number> {
  const vector: Record<OriginId, number> = {};
  for (const [origin, head] of checkpointHeads(stored.bytes)) vector[origin] = head.seq;
  return vector;
}

/** Answers joiners' asks for offers, hashes and chunks. */
export class JoinServer {
  /** The checkpoint last offered (its canonical form): chunks are cut from it. */
  private offered: StoredCheckpoint | null = null;
  /** The hash of the stored checkpoint `offered` is the canonical form of. */
  private offeredFrom: Uint8Array | null = null;
  /** Hashes at vectors, computed or being computed, oldest first (at most JOIN_HASH_CACHE). */
  private readonly hashes = new Map<string, Promise<Uint8Array | null>>();

  constructor(private readonly host: JoinServeHost) {}

  /** Sends `region` this node's newest verified checkpoint as an offer (or none). */
  async offer(region: string): Promise<void> {
    const host = this.host;
    const stored = await this.newestCanonical();
    if (stored !== null) this.offered = stored;
    host.send(
      region,
      stored === null
        ? { type: 'join-offer', vector: null, hash: null, signature: null, size: 0 }
        : {
            type: 'join-offer',
            vector: vectorOf(stored),
            hash: stored.hash,
            signature: stored.signature,
            size: stored.bytes.length,
          },
    );
  }

  /** Sends `region` this node's hash of the checkpoint at the asked vector (null when it has none). */
  async hash(region: string, frame: JoinHashAskFrame): Promise<void> {
    const vector = canonicalVector(frame.vector);
    const key = JSON.stringify(vector);
    let pending = this.hashes.get(key);
    if (pending === undefined) {
      pending = this.compute(vector);
      this.hashes.set(key, pending);
      for (const old of this.hashes.keys()) {
        if (this.hashes.size <= JOIN_HASH_CACHE) break;
        this.hashes.delete(old);
      }
    }
    const hash = await pending;
    this.host.send(region, { type: 'join-hash', vector: frame.vector, hash });
  }

  private async compute(vector: Record<OriginId, number>): Promise<Uint8Array | null> {
    const host = this.host;
    const offered = this.offered;
    if (offered !== null && JSON.stringify(canonicalVector(vectorOf(offered))) === JSON.stringify(vector))
      return offered.hash;
    try {
      const outcome = await checkpointBytesAt(
        host,
        host.cluster,
        vector,
        host.recordWindow(),
        host.retentionMs,
      );
      if ('problem' in outcome) {
        host.logger.info(
          { vector, problem: outcome.problem },
          'no checkpoint hash for a joiner at this vector',
        );
        return null;
      }
      return host.crypto.hash(outcome.bytes);
    } catch (error) {
      host.logger.warn({ err: error, vector }, 'the fold at a joiner’s vector failed');
      return null;
    }
  }

  /** Sends `region` the asked chunk of the offered checkpoint (empty bytes: no longer here). */
  async chunk(region: string, frame: JoinChunkAskFrame): Promise<void> {
    let stored = this.offered;
    if (stored === null || !sameBytes(stored.hash, frame.hash)) {
      stored = await this.find(frame.hash);
      if (stored !== null) this.offered = stored;
    }
    if (stored === null || frame.offset >= stored.bytes.length) {
      this.host.send(region, {
        type: 'join-chunk',
        hash: frame.hash,
        offset: frame.offset,
        size: stored?.bytes.length ?? frame.offset,
        bytes: new Uint8Array(0),
      });
      return;
    }
    const end = Math.min(stored.bytes.length, frame.offset + JOIN_CHUNK_BYTES);
    this.host.send(region, {
      type: 'join-chunk',
      hash: frame.hash,
      offset: frame.offset,
      size: stored.bytes.length,
      bytes: stored.bytes.slice(frame.offset, end),
    });
  }

  /** The canonical form of this node's newest stored checkpoint with hash `hash`, or null. */
  private async find(hash: Uint8Array): Promise<StoredCheckpoint | null> {
    const stored = await this.newestCanonical();
    return stored !== null && sameBytes(stored.hash, hash) ? stored : null;
  }

  /**
   * The canonical form (format 2, checkpoints.ts canonicalCheckpoint) of this node's newest stored
   * checkpoint that verifies, made once per stored checkpoint; null: none, or it cannot be made.
   */
  private async newestCanonical(): Promise<StoredCheckpoint | null> {
    const host = this.host;
    try {
      const stored = await newestSignedCheckpoint(host, host.cluster);
      if (stored === null) return null;
      if (this.offered !== null && this.offeredFrom !== null && sameBytes(this.offeredFrom, stored.hash))
        return this.offered;
      const canonical = await canonicalCheckpoint(host, host.cluster, stored, host.recordWindow());
      this.offeredFrom = stored.hash;
      this.offered = canonical;
      return canonical;
    } catch (error) {
      host.logger.warn({ err: error }, 'no checkpoint to offer a joiner: its canonical form failed');
      return null;
    }
  }
}
