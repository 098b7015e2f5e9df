/**
 * Limits of different packages that only work together (issue 10), in one place: each relation is
 * stated as a test, so changing one number without the other fails here, not in production.
 */
import {
  decodeSegment,
  encodeSegment,
  type Json,
  makeEvent,
  type OriginId,
  SEGMENT_BYTES_MAX,
  SegmentEncodeError,
} from '@allot/core';
import {
  BATCH_EVENTS_MAX,
  eventShapeProblem,
  FRAME_SEGMENT_BYTES_MAX,
  LINK_POLICY,
  PEER_WINDOW_EVENTS,
  PENDING_EVENTS_MAX,
  METADATA_DEPTH_MAX as REPLICA_METADATA_DEPTH_MAX,
  SEGMENT_CUT_BYTES,
  type WireSegment,
} from '@allot/replica';
import { COMMIT_EVENTS_MAX, MemoryStore } from '@allot/store';
import { encodeMessage, splitRun } from '@allot/transport';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BATCH_BODY_BYTES_MAX,
  BATCH_DEBITS_MAX,
  METADATA_BYTES_MAX,
  METADATA_DEPTH_MAX,
} from '../src/limits.js';
import { metadataError } from '../src/metadata.js';
import { openReplica } from './support.js';

const ORIGIN = 'eu#aaaaaaaaaaaaaaaa' as OriginId;

/** A well-formed debit event carrying `metadata`. */
function debitWith(metadata: Json) {
  return makeEvent(
    { origin: ORIGIN, seq: 1, at: Date.UTC(2030, 0, 1) },
    {
      kind: 'debit',
      tenant: 'acme',
      amount: 1,
      overdraft: 0,
      idempotencyKey: 'k',
      parts: [{ grantId: 'g', amount: 1 }],
      metadata,
    },
  );
}

/** `value` inside `levels` arrays. */
function nested(levels: number, value: Json = 1): Json {
  let out: Json = value;
  for (let i = 0; i < levels; i++) out = [out];
  return out;
}

