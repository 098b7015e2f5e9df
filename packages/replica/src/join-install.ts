/**
 * Installing a checkpoint a joiner fetched (issue 11): it is stored as this node's own checkpoint
 * (sealed again with this node's key, so a restart starts from it and does not join again), then
 * each of its origins gets a log base at the checkpoint's head, so the tails after it chain on.
 * In that order: a crash between the two leaves a checkpoint no log reaches (skipped at the next
 * start, which then joins again), never logs that start past seq 1 without their checkpoint.
 */
import { sealCheckpoint, storeCheckpoint } from './checkpoints.js';
import type { FetchedCheckpoint } from './join.js';
import type { Crypto, LogHead, Store } from './ports.js';

/** Persists `fetched` as this node's checkpoint and the log bases at its heads. */
export async function persistJoined(
  ports: { readonly store: Store; readonly crypto: Crypto },
  cluster: string,
  fetched: FetchedCheckpoint,
): Promise<void> {
  await storeCheckpoint(ports.store, sealCheckpoint(ports.crypto, cluster, fetched.vector, fetched.bytes));
  const bases: LogHead[] = [...fetched.decoded.heads].map(([origin, head]) => ({
    origin,
    seq: head.seq,
    hash: head.hash,
    signature: null,
  }));
  await ports.store.commit({ segments: [], heads: bases, bases }, { sync: true });
}
