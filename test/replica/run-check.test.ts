/**
 * A received run is verified with one signature (its last segment's; the hash chain binds the ones
 * before it), plus as few more as keep every stretch of a stored log between kept signatures within
 * SIGNED_STRETCH_SEGMENTS_MAX, SIGNED_STRETCH_BYTES_MAX and SIGNED_STRETCH_EVENTS_MAX; the segments
 * whose signatures are not kept are stored as NO_SIGNATURE. Relayed onward, runs end at kept
 * signatures, so every hop keeps the bounds and verifies the same way.
 */
import { generateKeyPairSync } from 'node:crypto';
import { encodeSegment, makeEvent, type OriginId } from '@allot/core';
import {
  type Crypto,
  headSigningBytes,
  NO_SIGNATURE,
  SIGNED_STRETCH_BYTES_MAX,
  SIGNED_STRETCH_EVENTS_MAX,
  SIGNED_STRETCH_SEGMENTS_MAX,
  segmentHash,
  signatureKept,
  type WireSegment,
  ZERO_HASH,
} from '@allot/replica';
import { nodeCrypto } from '@allot/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkRun, keptSignatures, type RunTip } from '../../packages/replica/src/run-check.js';

const propertyRuns = Number(process.env.ALLOT_PROPERTY_RUNS ?? 1_000);

const CLUSTER = 'test';
const EU: OriginId = 'eu#aaaaaaaa';
const { privateKey } = generateKeyPairSync('ed25519');
const crypto = nodeCrypto(privateKey);

/** `crypto`, counting its verifications. */
function counting(): Crypto & { verified: number } {
  const counter = {
    verified: 0,
    publicKey: crypto.publicKey,
    hash: (bytes: Uint8Array) => crypto.hash(bytes),
    sign: (bytes: Uint8Array) => crypto.sign(bytes),
    verify: (key: Uint8Array, bytes: Uint8Array, signature: Uint8Array) => {
      counter.verified += 1;
      return crypto.verify(key, bytes, signature);
    },
  };
  return counter;
}

/** EU's log from seq 1: one segment of `size` grants per entry of `sizes`, each signed by EU. */
function log(sizes: readonly number[]): WireSegment[] {
  let seq = 0;
  let previous = ZERO_HASH;
  return sizes.map((size) => {
    const events = Array.from({ length: size }, () => {
      seq += 1;
      return makeEvent(
        { origin: EU, seq, at: 1_000 + seq },
        { kind: 'grant', tenant: 'acme', grantId: `g${seq}`, amount: 1, priority: 100, expiresAt: null },
      );
    });
    const bytes = encodeSegment(events);
    const hash = segmentHash(crypto, previous, bytes);
    previous = hash;
    return {
      firstSeq: seq - size + 1,
      lastSeq: seq,
      bytes,
      signature: crypto.sign(headSigningBytes(CLUSTER, EU, seq, hash)),
    };
  });
}

const START: RunTip = { seq: 0, hash: ZERO_HASH };

describe('checkRun: one signature per run', () => {
  it('verifies a run with its last signature and keeps only that one', () => {
    const counter = counting();
    const verdict = checkRun(counter, CLUSTER, EU, log([3, 1, 2, 5, 1]), START, crypto.publicKey);
    expect(verdict.kind).toBe('fresh');
    if (verdict.kind !== 'fresh') return;
    expect(counter.verified).toBe(1);
    expect(verdict.segments.map((segment) => signatureKept(segment.signature))).toEqual([
      false,
      false,
      false,
      false,
      true,
    ]);
    expect(verdict.segments.map((segment) => segment.decoded.count)).toEqual([3, 1, 2, 5, 1]);
  });

  it('ignores what stands in a signature it does not keep, and refuses a segment changed before a signed one', () => {
    const segments = log([2, 2, 2]);
    const garbage = segments.map((segment, i) =>
      i === 1 ? { ...segment, signature: new Uint8Array(64).fill(7) } : segment,
    );
    expect(checkRun(crypto, CLUSTER, EU, garbage, START, crypto.publicKey).kind).toBe('fresh');
    // The middle segment's bytes from another log of the same shape: the chain no longer reaches
    // the last segment's signed hash.
    const other = log([2, 3, 1]);
    const changed = segments.map((segment, i) =>
      i === 1 ? { ...segment, bytes: (other[0] as WireSegment).bytes } : segment,
    );
    const verdict = checkRun(crypto, CLUSTER, EU, changed, START, crypto.publicKey);
    expect(verdict.kind).toBe('refused');
  });

  it('refuses a run that ends at a segment without a signature', () => {
    const segments = log([1, 1, 1]);
    const unsigned = segments.map((segment, i) =>
      i === 2 ? { ...segment, signature: NO_SIGNATURE } : segment,
    );
    const verdict = checkRun(crypto, CLUSTER, EU, unsigned, START, crypto.publicKey);
    expect(verdict).toEqual({
      kind: 'refused',
      reason: `segment ${EU}/3-3: signature does not verify (or the chain is broken)`,
    });
  });

  it('keeps a signature at least every SIGNED_STRETCH_SEGMENTS_MAX segments of a long run', () => {
    const counter = counting();
    const count = 3 * SIGNED_STRETCH_SEGMENTS_MAX + 5;
    const verdict = checkRun(counter, CLUSTER, EU, log(new Array(count).fill(1)), START, crypto.publicKey);
    expect(verdict.kind).toBe('fresh');
    if (verdict.kind !== 'fresh') return;
    const kept = verdict.segments.flatMap((segment, i) => (signatureKept(segment.signature) ? [i] : []));
    expect(counter.verified).toBe(kept.length);
    expect(kept.length).toBe(4);
    expect(stretches(kept, count).every((length) => length <= SIGNED_STRETCH_SEGMENTS_MAX)).toBe(true);
  });

  it('refuses a run whose sender offers no signature within a stretch', () => {
    const segments = log(new Array(SIGNED_STRETCH_SEGMENTS_MAX + 1).fill(1)).map((segment, i) =>
      i === SIGNED_STRETCH_SEGMENTS_MAX ? segment : { ...segment, signature: NO_SIGNATURE },
    );
    const verdict = checkRun(crypto, CLUSTER, EU, segments, START, crypto.publicKey);
    expect(verdict.kind).toBe('refused');
    if (verdict.kind === 'refused') expect(verdict.reason).toMatch(/no signature within 64 segments/);
  });
});

