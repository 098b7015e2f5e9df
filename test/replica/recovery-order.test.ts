/**
 * A start folds the stored logs one after another, but a hold's end may be in another log than the
 * hold: a region's new incarnation releases, at expiry, a hold its lost incarnation took (once it
 * retired it: until then the hold is stranded with the lost one). Folded
 * in the order of their ids, the release could come before its hold, and the node could not open
 * ("hold … unknown": swarm seed 156 with holds drawn). The release's log now waits for the hold.
 */
import {
  applyEvent,
  createLedgerState,
  decideGrant,
  decideHold,
  decideHoldExpiries,
  encodeSegment,
  type LedgerEvent,
  makeEvent,
  type OriginId,
  retireFigures,
} from '@allot/core';
import { headSigningBytes, type LogHead, type SegmentWrite, segmentHash, ZERO_HASH } from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { type Harness, harness, START_MS, settle } from './support.js';

/** us's lost incarnation, which took the hold, and its next one, which released it: ids in the other order. */
const US_LOST = 'us#zzzzzzzzzzzzzzzz' as OriginId;
const US_NEXT = 'us#aaaaaaaaaaaaaaaa' as OriginId;

/**
 * The events: a grant and a hold of 30 at US_LOST; US_NEXT retires US_LOST and releases the hold,
 * past its expiry.
 */
function events(): { lost: LedgerEvent[]; next: LedgerEvent[] } {
  const state = createLedgerState();
  const lost: LedgerEvent[] = [];
  const at = (origin: OriginId, seq: number, now: number) => ({ origin, seq, at: now });
  const grant = decideGrant(
    state,
    { origin: US_LOST, now: START_MS },
    { tenant: 'acme', grantId: 'g1', amount: 100, priority: 100, expiresAt: null },
  );
  if (grant.status !== 'accepted') throw new Error(`grant ${grant.status}`);
  lost.push(makeEvent(at(US_LOST, 1, START_MS), grant.body));
  applyEvent(state, lost[0] as LedgerEvent);
  const hold = decideHold(
    state,
    { origin: US_LOST, now: START_MS, overdraftLimit: 0 },
    { tenant: 'acme', amount: 30, idempotencyKey: 'h1', ttlMs: 1_000, metadata: null },
  );
  if (hold.status !== 'accepted') throw new Error(`hold ${hold.status}`);
  lost.push(makeEvent(at(US_LOST, 2, START_MS), hold.body));
  applyEvent(state, lost[1] as LedgerEvent);
  const later = START_MS + 2_000;
  const figures = retireFigures(state, 'acme', US_LOST);
  if (figures === null) throw new Error('nothing to retire');
  const next = [
    makeEvent(at(US_NEXT, 1, later), {
      kind: 'retire',
      tenant: 'acme',
      retired: US_LOST,
      through: 2,
      parts: figures.parts[0] ?? [],
    }),
  ];
  applyEvent(state, next[0] as LedgerEvent);
  const [release] = decideHoldExpiries(state, { origin: US_NEXT, now: later }, 'acme');
  if (release === undefined) throw new Error('no release at expiry');
  next.push(makeEvent(at(US_NEXT, 2, later), release));
  return { lost, next };
}

/** One segment of `origin`'s log holding `of`, from its start, and the head it leaves. */
function segment(h: Harness, origin: OriginId, of: LedgerEvent[]): { write: SegmentWrite; head: LogHead } {
  const bytes = encodeSegment(of);
  const hash = segmentHash(h.crypto, ZERO_HASH, bytes);
  const lastSeq = of.length;
  const signature = h.crypto.sign(headSigningBytes('test', origin, lastSeq, hash));
  return {
    write: { origin, firstSeq: 1, lastSeq, bytes, hash, signature, tenants: of.map((event) => event.tenant) },
    head: { origin, seq: lastSeq, hash, signature },
  };
}

describe('a start folds a hold before the end another log holds', () => {
  it('opens when a new incarnation’s release sorts before its lost incarnation’s hold', async () => {
    const h = await harness();
    const { lost, next } = events();
    const logs = [segment(h, US_NEXT, next), segment(h, US_LOST, lost)];
    await h.store.commit(
      { segments: logs.map((log) => log.write), heads: logs.map((log) => log.head) },
      { sync: true },
    );
    await settle(h.clock, h.replica.close());
    const reopened = await h.reopen(h.store.crash());
    const balance = reopened.balance('acme');
    expect(balance?.held).toBe(0);
    expect(balance?.balance).toBe(100);
  });

  it('refuses to open, naming the release, when no stored log holds its hold', async () => {
    const h = await harness();
    const { next } = events();
    const log = segment(h, US_NEXT, next);
    await h.store.commit({ segments: [log.write], heads: [log.head] }, { sync: true });
    await settle(h.clock, h.replica.close());
    await expect(h.reopen(h.store.crash())).rejects.toThrow(
      `log ${US_NEXT} seq 2: no stored log holds the hold it ends`,
    );
  });
});
