import {
  decodedEventProblem,
  decodeSegment,
  EVENT_KINDS,
  encodeSegment,
  eventProblem,
  type Json,
  type LedgerEvent,
  METADATA_DEPTH_MAX,
  SEGMENT_BYTES_MAX,
  SEGMENT_KINDS,
  SegmentEncodeError,
  SegmentError,
  SegmentRecords,
  segmentHeader,
} from '@allot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logsOf, opArbitrary, overdraftArbitrary, propertyRuns, runWorld } from './properties/world.js';

const ORIGIN = 'eu#aaaaaaaa';
const OTHER = 'us#bbbbbbbb';
const LATER = 'eu#cccccccc';

const key = fc.stringMatching(/^[\x21-\x7e]{1,12}$/);
const tenant = fc.constantFrom('acme', 'globex', 'a.b:c-d_1');
const amount = fc.oneof(fc.integer({ min: 1, max: 1_000 }), fc.constant(Number.MAX_SAFE_INTEGER));
const cell = fc.oneof(fc.constant(0), amount);
const parts = fc.uniqueArray(fc.record({ grantId: key, amount }), {
  maxLength: 5,
  selector: (part) => part.grantId,
});
const metadata: fc.Arbitrary<Json> = fc.oneof(
  fc.constant(null),
  fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.parse(JSON.stringify(value)) as Json),
  fc.constant({ label: 'é\u2028\ud800', n: -1.5e-7 }),
);

/** Bodies of every kind (each kind's fields with values the codec must carry). */
const body: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({
    kind: fc.constant('grant'),
    grantId: key,
    amount,
    priority: fc.integer({ min: 0, max: 1_000_000 }),
    expiresAt: fc.option(fc.integer({ min: 0, max: 8_640_000_000_000_000 })),
  }),
  fc.record({ kind: fc.constant('debit'), amount, idempotencyKey: key, parts, overdraft: cell, metadata }),
  fc.record({
    kind: fc.constant('refund'),
    debitId: fc.integer({ min: 1, max: 1e9 }).map((seq) => `us.bbbbbbbb.${seq}`),
    amount,
    idempotencyKey: key,
    parts,
    overdraft: cell,
  }),
  fc.record({ kind: fc.constant('move'), to: fc.constantFrom(OTHER, LATER), parts }),
  fc.record({ kind: fc.constant('expire'), grantId: key, amount }),
  fc.record({ kind: fc.constant('repay'), amount, parts }),
  fc.record({
    kind: fc.constant('revoke'),
    grantId: key,
    loser: fc.constantFrom(ORIGIN, LATER),
    total: cell,
    amount: cell,
    parts,
    overdraft: cell,
  }),
  fc.record({ kind: fc.constant('retire'), retired: fc.constant(LATER), through: cell, parts }),
);

/** A run of ORIGIN's log from `firstSeq`, of generated events of every kind, at times that move both ways. */
const run: fc.Arbitrary<LedgerEvent[]> = fc
  .tuple(
    fc.integer({ min: 1, max: 2 ** 40 }),
    fc.array(
      fc.record({ at: fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constant(0)), tenant, body }),
      {
        minLength: 1,
        maxLength: 30,
      },
    ),
  )
  .map(([firstSeq, items]) =>
    items.map(
      (item, i) =>
        ({
          ...item.body,
          origin: ORIGIN,
          seq: firstSeq + i,
          at: item.at,
          tenant: item.tenant,
        }) as LedgerEvent,
    ),
  );

/**
 * Decodes `bytes`: a SegmentError, or events that encode to exactly `bytes`. Anything else fails.
 * A decoded event gets the same verdict from decodedEventProblem, which leaves its strings to the
 * decoder, as from eventProblem, which checks them too.
 */
function decodesCleanly(bytes: Uint8Array): boolean {
  let events: LedgerEvent[];
  try {
    events = decodeSegment(bytes).events;
  } catch (error) {
    if (error instanceof SegmentError) return true;
    throw error;
  }
  for (const event of events) expect(decodedEventProblem(event)).toBe(eventProblem(event));
  const again = encodeSegment(events);
  return Buffer.from(again).equals(Buffer.from(bytes));
}

