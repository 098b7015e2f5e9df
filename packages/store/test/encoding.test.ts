import {
  AMOUNT_MAX,
  type Canonical,
  canonicalJson,
  eventProblem,
  eventRecordId,
  type Json,
  type LedgerEvent,
  type OriginId,
  originId,
  PRIORITY_MAX,
  type TenantEventBody,
  TIME_MS_MAX,
} from '@allot/core';
import { type LogHead, MSGPACKR_OPTIONS } from '@allot/replica';
import fc from 'fast-check';
import { pack as defaultPack, unpack as defaultUnpack, Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  CLUSTER_ID_LENGTH_MAX,
  CONTROL_UPDATE_BYTES_MAX,
  decodeControlUpdate,
  decodeCounter,
  decodeLogHead,
  decodeNodeMeta,
  decodeStoredEvent,
  decodeTenantEntry,
  encodeControlUpdate,
  encodeCounter,
  encodeLogHead,
  encodeNodeMeta,
  encodeStoredEvent,
  encodeTenantEntry,
  METADATA_DEPTH_MAX,
  StoreCorruptError,
  StoreInvariantError,
  storedLogHead,
  type V2StoredEvent,
} from '../src/index.js';
import { debitBody, EU, everyKind, META, Logs as SegmentLogs, signature, T0, US } from './support.js';

/** Layout v2's record of one event (what a conversion reads): these tests keep its codec exact. */
type StoredEvent = V2StoredEvent;

/** Events appended as test logs do, as v2 records (the hash is any 32 bytes to this codec). */
class Logs {
  private readonly logs = new SegmentLogs();
  append(origin: OriginId, body: TenantEventBody): StoredEvent {
    const { event, hash } = this.logs.append(origin, body);
    return { event, hash };
  }
}

const KEY = 'v1/log/eu#aaaaaaaa/0000000000000001';

/** The stored event after a trip through its bytes. */
function roundTrip(stored: StoredEvent): StoredEvent {
  return decodeStoredEvent(KEY, encodeStoredEvent(stored));
}

/** Asserts that `decoded` is `original` exactly: same canonical JSON, same fields in the same order. */
function expectSame(decoded: StoredEvent, original: StoredEvent): void {
  expect(canonicalJson(decoded.event as unknown as Canonical)).toBe(
    canonicalJson(original.event as unknown as Canonical),
  );
  expect(JSON.stringify(decoded.event)).toBe(JSON.stringify(original.event));
  expect(decoded.event).toEqual(original.event);
  expect(decoded.hash.constructor).toBe(Uint8Array);
  expect([...decoded.hash]).toEqual([...original.hash]);
}

/** The error `run` throws. */
function errorOf(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('nothing was thrown');
}

// ---------------------------------------------------------------------------------------------
// Arbitraries: every event kind, with the fields core's eventProblem accepts.

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

