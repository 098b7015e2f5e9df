/**
 * Issue 11, joining by checkpoint: a region added to a running cluster receives a checkpoint (whose
 * hash every region asked agrees on) plus the tails after it, not every event; a peer lying about
 * the hash or the bytes, or a tail that does not chain from the checkpoint, changes nothing.
 */
import { generateKeyPairSync } from 'node:crypto';
import { checkpointHeads, type OriginId } from '@allot/core';
import {
  checkpointBytesAt,
  type FetchedCheckpoint,
  frameProblem,
  installProblem,
  JOIN_ATTEMPTS_MAX,
  JOIN_CHUNK_BYTES,
  joinOptionsProblem,
} from '@allot/replica';
import { MemoryStore, nodeCrypto, sha256 } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { farBehind, infos, running, storedEvents, type Tamper, TENANTS, warns } from './join-world.js';

describe('joining by checkpoint', () => {
  it('a fourth region gets the newest checkpoint and the tails, not every event, then serves debits', async () => {
    const w = await running();
    const events = w.total('us');
    // Every peer's own computation of the fold at us's vector gives us's checkpoint bytes.
    const usNewest = await w.node('us').newestCheckpoint();
    if (usNewest === null) throw new Error('us wrote no checkpoint');
    const sa = await w.open('sa', MemoryStore.empty({ archiveHash: sha256 }));
    const first = await w.settle(
      sa.debit({ tenant: 't0', amount: 1, idempotencyKey: 'sa-early', metadata: null }),
    );
    expect(first.status).toBe('not_ready');
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    expect(infos(w, 'sa')).toContain('joined by checkpoint: the tails after it come from the peers');
    // It holds the tails after the checkpoint (us's last 100 + ap's 100 after it), not every event.
    const held = await storedEvents(w, 'sa');
    expect(held).toBeLessThan(events / 4);
    expect(held).toBeGreaterThan(0);
    expect((await (w.stores.get('sa') as MemoryStore).bases()).length).toBeGreaterThan(0);
    for (const region of ['ap', 'eu', 'us']) expect(w.balances('sa')).toEqual(w.balances(region));
    // It serves debits once its peers confirmed its own log.
    const outcome = await w.settle(
      sa.debit({ tenant: 't1', amount: 3, idempotencyKey: 'sa-1', metadata: null }),
    );
    expect(outcome.status).toBe('accepted');
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    for (const region of ['ap', 'eu', 'us']) expect(w.balances(region)).toEqual(w.balances('sa'));
    // A key from before the checkpoint: its record is not held here, so it is refused, never a second debit.
    const before = w.balances('sa');
    const replay = await w.settle(
      sa.debit({ tenant: 't0', amount: 1, idempotencyKey: 'eu-a-0', metadata: null }),
    );
    expect(replay.status).toBe('unavailable');
    expect(w.balances('sa')).toEqual(before);
    expect(
      (
        await w.settle(
          w.node('eu').debit({ tenant: 't0', amount: 1, idempotencyKey: 'eu-a-0', metadata: null }),
        )
      ).status,
    ).toBe('replayed');
    // The fold at us's vector, computed by eu (from its older checkpoint) and ap (from its log).
    for (const region of ['eu', 'ap']) {
      const store = w.stores.get(region) as MemoryStore;
      const crypto = nodeCrypto(generateKeyPairSync('ed25519').privateKey);
      const at = await checkpointBytesAt(
        { store, crypto },
        'test',
        vectorOf(usNewest.bytes),
        { records: 100_000, bucketMs: 3_600_000 },
        24 * 3_600_000,
      );
      expect('bytes' in at && Buffer.from(sha256(at.bytes)).equals(Buffer.from(usNewest.hash))).toBe(true);
    }
    // A restart starts from the installed checkpoint and does not join again.
    const restarted = await w.open('sa', (w.stores.get('sa') as MemoryStore).crash());
    expect(infos(w, 'sa')).toContain('fold rebuilt from a checkpoint and the tails after it');
    expect(infos(w, 'sa')).not.toContain('joining by checkpoint: asking the peers for their newest');
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    expect(TENANTS.map((tenant) => restarted.balance(tenant)?.balance ?? null)).toEqual(w.balances('eu'));
  }, 120_000);

  it('a peer that computes another hash: refused, nothing installed, plain catch-up in the end', async () => {
    const w = await running();
    const lie: Tamper = (from, frame) =>
      from === 'ap' && frame.type === 'join-hash' && frame.hash !== null
        ? { ...frame, hash: frame.hash.map((byte, i) => (i === 0 ? byte ^ 1 : byte)) }
        : frame;
    await w.open('sa', MemoryStore.empty({ archiveHash: sha256 }), lie);
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']), 120_000);
    expect(warns(w, 'sa').filter((line) => line === 'join attempt refused: trying again')).toHaveLength(
      JOIN_ATTEMPTS_MAX - 1,
    );
    expect(warns(w, 'sa')).toContain('joining by checkpoint failed: catching up on every event');
    expect(infos(w, 'sa')).not.toContain('joined by checkpoint: the tails after it come from the peers');
    expect(await (w.stores.get('sa') as MemoryStore).bases()).toEqual([]);
    expect(await storedEvents(w, 'sa')).toBe(w.total('eu'));
    for (const region of ['ap', 'eu', 'us']) expect(w.balances('sa')).toEqual(w.balances(region));
  }, 120_000);

  it('a node that gave up joining takes no write until it holds what its peers held meanwhile', async () => {
    const w = await running();
    const lie: Tamper = (from, frame) =>
      from === 'ap' && frame.type === 'join-hash' && frame.hash !== null
        ? { ...frame, hash: frame.hash.map((byte, i) => (i === 0 ? byte ^ 1 : byte)) }
        : frame;
    const sa = await w.open('sa', MemoryStore.empty({ archiveHash: sha256 }), lie);
    await w.until(
      () => warns(w, 'sa').includes('joining by checkpoint failed: catching up on every event'),
      120_000,
    );
    // Cut off before the events come: its own log is whole, but its fold lacks the cluster's history.
    for (const peer of ['ap', 'eu', 'us']) w.network.cutLink('sa', peer);
    const cut = await w.settle(
      sa.debit({ tenant: 't0', amount: 1, idempotencyKey: 'eu-a-4', metadata: null }),
    );
    expect(cut).toMatchObject({ status: 'not_ready', reason: 'joining' });
    w.network.healAll();
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    // Now it knows the key was spent at eu: a replay, never a second debit.
    const replay = await w.settle(
      sa.debit({ tenant: 't0', amount: 1, idempotencyKey: 'eu-a-4', metadata: null }),
    );
    expect(replay.status).toBe('replayed');
    expect(infos(w, 'sa')).toContain('holds everything the peers held while it joined: taking writes');
    for (const region of ['ap', 'eu', 'us']) expect(w.balances('sa')).toEqual(w.balances(region));
  }, 120_000);

  it('bytes that do not match the agreed hash: the link closes, the next attempt installs the true ones', async () => {
    const w = await running();
    let tampered = 0;
    const damage: Tamper = (from, frame) => {
      if (from !== 'us' || frame.type !== 'join-chunk' || frame.bytes.length === 0 || tampered > 0)
        return frame;
      tampered += 1;
      return { ...frame, bytes: frame.bytes.map((byte, i) => (i === 7 ? byte ^ 0x40 : byte)) };
    };
    await w.open('sa', MemoryStore.empty({ archiveHash: sha256 }), damage);
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']), 120_000);
    expect(w.network.drops).toContainEqual({
      from: 'sa',
      to: 'us',
      reason: "join-chunk: the checkpoint's bytes do not match the agreed hash",
    });
    expect(infos(w, 'sa')).toContain('joined by checkpoint: the tails after it come from the peers');
    for (const region of ['ap', 'eu', 'us']) expect(w.balances('sa')).toEqual(w.balances(region));
  }, 120_000);

  it('a tail that does not chain from the checkpoint is refused and changes nothing', async () => {
    const w = await running();
    let installed = false;
    let bent = 0;
    const bend: Tamper = (_from, frame) => {
      if (frame.type === 'join-chunk') installed = true;
      if (!installed || frame.type !== 'segments' || bent > 0) return frame;
      bent += 1;
      // The newest segment of the run: past what the checkpoint holds, so it must chain on.
      const last = frame.segments[frame.segments.length - 1];
      if (last === undefined) return frame;
      const bytes = last.bytes.slice();
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
      return { ...frame, segments: [...frame.segments.slice(0, -1), { ...last, bytes }] };
    };
    await w.open('sa', MemoryStore.empty({ archiveHash: sha256 }), bend);
    await w.until(() => bent > 0);
    const vector = w.node('sa').versionVector();
    await w.until(() => w.network.drops.some((drop) => drop.from === 'sa'));
    expect(w.node('sa').versionVector()).toEqual(vector);
    w.network.connectAll();
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']), 60_000);
    for (const region of ['ap', 'eu', 'us']) expect(w.balances('sa')).toEqual(w.balances(region));
  }, 120_000);

  it('a region far behind but not empty adopts a checkpoint over its logs, keeps and pushes its own events, replays its old keys', async () => {
    const w = await farBehind();
    const stored = (w.stores.get('sa') as MemoryStore).crash();
    const ownSeq = (await stored.heads()).find((head) => head.origin.startsWith('sa#'))?.seq ?? 0;
    expect(ownSeq).toBe(25);
    const sa = await w.open('sa', stored);
    expect(sa.versionVector()[sa.origin]).toBe(ownSeq);
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    expect(infos(w, 'sa')).toContain('joined by checkpoint: the tails after it come from the peers');
    // Its own events past what the peers had are kept and reached them.
    expect(w.node('eu').versionVector()[sa.origin]).toBe(ownSeq);
    expect((await (w.stores.get('sa') as MemoryStore).bases()).length).toBeGreaterThan(0);
    for (const region of ['ap', 'eu', 'us']) expect(w.balances('sa')).toEqual(w.balances(region));
    // Own keys from before the checkpoint and after it: replays (its own log is whole). Another
    // region's key from before the checkpoint: its record is not held here, so refused, never charged twice.
    const before = w.balances('sa');
    const statuses: string[] = [];
    for (const key of ['sa-old-4', 'sa-off-4', 'eu-a-8']) {
      const outcome = await w.settle(
        sa.debit({ tenant: 't0', amount: 1, idempotencyKey: key, metadata: null }),
      );
      statuses.push(outcome.status);
    }
    expect(statuses).toEqual(['replayed', 'replayed', 'unavailable']);
    expect(w.balances('sa')).toEqual(before);
    const fresh = await w.settle(
      sa.debit({ tenant: 't1', amount: 2, idempotencyKey: 'sa-new', metadata: null }),
    );
    expect(fresh.status).toBe('accepted');
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    for (const region of ['ap', 'eu', 'us']) expect(w.balances(region)).toEqual(w.balances('sa'));
    // A restart starts from the adopted checkpoint and joins no more.
    const restarted = await w.open('sa', (w.stores.get('sa') as MemoryStore).crash());
    expect(infos(w, 'sa')).toContain('fold rebuilt from a checkpoint and the tails after it');
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    expect(TENANTS.map((tenant) => restarted.balance(tenant)?.balance ?? null)).toEqual(w.balances('eu'));
  }, 120_000);

  it('a region far behind whose logs were archived in part adopts a checkpoint too; its archive continues past the base', async () => {
    const w = await farBehind();
    const stored = (w.stores.get('sa') as MemoryStore).crash();
    const eu = (await stored.heads()).find((head) => head.origin.startsWith('eu#'));
    if (eu === undefined) throw new Error('sa holds nothing of eu');
    // eu's log up to below its head went to sa's archive before sa fell behind.
    const moved = await stored.archiveSegments(eu.origin, eu.seq - 1);
    expect(moved.throughSeq).toBeGreaterThan(0);
    const sa = await w.open('sa', stored);
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    expect(infos(w, 'sa')).toContain('joined by checkpoint: the tails after it come from the peers');
    const store = () => w.stores.get('sa') as MemoryStore;
    const base = (await store().bases()).find((head) => head.origin === eu.origin);
    if (base === undefined) throw new Error('no base for eu');
    expect(base.seq).toBeGreaterThan(eu.seq);
    for (const region of ['ap', 'eu', 'us']) expect(w.balances('sa')).toEqual(w.balances(region));
    // The prefix continues the archive, the log after the base follows past the gap.
    await w.debits('eu', 200, 'eu-after');
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    const head = (await store().heads()).find((at) => at.origin === eu.origin)?.seq ?? 0;
    for (let step = 0; step < 4; step++) await store().archiveSegments(eu.origin, head);
    expect(head).toBeGreaterThan(base.seq);
    expect((await store().archivedSeqs())[eu.origin]).toBe(head);
    await sa.close();
    const restarted = await w.open('sa', store().crash());
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    expect(TENANTS.map((tenant) => restarted.balance(tenant)?.balance ?? null)).toEqual(w.balances('eu'));
  }, 120_000);

  it('a checkpoint that does not cover what a node holds is refused, saying why', async () => {
    const w = await farBehind();
    const store = (w.stores.get('sa') as MemoryStore).crash();
    const newest = await w.node('us').newestCheckpoint();
    if (newest === null) throw new Error('us wrote no checkpoint');
    const heads = checkpointHeads(newest.bytes);
    const fetched = (at: typeof heads) => ({ decoded: { heads: at } }) as unknown as FetchedCheckpoint;
    const own = (await store.heads()).find((head) => head.origin.startsWith('sa#'))?.origin as OriginId;
    const ap = [...heads.keys()].find((origin) => origin.startsWith('ap#')) as OriginId;
    const covered = await installProblem(store, own, fetched(heads));
    expect('bases' in covered && covered.bases.map((base) => base.origin).sort()).toEqual(
      [...heads.keys()].filter((origin) => origin !== own).sort(),
    );
    // Own events it lacks (as if ap were this node): they come back from the peers first.
    expect(await installProblem(store, ap, fetched(heads))).toMatchObject({
      problem: expect.stringMatching(/own events/),
    });
    // Its own log differs where the checkpoint ends in it.
    const bent = new Map(heads);
    const ownHead = heads.get(own);
    if (ownHead === undefined) throw new Error('the checkpoint holds nothing of sa');
    bent.set(own, { ...ownHead, hash: ownHead.hash.map((byte, i) => (i === 0 ? byte ^ 1 : byte)) });
    expect(await installProblem(store, own, fetched(bent))).toMatchObject({
      problem: expect.stringMatching(/is not the checkpoint's/),
    });
  }, 120_000);

  it('below the threshold a new region catches up on every event', async () => {
    const w = await running({ join: { thresholdEvents: 100_000, agree: 'all' } });
    await w.open('sa', MemoryStore.empty({ archiveHash: sha256 }));
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    expect(infos(w, 'sa')).toContain('peers hold few events: catching up on every event');
    expect(await storedEvents(w, 'sa')).toBe(w.total('eu'));
  }, 120_000);
});

/** The vector of checkpoint `bytes`, from its heads. */
function vectorOf(bytes: Uint8Array): Record<OriginId, number> {
  const vector: Record<OriginId, number> = {};
  for (const [origin, head] of checkpointHeads(bytes)) vector[origin] = head.seq;
  return vector;
}

describe('join frames and options', () => {
  const hash = new Uint8Array(32).fill(1);
  const vector = { 'eu#aaaaaaaa': 10 };
  it('checks every join frame like any frame', () => {
    expect(frameProblem({ type: 'join-offer-ask' })).toBeNull();
    expect(
      frameProblem({ type: 'join-offer', vector, hash, signature: new Uint8Array(64), size: 100 }),
    ).toBeNull();
    expect(
      frameProblem({ type: 'join-offer', vector: null, hash: null, signature: null, size: 0 }),
    ).toBeNull();
    expect(frameProblem({ type: 'join-offer', vector: null, hash, signature: null, size: 0 })).toMatch(
      /no hash/,
    );
    expect(
      frameProblem({ type: 'join-offer', vector: {}, hash, signature: new Uint8Array(64), size: 1 }),
    ).toMatch(/empty/);
    expect(frameProblem({ type: 'join-hash', vector, hash: null })).toBeNull();
    expect(frameProblem({ type: 'join-hash', vector: { 'eu#aaaaaaaa': 0 }, hash })).toMatch(/invalid seq/);
    expect(frameProblem({ type: 'join-chunk-ask', hash, offset: 0 })).toBeNull();
    expect(frameProblem({ type: 'join-chunk-ask', hash, offset: -1 })).toMatch(/offset/);
    expect(
      frameProblem({ type: 'join-chunk', hash, offset: 0, size: 10, bytes: new Uint8Array(10) }),
    ).toBeNull();
    expect(frameProblem({ type: 'join-chunk', hash, offset: 5, size: 10, bytes: new Uint8Array(6) })).toMatch(
      /past the size/,
    );
    expect(
      frameProblem({
        type: 'join-chunk',
        hash,
        offset: 0,
        size: JOIN_CHUNK_BYTES + 1,
        bytes: new Uint8Array(JOIN_CHUNK_BYTES + 1),
      }),
    ).toMatch(/more than/);
    expect(frameProblem({ type: 'join-chunk-ask', hash, offset: 0, extra: 1 })).not.toBeNull();
  });

  it('bounds the join options', () => {
    expect(joinOptionsProblem({ thresholdEvents: 100_000, agree: 'all' })).toBeNull();
    expect(joinOptionsProblem({ thresholdEvents: 100_000, agree: 2 })).toBeNull();
    expect(joinOptionsProblem({ thresholdEvents: 10, agree: 'all' })).toMatch(/thresholdEvents/);
    expect(joinOptionsProblem({ thresholdEvents: 100_000, agree: 0 })).toMatch(/join.agree/);
  });
});
