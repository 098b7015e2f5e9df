/**
 * The successor rule (successors.ts, issue 11; swarm seeds 77 and 113 of retire-lost-incarnation): a
 * node takes no writes while a newer incarnation of its own region exists, so a data directory
 * restored from a backup of a lost incarnation never writes again under seqs its lost disk used,
 * retired or not. A normal restart, a new data directory and a restart before it first wrote stay
 * writable.
 */

import { createLedgerState, type OriginId } from '@allot/core';
import { planRetire, type Replica, SuccessorWatch } from '@allot/replica';
import { MemoryStore } from '@allot/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { type Cluster, cluster } from './cluster.js';
import { hostileSetup } from './hostile-peer.js';

const OWN = 'eu#ownownownownown' as OriginId;
const OLD = 'eu#oldoldoldoldold' as OriginId;
const NEW = 'eu#newnewnewnewnew' as OriginId;
const US = 'us#ususususususus' as OriginId;

const grant = { tenant: 'acme', grantId: 'g1', amount: 100, priority: 100, expiresAt: null };
/** A write any incarnation takes (it holds no rights of its predecessor's): a grant of its own. */
const own = (grantId: string) => ({ ...grant, grantId, amount: 5 });
const debit = (key: string, amount = 1) => ({ tenant: 'acme', amount, idempotencyKey: key, metadata: null });

async function settle<T>(c: Cluster, promise: Promise<T>): Promise<T> {
  let done = false;
  void promise.finally(() => {
    done = true;
  });
  await c.until(() => done);
  return promise;
}

const supersededLines = (c: Cluster) =>
  (c.logs.get('eu')?.lines ?? []).filter((line) => line.message.includes('is superseded'));

describe('SuccessorWatch', () => {
  it('a node that wrote before: an incarnation of its region not recorded here, named while it starts, is newer', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN, OLD, US], false);
    expect(watch.noteNamed([OWN, OLD, US, 'us#otherotherother'])).toBeNull();
    expect(watch.mayRecord(NEW)).toBe(false); // never recorded: the next start finds it again
    expect(watch.noteNamed([NEW])).toEqual({ origin: NEW, evidence: 'named' });
    expect(watch.successor).toEqual({ origin: NEW, evidence: 'named' });
    expect(watch.noteFolded(NEW)).toBeNull(); // found once
    expect(watch.confirmed(false)).toEqual({ origin: NEW, evidence: 'named' });
    expect(watch.mayRecord(NEW)).toBe(false);
    expect(watch.mayRecord(OLD)).toBe(true);
  });

  it('an empty own log: what it hears is older once every peer confirmed none holds any of it', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN], true);
    expect(watch.noteNamed([OLD])).toBeNull();
    expect(watch.noteFolded(OLD)).toBeNull();
    expect(watch.mayRecord(OLD)).toBe(false); // undecided: not recorded yet
    expect(watch.confirmed(true)).toBeNull();
    expect(watch.eldersPending).toBe(true);
    expect(watch.pendingElders()).toEqual([OLD]);
    expect(watch.mayRecord(OLD)).toBe(true);
    watch.settled([OLD], false);
    expect(watch.eldersPending).toBe(true); // a failed commit: recorded again later
    watch.settled([OLD], true);
    expect(watch.eldersPending).toBe(false);
    watch.started();
    expect(watch.noteFolded(OLD)).toBeNull();
    expect(watch.successor).toBeNull();
  });

  it('an empty own log that peers gave back is no new incarnation: what it heard is newer (seed 77)', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN], true);
    expect(watch.noteNamed([NEW])).toBeNull();
    expect(watch.confirmed(false)).toEqual({ origin: NEW, evidence: 'named' });
  });

  it('once it takes writes, a name is a peer’s word: only signed events of a newer one stop it', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN, OLD], false);
    expect(watch.confirmed(false)).toBeNull();
    watch.started();
    expect(watch.noteNamed([NEW])).toBeNull();
    expect(watch.mayRecord(NEW)).toBe(true); // heard of while running: recorded, as issue 16 wants
    expect(watch.noteFolded(OLD)).toBeNull();
    expect(watch.noteFolded(NEW)).toEqual({ origin: NEW, evidence: 'events' });
    expect(watch.mayRecord(NEW)).toBe(false);
  });

  it('waived by allowLoneStart: nothing is judged, everything heard is recorded as before', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN], false);
    watch.waive();
    expect(watch.noteNamed([NEW])).toBeNull();
    expect(watch.noteFolded(NEW)).toBeNull();
    expect(watch.mayRecord(NEW)).toBe(true);
    expect(watch.successor).toBeNull();
  });

  it('an elder past HEARD_ORIGINS_PER_REGION_MAX counts as older for this run', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN], true);
    watch.noteNamed([OLD]);
    watch.confirmed(true);
    expect(watch.unrecordable([OLD, NEW])).toBe(true);
    expect(watch.eldersPending).toBe(false);
    expect(watch.unrecordable([OLD])).toBe(false);
  });
});

