/**
 * Runs that arrive past a gap (issue 12): held and folded when the gap fills, so a frame that
 * overtook another on the way is not lost and pulled again a round trip later; bounded by
 * HELD_RUNS_MAX.
 */
import { generateKeyPairSync } from 'node:crypto';
import { encodeSegment } from '@allot/core';
import {
  HELD_RUNS_MAX,
  headSigningBytes,
  type ReplicationFrame,
  segmentHash,
  type TransportHandlers,
  ZERO_HASH,
} from '@allot/replica';
import { nodeCrypto, rawPublicKey } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { type Harness, harness, runFor } from './support.js';

const US = 'us#bbbbbbbbbbbbbbbb';

/**
 * `count` one-grant segments of us's log, chained and signed by us, as `segments` frames; the grant
 * at each seq is of `amount(seq)`.
 */
function usLog(
  h: Harness,
  usKey: ReturnType<typeof generateKeyPairSync>['privateKey'],
  count: number,
  amount: (seq: number) => number = () => 10,
) {
  const usCrypto = nodeCrypto(usKey);
  const frames: Extract<ReplicationFrame, { type: 'segments' }>[] = [];
  let previous = ZERO_HASH;
  for (let seq = 1; seq <= count; seq++) {
    const bytes = encodeSegment([
      {
        kind: 'grant',
        tenant: 'acme',
        origin: US,
        seq,
        at: 0,
        grantId: `g${seq}`,
        amount: amount(seq),
        priority: 100,
        expiresAt: null,
      },
    ]);
    const hash = segmentHash(h.crypto, previous, bytes);
    const signature = usCrypto.sign(headSigningBytes('test', US, seq, hash));
    frames.push({
      type: 'segments',
      origin: US,
      segments: [{ firstSeq: seq, lastSeq: seq, bytes, signature }],
    });
    previous = hash;
  }
  return frames;
}

/** A replica with a fake link to `us`: what it sends is kept, frames are handed in by the test. */
async function linked() {
  const usKey = generateKeyPairSync('ed25519').privateKey;
  const h = await harness({ peerKeys: { us: rawPublicKey(usKey) } });
  const sent: ReplicationFrame[] = [];
  const drops: string[] = [];
  let handlers: TransportHandlers | null = null;
  h.replica.attachTransport({
    attach: (given) => {
      handlers = given;
    },
    send: (_region, frame) => {
      sent.push(frame);
      return true;
    },
    drop: (_region, reason) => {
      drops.push(reason);
    },
    peers: () => [{ region: 'us', url: 'memory://us', connected: true, lastHeardMs: 0, rttMs: 1 }],
  });
  const link = handlers as unknown as TransportHandlers;
  link.peerUp('us', US);
  const flush = () => runFor(h.clock, 100);
  return { h, usKey, sent, drops, link, flush };
}

const pulls = (sent: readonly ReplicationFrame[]) =>
  sent.flatMap((frame) => (frame.type === 'pull' ? [frame.fromSeq] : []));

describe('runs that arrive past a gap', () => {
  it('are held and folded when the run they overtook arrives, without being sent again', async () => {
    const { h, usKey, sent, drops, link, flush } = await linked();
    const [first, second, third] = usLog(h, usKey, 3);
    link.frame('us', third as ReplicationFrame);
    link.frame('us', second as ReplicationFrame);
    await flush();
    expect(h.replica.balance('acme')).toBeUndefined();
    expect(pulls(sent)).toEqual([1, 1]); // the gap is pulled at once, as before (the run may be lost)
    link.frame('us', first as ReplicationFrame);
    await flush();
    expect(h.replica.balance('acme')?.granted).toBe(30);
    expect(h.replica.versionVector()[US]).toBe(3);
    expect(drops).toEqual([]);
    // The pull's answer comes later and is known by then: ignored, nothing changes.
    for (const frame of usLog(h, usKey, 3)) link.frame('us', frame);
    await flush();
    expect(h.replica.balance('acme')?.granted).toBe(30);
    expect(drops).toEqual([]);
  });

  it('that do not verify when the gap fills are let go: nothing folds, the link stays up', async () => {
    // A hostile wire's run (here: signed by a stranger) waits past a gap and is checked only when
    // the gap fills, maybe on a later connection: it must change nothing and close no link.
    const { h, usKey, sent, drops, link, flush } = await linked();
    const [first] = usLog(h, usKey, 1);
    const [, forged] = usLog(h, generateKeyPairSync('ed25519').privateKey, 2);
    link.frame('us', forged as ReplicationFrame);
    await flush();
    expect(pulls(sent)).toEqual([1]);
    link.frame('us', first as ReplicationFrame);
    await flush();
    expect(h.replica.versionVector()[US]).toBe(1);
    expect(h.replica.balance('acme')?.granted).toBe(10);
    expect(drops).toEqual([]);
    // The genuine run of seq 2 (the pull's answer) still folds.
    const [, genuine] = usLog(h, usKey, 2);
    link.frame('us', genuine as ReplicationFrame);
    await flush();
    expect(h.replica.versionVector()[US]).toBe(2);
    expect(h.replica.balance('acme')?.granted).toBe(20);
  });

  it('are let go when their link closes: the origin may write those seqs again (seed 508)', async () => {
    // us's seq 3 overtook its seq 2 and waits here; then us's disk tore seq 3 off and us restarted.
    // A held run is not durable here, so this node's summary did not count it: us, confirming its
    // log with every peer, wrote a different seq 3. Folded once seq 2 came, the old seq 3 would fork
    // us's log here, and every later run of us would be refused.
    const { h, usKey, drops, link, flush } = await linked();
    const before = usLog(h, usKey, 3);
    link.frame('us', before[2] as ReplicationFrame);
    await flush();
    link.peerDown('us');
    link.peerUp('us', US);
    const after = usLog(h, usKey, 4, (seq) => (seq >= 3 ? 7 : 10));
    for (const frame of after) link.frame('us', frame);
    await flush();
    expect(h.replica.versionVector()[US]).toBe(4);
    expect(h.replica.balance('acme')?.granted).toBe(10 + 10 + 7 + 7);
    expect(drops).toEqual([]);
  });

  it('are held at most HELD_RUNS_MAX at once: past it the oldest is let go', async () => {
    const { h, usKey, link, flush } = await linked();
    const frames = usLog(h, usKey, HELD_RUNS_MAX + 3);
    // Seqs 3 … HELD_RUNS_MAX + 3 arrive before 1 and 2: one more than the bound, so seq 3 is let go.
    for (const frame of frames.slice(2)) link.frame('us', frame);
    link.frame('us', frames[0] as ReplicationFrame);
    await flush();
    expect(h.replica.versionVector()[US]).toBe(1); // seq 2 is still missing: nothing else joins on
    link.frame('us', frames[1] as ReplicationFrame);
    await flush();
    expect(h.replica.versionVector()[US]).toBe(2); // seq 3 was let go: the rest waits for it
    link.frame('us', frames[2] as ReplicationFrame);
    await flush();
    expect(h.replica.versionVector()[US]).toBe(HELD_RUNS_MAX + 3);
    expect(h.replica.balance('acme')?.granted).toBe(10 * (HELD_RUNS_MAX + 3));
  });
});
