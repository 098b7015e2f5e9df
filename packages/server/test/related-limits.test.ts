/**
 * Limits of different packages that only work together (issue 10), in one place: each relation is
 * stated as a test, so changing one number without the other fails here, not in production.
 */
import { type Json, makeEvent, type OriginId } from '@allot/core';
import {
  BATCH_EVENTS_MAX,
  EVENTS_PER_FRAME_MAX,
  eventShapeProblem,
  HEAD_SIGN_INTERVAL_EVENTS,
  LINK_POLICY,
  PEER_WINDOW_EVENTS,
  PENDING_EVENTS_MAX,
  METADATA_DEPTH_MAX as REPLICA_METADATA_DEPTH_MAX,
  type WireEvent,
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
  });

  it('a peer frame carries every metadata the API accepts (property)', () => {
    const metadata = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 40 }), {
      maxKeys: 4,
    });
    fc.assert(
      fc.property(metadata, (value) => {
        if (metadataError(value, '/metadata') !== null) return;
        expect(eventShapeProblem(debitWith(value as Json))).toBeNull();
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

  it('a full commit goes to a peer at once: it fits the peer window, in runs a frame may hold', () => {
    expect(PEER_WINDOW_EVENTS).toBeGreaterThanOrEqual(BATCH_EVENTS_MAX);
    expect(EVENTS_PER_FRAME_MAX).toBeGreaterThanOrEqual(HEAD_SIGN_INTERVAL_EVENTS);
    // A debit of the API with the most metadata is far below a frame.
    const metadata = { x: 'x'.repeat(METADATA_BYTES_MAX - 10) };
    expect(metadataError(metadata, '/metadata')).toBeNull();
    const wire: WireEvent = {
      event: debitWith(metadata),
      hash: new Uint8Array(32),
      signature: new Uint8Array(64),
    };
    const frame = encodeMessage({ type: 'events', origin: ORIGIN, events: [wire] });
    expect(frame.length * HEAD_SIGN_INTERVAL_EVENTS).toBeLessThan(LINK_POLICY.frameBytesMax);
  });

  it('a frame holds a full run: an own log of huge debits is signed so that it cuts into frames', async () => {
    // Debits of 48 parts with 255-character grant ids and 4 KiB of metadata are ~17.5 KB each:
    // HEAD_SIGN_INTERVAL_EVENTS of them are more than a frame, so the origin must sign by bytes too.
    const parts = 48;
    const store = MemoryStore.empty();
    const replica = await openReplica(undefined, store);
    const grantId = (i: number) => `${String(i).padStart(4, '0')}${'g'.repeat(251)}`;
    const tenants = Array.from({ length: HEAD_SIGN_INTERVAL_EVENTS }, (_, t) => `t${t}`);
    for (let from = 0; from < tenants.length; from += 16) {
      const grants = tenants
        .slice(from, from + 16)
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
    const debits = await store.readLog(replica.origin, firstDebit, commands.length);
    await replica.close();
    expect(debits).toHaveLength(HEAD_SIGN_INTERVAL_EVENTS);
    const wire: WireEvent[] = debits.map((each) => ({ ...each, signature: each.signature ?? null }));
    const whole = encodeMessage({ type: 'events', origin: replica.origin, events: wire });
    expect(whole.length).toBeGreaterThan(LINK_POLICY.frameBytesMax); // one signing interval is too big
    // Every run that ends at a signature fits a frame, so a relay can always cut the log.
    let start = 0;
    wire.forEach((event, i) => {
      if (event.signature === null) return;
      const run = encodeMessage({ type: 'events', origin: replica.origin, events: wire.slice(start, i + 1) });
      expect(run.length).toBeLessThanOrEqual(LINK_POLICY.frameBytesMax);
      start = i + 1;
    });
    expect(start).toBe(wire.length); // the last event of the commit is signed
    const split = splitRun(
      { type: 'events', origin: replica.origin, events: wire },
      LINK_POLICY.frameBytesMax,
      encodeMessage,
    );
    expect(split.problem).toBeNull();
    expect(split.pieces?.length).toBeGreaterThan(1);
  });
});