describe('related limits', () => {
  it('metadata nesting: one bound, the API and the replica count it alike', () => {
    expect(METADATA_DEPTH_MAX).toBe(REPLICA_METADATA_DEPTH_MAX);
    // The metadata object is level 0: MAX − 1 more levels are the deepest either takes.
    const deepest = { x: nested(METADATA_DEPTH_MAX - 1) };
    const deeper = { x: nested(METADATA_DEPTH_MAX) };
    expect(metadataError(deepest, '/metadata')).toBeNull();
    expect(eventShapeProblem(debitWith(deepest))).toBeNull();
    expect(metadataError(deeper, '/metadata')?.body.code).toBe('invalid_request');
    expect(eventShapeProblem(debitWith(deeper))).toMatch(/deeper/);
    // The segment codec (what is stored and sent) takes the same bound.
    expect(decodeSegment(encodeSegment([debitWith(deepest)])).events[0]).toEqual(debitWith(deepest));
    expect(() => encodeSegment([debitWith(deeper)])).toThrow(SegmentEncodeError);
  });

  it('a peer frame carries every metadata the API accepts (property)', () => {
    const metadata = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 40 }), {
      maxKeys: 4,
    });
    fc.assert(
      fc.property(metadata, (value) => {
        if (metadataError(value, '/metadata') !== null) return;
        expect(eventShapeProblem(debitWith(value as Json))).toBeNull();
        const [event] = decodeSegment(encodeSegment([debitWith(value as Json)])).events;
        expect(event).toEqual(debitWith(JSON.parse(JSON.stringify(value)) as Json));
      }),
      { numRuns: 300 },
    );
  });

  it('the batch route takes exactly one group commit, which an idle node admits and a store writes whole', () => {
    expect(BATCH_DEBITS_MAX).toBe(BATCH_EVENTS_MAX);
    expect(PENDING_EVENTS_MAX).toBeGreaterThanOrEqual(BATCH_DEBITS_MAX);
    expect(COMMIT_EVENTS_MAX).toBeGreaterThanOrEqual(BATCH_EVENTS_MAX);
    // A full batch of typical debits (~300 bytes each) fits the batch route's body.
    expect(BATCH_BODY_BYTES_MAX).toBeGreaterThanOrEqual(BATCH_DEBITS_MAX * 300);
  });

  it('a full commit goes to a peer at once: it fits the peer window, in segments a frame holds', () => {
    expect(PEER_WINDOW_EVENTS).toBeGreaterThanOrEqual(BATCH_EVENTS_MAX);
    // A segment is cut past SEGMENT_CUT_BYTES: one more event of the largest kind still fits.
    const parts = Array.from({ length: 1_024 }, (_, i) => ({
      grantId: `${String(i).padStart(4, '0')}${'g'.repeat(251)}`,
      amount: 1,
    }));
    const metadata = { x: 'x'.repeat(METADATA_BYTES_MAX - 10) };
    expect(metadataError(metadata, '/metadata')).toBeNull();
    const largest = makeEvent(
      { origin: ORIGIN, seq: 1, at: Date.UTC(2030, 0, 1) },
      {
        kind: 'debit',
        tenant: 'acme',
        amount: 1_024,
        overdraft: 0,
        idempotencyKey: 'k'.repeat(255),
        parts,
        metadata,
      },
    );
    expect(SEGMENT_CUT_BYTES + encodeSegment([largest]).length).toBeLessThan(SEGMENT_BYTES_MAX);
    // A frame holds the largest segment with room for its fields.
    expect(SEGMENT_BYTES_MAX).toBeLessThanOrEqual(FRAME_SEGMENT_BYTES_MAX);
    expect(FRAME_SEGMENT_BYTES_MAX).toBeLessThan(LINK_POLICY.frameBytesMax);
    const segment: WireSegment = {
      firstSeq: 1,
      lastSeq: 1,
      bytes: new Uint8Array(SEGMENT_BYTES_MAX),
      signature: new Uint8Array(64),
    };
    const frame = new Uint8Array(segment.bytes.length + 200); // msgpack's few bytes of fields
    expect(frame.length).toBeLessThan(LINK_POLICY.frameBytesMax);
  });

  it('a frame holds a full run: an own log of huge debits is cut into segments a relay can send', async () => {
    // Debits with 4 KiB of metadata each: a commit of 1,100 of them is more than a frame, so the
    // commit writes several segments (strings such as grant ids are written once per segment).
    const parts = 1;
    const count = 1_100;
    const store = MemoryStore.empty();
    const replica = await openReplica(undefined, store);
    const grantId = (i: number) => `${String(i).padStart(4, '0')}${'g'.repeat(251)}`;
    const tenants = Array.from({ length: count }, (_, t) => `t${t}`);
    for (let from = 0; from < tenants.length; from += 256) {
      const grants = tenants
        .slice(from, from + 256)
        .flatMap((tenant) =>
          Array.from({ length: parts }, (_, i) =>
            replica.grant({ tenant, grantId: grantId(i), amount: 1, priority: 100, expiresAt: null }),
          ),
        );
      for (const outcome of await Promise.all(grants)) expect(outcome.status).toBe('accepted');
    }
    const metadata = { x: 'm'.repeat(METADATA_BYTES_MAX - 10) };
    const commands = tenants.map((tenant) => ({ tenant, amount: parts, idempotencyKey: 'd', metadata }));
    const outcomes = await replica.debitMany(commands);
    expect(outcomes.every((outcome) => outcome.status === 'accepted')).toBe(true);
    const firstDebit = tenants.length * parts + 1;
    const segments = await store.readSegments(replica.origin, firstDebit, 64);
    await replica.close();
    const debits = segments.filter((segment) => segment.lastSeq >= firstDebit);
    expect(debits.length).toBeGreaterThan(1);
    for (const segment of debits) expect(segment.bytes.length).toBeLessThanOrEqual(SEGMENT_BYTES_MAX);
    const wire: WireSegment[] = debits.map(({ firstSeq, lastSeq, bytes, signature }) => ({
      firstSeq,
      lastSeq,
      bytes,
      signature,
    }));
    const whole = wire.reduce((sum, segment) => sum + segment.bytes.length, 0);
    expect(whole).toBeGreaterThan(LINK_POLICY.frameBytesMax);
    const split = splitRun(
      { type: 'segments', origin: replica.origin, segments: wire },
      LINK_POLICY.frameBytesMax,
      encodeMessage,
    );
    expect(split.problem).toBeNull();
    expect(split.pieces?.length).toBeGreaterThan(1);
    for (const piece of split.pieces ?? [])
      expect(piece.length).toBeLessThanOrEqual(LINK_POLICY.frameBytesMax);
  });
});
