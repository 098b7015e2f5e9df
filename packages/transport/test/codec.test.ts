import {
  AMOUNT_MAX,
  decodeSegment,
  encodeSegment,
  eventRecordId,
  type Json,
  type LedgerEvent,
  type OriginId,
  originId,
  PRIORITY_MAX,
  TIME_MS_MAX,
} from '@allot/core';
import { BORROW_WAIT_MS_MAX, FRAME_TYPES, type ReplicationFrame, type WireSegment } from '@allot/replica';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, UnsendableMessageError } from '../src/codec.js';
import { PROTOCOL_VERSION, type TransportMessage, type WireMessage } from '../src/protocol.js';
import { CLUSTER, EU, signature, US } from './support.js';

const NUM_RUNS = 300;

/** A valid debit of `origin` at seq 1. */
function debitOf(origin: OriginId): LedgerEvent {
  return {
    origin,
    seq: 1,
    at: 0,
    tenant: 'acme',
    kind: 'debit',
    amount: 1,
    idempotencyKey: 'k',
    parts: [],
    overdraft: 1,
    metadata: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Arbitraries: every frame type, with events of every kind that core's eventProblem accepts.

const regionArb = fc.stringMatching(/^[a-z0-9-]{1,32}$/);
const incarnationArb = fc.stringMatching(/^[a-z2-7]{8,32}$/);
const originArb: fc.Arbitrary<OriginId> = fc.tuple(regionArb, incarnationArb).map(([r, i]) => originId(r, i));
const tenantArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/);
const keyArb = fc.stringMatching(/^[\x21-\x7e]{1,255}$/);
const timeArb = fc.oneof(fc.integer({ min: 0, max: TIME_MS_MAX }), fc.constantFrom(0, TIME_MS_MAX));
const amountArb = fc.oneof(
  fc.integer({ min: 1, max: AMOUNT_MAX }),
  fc.constantFrom(1, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1),
);
/** Part amounts small enough that up to 8 parts and an overdraft stay a safe integer. */
const partAmountArb = fc.oneof(fc.integer({ min: 1, max: 2 ** 48 }), fc.constantFrom(1, 2 ** 32, 2 ** 40));
const partsArb = (minLength: number) =>
  fc.uniqueArray(fc.record({ grantId: keyArb, amount: partAmountArb }), {
    minLength,
    maxLength: 8,
    selector: (part) => part.grantId,
  });
const sum = (parts: readonly { amount: number }[]) => parts.reduce((total, part) => total + part.amount, 0);

/** String units msgpackr cannot carry as written: lone surrogates, `__proto__` keys. */
const awkwardUnit = fc.oneof(
  fc.constantFrom('\ud800', '\udfff', '\u0000', '"', '\\', '__proto__', '😀', 'ü'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);

function containsNegativeZero(value: Json): boolean {
  if (typeof value === 'number') return Object.is(value, -0);
  if (Array.isArray(value)) return value.some(containsNegativeZero);
  if (value !== null && typeof value === 'object') return Object.values(value).some(containsNegativeZero);
  return false;
}

// Metadata reaches a replica as parsed JSON, where -0 cannot occur: normalise through JSON as the API does.
const metadataArb: fc.Arbitrary<Json> = fc
  .oneof(
    fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>,
    fc.jsonValue({ maxDepth: 3, stringUnit: awkwardUnit }) as fc.Arbitrary<Json>,
    fc
      .jsonValue({ maxDepth: 2 })
      .map((value) => JSON.parse(`{"__proto__":${JSON.stringify(value)},"z":1.5}`) as Json),
  )
  .map((value) => (containsNegativeZero(value) ? (JSON.parse(JSON.stringify(value)) as Json) : value));

type Body = Omit<LedgerEvent, 'origin' | 'seq' | 'at'>;

const bodyArb = (origin: OriginId): fc.Arbitrary<Body> =>
  fc.oneof(
    fc.record({
      kind: fc.constant('grant' as const),
      tenant: tenantArb,
      grantId: keyArb,
      amount: amountArb,
      priority: fc.integer({ min: 0, max: PRIORITY_MAX }),
      expiresAt: fc.option(timeArb, { nil: null }),
    }),
    fc
      .record({
        tenant: tenantArb,
        idempotencyKey: keyArb,
        parts: partsArb(0),
        overdraft: fc.oneof(fc.constant(0), partAmountArb),
        metadata: metadataArb,
      })
      .filter(({ parts, overdraft }) => sum(parts) + overdraft >= 1)
      .map((body) => ({ kind: 'debit' as const, ...body, amount: sum(body.parts) + body.overdraft })),
    fc
      .record({
        tenant: tenantArb,
        debitOrigin: originArb,
        debitSeq: amountArb,
        idempotencyKey: keyArb,
        parts: partsArb(0),
        overdraft: fc.oneof(fc.constant(0), partAmountArb),
      })
      .filter(({ parts, overdraft }) => sum(parts) + overdraft >= 1)
      .map(({ debitOrigin, debitSeq, ...body }) => ({
        kind: 'refund' as const,
        ...body,
        debitId: eventRecordId(debitOrigin, debitSeq),
        amount: sum(body.parts) + body.overdraft,
      })),
    fc
      .record({ kind: fc.constant('move' as const), tenant: tenantArb, to: originArb, parts: partsArb(1) })
      .filter(({ to }) => to !== origin),
    fc.record({
      kind: fc.constant('expire' as const),
      tenant: tenantArb,
      grantId: keyArb,
      amount: amountArb,
    }),
    fc
      .record({ tenant: tenantArb, parts: partsArb(1) })
      .map((body) => ({ kind: 'repay' as const, ...body, amount: sum(body.parts) })),
  );

const bytesArb = (minLength: number, maxLength: number) => fc.uint8Array({ minLength, maxLength });

const segmentsFrameArb: fc.Arbitrary<ReplicationFrame> = originArb.chain((origin) =>
  fc
    .record({
      fromSeq: fc.oneof(fc.integer({ min: 1, max: 2 ** 40 }), fc.constant(Number.MAX_SAFE_INTEGER - 7)),
      runs: fc.array(
        fc.record({
          bodies: fc.array(fc.record({ body: bodyArb(origin), at: timeArb }), { minLength: 1, maxLength: 3 }),
          signature: bytesArb(64, 64),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    })
    .filter(
      ({ fromSeq, runs }) =>
        fromSeq + runs.reduce((n, run) => n + run.bodies.length, 0) <= Number.MAX_SAFE_INTEGER,
    )
    .map(({ fromSeq, runs }) => {
      let seq = fromSeq;
      const segments = runs.map((run): WireSegment => {
        const firstSeq = seq;
        const events = run.bodies.map(({ body, at }) => ({ ...body, origin, seq: seq++, at }) as LedgerEvent);
        return { firstSeq, lastSeq: seq - 1, bytes: encodeSegment(events), signature: run.signature };
      });
      return { type: 'segments' as const, origin, segments };
    }),
);

/** A checkpoint's version vector: at least one origin, every seq ≥ 1. */
const joinVectorArb = fc.dictionary(originArb, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), {
  minKeys: 1,
  maxKeys: 8,
});

const frameArbs: { readonly [K in ReplicationFrame['type']]: fc.Arbitrary<ReplicationFrame> } = {
  summary: fc.record({
    type: fc.constant('summary' as const),
    versionVector: fc.dictionary(originArb, fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)), {
      maxKeys: 8,
    }),
    control: bytesArb(1, 64),
  }),
  segments: segmentsFrameArb,
  pull: fc.record({
    type: fc.constant('pull' as const),
    origin: originArb,
    fromSeq: fc.oneof(fc.integer({ min: 1, max: 2 ** 40 }), fc.constant(Number.MAX_SAFE_INTEGER)),
  }),
  'rights-request': fc.record({
    type: fc.constant('rights-request' as const),
    tenant: tenantArb,
    amount: amountArb,
  }),
  borrow: fc.record({
    type: fc.constant('borrow' as const),
    tenant: tenantArb,
    amount: amountArb,
    head: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
    since: fc.oneof(fc.constant(null), fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
    least: amountArb,
    waitsMs: fc.integer({ min: 0, max: BORROW_WAIT_MS_MAX }),
  }),
  'hold-settle': fc.record({
    type: fc.constant('hold-settle' as const),
    id: fc.nat(),
    tenant: tenantArb,
    holdId: originArb.map((origin) => eventRecordId(origin, 7)),
    action: fc.constant('capture' as const),
    amount: amountArb,
  }),
  'hold-settled': fc.record({
    type: fc.constant('hold-settled' as const),
    id: fc.nat(),
    status: fc.constant('exceeds_hold' as const),
    hold: fc.constant(null),
    held: amountArb,
  }),
  control: fc.record({ type: fc.constant('control' as const), message: bytesArb(1, 256) }),
  'join-offer-ask': fc.constant({ type: 'join-offer-ask' as const }),
  'join-offer': fc.oneof(
    fc.record({
      type: fc.constant('join-offer' as const),
      vector: joinVectorArb,
      hash: bytesArb(32, 32),
      signature: bytesArb(64, 64),
      size: fc.integer({ min: 1, max: 2 ** 30 }),
    }),
    fc.constant({ type: 'join-offer' as const, vector: null, hash: null, signature: null, size: 0 }),
  ),
  'join-hash-ask': fc.record({ type: fc.constant('join-hash-ask' as const), vector: joinVectorArb }),
  'join-hash': fc.record({
    type: fc.constant('join-hash' as const),
    vector: joinVectorArb,
    hash: fc.option(bytesArb(32, 32), { nil: null }),
  }),
  'join-chunk-ask': fc.record({
    type: fc.constant('join-chunk-ask' as const),
    hash: bytesArb(32, 32),
    offset: fc.integer({ min: 0, max: 2 ** 30 - 1 }),
  }),
  'join-chunk': fc
    .record({ hash: bytesArb(32, 32), offset: fc.integer({ min: 0, max: 2 ** 20 }), bytes: bytesArb(0, 512) })
    .map(({ hash, offset, bytes }) => ({
      type: 'join-chunk' as const,
      hash,
      offset,
      size: offset + bytes.length,
      bytes,
    })),
};

const transportArb: fc.Arbitrary<TransportMessage> = fc.oneof(
  fc.record({
    type: fc.constant('hello' as const),
    cluster: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 64 }),
    protocol: fc.integer(),
    region: regionArb,
    incarnation: incarnationArb,
    nonce: bytesArb(32, 32),
    signature: fc.option(bytesArb(64, 64), { nil: null }),
  }),
  fc.record({ type: fc.constant('auth' as const), signature: bytesArb(64, 64) }),
  fc.constant({ type: 'ready' as const }),
  fc.record({ type: fc.constantFrom('ping' as const, 'pong' as const), nonce: fc.nat() }),
);

// ---------------------------------------------------------------------------------------------

/** The message after a trip through its bytes (which must decode). */
function roundTrip(message: WireMessage): WireMessage {
  const decoded = decodeMessage(encodeMessage(message));
  if (decoded.problem !== null) throw new Error(`did not decode: ${decoded.problem}`);
  return decoded.message;
}

/** Asserts that `bytes` is a fresh, exact Uint8Array equal to `expected`. */
function expectBytes(bytes: unknown, expected: Uint8Array): void {
  expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
  const actual = bytes as Uint8Array;
  expect(actual.byteOffset).toBe(0);
  expect(actual.buffer.byteLength).toBe(actual.length);
  expect(Buffer.from(actual).equals(Buffer.from(expected))).toBe(true);
}

/** Asserts that `decoded` is `original` exactly: byte fields (segments included) byte for byte. */
function expectSame(decoded: WireMessage, original: WireMessage): void {
  expect(decoded.type).toBe(original.type);
  const byteFields = ['nonce', 'signature', 'control', 'message'] as const;
  const plain = (message: WireMessage) => {
    const fields: Record<string, unknown> = { ...message };
    for (const field of byteFields) delete fields[field];
    delete fields.segments;
    return fields;
  };
  expect(plain(decoded)).toEqual(plain(original));
  for (const field of byteFields) {
    const expected = (original as unknown as Record<string, unknown>)[field];
    const actual = (decoded as unknown as Record<string, unknown>)[field];
    if (expected instanceof Uint8Array) expectBytes(actual, expected);
    else expect(actual).toBe(expected);
  }
  if (original.type === 'segments' && decoded.type === 'segments') {
    expect(decoded.segments).toHaveLength(original.segments.length);
    decoded.segments.forEach((wire, i) => {
      const sent = original.segments[i] as WireSegment;
      expect([wire.firstSeq, wire.lastSeq]).toEqual([sent.firstSeq, sent.lastSeq]);
      expectBytes(wire.bytes, sent.bytes);
      expectBytes(wire.signature, sent.signature);
    });
  }
}

describe('codec', () => {
  for (const type of FRAME_TYPES) {
    it(`round-trips every valid ${type} frame exactly`, () => {
      fc.assert(
        fc.property(frameArbs[type], (frame) => {
          expectSame(roundTrip(frame), frame);
        }),
        { numRuns: NUM_RUNS },
      );
    });
  }

  it('round-trips every transport message exactly', () => {
    fc.assert(
      fc.property(transportArb, (message) => {
        expectSame(roundTrip(message), message);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('carries debit metadata msgpackr alone would change (__proto__ keys, lone surrogates) inside segments', () => {
    const metadata = JSON.parse('{"__proto__":{"a":"\\ud800"},"b":["\\udfff",-1.5e300]}') as Json;
    const debit = { ...debitOf(EU), metadata } as LedgerEvent;
    const bytes = encodeSegment([debit]);
    const frame: ReplicationFrame = {
      type: 'segments',
      origin: EU,
      segments: [{ firstSeq: 1, lastSeq: 1, bytes, signature: signature(1) }],
    };
    const decoded = roundTrip(frame) as typeof frame;
    const [event] = decodeSegment((decoded.segments[0] as WireSegment).bytes).events;
    const carried = (event as { metadata: Json }).metadata;
    expect(Object.hasOwn(carried as object, '__proto__')).toBe(true);
    expect(carried).toEqual(metadata);
  });

  it('hands out byte fields that do not share memory with the bytes read', () => {
    const bytes = encodeMessage({ type: 'control', message: new Uint8Array([9, 9, 9]) });
    const decoded = decodeMessage(bytes);
    bytes.fill(0);
    expect(decoded.message).toMatchObject({ message: new Uint8Array([9, 9, 9]) });
  });

  it('answers a problem, never a message, for bytes that are not a well-formed message', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    const packed = (value: unknown) => new Uint8Array(packr.pack(value));
    const pull = { type: 'pull', origin: US, fromSeq: 1 };
    const segmentsWire = (bytes: Uint8Array, firstSeq = 1, lastSeq = 1) => ({
      type: 'segments',
      origin: EU,
      segments: [{ firstSeq, lastSeq, bytes, signature: signature(1) }],
    });
    const one = encodeSegment([debitOf(EU)]);
    const cases: [string, Uint8Array, RegExp][] = [
      ['garbage', new Uint8Array([0xc1, 0xff, 0x00]), /not MessagePack/],
      ['nothing', new Uint8Array(0), /not MessagePack/],
      ['a truncated map', packed(pull).subarray(0, 5), /not MessagePack/],
      ['trailing bytes', new Uint8Array([...packed(pull), 0]), /not MessagePack/],
      ['a string', packed('pull'), /not a map/],
      ['an unknown type', packed({ ...pull, type: 'gossip' }), /unknown frame type "gossip"/],
      ['a uint64 seq', packed({ ...pull, fromSeq: 2n ** 60n }), /invalid fromSeq/],
      [
        'a float32 seq',
        new Uint8Array([...packed({ ...pull, fromSeq: 0 }).slice(0, -1), 0xca, 0x3f, 0xc0, 0, 0]),
        /invalid fromSeq/,
      ],
      ['a timestamp', packed({ ...pull, fromSeq: new Date(1) }), /invalid fromSeq/],
      ['segment bytes that are not a segment', packed(segmentsWire(new Uint8Array([9]))), /format version 9/],
      ['seqs the segment does not hold', packed(segmentsWire(one, 2, 2)), /holds eu#aaaaaaaa seqs 1-1/],
      [
        'a segment without bytes',
        packed({ ...segmentsWire(one), segments: [{ firstSeq: 1, lastSeq: 1, signature: signature(1) }] }),
        /has no bytes/,
      ],
      [
        'a hello without nonce',
        packed({
          type: 'hello',
          cluster: CLUSTER,
          protocol: PROTOCOL_VERSION,
          region: 'eu',
          incarnation: 'aaaaaaaa',
          signature: null,
        }),
        /hello has no nonce/,
      ],
      [
        'a short nonce',
        packed({
          type: 'hello',
          cluster: CLUSTER,
          protocol: 1,
          region: 'eu',
          incarnation: 'aaaaaaaa',
          nonce: new Uint8Array(31),
          signature: null,
        }),
        /nonce is not 32 bytes/,
      ],
      ['a ping with extra fields', packed({ type: 'ping', nonce: 1, pad: 'x' }), /unexpected field "pad"/],
      ['a ready with a field', packed({ type: 'ready', region: 'eu' }), /unexpected field "region"/],
    ];
    for (const [what, bytes, problem] of cases) {
      const decoded = decodeMessage(bytes);
      expect(decoded.message, what).toBeNull();
      expect(decoded.problem, what).toMatch(problem);
    }
  });

  it('refuses to encode a malformed message: a bug of the sender', () => {
    const malformed = [
      { type: 'pull', origin: US, fromSeq: 0 },
      { type: 'control', message: new Float64Array([1.5]) },
      { type: 'summary', versionVector: {}, control: Buffer.from([1]) },
      { type: 'ping', nonce: -1 },
    ];
    for (const message of malformed) {
      expect(() => encodeMessage(message as unknown as WireMessage)).toThrow(UnsendableMessageError);
    }
  });
});
