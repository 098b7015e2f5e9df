/**
 * Installing a checkpoint a joiner fetched (issue 11): it is stored as this node's own checkpoint
 * (sealed again with this node's key, so a restart starts from it and does not join again), then
 * each of its origins this node holds less of gets a log base at the checkpoint's head, so the
 * tails after it chain on. In that order: a crash between the two leaves a checkpoint no log
 * reaches (skipped at the next start, which then joins again), never logs that start past what
 * they hold without their checkpoint.
 *
 * A node far behind but not empty (restored from an old backup, off for days) installs one only
 * when it covers what the node holds (`installProblem`): its own log is never rebased (the
 * checkpoint holds no own event this node lacks, and agrees with its own log where it ends), and a
 * log it holds past the checkpoint agrees with it there (that tail is folded on top). The prefix it
 * held of a log it holds less of stays stored below the new base (live, or archived: the archive
 * continues after the base, chained to its hash). Its own checkpoints that no longer
 * fold over those logs are deleted before the bases are written (a start tries only the newest
 * that verifies).
 */
import { checkpointHeads, type OriginId } from '@allot/core';
import { sealCheckpoint, storeCheckpoint } from './checkpoints.js';
import { type FetchedCheckpoint, InstallRefused } from './join.js';
import { hashAt } from './join-fold.js';
import type { Crypto, LogHead, Store } from './ports.js';
import { sameBytes } from './values.js';

/** Why `fetched` may not be installed over what `store` holds (own origin `origin`), or the bases it needs. */
export async function installProblem(
  store: Store,
  origin: OriginId,
  fetched: FetchedCheckpoint,
): Promise<{ problem: string } | { bases: LogHead[] }> {
  const held = new Map((await store.heads()).map((head) => [head.origin, head.seq]));
  const bases: LogHead[] = [];
  for (const [at, head] of fetched.decoded.heads) {
    const holds = held.get(at) ?? 0;
    if (holds >= head.seq) {
      const hash = head.seq === 0 ? null : await hashAt(store, at, head.seq);
      if (head.seq > 0 && (hash === null || !sameBytes(hash, head.hash)))
        return { problem: `the log of ${at} held here is not the checkpoint's at seq ${head.seq}` };
      continue;
    }
    if (at === origin)
      return {
        problem: `the checkpoint holds own events to seq ${head.seq}, this node only to ${holds}: they come back from the peers first`,
      };
    bases.push({ origin: at, seq: head.seq, hash: head.hash, signature: null });
  }
  return { bases };
}

/** Persists `fetched` as this node's checkpoint and the log bases at its heads (checked by installProblem). */
export async function persistJoined(
  ports: { readonly store: Store; readonly crypto: Crypto },
  cluster: string,
  origin: OriginId,
  fetched: FetchedCheckpoint,
): Promise<void> {
  const { store } = ports;
  const checked = await installProblem(store, origin, fetched);
  if ('problem' in checked) throw new InstallRefused(checked.problem);
  const { bases } = checked;
  const sealed = sealCheckpoint(ports.crypto, cluster, fetched.vector, fetched.bytes);
  // Own checkpoints below a new base no longer fold over the logs (their prefixes are not read):
  // deleted first, so that a crash at any point leaves a start the whole log or a usable one.
  for (const total of await store.listCheckpoints()) {
    if (total === sealed.total) continue;
    let below = true;
    try {
      const stored = await store.readCheckpoint(total);
      const heads = stored === null ? new Map() : checkpointHeads(stored.bytes);
      below = bases.some((base) => (heads.get(base.origin)?.seq ?? 0) < base.seq);
    } catch {
      // A damaged one is no use either.
    }
    if (below) await store.deleteCheckpoint(total);
  }
  await storeCheckpoint(store, sealed);
  if (bases.length > 0) await store.commit({ segments: [], heads: bases, bases }, { sync: true });
}