const others = [
  'eu#aaaaaaaaaaaaaaaa',
  'eu#bbbbbbbbbbbbbbbb',
  'eu#cccccccccccccccc',
  'us#aaaaaaaaaaaaaaaa',
] as const;
type Step =
  | { readonly kind: 'named'; readonly origins: readonly OriginId[] }
  | { readonly kind: 'folded'; readonly origin: OriginId }
  | { readonly kind: 'settle' };
const origin = fc.constantFrom<OriginId>(OWN, ...(others as readonly OriginId[]));
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('named' as const), origins: fc.array(origin, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('folded' as const), origin }),
  fc.record({ kind: fc.constant('settle' as const) }),
);

/** Runs `steps` on `watch`, settling pending elders (durably) at each `settle`. */
function play(watch: SuccessorWatch, steps: readonly Step[]): void {
  for (const s of steps) {
    if (s.kind === 'named') watch.noteNamed(s.origins);
    else if (s.kind === 'folded') watch.noteFolded(s.origin);
    else watch.settled(watch.pendingElders(), true);
  }
}

const isOther = (o: OriginId) => o !== OWN && o.startsWith('eu#');

describe('the successor rule (properties)', () => {
  it('a new incarnation never finds a successor in what it heard before it took writes, and records all of it', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 12 }), fc.array(step, { maxLength: 12 }), (before, after) => {
        const watch = new SuccessorWatch(OWN);
        watch.load([OWN], true);
        play(watch, before);
        expect(watch.confirmed(true)).toBeNull();
        play(watch, after);
        watch.settled(watch.pendingElders(), true);
        expect(watch.eldersPending).toBe(false);
        watch.started();
        expect(watch.successor).toBeNull();
        for (const s of [...before, ...after]) {
          const heard = s.kind === 'named' ? s.origins : s.kind === 'folded' ? [s.origin] : [];
          for (const o of heard) {
            expect(watch.mayRecord(o)).toBe(true);
            expect(watch.noteFolded(o)).toBeNull(); // an elder's events never stop it
          }
        }
      }),
    );
  });

  it('a node that wrote before finds a successor exactly when one not recorded is named while it starts, or its events come', () => {
    fc.assert(
      fc.property(
        fc.subarray([...others] as OriginId[]),
        fc.boolean(),
        fc.array(step, { maxLength: 10 }),
        fc.array(step, { maxLength: 10 }),
        (recorded, emptyButGivenBack, starting, running) => {
          const watch = new SuccessorWatch(OWN);
          watch.load([OWN, ...recorded], emptyButGivenBack);
          const known = new Set<OriginId>(recorded);
          const newer = (o: OriginId) => isOther(o) && !known.has(o);
          play(watch, starting);
          watch.confirmed(false);
          const heardStarting = starting.flatMap((s) =>
            s.kind === 'named' ? s.origins : s.kind === 'folded' ? [s.origin] : [],
          );
          const expectedStarting = heardStarting.some(newer);
          expect(watch.successor !== null).toBe(expectedStarting);
          if (watch.successor === null) watch.started();
          play(watch, running);
          const expected = expectedStarting || running.some((s) => s.kind === 'folded' && newer(s.origin));
          expect(watch.successor !== null).toBe(expected);
          if (watch.successor !== null) {
            expect(newer(watch.successor.origin)).toBe(true);
            expect(watch.mayRecord(watch.successor.origin)).toBe(false);
          }
        },
      ),
    );
  });
});

/** eu writes a grant and a debit that us holds; returns the cluster and eu's first incarnation. */
async function euWrote() {
  const c = await cluster(['eu', 'us'], { rebalancing: 'static', borrowWaitMs: 0 });
  await c.until(() => c.node('eu').writable && c.node('us').writable);
  const lost = c.node('eu').origin;
  expect((await settle(c, c.node('eu').grant(grant))).status).toBe('accepted');
  expect((await settle(c, c.node('eu').debit(debit('d1', 30)))).status).toBe('accepted');
  await c.until(() => (c.node('us').versionVector()[lost] ?? 0) === 2);
  (c.stores.get('eu') as MemoryStore).flush();
  return { c, lost };
}

/** After a disk loss: the region's new incarnation, writable, with a backup of its own disk. */
async function successorOf(
  c: Cluster,
): Promise<{ current: Replica; ownDisk: ReturnType<MemoryStore['backup']> }> {
  const current = await c.loseDisk('eu');
  await c.until(() => current.writable);
  expect((await settle(c, current.grant(own('new-1')))).status).toBe('accepted');
  await c.run(1_500);
  (c.stores.get('eu') as MemoryStore).flush();
  return { current, ownDisk: (c.stores.get('eu') as MemoryStore).backup() };
}

