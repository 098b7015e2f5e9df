import {
  EVENTS_PER_FRAME_MAX,
  HEAD_SIGN_INTERVAL_EVENTS,
  type ReplicationFrame,
  type WireEvent,
} from '@allot/replica';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, UnsendableMessageError } from '../src/codec.js';
import { splitRun } from '../src/split-run.js';
import { EU, Region, run, signature, waitFor } from './support.js';

/** `count` events of EU's log signed as a replica signs them: every 256 own events and at the end. */
function signedRun(count: number, metadataBytes = 0): WireEvent[] {
  const bodies = Array.from({ length: count }, (_, i) => ({
    kind: 'debit' as const,
    tenant: 'acme',
    amount: 1,
    idempotencyKey: `k${i}`,
    parts: [{ grantId: 'g1', amount: 1 }],
    overdraft: 0,
    metadata: { note: 'x'.repeat(metadataBytes) },
  }));
  return run(EU, bodies).map((wire, index) =>
    (index + 1) % HEAD_SIGN_INTERVAL_EVENTS === 0 ? { ...wire, signature: signature(index % 200) } : wire,
  );
}

function seqs(piece: Uint8Array): [number, number, boolean] {
  const decoded = decodeMessage(piece);
  if (decoded.message?.type !== 'events') throw new Error(`not an events frame: ${decoded.problem}`);
  const events = decoded.message.events;
  const last = events[events.length - 1] as WireEvent;
  return [(events[0] as WireEvent).event.seq, last.event.seq, last.signature !== null];
}

describe('splitRun', () => {
  it(`cuts a run longer than ${EVENTS_PER_FRAME_MAX} events at signed events, longest pieces first`, () => {
    const events = signedRun(1_300);
    const split = splitRun({ type: 'events', origin: EU, events }, 4 * 1024 * 1024, encodeMessage);
    expect(split.problem).toBeNull();
    expect(split.pieces?.map(seqs)).toEqual([
      [1, 512, true],
      [513, 1024, true],
      [1025, 1300, true],
    ]);
  });

  it('cuts at an earlier signed event when the longest piece is over the byte limit', () => {
    const events = signedRun(600, 1_000);
    const bytesMax =
      encodeMessage({ type: 'events', origin: EU, events: events.slice(0, 256) }).length + 1_000;
    const split = splitRun({ type: 'events', origin: EU, events }, bytesMax, encodeMessage);
    expect(split.pieces?.map(seqs)).toEqual([
      [1, 256, true],
      [257, 512, true],
      [513, 600, true],
    ]);
    for (const piece of split.pieces ?? []) expect(piece.length).toBeLessThanOrEqual(bytesMax);
  });

  it('says why a run without a signed event within reach cannot be cut', () => {
    const events = signedRun(600).map((wire, index) => (index === 599 ? wire : { ...wire, signature: null }));
    expect(splitRun({ type: 'events', origin: EU, events }, 4 * 1024 * 1024, encodeMessage)).toEqual({
      pieces: null,
      problem: `the run of ${EU} from seq 1 has no signed event within ${EVENTS_PER_FRAME_MAX} events and ${4 * 1024 * 1024} bytes`,
    });
  });
});

const open: Region[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((made) => made.close()));
});

describe('WebSocketTransport: a live push of a long commit (issue 9 item 7)', () => {
  async function pair(options: Parameters<Region['connect']>[1] = {}): Promise<[Region, Region]> {
    const eu = await Region.listen('eu');
    const us = await Region.listen('us');
    open.push(eu, us);
    eu.connect([us.asPeer()], options).start();
    us.connect([eu.asPeer()], options);
    await waitFor(() => eu.connectedTo('us') && us.connectedTo('eu'), 'the link');
    return [eu, us];
  }

  it('sends a run of more than 512 events as consecutive verifiable frames, without an error', async () => {
    const [eu, us] = await pair();
    const events = signedRun(700);
    expect(eu.t.send('us', { type: 'events', origin: EU, events })).toBe(true);
    await waitFor(() => us.handlers.framesFrom('eu').length === 2, 'two frames');
    const frames = us.handlers.framesFrom('eu') as Extract<ReplicationFrame, { type: 'events' }>[];
    expect(frames.map((frame) => frame.events.length)).toEqual([512, 188]);
    expect(frames.flatMap((frame) => frame.events.map((wire) => wire.event.seq))).toEqual(
      events.map((wire) => wire.event.seq),
    );
    expect(eu.logger.lines.filter((line) => line.level === 'error' || line.level === 'warn')).toEqual([]);
    expect(us.handlers.of('down')).toEqual([]);
  });

  it('answers false, sending none of it, when the pieces do not fit the send buffer', async () => {
    const frameBytesMax = 256 * 1024;
    const [eu, us] = await pair({ frameBytesMax, sendBufferBytesMax: frameBytesMax });
    const events = signedRun(1_024, 400);
    const frame: ReplicationFrame = { type: 'events', origin: EU, events };
    expect(eu.t.send('us', frame)).toBe(false);
    expect(eu.t.send('us', { type: 'events', origin: EU, events: events.slice(0, 256) })).toBe(true);
    await waitFor(() => us.handlers.framesFrom('eu').length === 1, 'the run that fits');
    // A run that no cut can make into frames is the sender's bug, said as such.
    const unsigned = events.slice(0, 600).map((wire, i) => (i === 599 ? wire : { ...wire, signature: null }));
    expect(() => eu.t.send('us', { type: 'events', origin: EU, events: unsigned })).toThrow(
      UnsendableMessageError,
    );
  });
});