/** The lengths of the stretches of a log of `count` segments whose kept ones are `kept`. */
function stretches(kept: readonly number[], count: number): number[] {
  const lengths: number[] = [];
  let from = 0;
  for (const i of kept) {
    lengths.push(i - from + 1);
    from = i + 1;
  }
  expect(from).toBe(count);
  return lengths;
}

/** A segment as keptSignatures sees it: its seqs, a length of bytes, signed or not. */
interface Shape {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly bytes: number;
  readonly signed: boolean;
}

function wireOf(shape: Shape): WireSegment {
  return {
    firstSeq: shape.firstSeq,
    lastSeq: shape.lastSeq,
    bytes: { length: shape.bytes } as Uint8Array,
    signature: shape.signed ? new Uint8Array(64).fill(1) : NO_SIGNATURE,
  };
}

/**
 * What one hop keeps of `log` (the sender's segments and which signatures it kept), received in
 * runs the way a push sends them: from where the receiver is, a window of SIGNED_STRETCH_SEGMENTS_MAX
 * segments within SIGNED_STRETCH_BYTES_MAX bytes, cut back to the last kept signature, and of that
 * only the first `take` segments' worth up to a kept one (a smaller frame). Null if a push found
 * no end.
 */
function hop(log: readonly Shape[], takes: readonly number[]): Shape[] | null {
  const received: Shape[] = [];
  let at = 0;
  let turn = 0;
  while (at < log.length) {
    const window: Shape[] = [];
    let bytes = 0;
    for (let i = at; i < log.length && window.length < SIGNED_STRETCH_SEGMENTS_MAX; i++) {
      const segment = log[i] as Shape;
      if (window.length > 0 && bytes + segment.bytes > SIGNED_STRETCH_BYTES_MAX) break;
      window.push(segment);
      bytes += segment.bytes;
    }
    const signedEnds = window.flatMap((segment, i) => (segment.signed ? [i] : []));
    if (signedEnds.length === 0) return null;
    const take = takes[turn++ % takes.length] as number;
    const end = (signedEnds[Math.min(take, signedEnds.length - 1)] as number) + 1;
    const run = window.slice(0, end);
    const kept = keptSignatures(run.map(wireOf));
    expect(kept).not.toBeNull();
    const keep = new Set(kept);
    for (let i = 0; i < run.length; i++) received.push({ ...(run[i] as Shape), signed: keep.has(i) });
    at += run.length;
  }
  return received;
}

describe('keptSignatures: stretches stay bounded across relays', () => {
  it('keeps every stored stretch within the bounds at each of three hops, so a push always finds an end', () => {
    const segment = fc.record({
      events: fc.integer({ min: 1, max: 6_000 }),
      bytes: fc.integer({ min: 16, max: SIGNED_STRETCH_BYTES_MAX / 8 }),
    });
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 400 }),
        fc.array(fc.nat({ max: 70 }), { minLength: 1, maxLength: 8 }),
        (shapes, takes) => {
          let seq = 0;
          // The origin signs every segment.
          let log: Shape[] = shapes.map(({ events, bytes }) => {
            seq += events;
            return { firstSeq: seq - events + 1, lastSeq: seq, bytes, signed: true };
          });
          for (let relay = 0; relay < 3; relay++) {
            const next = hop(log, takes);
            expect(next).not.toBeNull();
            log = next as Shape[];
            expect((log[log.length - 1] as Shape).signed).toBe(true);
            let from = 0;
            for (let i = 0; i < log.length; i++) {
              if (!(log[i] as Shape).signed) continue;
              const stretch = log.slice(from, i + 1);
              if (stretch.length > 1) {
                expect(stretch.length).toBeLessThanOrEqual(SIGNED_STRETCH_SEGMENTS_MAX);
                expect(stretch.reduce((sum, s) => sum + s.bytes, 0)).toBeLessThanOrEqual(
                  SIGNED_STRETCH_BYTES_MAX,
                );
                expect(stretch.reduce((sum, s) => sum + s.lastSeq - s.firstSeq + 1, 0)).toBeLessThanOrEqual(
                  SIGNED_STRETCH_EVENTS_MAX,
                );
              }
              from = i + 1;
            }
          }
        },
      ),
      { numRuns: Math.max(50, Math.floor(propertyRuns / 4)) },
    );
  });
});
