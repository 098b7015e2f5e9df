import {
  FRAME_SEGMENT_BYTES_MAX,
  LINK_POLICY,
  NO_SIGNATURE,
  PUSH_READ_SEGMENTS,
  type ReplicationFrame,
  SIGNED_STRETCH_BYTES_MAX,
  SIGNED_STRETCH_SEGMENTS_MAX,
  type WireSegment,
} from '@allot/replica';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, UnsendableMessageError } from '../src/codec.js';
import { splitRun } from '../src/split-run.js';
import { EU, Region, run, waitFor } from './support.js';

/** `count` debits of EU's log, in segments of `perSegment` events, each with `metadataBytes` of metadata. */
function segmentsOf(count: number, perSegment: number, metadataBytes = 0): WireSegment[] {
  const bodies = Array.from({ length: count }, (_, i) => ({
    kind: 'debit' as const,
    tenant: 'acme',
    amount: 1,
    idempotencyKey: `k${i}`,
    parts: [{ grantId: 'g1', amount: 1 }],
    overdraft: 0,
    metadata: { note: 'x'.repeat(metadataBytes) },
  }));
  return run(EU, bodies, 1, perSegment);
}

function seqs(piece: Uint8Array): [number, number] {
  const decoded = decodeMessage(piece);
  if (decoded.message?.type !== 'segments') throw new Error(`not a segments frame: ${decoded.problem}`);
  const segments = decoded.message.segments;
  return [(segments[0] as WireSegment).firstSeq, (segments[segments.length - 1] as WireSegment).lastSeq];
}

describe('splitRun', () => {
  it('keeps a run that fits in one frame whole', () => {
    const segments = segmentsOf(1_300, 100);
    const split = splitRun({ type: 'segments', origin: EU, segments }, 4 * 1024 * 1024, encodeMessage);
    expect(split.pieces?.map(seqs)).toEqual([[1, 1_300]]);
  });

  it('cuts a run over the byte limit into frames of whole segments, longest first', () => {
    const segments = segmentsOf(600, 100, 1_000);
    const bytesMax =
      encodeMessage({ type: 'segments', origin: EU, segments: segments.slice(0, 2) }).length + 1_000;
    const split = splitRun({ type: 'segments', origin: EU, segments }, bytesMax, encodeMessage);
    expect(split.pieces?.map(seqs)).toEqual([
      [1, 200],
      [201, 400],
      [401, 600],
    ]);
    for (const piece of split.pieces ?? []) expect(piece.length).toBeLessThanOrEqual(bytesMax);
  });

  it('says why a segment that no frame holds cannot be sent', () => {
    const segments = segmentsOf(10, 10, 1_000);
    expect(splitRun({ type: 'segments', origin: EU, segments }, 1_000, encodeMessage)).toEqual({
      pieces: null,
      problem: `the segments of ${EU} from seq 1 to the next with a kept signature do not fit in a frame of 1000 bytes`,
    });
  });

  it('ends every piece at a segment whose signature is kept (the receiver verifies that one)', () => {
    // Six segments of 100 events; only the 3rd and the 6th keep their signatures.
    const segments = segmentsOf(600, 100, 1_000).map((segment, i) =>
      i === 2 || i === 5 ? segment : { ...segment, signature: NO_SIGNATURE },
    );
    // Room for four segments: the piece backs off to the 3rd.
    const bytesMax =
      encodeMessage({ type: 'segments', origin: EU, segments: segments.slice(0, 4) }).length + 100;
    const split = splitRun({ type: 'segments', origin: EU, segments }, bytesMax, encodeMessage);
    expect(split.pieces?.map(seqs)).toEqual([
      [1, 300],
      [301, 600],
    ]);
    // Room for two: no piece from seq 1 ends at a kept signature.
    const tight =
      encodeMessage({ type: 'segments', origin: EU, segments: segments.slice(0, 2) }).length + 100;
    expect(splitRun({ type: 'segments', origin: EU, segments }, tight, encodeMessage).pieces).toBeNull();
  });

  it('sends a longest stretch between kept signatures in one frame of the link policy (related limits)', () => {
    // SIGNED_STRETCH_SEGMENTS_MAX segments of 16 debits with 3,900 bytes of metadata each: over
    // 95 % of SIGNED_STRETCH_BYTES_MAX in all, only the last one signed.
    const segments = segmentsOf(16 * SIGNED_STRETCH_SEGMENTS_MAX, 16, 3_900).map((segment, i) =>
      i === SIGNED_STRETCH_SEGMENTS_MAX - 1 ? segment : { ...segment, signature: NO_SIGNATURE },
    );
    const bytes = segments.reduce((sum, segment) => sum + segment.bytes.length, 0);
    expect(bytes).toBeLessThanOrEqual(SIGNED_STRETCH_BYTES_MAX);
    expect(bytes).toBeGreaterThan(0.95 * SIGNED_STRETCH_BYTES_MAX);
    expect(SIGNED_STRETCH_SEGMENTS_MAX).toBeLessThanOrEqual(PUSH_READ_SEGMENTS);
    expect(SIGNED_STRETCH_BYTES_MAX).toBeLessThanOrEqual(FRAME_SEGMENT_BYTES_MAX);
    const split = splitRun(
      { type: 'segments', origin: EU, segments },
      LINK_POLICY.frameBytesMax,
      encodeMessage,
    );
    expect(split.problem).toBeNull();
    expect(split.pieces?.length).toBe(1);
  });
});

