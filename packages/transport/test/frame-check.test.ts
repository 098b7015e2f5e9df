import { ORIGINS_MAX, originId, SEGMENT_BYTES_MAX, type TenantEventBody } from '@allot/core';
import {
  BORROW_WAIT_MS_MAX,
  FRAME_CONTROL_BYTES_MAX,
  FRAME_ORIGINS_MAX,
  FRAME_SEGMENT_BYTES_MAX,
  FRAME_STATE_VECTOR_BYTES_MAX,
  FRAME_TYPES,
  frameProblem,
  SEGMENTS_PER_FRAME_MAX,
  type WireSegment,
} from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { EU, everyFrame, everyKind, run, signature, US } from './support.js';

/** A valid frame of `type`, as a plain record a test may break. */
function valid(type: string): Record<string, unknown> {
  const frame = everyFrame().find((candidate) => candidate.type === type);
  if (frame === undefined) throw new Error(`no example of ${type}`);
  return { ...frame };
}

/** A valid segments frame of EU with `count` grants and repays, one segment per event, as a record. */
function segmentsFrame(
  count: number,
  fromSeq = 1,
): { type: 'segments'; origin: string; segments: WireSegment[] } {
  const bodies = Array.from(
    { length: count },
    (_, i) => everyKind('acme', EU, US)[i % 2 === 0 ? 0 : 5] as TenantEventBody,
  );
  return { type: 'segments', origin: EU, segments: run(EU, bodies, fromSeq, 1) };
}

function withWire(index: number, change: (wire: Record<string, unknown>) => Record<string, unknown>) {
  const frame = valid('segments') as { segments: WireSegment[] };
  return { ...frame, segments: frame.segments.map((wire, i) => (i === index ? change({ ...wire }) : wire)) };
}