describe('segments: the codec of a run of one origin', () => {
  it('has a code for every event kind, each code once', () => {
    expect(Object.keys(SEGMENT_KINDS).sort()).toEqual([...EVENT_KINDS].sort());
    const codes = Object.values(SEGMENT_KINDS).map((entry) => entry.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('decodes what it encodes, for generated events of every kind, with each record in its byte range', () => {
    fc.assert(
      fc.property(run, (events) => {
        const bytes = encodeSegment(events);
        const decoded = decodeSegment(bytes);
        expect(decoded.events).toEqual(events);
        // Every kind decodes to one shape: the envelope, then its fields in the table's order
        // (debits by their own fast path, the rest by the table).
        for (const event of decoded.events)
          expect(Object.keys(event)).toEqual([
            ...['kind', 'origin', 'seq', 'at', 'tenant'],
            ...SEGMENT_KINDS[event.kind].fields.map(([name]) => name),
          ]);
        expect(segmentHeader(bytes)).toEqual({
          origin: ORIGIN,
          firstSeq: events[0]?.seq,
          lastSeq: events[events.length - 1]?.seq,
          count: events.length,
        });
        expect(decoded.bounds.length).toBe(events.length + 1);
        expect(decoded.bounds[events.length]).toBe(bytes.length);
        for (let i = 0; i < events.length; i++)
          expect(decoded.bounds[i] as number).toBeLessThan(decoded.bounds[i + 1] as number);
      }),
      { numRuns: Math.max(50, Math.floor(propertyRuns / 2)) },
    );
  });

  it('reads any event of a segment on its own, in any order and again, as the whole decoding does', () => {
    const indices = fc.array(fc.nat(), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(run, indices, (events, picks) => {
        const bytes = encodeSegment(events);
        const whole = decodeSegment(bytes);
        const segment = new SegmentRecords(bytes);
        expect(segment.header).toEqual(segmentHeader(bytes));
        for (const pick of picks) {
          const i = pick % events.length;
          expect(segment.event(i)).toEqual(events[i]);
          // The record's bytes: its stretch of the segment, past its length prefix (1–3 bytes here).
          const stretch = bytes.subarray(whole.bounds[i], whole.bounds[i + 1]);
          const record = segment.record(i);
          const prefix = stretch.length - record.length;
          expect(prefix).toBeGreaterThanOrEqual(1);
          expect(prefix).toBeLessThanOrEqual(3);
          expect(Buffer.from(record).equals(Buffer.from(stretch.subarray(prefix)))).toBe(true);
        }
        for (const outside of [-1, events.length, 0.5])
          expect(() => segment.event(outside)).toThrow(SegmentError);
      }),
      { numRuns: Math.max(50, Math.floor(propertyRuns / 2)) },
    );
  });

  it('decodes what it encodes for the logs a world of three regions writes', () => {
    fc.assert(
      fc.property(
        fc.array(opArbitrary, { minLength: 1, maxLength: 100 }),
        overdraftArbitrary,
        (ops, overdraft) => {
          for (const log of logsOf(runWorld(ops, overdraft))) {
            if (log.length === 0) continue;
            expect(decodeSegment(encodeSegment(log)).events).toEqual(log);
          }
        },
      ),
      { numRuns: Math.max(20, Math.floor(propertyRuns / 10)) },
    );
  });

  it('decodes arbitrary bytes to a SegmentError, never another throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => decodesCleanly(bytes)),
      { numRuns: Math.max(200, propertyRuns) },
    );
    // Arbitrary bytes after a valid header reach the records' decoder.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
        const head = encodeSegment([
          { kind: 'expire', origin: ORIGIN, seq: 1, at: 1, tenant: 'acme', grantId: 'g', amount: 1 },
        ]).subarray(0, 14);
        return decodesCleanly(Buffer.concat([head, tail]));
      }),
      { numRuns: Math.max(200, propertyRuns) },
    );
  });

  it('decodes a mutated segment (a byte changed, inserted, removed, or cut) to an error or to events that re-encode to it', () => {
    const mutation = fc.record({
      how: fc.constantFrom('set', 'insert', 'remove', 'cut'),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    });
    fc.assert(
      fc.property(run, fc.array(mutation, { minLength: 1, maxLength: 3 }), (events, mutations) => {
        let bytes: Uint8Array = encodeSegment(events);
        for (const { how, at, value } of mutations) {
          const i = at % bytes.length;
          if (how === 'set') {
            bytes = Uint8Array.from(bytes);
            bytes[i] = value;
          } else if (how === 'insert')
            bytes = Buffer.concat([bytes.subarray(0, i), Uint8Array.of(value), bytes.subarray(i)]);
          else if (how === 'remove') bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
          else bytes = bytes.subarray(0, i);
        }
        return decodesCleanly(Uint8Array.from(bytes));
      }),
      { numRuns: Math.max(200, propertyRuns) },
    );
  });

  const expire = (seq: number) =>
    ({
      kind: 'expire',
      origin: ORIGIN,
      seq,
      at: 5,
      tenant: 'acme',
      grantId: 'g',
      amount: 1,
    }) as const;

  it('refuses, with the place and the reason, what no encoder writes', () => {
    const bytes = encodeSegment([expire(1)]);
    const refused = (mutate: (copy: Uint8Array) => Uint8Array, reason: RegExp) => {
      const copy = Uint8Array.from(bytes);
      expect(() => decodeSegment(mutate(copy))).toThrow(reason);
    };
    refused((b) => {
      b[0] = 2;
      return b;
    }, /format version 2/);
    refused((b) => Buffer.concat([b, Uint8Array.of(0)]), /after the last record/);
    // A count of events far past what the bytes could hold is refused before anything is allocated.
    const huge = Uint8Array.from([1, 11, ...Buffer.from(ORIGIN), 1, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(() => decodeSegment(huge)).toThrow(/event count/);
    // A varint with a needless continuation byte.
    const long = Uint8Array.from([1, 11, ...Buffer.from(ORIGIN), 0x81, 0x00]);
    expect(() => decodeSegment(long)).toThrow(/shortest form/);
    // A string in the table that no record uses.
    const unused = Buffer.concat([
      Uint8Array.from([1, 11, ...Buffer.from(ORIGIN), 1, 1, 1, 1]),
      Buffer.from('x'),
    ]);
    expect(() => decodeSegment(unused)).toThrow(SegmentError);
    expect(() => decodeSegment(new Uint8Array(SEGMENT_BYTES_MAX + 1))).toThrow(/at most/);
  });

  it('refuses metadata that is not canonical JSON, not UTF-8, or nests past the bound', () => {
    const debit = (metadata: Json): LedgerEvent => ({
      kind: 'debit',
      origin: ORIGIN,
      seq: 1,
      at: 5,
      tenant: 'acme',
      amount: 1,
      idempotencyKey: 'k',
      parts: [],
      overdraft: 1,
      metadata,
    });
    // A debit's metadata is its record's last field, and the record is the segment's last: swap in
    // `text` (its length byte, then its bytes) and fix the record's one-byte length prefix.
    const withText = (text: Uint8Array): Uint8Array => {
      const good = encodeSegment([debit(7)]);
      const start = (decodeSegment(good).bounds[0] as number) + 1; // after its one-byte length
      const out = Buffer.concat([good.subarray(0, good.length - 2), Uint8Array.of(text.length), text]);
      out[start - 1] = (good[start - 1] as number) - 1 + text.length;
      return Uint8Array.from(out);
    };
    expect(decodeSegment(withText(Buffer.from('8'))).events[0]).toMatchObject({ metadata: 8 });
    expect(() => decodeSegment(withText(Buffer.from('{"b":1,"a":2}')))).toThrow(/not canonical/);
    expect(() => decodeSegment(withText(Buffer.from('1e400')))).toThrow(/not JSON|not canonical/);
    expect(() => decodeSegment(withText(Uint8Array.of(0x22, 0xff, 0x22)))).toThrow(/not UTF-8/);
    expect(() => decodeSegment(withText(Buffer.from('[1')))).toThrow(/not JSON/);
    const deep = `${'['.repeat(METADATA_DEPTH_MAX + 1)}${']'.repeat(METADATA_DEPTH_MAX + 1)}`;
    expect(() => decodeSegment(withText(Buffer.from(deep)))).toThrow(/nests deeper/);
    let nested: Json = 1;
    for (let i = 0; i < METADATA_DEPTH_MAX; i++) nested = [nested];
    expect(decodeSegment(encodeSegment([debit(nested)])).events[0]).toMatchObject({ metadata: nested });
    expect(() => encodeSegment([debit([nested])])).toThrow(SegmentEncodeError);
  });

  it('refuses to write an event it could not read back', () => {
    expect(() => encodeSegment([{ ...expire(1), amount: -1 } as LedgerEvent])).toThrow(SegmentEncodeError);
    expect(() => encodeSegment([{ ...expire(1), grantId: 'a b' } as LedgerEvent])).toThrow(/not a valid key/);
    expect(() => encodeSegment([{ ...expire(1), tenant: 'x/y' } as LedgerEvent])).toThrow(/tenant id/);
    expect(() => encodeSegment([expire(1), expire(3)])).toThrow(/does not follow/);
    expect(() => encodeSegment([])).toThrow(SegmentEncodeError);
  });

  it('writes a debit in a few dozen bytes, and a batch of them sharing their strings', () => {
    const debits: LedgerEvent[] = [];
    for (let i = 0; i < 1_000; i++)
      debits.push({
        kind: 'debit',
        origin: ORIGIN,
        seq: 1 + i,
        at: 1_800_000_000_000 + i,
        tenant: `tenant-${i % 100}`,
        amount: 3,
        idempotencyKey: `key-${i}`,
        parts: [{ grantId: 'g-1', amount: 3 }],
        overdraft: 0,
        metadata: null,
      });
    const bytes = encodeSegment(debits);
    expect(bytes.length / debits.length).toBeLessThan(40);
  });
});