/** Strings with lone surrogates, which MessagePack's UTF-8 cannot carry. */
const awkwardUnit = fc.oneof(
  fc.constantFrom('\ud800', '\udfff', '\u0000', '"', '\\', '__proto__', '😀', 'ü'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);
// Metadata reaches a replica as parsed JSON, where -0 cannot occur (JSON text has no -0 that
// JSON.stringify would keep): normalise through JSON as the API does.
const metadataArb: fc.Arbitrary<Json> = fc
  .oneof(
    fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>,
    fc.jsonValue({ maxDepth: 4, stringUnit: 'grapheme' }) as fc.Arbitrary<Json>,
    fc.jsonValue({ maxDepth: 3, stringUnit: awkwardUnit }) as fc.Arbitrary<Json>,
    fc
      .jsonValue({ maxDepth: 2 })
      .map((value) => JSON.parse(`{"__proto__":${JSON.stringify(value)},"z":1.5}`) as Json),
  )
  .map((value) => (containsNegativeZero(value) ? (JSON.parse(JSON.stringify(value)) as Json) : value));

function containsNegativeZero(value: Json): boolean {
  if (typeof value === 'number') return Object.is(value, -0);
  if (Array.isArray(value)) return value.some(containsNegativeZero);
  if (value !== null && typeof value === 'object') return Object.values(value).some(containsNegativeZero);
  return false;
}

const envelopeArb = fc.record({ origin: originArb, seq: amountArb, at: timeArb, tenant: tenantArb });

const eventArb: fc.Arbitrary<LedgerEvent> = envelopeArb.chain((envelope) =>
  fc.oneof(
    fc
      .record({
        grantId: keyArb,
        amount: amountArb,
        priority: fc.integer({ min: 0, max: PRIORITY_MAX }),
        expiresAt: fc.option(timeArb, { nil: null }),
      })
      .map((body) => ({ ...envelope, kind: 'grant' as const, ...body })),
    fc
      .record({
        idempotencyKey: keyArb,
        parts: partsArb(0),
        overdraft: fc.oneof(fc.constant(0), partAmountArb),
        metadata: metadataArb,
      })
      .filter(({ parts, overdraft }) => sum(parts) + overdraft >= 1)
      .map(({ parts, overdraft, idempotencyKey, metadata }) => ({
        ...envelope,
        kind: 'debit' as const,
        amount: sum(parts) + overdraft,
        idempotencyKey,
        parts,
        overdraft,
        metadata,
      })),
    fc
      .record({
        debitOrigin: originArb,
        debitSeq: amountArb,
        idempotencyKey: keyArb,
        parts: partsArb(0),
        overdraft: fc.oneof(fc.constant(0), partAmountArb),
      })
      .filter(({ parts, overdraft }) => sum(parts) + overdraft >= 1)
      .map(({ debitOrigin, debitSeq, idempotencyKey, parts, overdraft }) => ({
        ...envelope,
        kind: 'refund' as const,
        debitId: eventRecordId(debitOrigin, debitSeq),
        amount: sum(parts) + overdraft,
        idempotencyKey,
        parts,
        overdraft,
      })),
    fc
      .record({ to: originArb, parts: partsArb(1) })
      .filter(({ to }) => to !== envelope.origin)
      .map((body) => ({ ...envelope, kind: 'move' as const, ...body })),
    fc
      .record({ grantId: keyArb, amount: amountArb })
      .map((body) => ({ ...envelope, kind: 'expire' as const, ...body })),
    partsArb(1).map((parts) => ({ ...envelope, kind: 'repay' as const, amount: sum(parts), parts })),
  ),
);

const storedArb: fc.Arbitrary<StoredEvent> = fc.record({
  event: eventArb,
  hash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
});

describe('stored event encoding', () => {
  it('round-trips every valid event of every kind exactly', () => {
    const kinds = new Set<string>();
    fc.assert(
      fc.property(storedArb, (stored) => {
        expect(eventProblem(stored.event)).toBeNull();
        kinds.add(stored.event.kind);
        expectSame(roundTrip(stored), stored);
      }),
      { numRuns: Number(process.env.ALLOT_PROPERTY_RUNS ?? 1000) },
    );
    expect([...kinds].sort()).toEqual(['debit', 'expire', 'grant', 'move', 'refund', 'repay']);
  });

  it('keeps the integer edges exact', () => {
    const logs = new Logs();
    for (const amount of [1, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1]) {
      const stored = logs.append(EU, debitBody('acme', amount));
      const decoded = roundTrip(stored);
      expect(decoded.event).toMatchObject({ amount });
      expect(Number.isSafeInteger((decoded.event as { amount: number }).amount)).toBe(true);
    }
    for (const body of everyKind('acme', EU, US)) {
      const stored = logs.append(EU, body);
      expectSame(roundTrip(stored), stored);
    }
  });

  it('keeps a grant that never expires apart from one without the field', () => {
    const logs = new Logs();
    const never = logs.append(EU, {
      kind: 'grant',
      tenant: 'a',
      grantId: 'g',
      amount: 1,
      priority: 0,
      expiresAt: null,
    });
    expect(roundTrip(never).event).toHaveProperty('expiresAt', null);
    const dated = logs.append(EU, {
      kind: 'grant',
      tenant: 'a',
      grantId: 'g',
      amount: 1,
      priority: 0,
      expiresAt: T0,
    });
    expect(roundTrip(dated).event).toHaveProperty('expiresAt', T0);
    const { expiresAt: _, ...missing } = never.event as LedgerEvent & { expiresAt: number | null };
    expect(() => encodeStoredEvent({ event: missing as LedgerEvent, hash: never.hash })).toThrow(
      /has no expiresAt/,
    );
    const undefinedField = { ...never.event, expiresAt: undefined } as unknown as LedgerEvent;
    expect(() => encodeStoredEvent({ event: undefinedField, hash: never.hash })).toThrow(StoreInvariantError);
  });

  it('keeps metadata exactly: nesting, unicode, floats, a __proto__ key, a lone surrogate', () => {
    const logs = new Logs();
    const metadata = JSON.parse(
      '{"model":"gpt","__proto__":{"polluted":true},"deep":[[[{"k":[1,2.5,-1e-7,1.7976931348623157e308]}]]],' +
        '"text":"ünïcødé 😀 \\u0000 \\ud800","n":null,"t":true,"e":{},"a":[]}',
    ) as Json;
    const stored = logs.append(EU, debitBody('acme', 5, metadata));
    const decoded = roundTrip(stored);
    expectSame(decoded, stored);
    expect(Object.keys((decoded.event as { metadata: object }).metadata)).toContain('__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // −0 is not JSON: JSON (and so the chain hash, and this store) writes it as 0.
    const negativeZero = roundTrip(logs.append(EU, debitBody('acme', 5, { x: -0 })));
    expect(Object.is((negativeZero.event as unknown as { metadata: { x: number } }).metadata.x, 0)).toBe(
      true,
    );
  });

  it('refuses metadata that is not JSON, before anything is written', () => {
    const logs = new Logs();
    const sparse: number[] = [1];
    sparse[2] = 3;
    const cases: [unknown, RegExp][] = [
      [{ f: new Float64Array([1.5]) }, /Float64Array/],
      [{ d: new Date(0) }, /Date/],
      [{ n: Number.NaN }, /NaN/],
      [{ u: undefined }, /undefined/],
      [sparse, /sparse/],
      [{ b: 1n }, /bigint/],
      [JSON.parse(`${'['.repeat(METADATA_DEPTH_MAX + 1)}${']'.repeat(METADATA_DEPTH_MAX + 1)}`), /deeper/],
    ];
    for (const [metadata, problem] of cases) {
      // Not chained: the chain hash itself cannot take metadata that is not JSON.
      const event = { ...debitBody('acme', 5, metadata as Json), origin: EU, seq: 1, at: T0 } as LedgerEvent;
      const stored = { event, hash: new Uint8Array(32) };
      const error = errorOf(() => encodeStoredEvent(stored));
      expect(error).toBeInstanceOf(StoreInvariantError);
      expect(error.message).toMatch(problem);
    }
    const deepest = JSON.parse(`${'['.repeat(METADATA_DEPTH_MAX)}${']'.repeat(METADATA_DEPTH_MAX)}`) as Json;
    const deep = logs.append(EU, debitBody('acme', 5, deepest));
    expectSame(roundTrip(deep), deep);
  });

  it('refuses a malformed event or hash on the way in', () => {
    const stored = new Logs().append(EU, debitBody('acme', 5));
    const cases: [StoredEvent, RegExp][] = [
      [{ ...stored, hash: new Uint8Array(31) }, /hash has 31 bytes/],
      [{ ...stored, hash: new Float64Array(4) as unknown as Uint8Array }, /Float64Array, not a Uint8Array/],
      [{ ...stored, event: { ...stored.event, amount: 0 } as LedgerEvent }, /invalid amount/],
      [
        { ...stored, event: { ...stored.event, extra: 1 } as unknown as LedgerEvent },
        /unexpected field "extra"/,
      ],
      [
        { ...stored, event: { ...stored.event, kind: 'gift' } as unknown as LedgerEvent },
        /unknown event kind/,
      ],
      [
        {
          ...stored,
          event: {
            ...stored.event,
            parts: [{ grantId: 'g1', amount: 5, note: 1 }],
          } as unknown as LedgerEvent,
        },
        /a part has an unexpected field "note"/,
      ],
    ];
    for (const [bad, problem] of cases) {
      const error = errorOf(() => encodeStoredEvent(bad));
      expect(error).toBeInstanceOf(StoreInvariantError);
      expect(error.message).toMatch(problem);
      expect(error.message).not.toMatch(/\n/);
    }
  });

  it('returns fresh Uint8Arrays that share nothing with the bytes read', () => {
    const stored = new Logs().append(EU, debitBody('acme', 5));
    // A hash that is a view into a larger buffer, at an offset.
    const backing = new Uint8Array(100).fill(1);
    backing.set(stored.hash, 40);
    const offsetHash = { ...stored, hash: backing.subarray(40, 72) };
    const bytes = encodeStoredEvent(offsetHash);
    expect(bytes.constructor).toBe(Uint8Array);
    const decoded = decodeStoredEvent(KEY, bytes);
    expectSame(decoded, stored);
    bytes.fill(0);
    expectSame(decoded, stored);
    // A Buffer in, a plain Uint8Array out.
    const fromBuffer = roundTrip({ ...stored, hash: Buffer.from(stored.hash) });
    expect(fromBuffer.hash.constructor).toBe(Uint8Array);
  });

  it('writes plain maps that any MessagePack reader decodes, and reads those back', () => {
    const stored = new Logs().append(EU, debitBody('acme', 5, { a: [1] }));
    const plain = defaultUnpack(Buffer.from(encodeStoredEvent(stored))) as { event: Record<string, unknown> };
    expect(plain.event).toMatchObject({ origin: EU, seq: 1, kind: 'debit', metadataJson: '{"a":[1]}' });
    const rewritten = new Packr({ useRecords: false }).pack(plain);
    expectSame(decodeStoredEvent(KEY, rewritten), stored);
  });

  it("shows why byte fields are checked: msgpackr's default pack garbles a Float64Array", () => {
    const floats = new Float64Array([1.5, 2.5]);
    const garbled = defaultUnpack(defaultPack(floats)) as Uint8Array;
    expect(garbled.byteLength).toBe(16);
    expect(new Float64Array(new Uint8Array(garbled).buffer)).not.toEqual(floats);
  });
});

describe('stored event decoding', () => {
  const stored = new Logs().append(EU, debitBody('acme', 5, { a: 1 }));
  const packPlain = (value: unknown) => new Packr({ useRecords: false }).pack(value);
  const record = (event: Record<string, unknown>, hash: unknown = stored.hash) =>
    packPlain({ event: { ...event }, hash });
  const { metadata: _, ...withoutMetadata } = stored.event as LedgerEvent & { metadata: Json };
  /** The stored fields in the event's own order, metadata as its JSON text. */
  const fields = Object.fromEntries(
    Object.entries(stored.event).map(([key, value]) =>
      key === 'metadata' ? ['metadataJson', JSON.stringify(value)] : [key, value],
    ),
  );

  it('reads a record rebuilt by another writer', () => {
    expectSame(decodeStoredEvent(KEY, record(fields)), stored);
  });

  it('refuses bytes that are not a valid record, naming the key in one line', () => {
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array([]), /not MessagePack/],
      [new Uint8Array([0xc1]), /record is a C1Type, not a map/],
      [new Uint8Array([0x92, 0x01]), /not MessagePack/],
      [new Uint8Array([0x01, 0x02]), /not MessagePack/],
      [new Uint8Array([0xd6, 0xff, 0, 0, 0, 1]), /record is a Date, not a map/],
      [packPlain([1, 2]), /record is an array, not a map/],
      [packPlain({ event: fields }), /record has no hash/],
      [packPlain({ event: fields, hash: stored.hash, more: 1 }), /unexpected field "more"/],
      [record(fields, new Uint8Array(31)), /hash has 31 bytes, not 32/],
      [record(fields, 'abc'), /hash is string, not a Uint8Array/],
      [record({ ...fields, kind: 'gift' }), /unknown event kind "gift"/],
      [record({ ...fields, amount: 0 }), /invalid amount/],
      [record({ ...fields, amount: 2 ** 53 }), /invalid amount/],
      [record({ ...fields, seq: 2n ** 60n }), /invalid seq/],
      [record({ ...fields, metadataJson: '{"a":' }), /metadata is not JSON/],
      [record({ ...fields, metadataJson: 5 }), /metadata is number, not JSON text/],
      [record({ ...withoutMetadata }), /event has no metadataJson/],
      [record({ ...fields, metadata: { a: 1 } }), /unexpected field "metadata"/],
      [record({ ...fields, ...JSON.parse('{"__proto__":1}') }), /unexpected field "__proto_"/],
    ];
    for (const [bytes, problem] of cases) {
      const error = errorOf(() => decodeStoredEvent(KEY, bytes));
      expect(error, problem.source).toBeInstanceOf(StoreCorruptError);
      expect(error.message, problem.source).toMatch(problem);
      expect(error.message.startsWith(`store corrupt at key ${JSON.stringify(KEY)}: `)).toBe(true);
      expect(error.message).not.toMatch(/[\n\r]/);
      expect((error as StoreCorruptError).key).toBe(KEY);
    }
  });
});

