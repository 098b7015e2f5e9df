/**
 * One attempt to join by checkpoint, apart from the joiner's timers and retries (join.ts): the
 * phases it goes through (`Phase`), and its checks as plain functions: an offer's signature, the
 * newest offer, whether the regions agree on its hash, and the fetched bytes checked against that
 * hash and decoded.
 */
import {
  CheckpointError,
  checkpointHeads,
  type DecodedCheckpoint,
  decodeCheckpoint,
  type OriginId,
} from '@allot/core';
import { canonicalVector } from './as-of.js';
import { checkpointSigningBytes, vectorTotal } from './checkpoints.js';
import type { JoinHost, JoinOptions } from './join-host.js';
import { sameBytes } from './values.js';

/** A peer's newest checkpoint, its signature checked: the vector, the hash and the size in bytes. */
export interface Offer {
  readonly region: string;
  readonly vector: Record<OriginId, number>;
  readonly hash: Uint8Array;
  readonly size: number;
}

/** Where the joiner is: deciding, one attempt's steps (offers, hashes, chunks, installing), or after. */
export type Phase =
  | { readonly name: 'deciding' }
  | {
      readonly name: 'offers';
      readonly asked: Set<string>;
      readonly offers: Offer[];
      /** Asked peers that went away or did not answer in time. */
      unanswered: number;
    }
  | {
      readonly name: 'hashes';
      readonly offer: Offer;
      readonly asked: Set<string>;
      readonly answers: Map<string, Uint8Array | null>;
    }
  | {
      readonly name: 'chunks';
      readonly offer: Offer;
      readonly agreed: string[];
      readonly chunks: Uint8Array[];
      got: number;
    }
  | { readonly name: 'installing' }
  | { readonly name: 'waiting' }
  | { readonly name: 'done' };

/** True when `region`'s offer (a checkpoint at `vector` with `hash`) is signed with its configured key. */
export function offerSigned(
  host: Pick<JoinHost, 'cluster' | 'crypto' | 'peerKey'>,
  region: string,
  vector: Readonly<Record<OriginId, number>>,
  hash: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = host.peerKey(region);
  return (
    key !== undefined &&
    host.crypto.verify(key, checkpointSigningBytes(host.cluster, vector, hash), signature)
  );
}

/** The offer to fetch: the newest (the largest vector total), ties to the first region by name. */
export function newestOffer(offers: readonly Offer[]): Offer | undefined {
  return [...offers].sort(
    (a, b) => vectorTotal(b.vector) - vectorTotal(a.vector) || (a.region < b.region ? -1 : 1),
  )[0];
}

/**
 * Whether the regions agree on `offer`'s hash: the regions that agreed (the offerer first), or why
 * not. `answers` are the hashes the asked regions computed (null: none at that vector); `asked`
 * those that have not answered.
 */
export function hashAgreement(
  offer: Offer,
  answers: ReadonlyMap<string, Uint8Array | null>,
  asked: ReadonlySet<string>,
  agree: JoinOptions['agree'],
): { readonly agreed: string[] } | { readonly problem: string } {
  const differ = [...answers].filter(([, hash]) => hash !== null && !sameBytes(hash, offer.hash));
  if (differ.length > 0)
    return {
      problem: `the regions disagree on the checkpoint's hash (${offer.region} offered it; ${differ.map(([r]) => r).join(', ')} computed another)`,
    };
  const agreed = [
    offer.region,
    ...[...answers].filter(([, hash]) => hash !== null).map(([region]) => region),
  ];
  const needed = agree === 'all' ? 1 + answers.size + asked.size : agree;
  if (agreed.length < needed)
    return { problem: `${agreed.length} region(s) agree on the checkpoint's hash, ${needed} needed` };
  return { agreed };
}

/**
 * `offer`'s fetched `chunks` as one checkpoint, checked against the agreed hash and decoded; or why
 * not, with `drop` set when the offerer sent bytes that are not the ones agreed on (its link closes).
 */
export function checkedCheckpoint(
  host: Pick<JoinHost, 'crypto' | 'recordWindow'>,
  offer: Offer,
  chunks: readonly Uint8Array[],
):
  | { readonly bytes: Uint8Array; readonly decoded: DecodedCheckpoint }
  | { readonly problem: string; readonly drop?: string } {
  const bytes = new Uint8Array(offer.size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  if (!sameBytes(host.crypto.hash(bytes), offer.hash))
    return {
      problem: "the checkpoint's bytes do not match the agreed hash",
      drop: "join-chunk: the checkpoint's bytes do not match the agreed hash",
    };
  let decoded: DecodedCheckpoint;
  try {
    const vector: Record<OriginId, number> = {};
    for (const [origin, head] of checkpointHeads(bytes)) vector[origin] = head.seq;
    if (JSON.stringify(canonicalVector(vector)) !== JSON.stringify(offer.vector))
      throw new CheckpointError(-1, 'its heads are not the offered vector');
    decoded = decodeCheckpoint(bytes, { recordWindow: host.recordWindow() });
  } catch (error) {
    if (!(error instanceof CheckpointError)) throw error;
    return { problem: `the checkpoint does not decode: ${error.message}` };
  }
  return { bytes, decoded };
}
