/**
 * A layout-v2 data directory (one record per event, a hash per event) converted to layout v3
 * (segments) on the first start: written here by a small v2 writer that uses the v2 record codec
 * this build keeps (encodeStoredEvent and friends) and v2's keys and hash chain, as today's nodes
 * wrote it; then opened by LevelStore with the node's key and by a replica, which verifies the
 * converted log with that key and serves the same balances and events.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Canonical,
  canonicalBytes,
  type LedgerEvent,
  makeEvent,
  type OriginId,
  originId,
  type TenantEventBody,
} from '@allot/core';
import { headSigningBytes, ManualClock, Replica, SeededRng } from '@allot/replica';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  encodeControlUpdate,
  encodeCounter,
  encodeHeardOrigin,
  encodeLogHead,
  encodeNodeMeta,
  encodeStoredEvent,
  generateRegionKey,
  LevelStore,
  nodeCrypto,
  StoreCorruptError,
  sealRecord,
} from '../src/index.js';
import { META, T0 } from './support.js';

const CLUSTER = META.cluster;
const OWN: OriginId = originId(META.region, META.incarnation);
const PEER: OriginId = originId('us', 'bbbbbbbb');
const silent = { debug() {}, info() {}, warn() {}, error() {} };

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const v2Number = (n: number) => String(n).padStart(16, '0');

/** Writes a v2 directory: `own` events of this node's log (signed with `key`), a peer's log, a control update. */
async function writeV2(
  dir: string,
  crypto: ReturnType<typeof nodeCrypto>,
  own: readonly TenantEventBody[],
): Promise<LedgerEvent[]> {
  const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  const put = (key: string, payload: Uint8Array) => db.put(key, sealRecord(key, payload));
  await put('v2/meta', encodeNodeMeta(META));
  const events: LedgerEvent[] = [];
  const writeLog = async (origin: OriginId, bodies: readonly TenantEventBody[], sign: boolean) => {
    let previous: Uint8Array = new Uint8Array(32);
    let entry = 0;
    for (const [i, body] of bodies.entries()) {
      const event = makeEvent({ origin, seq: i + 1, at: T0 + i }, body);
      const hash = new Uint8Array(
        createHash('sha256')
          .update(previous)
          .update(canonicalBytes(event as unknown as Canonical))
          .digest(),
      );
      previous = hash;
      await put(`v2/log/${origin}/${v2Number(event.seq)}`, encodeStoredEvent({ event, hash }));
      entry += 1;
      if (origin === OWN) events.push(event);
    }
    const seq = bodies.length;
    const signature = sign
      ? crypto.sign(headSigningBytes(CLUSTER, origin, seq, previous))
      : new Uint8Array(64);
    await put(`v2/head/${origin}`, encodeLogHead({ origin, seq, hash: previous, signature }));
    return entry;
  };
  await writeLog(OWN, own, true);
  await writeLog(
    PEER,
    [{ kind: 'grant', tenant: 'acme', grantId: 'us-g', amount: 7, priority: 100, expiresAt: null }],
    false,
  );
  const doc = new Y.Doc();
  doc.getMap('control').set('policy/acme', { overdraft: { eu: 5 } });
  await put(`v2/control/${v2Number(1)}`, encodeControlUpdate(Y.encodeStateAsUpdate(doc)));
  await put('v2/control-tally', new Uint8Array(encodeCounterTally()));
  await put(`v2/origin/${OWN}`, encodeHeardOrigin(OWN));
  await put('v2/counter', encodeCounter(1));
  await db.close();
  return events;
}

/** The control tally's payload ({ count: 1, last: 1 }), as v2 wrote it (msgpack of a plain map). */
function encodeCounterTally(): Uint8Array {
  // fixmap of 2: "count" → 1, "last" → 1
  return Uint8Array.from([0x82, 0xa5, ...Buffer.from('count'), 0x01, 0xa4, ...Buffer.from('last'), 0x01]);
}