const open: Region[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((made) => made.close()));
});

describe('WebSocketTransport: a run longer than a frame (issue 9 item 7)', () => {
  async function pair(options: Parameters<Region['connect']>[1] = {}): Promise<[Region, Region]> {
    const eu = await Region.listen('eu');
    const us = await Region.listen('us');
    open.push(eu, us);
    eu.connect([us.asPeer()], options).start();
    us.connect([eu.asPeer()], options);
    await waitFor(() => eu.connectedTo('us') && us.connectedTo('eu'), 'the link');
    return [eu, us];
  }

  it('sends a run of more than a frame as consecutive verifiable frames, without an error', async () => {
    const frameBytesMax = 256 * 1024;
    const [eu, us] = await pair({ frameBytesMax, sendBufferBytesMax: 4 * frameBytesMax });
    const segments = segmentsOf(700, 100, 400);
    expect(eu.t.send('us', { type: 'segments', origin: EU, segments })).toBe(true);
    await waitFor(() => us.handlers.framesFrom('eu').length === 2, 'two frames');
    const frames = us.handlers.framesFrom('eu') as Extract<ReplicationFrame, { type: 'segments' }>[];
    expect(frames.flatMap((frame) => frame.segments.map((wire) => wire.firstSeq))).toEqual(
      segments.map((wire) => wire.firstSeq),
    );
    expect(eu.logger.lines.filter((line) => line.level === 'error' || line.level === 'warn')).toEqual([]);
    expect(us.handlers.of('down')).toEqual([]);
  });

  it('answers false, sending none of it, when the pieces do not fit the send buffer', async () => {
    const frameBytesMax = 256 * 1024;
    const [eu, us] = await pair({ frameBytesMax, sendBufferBytesMax: frameBytesMax });
    const segments = segmentsOf(1_000, 100, 400);
    expect(eu.t.send('us', { type: 'segments', origin: EU, segments })).toBe(false);
    expect(eu.t.send('us', { type: 'segments', origin: EU, segments: segments.slice(0, 2) })).toBe(true);
    await waitFor(() => us.handlers.framesFrom('eu').length === 1, 'the run that fits');
    // A segment no frame can hold is the sender's bug, said as such.
    const huge = segmentsOf(1, 1, 300 * 1024);
    expect(() => eu.t.send('us', { type: 'segments', origin: EU, segments: huge })).toThrow(
      UnsendableMessageError,
    );
  });
});