describe('other records', () => {
  it('round-trips heads, with and without a signature', () => {
    const head: LogHead = {
      origin: EU,
      seq: 2 ** 53 - 1,
      hash: new Uint8Array(32).fill(3),
      signature: signature(7),
    };
    for (const each of [head, { ...head, signature: null }]) {
      const decoded = decodeLogHead('k', encodeLogHead(each));
      expect(decoded).toEqual(each);
      expect(decoded.hash.constructor).toBe(Uint8Array);
    }
    expect(decodeLogHead('k', encodeLogHead({ ...head, signature: null })).signature).toBeNull();
    expect(() => encodeLogHead({ ...head, signature: new Uint8Array(32) })).toThrow(
      /signature has 32 bytes, not 64/,
    );
    expect(() => encodeLogHead({ ...head, seq: 0 })).toThrow(StoreInvariantError);
    const { signature: _, ...unsigned } = head;
    expect(() => encodeLogHead(unsigned as LogHead)).toThrow(/head has no signature/);
  });

  it('writes a head byte for byte as msgpackr packs it, and plans the head a read gives back', () => {
    // encodeLogHead is written by hand; what earlier builds stored with msgpackr must not change.
    const packr = new Packr(MSGPACKR_OPTIONS);
    const seqArb = fc.oneof(
      fc.integer({ min: 1, max: 2 ** 53 - 1 }),
      fc.integer({ min: 1, max: 70_000 }),
      fc.constantFrom(1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1),
    );
    const headArb = fc.record({
      origin: originArb,
      seq: seqArb,
      hash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      signature: fc.option(fc.uint8Array({ minLength: 64, maxLength: 64 })),
    });
    fc.assert(
      fc.property(headArb, (head: LogHead) => {
        const bytes = encodeLogHead(head);
        expect(bytes).toEqual(new Uint8Array(packr.pack({ ...head })));
        const planned = storedLogHead(head);
        expect(decodeLogHead('k', bytes)).toEqual(planned);
        expect(planned.hash).not.toBe(head.hash);
      }),
      { numRuns: 2_000 },
    );
  });

  it('round-trips node metadata and refuses a format it does not know', () => {
    expect(decodeNodeMeta('v1/meta', encodeNodeMeta(META))).toEqual(META);
    const future = new Packr({ useRecords: false }).pack({ ...META, formatVersion: 2 });
    expect(() => decodeNodeMeta('v1/meta', future)).toThrow(
      'store corrupt at key "v1/meta": format version 2 is not one this build reads (1)',
    );
    expect(() => encodeNodeMeta({ ...META, cluster: '' })).toThrow(StoreInvariantError);
    const longest = { ...META, cluster: 'c'.repeat(CLUSTER_ID_LENGTH_MAX) };
    expect(decodeNodeMeta('v1/meta', encodeNodeMeta(longest))).toEqual(longest);
    expect(() => encodeNodeMeta({ ...META, cluster: 'c'.repeat(CLUSTER_ID_LENGTH_MAX + 1) })).toThrow(
      `cluster is not a string of 1 to ${CLUSTER_ID_LENGTH_MAX} characters`,
    );
    expect(() => encodeNodeMeta({ ...META, cluster: 'a\ud800' })).toThrow(/lone UTF-16 surrogate/);
    expect(() => encodeNodeMeta({ ...META, incarnation: 'AAAA' })).toThrow(/invalid incarnation/);
  });

  it('round-trips control updates, index entries and the counter', () => {
    const update = new Uint8Array(70_000).map((_, i) => i % 251);
    const decoded = decodeControlUpdate('k', encodeControlUpdate(update));
    expect(decoded.constructor).toBe(Uint8Array);
    expect(decoded).toEqual(update);
    const largest = new Uint8Array(CONTROL_UPDATE_BYTES_MAX).fill(5);
    expect(decodeControlUpdate('k', encodeControlUpdate(largest))).toHaveLength(CONTROL_UPDATE_BYTES_MAX);
    expect(() => encodeControlUpdate(new Uint8Array(CONTROL_UPDATE_BYTES_MAX + 1))).toThrow(
      `control update has ${CONTROL_UPDATE_BYTES_MAX + 1} bytes, more than ${CONTROL_UPDATE_BYTES_MAX}`,
    );
    expect(() => encodeControlUpdate(new Uint16Array(2) as unknown as Uint8Array)).toThrow(/Uint16Array/);
    const positions = [
      { origin: US, seq: 2 ** 40 },
      { origin: US, seq: 2 ** 40 + 7 },
      { origin: EU, seq: 1 },
      { origin: US, seq: 3 },
    ];
    expect(decodeTenantEntry('k', encodeTenantEntry(positions))).toEqual(positions);
    expect(() => encodeTenantEntry([])).toThrow(StoreInvariantError);
    expect(() => decodeTenantEntry('k', new Uint8Array([1, 3, 0x61]))).toThrow(StoreCorruptError);
    const trailing = Uint8Array.from([...encodeTenantEntry(positions), 0]);
    expect(() => decodeTenantEntry('k', trailing)).toThrow(/bytes after its last run/);
    for (const counter of [0, 1, 2 ** 32, 2 ** 53 - 1])
      expect(decodeCounter('k', encodeCounter(counter))).toBe(counter);
    expect(() => decodeCounter('k', new Packr({ useRecords: false }).pack(-1))).toThrow(StoreCorruptError);
  });
});
