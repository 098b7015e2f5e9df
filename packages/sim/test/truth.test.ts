/**
 * The true ledger's totals after a damaged disk (issue 15): what a storage fault destroyed before
 * any other node held it no longer counts, an event written again under such a seq counts anew,
 * and the same event committed twice (fetched back from a peer) counts once.
 */
import { createHash } from 'node:crypto';
import {
  applyEvent,
  createLedgerState,
  decideDebit,
  decideGrant,
  decideHold,
  decideHoldExpiries,
  decideSettle,
  encodeSegment,
  eventCanonicalBytes,
  type LedgerEvent,
  type LedgerState,
  makeEvent,
  originId,
  type TenantEventBody,
} from '@allot/core';
import { SegmentEvents, TrueLedger } from '@allot/sim';
import { describe, expect, it } from 'vitest';

const EU = originId('eu', 'aaaaaaaa');
const T0 = 1_700_000_000_000;

const identity = (event: LedgerEvent) =>
  new Uint8Array(createHash('sha256').update(eventCanonicalBytes(event)).digest());

/** eu's log as its node writes it: each event decided on, and folded into, `state`. */
function writer(state: LedgerState = createLedgerState()) {
  let seq = 0;
  const append = (body: TenantEventBody) => {
    seq += 1;
    const event = makeEvent({ origin: EU, seq, at: T0 }, body);
    expect(applyEvent(state, event)).toBe('applied');
    return event;
  };
  return {
    state,
    grant(amount: number): LedgerEvent {
      const decided = decideGrant(
        state,
        { origin: EU, now: T0 },
        { tenant: 'acme', grantId: 'g1', amount, priority: 100, expiresAt: null },
      );
      if (decided.status !== 'accepted') throw new Error(decided.status);
      return append(decided.body);
    },
    debit(amount: number, key: string): LedgerEvent {
      const decided = decideDebit(
        state,
        { origin: EU, now: T0, overdraftLimit: 0 },
        { tenant: 'acme', amount, idempotencyKey: key, metadata: null },
      );
      if (decided.status !== 'accepted') throw new Error(decided.status);
      return append(decided.body);
    },
  };
}

describe('the true ledger after a damaged disk', () => {
  it('forgets what was destroyed, counts what is written again under those seqs, and a re-commit once', () => {
    const truth = new TrueLedger();
    const before = writer();
    const grant = before.grant(100);
    const first = before.debit(10, 'k1');
    const lost = before.debit(20, 'k2');
    for (const event of [grant, first, lost]) truth.apply(event, identity(event));
    expect(truth.figures('acme')).toMatchObject({ granted: 100, debited: 30 });

    // eu's disk lost seq 3 before any peer held it: gone everywhere.
    truth.forget(EU, 2, 3);
    expect(truth.figures('acme')).toMatchObject({ granted: 100, debited: 10 });

    // eu restarts on seqs 1–2 and writes another debit under seq 3: as real as any.
    const after = writer();
    after.grant(100);
    after.debit(10, 'k1');
    const again = after.debit(5, 'k3');
    expect(again.seq).toBe(lost.seq);
    truth.apply(again, identity(again));
    expect(truth.figures('acme')).toMatchObject({ granted: 100, debited: 15 });
    expect(truth.reusedEvents).toBe(1);
    // The state folds it too (swarm seed 253: F1 read rights from a destroyed event), not the lost one.
    expect(truth.liveAt('acme', 0, [EU])).toBe(85);

    // The same events committed again (fetched back from a peer) count once.
    truth.apply(again, identity(again));
    truth.apply(first, identity(first));
    expect(truth.figures('acme')).toMatchObject({ granted: 100, debited: 15 });
    expect(truth.reusedEvents).toBe(1);
  });

  it('an event made again identical under a forgotten seq counts once more (seed 4535: a re-made expiry)', () => {
    const truth = new TrueLedger();
    const log = writer();
    const grant = log.grant(100);
    const debit = log.debit(7, 'k1');
    truth.apply(grant, identity(grant));
    truth.apply(debit, identity(debit));
    truth.forget(EU, 1, 2);
    expect(truth.figures('acme')).toMatchObject({ debited: 0 });
    truth.apply(debit, identity(debit));
    expect(truth.figures('acme')).toMatchObject({ granted: 100, debited: 7 });
  });
});

describe('a destroyed range that is not the tail of what the truth folded', () => {
  it('leaves the state as it is (seed 14101: folding again without it would leave a gap)', () => {
    const truth = new TrueLedger();
    const log = writer();
    const events = [log.grant(100), log.debit(10, 'k1'), log.debit(20, 'k2')];
    for (const event of events) truth.apply(event, identity(event));
    // A record called seq 2 destroyed while seq 3, durable somewhere, was folded already.
    truth.forget(EU, 1, 2);
    expect(truth.problem).toBeNull();
    expect(truth.figures('acme')).toMatchObject({ granted: 100, debited: 20 });
    expect(truth.liveAt('acme', 0, [EU])).toBe(70);
  });
});