describe('frameProblem', () => {
  it('accepts a valid frame of every type', () => {
    const frames = everyFrame();
    expect(frames.map((frame) => frame.type).sort()).toEqual([...FRAME_TYPES].sort());
    for (const frame of frames) expect(frameProblem(frame)).toBeNull();
  });

  it('accepts the edges of each bound', () => {
    expect(frameProblem(segmentsFrame(1))).toBeNull();
    expect(frameProblem(segmentsFrame(3, Number.MAX_SAFE_INTEGER - 2))).toBeNull();
    const vector = Object.fromEntries(
      Array.from({ length: FRAME_ORIGINS_MAX }, (_, i) => [originId(`r${i}`, 'aaaaaaaa'), i]),
    );
    expect(frameProblem({ ...valid('summary'), versionVector: vector })).toBeNull();
    expect(frameProblem({ ...valid('summary'), versionVector: {} })).toBeNull();
    expect(
      frameProblem({ ...valid('summary'), control: new Uint8Array(FRAME_STATE_VECTOR_BYTES_MAX) }),
    ).toBeNull();
    expect(frameProblem({ type: 'control', message: new Uint8Array(FRAME_CONTROL_BYTES_MAX) })).toBeNull();
    expect(frameProblem({ ...valid('pull'), fromSeq: Number.MAX_SAFE_INTEGER })).toBeNull();
    expect(frameProblem({ ...valid('rights-request'), amount: Number.MAX_SAFE_INTEGER })).toBeNull();
    // A null-prototype map (JSON.parse never makes one, but a decoder might) is still a map.
    expect(frameProblem(Object.assign(Object.create(null), valid('pull')))).toBeNull();
  });

  it('refuses what is not a frame', () => {
    expect(frameProblem(null)).toMatch(/not a map/);
    expect(frameProblem([valid('pull')])).toMatch(/not a map/);
    expect(frameProblem('pull')).toMatch(/not a map/);
    expect(frameProblem(new Map(Object.entries(valid('pull'))))).toMatch(/not a map/);
    expect(frameProblem({ ...valid('pull'), type: 'hello' })).toMatch(/unknown frame type/);
    expect(frameProblem({ ...valid('pull'), type: undefined })).toMatch(/unknown frame type/);
  });

  it('refuses a missing or an unknown field on every type', () => {
    for (const frame of everyFrame()) {
      expect(frameProblem({ ...frame, extra: 1 })).toMatch(/unexpected field "extra"/);
      const fields = Object.keys(frame).filter((field) => field !== 'type');
      for (const field of fields) {
        const missing: Record<string, unknown> = { ...frame };
        delete missing[field];
        expect(frameProblem(missing)).toMatch(new RegExp(`has no ${field}`));
        expect(frameProblem({ ...frame, [field]: undefined })).toMatch(new RegExp(`has no ${field}`));
      }
    }
  });

  describe('summary', () => {
    const summary = valid('summary');
    it('refuses a version vector that is not a map of origins to seqs', () => {
      expect(frameProblem({ ...summary, versionVector: [] })).toMatch(/versionVector is an array/);
      expect(frameProblem({ ...summary, versionVector: new Map() })).toMatch(/versionVector is a Map/);
      expect(frameProblem({ ...summary, versionVector: { eu: 1 } })).toMatch(/invalid origin "eu"/);
      expect(frameProblem({ ...summary, versionVector: { [EU]: -1 } })).toMatch(/invalid seq/);
      expect(frameProblem({ ...summary, versionVector: { [EU]: 1.5 } })).toMatch(/invalid seq/);
      expect(frameProblem({ ...summary, versionVector: { [EU]: 2 ** 53 } })).toMatch(/invalid seq/);
      expect(frameProblem({ ...summary, versionVector: { [EU]: 1n } })).toMatch(/invalid seq/);
      expect(frameProblem({ ...summary, versionVector: { [EU]: '1' } })).toMatch(/invalid seq/);
    });

    it(`refuses more than ${FRAME_ORIGINS_MAX} origins`, () => {
      expect(FRAME_ORIGINS_MAX).toBe(ORIGINS_MAX);
      const vector = Object.fromEntries(
        Array.from({ length: FRAME_ORIGINS_MAX + 1 }, (_, i) => [originId(`r${i}`, 'aaaaaaaa'), 1]),
      );
      expect(frameProblem({ ...summary, versionVector: vector })).toMatch(
        `${FRAME_ORIGINS_MAX + 1} origins, more than ${FRAME_ORIGINS_MAX}`,
      );
    });

    it('refuses a control state vector that is not bounded bytes', () => {
      expect(frameProblem({ ...summary, control: [0] })).toMatch(/control is an array, not a Uint8Array/);
      expect(frameProblem({ ...summary, control: Buffer.from([0]) })).toMatch(/a Buffer, not a Uint8Array/);
      expect(frameProblem({ ...summary, control: new Uint16Array(1) })).toMatch(/not a Uint8Array/);
      expect(frameProblem({ ...summary, control: new Uint8Array(0) })).toMatch(/control is empty/);
      expect(frameProblem({ ...summary, control: new Uint8Array(FRAME_STATE_VECTOR_BYTES_MAX + 1) })).toMatch(
        `more than ${FRAME_STATE_VECTOR_BYTES_MAX}`,
      );
    });
  });

  describe('segments', () => {
    it('refuses an invalid origin', () => {
      expect(frameProblem({ ...valid('segments'), origin: 'eu' })).toBe('segments: invalid origin');
    });

    it(`refuses no segments, a non-array, and more than ${SEGMENTS_PER_FRAME_MAX}`, () => {
      expect(frameProblem({ ...valid('segments'), segments: [] })).toBe('segments: segments is empty');
      expect(frameProblem({ ...valid('segments'), segments: {} })).toMatch(/not an array/);
      const [first] = segmentsFrame(1).segments;
      const many = Array.from({ length: SEGMENTS_PER_FRAME_MAX + 1 }, () => first);
      expect(frameProblem({ ...valid('segments'), segments: many })).toBe(
        `segments: ${SEGMENTS_PER_FRAME_MAX + 1} segments, more than ${SEGMENTS_PER_FRAME_MAX}`,
      );
    });

    it('refuses seqs that are not contiguous and ascending, or that the bytes do not hold', () => {
      const frame = segmentsFrame(3);
      const [first, second, third] = frame.segments as [WireSegment, WireSegment, WireSegment];
      expect(frameProblem({ ...frame, segments: [first, third] })).toMatch(
        /segment 1 starts at seq 3 after 1/,
      );
      expect(frameProblem({ ...frame, segments: [second, first] })).toMatch(
        /segment 1 starts at seq 1 after 2/,
      );
      expect(frameProblem({ ...frame, segments: [{ ...first, lastSeq: 0 }] })).toMatch(/invalid lastSeq/);
      expect(frameProblem({ ...frame, segments: [{ ...first, firstSeq: 0 }] })).toMatch(/invalid firstSeq/);
      expect(frameProblem({ ...frame, segments: [{ ...first, bytes: second.bytes }] })).toMatch(
        `segment 0 holds ${EU} seqs 2-2, not ${EU} 1-1`,
      );
      const us = run(US, [everyKind('acme', US, EU)[0] as TenantEventBody])[0] as WireSegment;
      expect(frameProblem({ ...frame, segments: [us] })).toMatch(`holds ${US} seqs 1-1`);
      expect(frameProblem({ ...frame, segments: [{ ...first, bytes: Uint8Array.of(2) }] })).toMatch(
        /segment 0: segment invalid at byte 0: format version 2/,
      );
    });

    it('refuses bytes and signatures that are not bounded Uint8Arrays', () => {
      expect(frameProblem(withWire(0, (wire) => ({ ...wire, signature: new Uint8Array(63) })))).toMatch(
        /segment 0 signature has 63 bytes, not 64/,
      );
      expect(frameProblem(withWire(0, (wire) => ({ ...wire, signature: Buffer.alloc(64) })))).toMatch(
        /a Buffer, not a Uint8Array/,
      );
      expect(frameProblem(withWire(0, (wire) => ({ ...wire, signature: null })))).toMatch(
        /has no signature|null/,
      );
      expect(frameProblem(withWire(0, (wire) => ({ ...wire, bytes: new Uint8Array(0) })))).toMatch(
        /segment 0 bytes is empty/,
      );
      expect(
        frameProblem(withWire(0, (wire) => ({ ...wire, bytes: new Uint8Array(SEGMENT_BYTES_MAX + 1) }))),
      ).toMatch(`more than ${SEGMENT_BYTES_MAX}`);
      expect(
        frameProblem(withWire(0, (wire) => ({ ...wire, bytes: Buffer.from(wire.bytes as Uint8Array) }))),
      ).toMatch(/a Buffer, not a Uint8Array/);
    });

    it(`refuses segments of more than ${FRAME_SEGMENT_BYTES_MAX} bytes in all`, () => {
      const big = new Uint8Array(SEGMENT_BYTES_MAX);
      const count = Math.ceil(FRAME_SEGMENT_BYTES_MAX / SEGMENT_BYTES_MAX) + 1;
      const segments = Array.from({ length: count }, (_, i) => ({
        firstSeq: i + 1,
        lastSeq: i + 1,
        bytes: big,
        signature: signature(1),
      }));
      expect(frameProblem({ type: 'segments', origin: EU, segments })).toMatch(
        `segments of more than ${FRAME_SEGMENT_BYTES_MAX} bytes`,
      );
    });

    it('refuses a wire segment with an unknown field', () => {
      expect(frameProblem(withWire(0, (wire) => ({ ...wire, relay: 'us' })))).toMatch(
        /segment 0 has an unexpected field "relay"/,
      );
      expect(frameProblem({ ...valid('segments'), segments: [1] })).toMatch(/segment 0 is number, not a map/);
    });
  });

  describe('pull', () => {
    it('refuses an invalid origin or fromSeq', () => {
      expect(frameProblem({ ...valid('pull'), origin: 'us#' })).toBe('pull: invalid origin');
      for (const fromSeq of [0, -1, 1.5, 2 ** 53, '1', 1n]) {
        expect(frameProblem({ ...valid('pull'), fromSeq })).toBe('pull: invalid fromSeq');
      }
    });
  });

  describe('rights-request', () => {
    it('refuses an invalid tenant or amount', () => {
      for (const tenant of ['', 'a b', 'x'.repeat(129), 7]) {
        expect(frameProblem({ ...valid('rights-request'), tenant })).toBe('rights-request: invalid tenant');
      }
      for (const amount of [0, -5, 0.5, 2 ** 53, Number.NaN]) {
        expect(frameProblem({ ...valid('rights-request'), amount })).toBe('rights-request: invalid amount');
      }
    });
  });

  describe('borrow', () => {
    it('refuses an invalid tenant or amount', () => {
      expect(frameProblem({ ...valid('borrow'), tenant: 'a b' })).toBe('borrow: invalid tenant');
      expect(frameProblem({ ...valid('borrow'), amount: 0 })).toBe('borrow: invalid amount');
      expect(frameProblem({ ...valid('borrow'), extra: 1 })).toMatch(/unexpected field/);
    });

    it('refuses a missing head, or one that is not a non-negative safe integer (swarm seed 4002)', () => {
      const { head: _head, ...headless } = valid('borrow') as Record<string, unknown>;
      expect(frameProblem(headless)).toBe('borrow has no head');
      for (const head of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, '3', null, Number.NaN])
        expect(frameProblem({ ...valid('borrow'), head })).toBe('borrow: invalid head');
      expect(frameProblem({ ...valid('borrow'), head: 0 })).toBeNull();
      expect(frameProblem({ ...valid('borrow'), head: Number.MAX_SAFE_INTEGER })).toBeNull();
    });

    it('refuses a missing claim, or one that is neither null nor a non-negative safe integer', () => {
      const { since: _since, ...claimless } = valid('borrow') as Record<string, unknown>;
      expect(frameProblem(claimless)).toBe('borrow has no since');
      for (const since of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, '3', Number.NaN])
        expect(frameProblem({ ...valid('borrow'), since })).toBe('borrow: invalid since');
      expect(frameProblem({ ...valid('borrow'), since: null })).toBeNull();
      expect(frameProblem({ ...valid('borrow'), since: 0 })).toBeNull();
    });

    it('refuses a missing waitsMs, or one that is not an integer from 0 to BORROW_WAIT_MS_MAX (swarm seed 13058)', () => {
      const { waitsMs: _waits, ...timeless } = valid('borrow') as Record<string, unknown>;
      expect(frameProblem(timeless)).toBe('borrow has no waitsMs');
      for (const waitsMs of [-1, 1.5, BORROW_WAIT_MS_MAX + 1, '3', null, Number.NaN])
        expect(frameProblem({ ...valid('borrow'), waitsMs })).toBe('borrow: invalid waitsMs');
      expect(frameProblem({ ...valid('borrow'), waitsMs: 0 })).toBeNull();
      expect(frameProblem({ ...valid('borrow'), waitsMs: BORROW_WAIT_MS_MAX })).toBeNull();
    });
  });

  describe('hold-settle and hold-settled', () => {
    it('refuses a bad id, hold id, action or amount', () => {
      expect(frameProblem({ ...valid('hold-settle'), id: -1 })).toBe('hold-settle: invalid id');
      expect(frameProblem({ ...valid('hold-settle'), holdId: 'not-an-id' })).toBe(
        'hold-settle: invalid holdId',
      );
      expect(frameProblem({ ...valid('hold-settle'), action: 'refund' })).toBe('hold-settle: invalid action');
      expect(frameProblem({ ...valid('hold-settle'), amount: 0 })).toBe('hold-settle: invalid amount');
      expect(frameProblem({ ...valid('hold-settle'), action: 'void', amount: 5 })).toBe(
        'hold-settle: a void has no amount',
      );
      expect(frameProblem({ ...valid('hold-settle'), action: 'void', amount: null })).toBeNull();
    });

    it('refuses an answer whose hold or status does not check', () => {
      const answer = valid('hold-settled');
      const hold = answer.hold as Record<string, unknown>;
      expect(frameProblem({ ...answer, status: 'maybe' })).toBe('hold-settled: invalid status');
      expect(frameProblem({ ...answer, hold: null })).toMatch(/hold is null/);
      expect(frameProblem({ ...answer, hold: { ...hold, captured: 10 } })).toBe(
        'hold-settled: hold has an invalid captured amount',
      );
      expect(frameProblem({ ...answer, hold: { ...hold, status: 'gone' } })).toBe(
        'hold-settled: hold has an invalid status',
      );
      expect(frameProblem({ ...answer, hold: { ...hold, region: 'EU' } })).toBe(
        'hold-settled: hold has an invalid region',
      );
      expect(frameProblem({ ...answer, status: 'not_found' })).toBe(
        'hold-settled: a not_found answer has no hold',
      );
      expect(frameProblem({ ...answer, status: 'not_found', hold: null })).toBeNull();
      expect(frameProblem({ ...answer, status: 'exceeds_hold', hold: null, held: 0 })).toBe(
        'hold-settled: invalid held',
      );
    });
  });

  describe('control', () => {
    it('refuses a message that is not bounded bytes', () => {
      expect(frameProblem({ type: 'control', message: 'AAEC' })).toMatch(/message is string/);
      expect(frameProblem({ type: 'control', message: Buffer.from([1]) })).toMatch(/a Buffer/);
      expect(frameProblem({ type: 'control', message: new Uint8Array(0) })).toMatch(/message is empty/);
      expect(frameProblem({ type: 'control', message: new Uint8Array(FRAME_CONTROL_BYTES_MAX + 1) })).toMatch(
        `more than ${FRAME_CONTROL_BYTES_MAX}`,
      );
    });
  });
});
