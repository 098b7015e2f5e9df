import { type LedgerEvent, ORIGINS_MAX, originId, type TenantEventBody } from '@allot/core';
import {
  EVENTS_PER_FRAME_MAX,
  FRAME_CONTROL_BYTES_MAX,
  FRAME_ORIGINS_MAX,
  FRAME_STATE_VECTOR_BYTES_MAX,
  FRAME_TYPES,
  frameProblem,
  METADATA_DEPTH_MAX,
  type WireEvent,
} from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { EU, everyFrame, everyKind, run, signature, US } from './support.js';

/** A valid frame of `type`, as a plain record a test may break. */
function valid(type: string): Record<string, unknown> {
  const frame = everyFrame().find((candidate) => candidate.type === type);
  if (frame === undefined) throw new Error(`no example of ${type}`);
  return { ...frame };
}

/** A valid events frame of EU with `count` grants, as a record. */
function eventsFrame(count: number, fromSeq = 1): { type: 'events'; origin: string; events: WireEvent[] } {
  const bodies = Array.from(
    { length: count },
    (_, i) => everyKind('acme', EU, US)[i % 2 === 0 ? 0 : 5] as TenantEventBody,
  );
  return { type: 'events', origin: EU, events: run(EU, bodies, fromSeq) };
}

/** `frame`'s events with the event at `index` changed by `change`. */
function withEvent(index: number, change: (event: Record<string, unknown>) => Record<string, unknown>) {
  const frame = valid('events') as { events: WireEvent[] };
  const events = frame.events.map((wire, i) =>
    i === index ? { ...wire, event: change({ ...wire.event }) as unknown as LedgerEvent } : wire,
  );
  return { ...frame, events };
}

function withWire(index: number, change: (wire: Record<string, unknown>) => Record<string, unknown>) {
  const frame = valid('events') as { events: WireEvent[] };
  return { ...frame, events: frame.events.map((wire, i) => (i === index ? change({ ...wire }) : wire)) };
}

