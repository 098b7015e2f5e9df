/**
 * The successor rule (successors.ts, issue 11; swarm seeds 77 and 113 of retire-lost-incarnation): a
 * node takes no writes while a newer incarnation of its own region exists, so a data directory
 * restored from a backup of a lost incarnation never writes again under seqs its lost disk used,
 * retired or not. A normal restart, a new data directory and a restart before it first wrote stay
 * writable.
 */

import { generateKeyPairSync } from 'node:crypto';
import { createLedgerState, type OriginId, type TenantEventBody } from '@allot/core';
import {
  ManualClock,
  planRetire,
  Replica,
  type ReplicationFrame,
  SeededRng,
  SuccessorWatch,
} from '@allot/replica';
import { MemoryStore, nodeCrypto, rawPublicKey } from '@allot/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { type Cluster, cluster } from './cluster.js';
import { hostileSetup, signedRun, US_ORIGIN } from './hostile-peer.js';
import { MemoryNetwork } from './memory-network.js';
import { memoryLogger, START_MS } from './support.js';

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
  it('a node that wrote before: an incarnation of its region not recorded here is newer once its signed events come, never by name', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN, OLD, US], false);
    watch.noteNamed([OWN, OLD, US, 'us#otherotherother', NEW]);
    expect(watch.successor).toBeNull(); // a peer's word, maybe a hostile one's
    expect(watch.mayRecord(NEW)).toBe(false); // never recorded: the next start finds it again
    expect(watch.noteFolded(OLD)).toBeNull();
    expect(watch.noteFolded(US)).toBeNull();
    expect(watch.noteFolded(NEW)).toEqual({ origin: NEW, evidence: 'events' });
    expect(watch.successor).toEqual({ origin: NEW, evidence: 'events' });
    expect(watch.noteFolded(NEW)).toBeNull(); // found once
    expect(watch.confirmed(false)).toEqual({ origin: NEW, evidence: 'events' });
    expect(watch.mayRecord(NEW)).toBe(false);
    expect(watch.mayRecord(OLD)).toBe(true);
  });

  it('the logs its disk holds at a start are signed evidence too', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN, OLD, US], false);
    expect(watch.noteStored([OWN, OLD, US, 'us#otherotherother'])).toBeNull();
    expect(watch.noteStored([NEW])).toEqual({ origin: NEW, evidence: 'stored' });
    // A new incarnation's disk holding an elder's log (it crashed before recording it): an elder.
    const young = new SuccessorWatch(OWN);
    young.load([OWN], true);
    expect(young.noteStored([OLD])).toBeNull();
    expect(young.confirmed(true)).toBeNull();
    expect(young.pendingElders()).toEqual([OLD]);
  });

  it('an empty own log: what it hears is older once every peer confirmed none holds any of it', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN], true);
    watch.noteNamed([OLD]);
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
    watch.started(false);
    expect(watch.noteFolded(OLD)).toBeNull();
    expect(watch.successor).toBeNull();
  });

  it('an empty own log that peers gave back is no new incarnation: what it heard is newer (seed 77)', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN], true);
    watch.noteNamed([NEW]);
    expect(watch.noteFolded(NEW)).toBeNull(); // undecided: judged once every peer confirmed
    expect(watch.confirmed(false)).toEqual({ origin: NEW, evidence: 'events' });
  });

  it('an empty own log that peers gave back: a name alone is no successor, and no elder either', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN], true);
    watch.noteNamed([NEW]);
    expect(watch.confirmed(false)).toBeNull();
    expect(watch.eldersPending).toBe(false);
    expect(watch.noteFolded(NEW)).toEqual({ origin: NEW, evidence: 'events' });
  });

  it('once it takes writes, a name is a peer’s word: only signed events of a newer one stop it', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN, OLD], false);
    expect(watch.confirmed(false)).toBeNull();
    watch.started(false);
    watch.noteNamed([NEW]);
    expect(watch.successor).toBeNull();
    expect(watch.mayRecord(NEW)).toBe(true); // heard of while running: recorded, as issue 16 wants
    expect(watch.noteFolded(OLD)).toBeNull();
    expect(watch.noteFolded(NEW)).toEqual({ origin: NEW, evidence: 'events' });
    expect(watch.mayRecord(NEW)).toBe(false);
  });

  it('newborn, it took writes without a region nobody had heard of: what arrives later is older (seed 5379)', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN], true);
    expect(watch.confirmed(true)).toBeNull();
    watch.started(true);
    // The skipped region was no new one: it held the cluster's history, this region's OLD included.
    expect(watch.noteFolded(OLD)).toBeNull();
    expect(watch.successor).toBeNull();
    expect(watch.pendingElders()).toEqual([OLD]);
    expect(watch.mayRecord(OLD)).toBe(true);
    watch.settled([OLD], true);
    expect(watch.noteFolded(OLD)).toBeNull();
    expect(watch.successor).toBeNull();
  });

  it('grown, it took writes without such a region: signed events of one not recorded still stop it', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN], false);
    expect(watch.confirmed(false)).toBeNull();
    watch.started(true); // a restored backup may have written under seqs a lost disk used
    expect(watch.noteFolded(NEW)).toEqual({ origin: NEW, evidence: 'events' });
  });

  it('waived by allowLoneStart: nothing is judged, everything heard is recorded as before', () => {
    const watch = new SuccessorWatch(OWN);
    watch.load([OWN], false);
    watch.waive();
    watch.noteNamed([NEW]);
    expect(watch.noteStored([NEW])).toBeNull();
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
        watch.started(false);
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

  it('a node that wrote before finds a successor exactly when signed events of one not recorded come, never by a name', () => {
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
          const expectedStarting = starting.some((s) => s.kind === 'folded' && newer(s.origin));
          expect(watch.successor !== null).toBe(expectedStarting);
          if (watch.successor === null) watch.started(false);
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

const grantBody = (grantId: string): TenantEventBody => ({ kind: 'grant', ...own(grantId) });

/**
 * eu wrote an event, then restarts on what its disk kept while its one peer, us, is hostile: us
 * holds us's key (it is authenticated) and says whatever it wants about eu's incarnations.
 */
async function restartingUnderHostilePeer() {
  const clock = new ManualClock(START_MS);
  const euKey = generateKeyPairSync('ed25519').privateKey;
  const usKey = generateKeyPairSync('ed25519').privateKey;
  let logger = memoryLogger();
  let network = new MemoryNetwork();
  const received: ReplicationFrame[] = [];
  const run = async (ms: number) => {
    for (let i = 0; i < ms; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance(1);
    }
  };
  const open = async (store: MemoryStore) => {
    logger = memoryLogger();
    network = new MemoryNetwork();
    const replica = await Replica.open(
      { cluster: 'test', region: 'eu', peerKeys: { us: rawPublicKey(usKey) } },
      { store, clock, rng: new SeededRng(11), crypto: nodeCrypto(euKey), logger },
    );
    replica.attachTransport(network.transport('eu', replica.origin, ['us']));
    const peer = network.transport('us', US_ORIGIN, ['eu']);
    peer.attach({ peerUp: () => {}, peerDown: () => {}, frame: (_from, frame) => received.push(frame) });
    network.connectAll();
    const send = (frame: unknown) => {
      if (!peer.peers()[0]?.connected) network.connectAll(); // the peer reconnects after a drop
      return peer.send('eu', frame as ReplicationFrame);
    };
    return { replica, send };
  };
  // The played peer names itself in every summary, as every node does.
  const summary = (versionVector: Record<string, number>) => ({
    type: 'summary',
    versionVector: { [US_ORIGIN]: 0, ...versionVector },
    control: Y.encodeStateVector(new Y.Doc()),
  });
  const firstStore = MemoryStore.empty();
  const first = await open(firstStore);
  first.send(summary({}));
  await run(5);
  expect(first.replica.writable).toBe(true);
  const lost = first.replica.origin;
  const granting = first.replica.grant(grant);
  await run(20);
  expect((await granting).status).toBe('accepted');
  firstStore.flush();
  return {
    euKey,
    usKey,
    lost,
    open,
    run,
    summary,
    restart: () => open(firstStore.crash()),
    logger: () => logger,
  };
}

describe('a hostile peer cannot make a restarting node superseded', () => {
  it('by naming an invented incarnation of its region with seqs it claims to hold, nor by unsigned segments of it', async () => {
    const h = await restartingUnderHostilePeer();
    const { replica, send } = await h.restart();
    expect(replica.origin).toBe(h.lost);
    const invented = 'eu#inventedinvente' as OriginId;
    send(h.summary({ [h.lost]: 1, [invented]: 5 }));
    await h.run(20);
    // Segments of the invented incarnation signed with us's key: they do not verify under eu's.
    send({
      type: 'segments',
      origin: invented,
      segments: signedRun(h.usKey, invented, [grantBody('forged')]),
    });
    await h.run(20);
    send(h.summary({ [h.lost]: 1, [invented]: 5 }));
    await h.run(20);
    const superseded = () => h.logger().lines.filter((line) => line.message.includes('is superseded'));
    expect(superseded()).toEqual([]);
    expect(replica.versionVector()[invented]).toBeUndefined();
    // Writes wait while a peer claims more of its region than it holds (log-confirm), not for good:
    // once the peer stops claiming, the node takes writes.
    send(h.summary({ [h.lost]: 1 }));
    await h.run(20);
    expect(replica.writable).toBe(true);
    expect(superseded()).toEqual([]);
  });

  it('while signed events of a newer incarnation of its region, given by the same peer, do', async () => {
    const h = await restartingUnderHostilePeer();
    const { replica, send } = await h.restart();
    const newer = 'eu#newerincarnati' as OriginId;
    send(h.summary({ [h.lost]: 1, [newer]: 1 }));
    await h.run(20);
    send({ type: 'segments', origin: newer, segments: signedRun(h.euKey, newer, [grantBody('new-1')]) });
    await h.run(20);
    send(h.summary({ [h.lost]: 1, [newer]: 1 }));
    await h.run(20);
    const superseded = h.logger().lines.filter((line) => line.message.includes('is superseded'));
    expect(superseded).toHaveLength(1);
    expect(superseded[0]?.message).toContain('received signed events of eu#newerincarnati');
    expect(replica.writable).toBe(false);
  });
});