describe('the segments the true ledger reads', () => {
  const hex = (event: LedgerEvent) => Buffer.from(identity(event).subarray(0, 8)).toString('hex');

  it('are decoded once per hash and bytes; other bytes under the same hash are decoded anew', () => {
    const log = writer();
    const grant = log.grant(100);
    const debit = log.debit(7, 'k1');
    const segments = new SegmentEvents();
    const hash = new Uint8Array(32).fill(9);
    const first = { bytes: encodeSegment([grant, debit]), hash };
    const seen = segments.of(first);
    expect(seen.map((entry) => entry.event)).toEqual([grant, debit]);
    expect(seen.map((entry) => entry.identity)).toEqual([hex(grant), hex(debit)]);
    // The same bytes again (a peer committing the segment): the same answer.
    expect(segments.of({ bytes: first.bytes.slice(), hash: hash.slice() })).toEqual(seen);
    // The bytes it was given, damaged later in a store, change nothing it answers.
    first.bytes.fill(0, 0, 8);
    expect(segments.of({ bytes: encodeSegment([grant, debit]), hash })).toEqual(seen);
    // A hash that lies (other bytes under it): those bytes' own events.
    const other = writer().grant(50);
    const lying = segments.of({ bytes: encodeSegment([other]), hash });
    expect(lying.map((entry) => entry.event)).toEqual([other]);
    expect(lying.map((entry) => entry.identity)).toEqual([hex(other)]);
  });
});

describe('rights no live node can receive', () => {
  it("moves in a lost incarnation's unreplicated tail do not count as live credits of their receiver", () => {
    const US = originId('us', 'bbbbbbbb');
    const truth = new TrueLedger();
    const log = writer();
    const grant = log.grant(100);
    const move = makeEvent(
      { origin: EU, seq: 2, at: T0 },
      { tenant: 'acme', kind: 'move', to: US, parts: [{ grantId: 'g1', amount: 30 }] },
    );
    for (const event of [grant, move]) truth.apply(event, identity(event));
    expect(truth.liveAt('acme', 0, [EU, US])).toBe(100);
    expect(truth.liveAt('acme', 0, [US])).toBe(30);
    // eu's disk was lost with seq 2 on it alone: us never receives the move.
    truth.unreceivable(EU, 1, 2);
    expect(truth.liveAt('acme', 0, [US])).toBe(0);
    expect(truth.liveAt('acme', 0, [EU])).toBe(70);
    // What the ledger counts is unchanged: the move happened, on a disk now lost.
    expect(truth.figures('acme')).toMatchObject({ granted: 100, debited: 0 });
  });
});

describe('a hold whose end was lost with a disk', () => {
  it('stays held until a retire; after it the successor’s release is its one end (holds seeds 3912, 4146, 4631)', () => {
    const EU_NEXT = originId('eu', 'cccccccc');
    const truth = new TrueLedger();
    const log = writer();
    const state = log.state;
    const grant = log.grant(100);
    const hold = decideHold(
      state,
      { origin: EU, now: T0, overdraftLimit: 0 },
      { tenant: 'acme', amount: 30, idempotencyKey: 'h1', ttlMs: 1_000, metadata: null },
    );
    if (hold.status !== 'accepted') throw new Error(hold.status);
    const held = makeEvent({ origin: EU, seq: 2, at: T0 }, hold.body);
    applyEvent(state, held);
    const holdId = 'eu.aaaaaaaa.2';
    const capture = decideSettle(
      state,
      { origin: EU, now: T0 + 10 },
      { tenant: 'acme', holdId, action: 'capture', amount: 12 },
    );
    if (capture.status !== 'accepted') throw new Error(capture.status);
    const captured = makeEvent({ origin: EU, seq: 3, at: T0 + 10 }, capture.body);
    applyEvent(state, captured);
    // eu spends what the capture gave back (70 + 18 of rights), then loses its disk with seqs 3, 4.
    const debit = decideDebit(
      state,
      { origin: EU, now: T0 + 20, overdraftLimit: 0 },
      { tenant: 'acme', amount: 88, idempotencyKey: 'k1', metadata: null },
    );
    if (debit.status !== 'accepted') throw new Error(debit.status);
    const spent = makeEvent({ origin: EU, seq: 4, at: T0 + 20 }, debit.body);
    for (const event of [grant, held, captured, spent]) truth.apply(event, identity(event));
    truth.unreceivable(EU, 2, 4);
    expect(truth.figures('acme')).toMatchObject({ granted: 100, debited: 100 });
    // Its next incarnation, with the hold from a peer, may not release it before a retire.
    const next = createLedgerState();
    for (const event of [grant, held]) applyEvent(next, event);
    expect(decideHoldExpiries(next, { origin: EU_NEXT, now: T0 + 2_000 }, 'acme')).toEqual([]);
    // The retire takes over eu's rights through seq 2 (the risk: seqs 3 and 4), then the release.
    const retire = makeEvent(
      { origin: EU_NEXT, seq: 1, at: T0 + 2_000 },
      { kind: 'retire', tenant: 'acme', retired: EU, through: 2, parts: [{ grantId: 'g1', amount: 70 }] },
    );
    applyEvent(next, retire);
    const [release] = decideHoldExpiries(next, { origin: EU_NEXT, now: T0 + 2_000 }, 'acme');
    if (release === undefined) throw new Error('no release after the retire');
    const released = makeEvent({ origin: EU_NEXT, seq: 2, at: T0 + 2_000 }, release);
    for (const event of [retire, released]) truth.apply(event, identity(event));
    expect(truth.problem).toBeNull();
    // eu's tail past the retired seq counts no more: the release is the hold's one end.
    expect(truth.figures('acme')).toMatchObject({ granted: 100, debited: 0 });
    expect(truth.state.tenants.get('acme')?.holds?.get(holdId)?.end?.origin).toBe(EU_NEXT);
  });
});