/** Metadata nested `depth` arrays deep. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

const DEBIT = 1;

describe('frameProblem', () => {
  it('accepts a valid frame of every type', () => {
    const frames = everyFrame();
    expect(frames.map((frame) => frame.type).sort()).toEqual([...FRAME_TYPES].sort());
    for (const frame of frames) expect(frameProblem(frame)).toBeNull();
  });

  it('accepts the edges of each bound', () => {
    expect(frameProblem(eventsFrame(1))).toBeNull();
    expect(frameProblem(eventsFrame(EVENTS_PER_FRAME_MAX))).toBeNull();
    expect(frameProblem({ ...eventsFrame(3, Number.MAX_SAFE_INTEGER - 2) })).toBeNull();
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
    expect(
      frameProblem(withEvent(DEBIT, (event) => ({ ...event, metadata: nested(METADATA_DEPTH_MAX) }))),
    ).toBeNull();
    // A null-prototype map (JSON.parse never makes one, but a decoder might) is still a map.
    expect(frameProblem(Object.assign(Object.create(null), valid('pull')))).toBeNull();
    // Signatures in the middle of a run (each commit's last event) are welcome.
    expect(frameProblem(withWire(2, (wire) => ({ ...wire, signature: signature(1) })))).toBeNull();
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

  describe('events', () => {
    it('refuses an invalid origin', () => {
      expect(frameProblem({ ...valid('events'), origin: 'eu' })).toBe('events: invalid origin');
    });

    it(`refuses no events, a non-array, and more than ${EVENTS_PER_FRAME_MAX}`, () => {
      expect(frameProblem({ ...valid('events'), events: [] })).toBe('events: events is empty');
      expect(frameProblem({ ...valid('events'), events: {} })).toMatch(/not an array/);
      expect(frameProblem(eventsFrame(EVENTS_PER_FRAME_MAX + 1))).toBe(
        `events: ${EVENTS_PER_FRAME_MAX + 1} events, more than ${EVENTS_PER_FRAME_MAX}`,
      );
    });

    it('refuses an event that fails core eventProblem', () => {
      expect(frameProblem(withEvent(0, (event) => ({ ...event, amount: 0 })))).toBe(
        'events: event 0: invalid amount',
      );
      expect(frameProblem(withEvent(DEBIT, (event) => ({ ...event, overdraft: 1 })))).toMatch(
        /do not add up to the amount/,
      );
      expect(frameProblem(withEvent(0, (event) => ({ ...event, kind: 'burn' })))).toMatch(
        /unknown event kind "burn"/,
      );
    });

    it('refuses an event with fields its kind does not have, or without one it has', () => {
      expect(frameProblem(withEvent(0, (event) => ({ ...event, note: 'x' })))).toMatch(
        /event has an unexpected field "note"/,
      );
      expect(frameProblem(withEvent(0, ({ expiresAt: _, ...event }) => event))).toMatch(
        /event has no expiresAt/,
      );
      expect(
        frameProblem(
          withEvent(DEBIT, (event) => ({ ...event, parts: [{ grantId: 'g1', amount: 2 ** 32, x: 1 }] })),
        ),
      ).toMatch(/a part has an unexpected field "x"/);
    });

    it('refuses metadata that is not JSON or nests too deep', () => {
      for (const metadata of [
        Number.NaN,
        Number.POSITIVE_INFINITY,
        new Date(0),
        { a: undefined },
        [undefined, 1],
        Object.assign(new Array(2), { 1: 1 }),
      ]) {
        expect(frameProblem(withEvent(DEBIT, (event) => ({ ...event, metadata })))).toMatch(/metadata holds/);
      }
      expect(
        frameProblem(withEvent(DEBIT, (event) => ({ ...event, metadata: nested(METADATA_DEPTH_MAX + 1) }))),
      ).toMatch(`metadata nests deeper than ${METADATA_DEPTH_MAX}`);
    });

    it('refuses an event of another origin than the run', () => {
      const other = run(US, everyKind('acme', US, EU));
      const frame = valid('events') as { events: WireEvent[] };
      expect(frameProblem({ ...frame, events: [other[0], ...frame.events.slice(1)] })).toMatch(
        `event 0 is of origin ${US}, not ${EU}`,
      );
    });

    it('refuses seqs that are not contiguous and ascending', () => {
      const frame = valid('events') as { events: WireEvent[] };
      const [first, second, third] = frame.events as [WireEvent, WireEvent, WireEvent];
      const last = frame.events.at(-1) as WireEvent;
      expect(frameProblem({ ...frame, events: [first, third, last] })).toMatch(/event 1 has seq 3 after 1/);
      expect(frameProblem({ ...frame, events: [second, first, last] })).toMatch(/event 1 has seq 1 after 2/);
      expect(frameProblem({ ...frame, events: [first, first, last] })).toMatch(/event 1 has seq 1 after 1/);
    });

    it('refuses a hash that is not 32 bytes of Uint8Array', () => {
      expect(frameProblem(withWire(0, (wire) => ({ ...wire, hash: new Uint8Array(31) })))).toMatch(
        /event 0 hash has 31 bytes, not 32/,
      );
      expect(frameProblem(withWire(0, (wire) => ({ ...wire, hash: Buffer.alloc(32) })))).toMatch(
        /event 0 hash is a Buffer, not a Uint8Array/,
      );
      expect(frameProblem(withWire(0, (wire) => ({ ...wire, hash: null })))).toMatch(/hash is null/);
    });

    it('refuses a signature that is neither null nor 64 bytes of Uint8Array', () => {
      expect(frameProblem(withWire(0, (wire) => ({ ...wire, signature: new Uint8Array(63) })))).toMatch(
        /event 0 signature has 63 bytes, not 64/,
      );
      expect(frameProblem(withWire(0, (wire) => ({ ...wire, signature: Buffer.alloc(64) })))).toMatch(
        /a Buffer, not a Uint8Array/,
      );
      expect(frameProblem(withWire(0, ({ signature: _, ...wire }) => wire))).toMatch(
        /event 0 has no signature/,
      );
    });

    it('refuses a run whose last event is not signed', () => {
      const frame = valid('events') as { events: WireEvent[] };
      const last = frame.events.length - 1;
      expect(frameProblem(withWire(last, (wire) => ({ ...wire, signature: null })))).toBe(
        'events: the last event is not signed',
      );
      expect(frameProblem({ ...frame, events: frame.events.slice(0, 1) })).toBe(
        'events: the last event is not signed',
      );
    });

    it('refuses a wire event with an unknown field', () => {
      expect(frameProblem(withWire(0, (wire) => ({ ...wire, relay: 'us' })))).toMatch(
        /event 0 has an unexpected field "relay"/,
      );
      expect(frameProblem({ ...valid('events'), events: [1] })).toMatch(/event 0 is number, not a map/);
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
