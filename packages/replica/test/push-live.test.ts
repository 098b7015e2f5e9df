/**
 * Live pushes and pushes from the store racing (swarm seed 504): a batch that becomes durable while
 * a push from the store is under way, its range read before the batch, must still reach the peer.
 * Before, the live push skipped it (the peer looked behind), and every batch after it too, until the
 * peer's next summary started another push. AntiEntropy is driven through a fake host.
 */
import type { OriginId } from '@allot/core';
import { describe, expect, it } from 'vitest';
import { AntiEntropy, type AntiEntropyHost } from '../src/anti-entropy.js';
import type { ReplicationFrame } from '../src/frames.js';
import { newPeerState } from '../src/peers.js';
import type { LogHead, StoredSegment } from '../src/ports.js';

const AP: OriginId = 'ap#aaaaaaaaaaaaaaaa';
const US: OriginId = 'us#bbbbbbbbbbbbbbbb';

/**
 * A stored one-event segment of ap's log at `seq` (its bytes stand for the encoded event), its
 * signature kept (any bytes not all zero: nothing verifies them here).
 */
function segment(seq: number): StoredSegment {
  return {
    origin: AP,
    firstSeq: seq,
    lastSeq: seq,
    bytes: new Uint8Array([seq]),
    hash: new Uint8Array(32),
    signature: new Uint8Array(64).fill(1),
  };
}

/** ap, durable through `head`; us, connected, acknowledged through `acked`; reads wait for `release`. */
function pusher(head: number, acked: number) {
  const peer = newPeerState();
  peer.origin = US;
  peer.connected = true;
  peer.versionVector = { [AP]: acked };
  const peers = new Map([['us', peer]]);
  const heads = new Map<OriginId, LogHead>();
  const setHead = (seq: number) =>
    heads.set(AP, { origin: AP, seq, hash: new Uint8Array(32), signature: new Uint8Array(64) });
  setHead(head);
  const sent: number[][] = [];
  const reads: (() => void)[] = [];
  const host: AntiEntropyHost = {
    origin: AP,
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    now: () => 0,
    attached: () => true,
    heads: () => heads,
    peers: () => peers,
    peer: () => peer,
    readSegments: (_origin, fromSeq, limit) =>
      new Promise((resolve) => {
        reads.push(() => {
          const out: StoredSegment[] = [];
          const last = heads.get(AP)?.seq ?? 0;
          for (let seq = fromSeq; seq <= last && out.length < limit; seq++) out.push(segment(seq));
          resolve(out);
        });
      }),
    retired: () => new Map(),
    send: (_region, frame: ReplicationFrame) => {
      if (frame.type === 'segments') sent.push(frame.segments.map((one) => one.firstSeq));
      return true;
    },
    summary: () => ({ versionVector: {}, control: new Uint8Array() }),
  };
  /** Lets every read asked so far answer, and the pushes they feed run on. */
  const release = async () => {
    while (reads.length > 0) {
      for (const read of reads.splice(0)) read();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  };
  return { antiEntropy: new AntiEntropy(host), sent, setHead, release };
}

describe('live pushes while a push from the store is under way', () => {
  it('a batch durable mid-push reaches the peer when the push is done (seed 504)', async () => {
    const { antiEntropy, sent, setHead, release } = pusher(886, 885);
    const pushing = antiEntropy.pushMissing('us'); // reads 886 from the store
    setHead(887);
    antiEntropy.pushLive({ ownFirstSeq: 887, lastSeq: 887, segments: [segment(887)] });
    setHead(888);
    antiEntropy.pushLive({ ownFirstSeq: 888, lastSeq: 888, segments: [segment(888)] });
    await release();
    await pushing;
    await release();
    expect(sent.flat()).toEqual([886, 887, 888]);
  });

  it('a batch right after what the peer has goes at once, as its own frame', () => {
    const { antiEntropy, sent, setHead } = pusher(886, 886);
    setHead(887);
    antiEntropy.pushLive({ ownFirstSeq: 887, lastSeq: 887, segments: [segment(887)] });
    expect(sent).toEqual([[887]]);
  });
});
