/**
 * A group commit's unit (DESIGN.md §3): the own events (written into segments as they are
 * appended), the segments received from peers, control updates and heads one store write persists,
 * the reads and acknowledgements that wait for it, and the promise that settles once it is durable
 * (or failed). Plain data; the replica fills, commits and settles it.
 */
import { type OriginId, SegmentWriter, type TenantId } from '@allot/core';
import type { BalanceView } from './api.js';
import type { HeldRead } from './durable-reads.js';
import { SEGMENT_CUT_BYTES } from './limits.js';
import { headSigningBytes, segmentHash } from './log.js';
import type { Crypto, LogHead, SegmentWrite } from './ports.js';

/** Own events of a batch being written into a segment, with the tenant of each. */
export interface OpenSegment {
  readonly writer: SegmentWriter;
  readonly tenants: TenantId[];
}

/** A group of events (and control updates) committed in one store write. */
export interface Batch {
  /** Own events, in segments of at most SEGMENT_CUT_BYTES (plus one event); sealed at commit. */
  readonly own: OpenSegment[];
  /** Segments received from peers, verified and folded, to store as they are. */
  readonly received: SegmentWrite[];
  /** Own and received events in this batch (what it adds to the replica's pending count). */
  eventCount: number;
  readonly control: Uint8Array[];
  /** Own events: the first seq of this batch (null: none), and the last. */
  ownFirstSeq: number | null;
  lastSeq: number;
  /** Heads of other origins whose segments this batch persists. */
  readonly remoteHeads: Map<OriginId, LogHead>;
  /** Run once the batch is durable (acknowledgements to peers). */
  readonly afterDurable: (() => void)[];
  /** Tenants with events in this batch: their reads wait for it (durable-reads.ts). */
  readonly tenants: Set<string>;
  /** Reads whose figures were taken when this batch started to commit, answered once it is durable. */
  readonly held: HeldRead<BalanceView | undefined>[];
  /** Resolves true once durable, false if the write failed (nothing of it happened). */
  readonly done: Promise<boolean>;
  readonly settle: (durable: boolean) => void;
}

/** An empty batch whose own events, if any, follow seq `lastSeq`. */
export function newBatch(lastSeq: number): Batch {
  let settle: (durable: boolean) => void = () => {};
  const done = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  return {
    own: [],
    received: [],
    eventCount: 0,
    control: [],
    ownFirstSeq: null,
    lastSeq,
    remoteHeads: new Map(),
    afterDurable: [],
    tenants: new Set(),
    held: [],
    done,
    settle,
  };
}

/** The open segment of `batch` that own event `seq` of `origin` goes into (a new one past the cut). */
export function segmentFor(batch: Batch, origin: OriginId, seq: number): OpenSegment {
  const last = batch.own[batch.own.length - 1];
  if (last !== undefined && last.writer.bytes < SEGMENT_CUT_BYTES) return last;
  const open = { writer: new SegmentWriter(origin, seq), tenants: [] };
  batch.own.push(open);
  return open;
}

/**
 * The own segments of `batch`, sealed at its commit: encoded, chained on from `previousHash` (the
 * origin's last segment), each signed over (cluster, origin, last seq, hash): one hash and one
 * signature per segment (DESIGN.md §2). Also the hash the next own segment chains on from.
 */
export function sealSegments(
  batch: Batch,
  crypto: Crypto,
  cluster: string,
  origin: OriginId,
  previousHash: Uint8Array,
): { readonly segments: SegmentWrite[]; readonly lastHash: Uint8Array } {
  let lastHash = previousHash;
  const segments = batch.own.map(({ writer, tenants }) => {
    const bytes = writer.finish();
    const lastSeq = writer.firstSeq + writer.count - 1;
    const hash = segmentHash(crypto, lastHash, bytes);
    const signature = crypto.sign(headSigningBytes(cluster, origin, lastSeq, hash));
    lastHash = hash;
    return { origin, firstSeq: writer.firstSeq, lastSeq, bytes, hash, signature, tenants };
  });
  return { segments, lastHash };
}