describe('a data directory restored from a backup of a lost incarnation', () => {
  it('not retired: takes no writes and says so once, at every start, while the current one goes on', async () => {
    const { c, lost } = await euWrote();
    const backup = (c.stores.get('eu') as MemoryStore).backup();
    const { current, ownDisk } = await successorOf(c);
    const usHeld = c.node('us').versionVector()[lost];

    const restored = await c.restore('eu', MemoryStore.restored(backup));
    expect(restored.origin).toBe(lost);
    await c.until(() => supersededLines(c).length > 0);
    await c.run(1_000);
    expect(supersededLines(c)).toHaveLength(1);
    expect(supersededLines(c)[0]?.message).toContain(`newer incarnation of its region`);
    expect(supersededLines(c)[0]?.message).toContain(current.origin);
    expect(restored.writable).toBe(false);
    expect(await settle(c, restored.debit(debit('zombie', 1)))).toEqual({
      status: 'not_ready',
      reason: 'superseded',
      waitingFor: [],
    });
    // It cannot retire the region's current incarnation either.
    expect((await settle(c, restored.retire(current.origin))).status).toBe('not_ready');
    expect(c.node('us').versionVector()[lost]).toBe(usHeld);

    // Its next start finds the newer one again: it never recorded it.
    (c.stores.get('eu') as MemoryStore).flush();
    const again = await c.crash('eu');
    await c.until(() => supersededLines(c).length > 0);
    expect(again.writable).toBe(false);
    expect((await settle(c, again.debit(debit('zombie-2', 1)))).status).toBe('not_ready');

    // The region on its own disk again: writable, and it retires the lost one.
    const back = await c.restore('eu', MemoryStore.restored(ownDisk));
    expect(back.origin).toBe(current.origin);
    await c.until(() => back.writable);
    expect((await settle(c, back.retire(lost))).status).toBe('accepted');
    expect((await settle(c, back.grant(own('new-2')))).status).toBe('accepted');
    expect(c.node('us').versionVector()[lost]).toBe(usHeld);
  });

  it('taken before that incarnation’s first event: peers hold its events, so it is no new one (seed 77)', async () => {
    const c = await cluster(['eu', 'us'], { rebalancing: 'static', borrowWaitMs: 0 });
    await c.until(() => c.node('eu').writable && c.node('us').writable);
    (c.stores.get('eu') as MemoryStore).flush();
    const empty = (c.stores.get('eu') as MemoryStore).backup();
    const lost = c.node('eu').origin;
    expect((await settle(c, c.node('eu').grant(grant))).status).toBe('accepted');
    await c.until(() => (c.node('us').versionVector()[lost] ?? 0) === 1);
    await successorOf(c);

    const restored = await c.restore('eu', MemoryStore.restored(empty));
    expect(restored.origin).toBe(lost);
    await c.until(() => supersededLines(c).length > 0);
    // It fetched back what us held of it, and still takes nothing.
    expect(restored.versionVector()[lost]).toBe(1);
    expect((await settle(c, restored.debit(debit('zombie', 1)))).status).toBe('not_ready');
  });
});

describe('legitimate starts stay writable', () => {
  it('a new incarnation, restarted before and after it first wrote', async () => {
    const { c, lost } = await euWrote();
    // Restarted before it took a write: still new, it hears the lost one as older.
    await c.loseDisk('eu');
    const early = await c.crash('eu');
    await c.until(() => early.writable);
    expect(await c.stores.get('eu')?.readOrigins()).toContain(lost);
    expect((await settle(c, early.grant(own('new-1')))).status).toBe('accepted');
    (c.stores.get('eu') as MemoryStore).flush();
    // Restarted after: the lost one was recorded before its first write.
    const later = await c.crash('eu');
    await c.until(() => later.writable);
    expect((await settle(c, later.grant(own('new-2')))).status).toBe('accepted');
    expect(supersededLines(c)).toEqual([]);
  });

  it('a running node is not stopped by an incarnation of its region a peer merely names', async () => {
    const s = await hostileSetup(); // eu writable
    const invented = 'eu#aaaaaaaaaaaaaaaa';
    s.send({
      type: 'summary',
      versionVector: { [s.replica.origin]: 0, [invented]: 0 },
      control: Y.encodeStateVector(new Y.Doc()),
    });
    await s.run(5);
    expect(s.replica.writable).toBe(true);
    expect(s.logger.lines.some((line) => line.message.includes('is superseded'))).toBe(false);
  });
});

describe('a retire waits while a peer holds more of any incarnation of that region', () => {
  it('so a second incarnation’s retire never moves what an earlier retire moved', () => {
    const state = createLedgerState();
    const peers = new Map([
      [
        'us',
        {
          connected: true,
          summarized: true,
          versionVector: { [OLD]: 0, [NEW]: 3 },
        },
      ],
    ]);
    // Only what planRetire reads of a peer. This node (OWN) holds none of NEW's events, one of which
    // may be NEW's retire of OLD.
    const plan = planRetire(state, OWN, OLD, true, peers as unknown as Parameters<typeof planRetire>[4]);
    expect(plan).toEqual({ status: 'behind', region: 'us', origin: NEW, held: 3, here: 0 });
  });
});
