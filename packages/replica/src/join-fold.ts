/**
 * The checkpoint of the fold at a version vector, as a peer computes it for a joiner (issue 11):
 * from this node's nearest verified checkpoint at or below the vector, plus each log from there up
 * to the vector's seq, or from the logs alone. Every seq must end a segment (its head hash is the
 * segment's), so two honest nodes holding those prefixes encode the same bytes (core's canonical
 * checkpoint). Reads only; a fresh state, never this node's live fold.
 */
import {
  type CheckpointHead,
  checkpointHeads,
  createLedgerState,
  encodeCheckpoint,
  type LedgerState,
  type OriginId,
  type RecordWindowOptions,
} from '@allot/core';
import { foldPrefixes, PrefixReader } from './as-of.js';
import { checkpointSigningBytes, decodeWhole } from './checkpoints.js';
import type { Crypto, Store, StoredCheckpoint } from './ports.js';
import { sameBytes } from './values.js';

/** What the fold at a vector needs: the store and this node's key (to trust its own checkpoints). */
export interface FoldAtPorts {
  readonly store: Store;
  readonly crypto: Crypto;
}

/** The hash of `origin`'s segment ending at `seq` here (or of its log base at `seq`); null if none. */
export async function hashAt(store: Store, origin: OriginId, seq: number): Promise<Uint8Array | null> {
  const base = (await store.bases()).find((head) => head.origin === origin);
  if (base !== undefined && base.seq === seq) return base.hash;
  const [segment] = await store.readSegments(origin, seq, 1);
  return segment !== undefined && segment.lastSeq === seq && segment.firstSeq <= seq ? segment.hash : null;
}

/** This node's newest own checkpoint whose vector lies within `vector`, decoded; null: none. */
async function nearestBase(
  ports: FoldAtPorts,
  cluster: string,
  vector: Readonly<Record<OriginId, number>>,
  recordWindow: RecordWindowOptions,
): Promise<{ state: LedgerState; heads: Map<OriginId, CheckpointHead> } | null> {
  const { store, crypto } = ports;
  for (const total of await store.listCheckpoints()) {
    let stored: StoredCheckpoint | null;
    try {
      stored = await store.readCheckpoint(total);
      if (stored === null || !sameBytes(crypto.hash(stored.bytes), stored.hash)) continue;
      const heads = checkpointHeads(stored.bytes);
      const at: Record<OriginId, number> = {};
      let within = true;
      for (const [origin, head] of heads) {
        at[origin] = head.seq;
        if (head.seq > (vector[origin] ?? 0)) within = false;
      }
      if (!within) continue;
      if (
        !crypto.verify(crypto.publicKey, checkpointSigningBytes(cluster, at, stored.hash), stored.signature)
      )
        continue;
      const decoded = await decodeWhole(ports, stored.bytes, recordWindow);
      return { state: decoded.state, heads: decoded.heads };
    } catch {
      // A damaged checkpoint is no base: an older one or the log serves.
    }
  }
  return null;
}

/**
 * The canonical checkpoint bytes of the fold at `vector` (every origin's seq a segment end held
 * here), encoded with the cluster's retention as every node writes its own (`retentionMs`), or why
 * not: a seq not held, inside a segment, or prefixes that do not fold.
 */
export async function checkpointBytesAt(
  ports: FoldAtPorts,
  cluster: string,
  vector: Readonly<Record<OriginId, number>>,
  recordWindow: RecordWindowOptions,
  retentionMs: number,
): Promise<{ bytes: Uint8Array } | { problem: string }> {
  const { store } = ports;
  const held = new Map((await store.heads()).map((head) => [head.origin, head.seq]));
  const hashes = new Map<OriginId, Uint8Array>();
  for (const [origin, seq] of Object.entries(vector)) {
    if ((held.get(origin) ?? 0) < seq)
      return { problem: `${origin} is held only up to seq ${held.get(origin) ?? 0}` };
    const hash = await hashAt(store, origin, seq);
    if (hash === null) return { problem: `seq ${seq} of ${origin} ends no segment held here` };
    hashes.set(origin, hash);
  }
  const base = await nearestBase(ports, cluster, vector, recordWindow);
  const state = base?.state ?? createLedgerState({ recordWindow });
  const readers = Object.entries(vector).map(
    ([origin, seq]) => new PrefixReader(store, origin, seq, base?.heads.get(origin)?.seq ?? 0),
  );
  try {
    const refused = await foldPrefixes(state, readers);
    if (refused !== null)
      return {
        problem: `the prefixes do not fold together: ${refused.origin} seq ${refused.seq}: ${refused.problem}`,
      };
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
  return { bytes: encodeCheckpoint(state, hashes, { retentionMs }) };
}