const grant = (grantId: string, amount: number): TenantEventBody => ({
  kind: 'grant',
  tenant: 'acme',
  grantId,
  amount,
  priority: 100,
  expiresAt: null,
});
const debit = (key: string, amount: number, metadata: unknown = null): TenantEventBody =>
  ({
    kind: 'debit',
    tenant: 'acme',
    amount,
    idempotencyKey: key,
    parts: [{ grantId: 'g1', amount }],
    overdraft: 0,
    metadata,
  }) as TenantEventBody;

describe('a layout-v2 data directory', () => {
  it('is converted on the first start: its own log re-signed as segments, verified by a replica', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allot-v2-'));
    dirs.push(dir);
    const key = generateRegionKey();
    const crypto = nodeCrypto(key);
    const bodies = [grant('g1', 100), ...Array.from({ length: 40 }, (_, i) => debit(`k${i}`, 1, { i }))];
    const own = await writeV2(dir, crypto, bodies);

    const store = await LevelStore.open(dir, { crypto });
    expect(store.converted).toEqual({
      origin: OWN,
      ownEvents: 41,
      segments: 1,
      dropped: [{ origin: PEER, events: 1 }],
    });
    expect((await store.readLog(OWN, 1, 100)).map(({ event }) => event)).toEqual(own);
    expect((await store.heads()).map((head) => [head.origin, head.seq])).toEqual([[OWN, 41]]);
    expect((await store.readTenantEvents('acme', null, 100)).events).toHaveLength(41);
    expect(await store.readControl()).toHaveLength(1);
    expect(await store.readOrigins()).toEqual([OWN]);
    await store.close();
    // No v2 key is left.
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    expect(await db.keys({ gte: 'v2/', lt: 'v20' }).all()).toEqual([]);
    await db.close();

    // A replica opens it: every segment chains, and its head verifies with the node's key.
    const reopened = await LevelStore.open(dir, { crypto });
    expect(reopened.converted).toBeNull();
    const replica = await Replica.open(
      { cluster: CLUSTER, region: META.region },
      { store: reopened, clock: new ManualClock(T0 + 1_000), rng: new SeededRng(1), crypto, logger: silent },
    );
    expect(replica.origin).toBe(OWN);
    expect(replica.balance('acme')).toMatchObject({ granted: 100, debited: 40 });
    const page = await replica.tenantEvents('acme', null, 10);
    expect(page.events.map(({ event }) => event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await replica.close();
  });

  it('is refused in one line without the node key, and when its own log does not verify; v2 stays as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'allot-v2-'));
    dirs.push(dir);
    const crypto = nodeCrypto(generateRegionKey());
    await writeV2(dir, crypto, [grant('g1', 100), debit('k', 1)]);
    const refused = await LevelStore.open(dir).catch((error: Error) => error);
    expect(refused).toBeInstanceOf(StoreCorruptError);
    expect((refused as Error).message).toMatch(/layout v2\/ .*start the node with this build to convert it/);
    expect((refused as Error).message).not.toMatch(/\n/);
    // Another node's key: the v2 head does not verify, nothing is converted.
    const other = nodeCrypto(generateRegionKey());
    await expect(LevelStore.open(dir, { crypto: other })).rejects.toThrow(
      /does not verify with this node's key/,
    );
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    expect(await db.keys({ gte: 'v3/', lt: 'v30' }).all()).toEqual([]);
    expect((await db.keys({ gte: 'v2/', lt: 'v20' }).all()).length).toBeGreaterThan(0);
    // A v2 event changed after it was hashed: the chain breaks, nothing is converted.
    const key = `v2/log/${OWN}/${v2Number(2)}`;
    const event = makeEvent({ origin: OWN, seq: 2, at: T0 + 1 }, debit('k', 2));
    await db.put(key, sealRecord(key, encodeStoredEvent({ event, hash: new Uint8Array(32) })));
    await db.close();
    await expect(LevelStore.open(dir, { crypto })).rejects.toThrow(/v2 hash chain breaks here/);
    const after = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
    expect(await after.keys({ gte: 'v3/', lt: 'v30' }).all()).toEqual([]);
    await after.close();
  });
});
