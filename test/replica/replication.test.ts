import { canonicalJson } from '@allot/core';
import { describe, expect, it } from 'vitest';
import { cluster } from './cluster.js';

const REGIONS = ['eu', 'us', 'ap'];
const grant = (amount: number, grantId = 'g1') => ({
  tenant: 'acme',
  grantId,
  amount,
  priority: 100,
  expiresAt: null,
});
const debit = (key: string, amount = 1) => ({ tenant: 'acme', amount, idempotencyKey: key, metadata: null });

function balances(c: Awaited<ReturnType<typeof cluster>>): (number | undefined)[] {
  return REGIONS.map((region) => c.node(region).balance('acme')?.balance);
}

function converged(c: Awaited<ReturnType<typeof cluster>>): boolean {
  const vectors = REGIONS.map((region) => canonicalJson(c.node(region).versionVector()));
  return new Set(vectors).size === 1;
}

describe('replication between replicas (in-memory network)', () => {
  it('a grant at one region becomes visible everywhere, split across reachable regions', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    const granted = c.node('eu').grant(grant(900));
    await c.until(() => balances(c).every((balance) => balance === 900));
    expect((await granted).status).toBe('accepted');
    const regions = c.node('ap').balance('acme')?.regions;
    expect([regions?.eu?.rights, regions?.us?.rights, regions?.ap?.rights]).toEqual([300, 300, 300]);
  });

  it('debits everywhere converge to one balance', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant(900)), c.run(20)]);
    const debits = REGIONS.flatMap((region, r) =>
      Array.from({ length: 20 }, (_, i) => c.node(region).debit(debit(`${region}-${i}`, 1 + (r % 2)))),
    );
    await c.run(50);
    const outcomes = await Promise.all(debits);
    expect(outcomes.every((outcome) => outcome.status === 'accepted')).toBe(true);
    await c.until(() => converged(c) && new Set(balances(c)).size === 1);
    expect(balances(c)[0]).toBe(900 - 20 - 40 - 20);
  });

  it('isolated regions spend only their own rights; after heal all converge to grants − accepted debits', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant(300)), c.run(20)]);
    await c.until(() => balances(c).every((balance) => balance === 300));
    c.network.isolateAll();
    let accepted = 0;
    for (let i = 0; i < 150; i++) {
      for (const region of REGIONS) {
        const outcome = c.node(region).debit(debit(`${region}-${i}`, 1));
        const settled = (await Promise.all([outcome, c.run(2)]))[0];
        if (settled.status === 'accepted') accepted += 1;
      }
    }
    expect(accepted).toBe(300); // each region spent exactly its 100, no more
    c.network.healAll();
    await c.until(() => converged(c) && balances(c).every((balance) => balance === 0));
  });

  it('after heal a single busy region spends nearly all that is left (rights move to it)', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant(3000)), c.run(20)]);
    await c.until(() => balances(c).every((balance) => balance === 3000));
    let spent = 0;
    for (let i = 0; i < 3000 && spent < 2900; i++) {
      const [outcome] = await Promise.all([c.node('us').debit(debit(`busy-${i}`, 10)), c.run(3)]);
      if (outcome.status === 'accepted') spent += 10;
      else await c.run(20); // wait for rights to arrive
    }
    expect(spent).toBeGreaterThanOrEqual(2900);
  });

  it('the same idempotency key accepted in two isolated regions is charged once after heal', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant(900)), c.run(20)]);
    await c.until(() => balances(c).every((balance) => balance === 900));
    c.network.isolateAll();
    const [a, b] = await Promise.all([
      c.node('eu').debit(debit('same-key', 50)),
      c.node('ap').debit(debit('same-key', 50)),
      c.run(10),
    ]);
    expect([a.status, b.status]).toEqual(['accepted', 'accepted']);
    c.network.healAll();
    await c.until(
      () => converged(c) && REGIONS.every((region) => c.node(region).balance('acme')?.refunded === 50),
    );
    for (const region of REGIONS) {
      expect(c.node(region).balance('acme')).toMatchObject({ debited: 100, refunded: 50, balance: 850 });
    }
  });

  it('a policy set at one region reaches all', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    await Promise.all([
      c.node('us').setPolicy('acme', { overdraft: { eu: 7 }, weights: { ap: 2 }, blocked: false }),
      c.run(10),
    ]);
    await c.until(() => REGIONS.every((region) => c.node(region).policy('acme').overdraft.eu === 7));
    expect(c.node('ap').policy('acme')).toEqual({ overdraft: { eu: 7 }, weights: { ap: 2 }, blocked: false });
  });

  it('a restarted region keeps what it acknowledged and reconverges', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant(900)), c.run(20)]);
    await c.until(() => balances(c).every((balance) => balance === 900));
    const [taken] = await Promise.all([c.node('us').debit(debit('before-crash', 40)), c.run(10)]);
    expect(taken.status).toBe('accepted');
    c.network.cutLink('us', 'eu');
    c.network.cutLink('us', 'ap');
    const restarted = await c.crash('us');
    c.network.healAll();
    expect(restarted.balance('acme')?.debited).toBe(40);
    await c.until(() => converged(c) && balances(c).every((balance) => balance === 860));
  });
});

describe('lost incarnations', () => {
  it('rights held by an incarnation whose disk was lost show as stranded, and are never spent again', async () => {
    const c = await cluster(REGIONS);
    await c.run(5);
    await Promise.all([c.node('eu').grant(grant(900)), c.run(20)]);
    await c.until(() => balances(c).every((balance) => balance === 900));
    const lost = c.node('us').origin;
    c.network.cutLink('us', 'eu');
    c.network.cutLink('us', 'ap');
    const fresh = await c.loseDisk('us');
    c.network.healAll();
    expect(fresh.origin).not.toBe(lost);
    await c.until(() => c.node('eu').clusterView().stranded.length === 1);
    expect(c.node('eu').clusterView().stranded).toEqual([
      { origin: lost, region: 'us', rights: 300, tenants: 1, held: 0 },
    ]);
    // The new incarnation holds nothing of the old one's rights.
    await c.until(() => fresh.balance('acme')?.balance === 900);
    expect(fresh.balance('acme')?.regions.us?.rights).toBe(300); // the stranded 300, shown under us
    // It may borrow what eu and ap hold (600), never the stranded 300: past that, unreachable.
    const [beyond] = await Promise.all([fresh.debit(debit('after-loss', 601)), c.run(60)]);
    expect(beyond).toMatchObject({ status: 'declined', declineReason: 'unreachable' });
    const [spent] = await Promise.all([fresh.debit(debit('borrowed', 600)), c.run(60)]);
    expect(spent.status).toBe('accepted');
    expect(c.node('eu').clusterView().stranded).toEqual([
      { origin: lost, region: 'us', rights: 300, tenants: 1, held: 0 },
    ]);
  });
});

describe('frames that do not verify', () => {
  it('a forged or corrupt run drops the peer and changes nothing', async () => {
    const { harness, runFor } = await import('./support.js');
    const { segmentHash, headSigningBytes, ZERO_HASH } = await import('@allot/replica');
    const { encodeSegment } = await import('@allot/core');
    const { generateKeyPairSync } = await import('node:crypto');
    const { nodeCrypto, rawPublicKey } = await import('@allot/store');
    const usKey = generateKeyPairSync('ed25519').privateKey;
    const usCrypto = nodeCrypto(usKey);
    const h = await harness({ peerKeys: { us: rawPublicKey(usKey) } });
    const drops: string[] = [];
    let handlers: import('@allot/replica').TransportHandlers | null = null;
    h.replica.attachTransport({
      attach: (given) => {
        handlers = given;
      },
      send: () => true,
      drop: (_region, reason) => {
        drops.push(reason);
      },
      peers: () => [{ region: 'us', url: 'memory://us', connected: true, lastHeardMs: 0, rttMs: 1 }],
    });
    const us = 'us#bbbbbbbbbbbbbbbb';
    const active = handlers as unknown as import('@allot/replica').TransportHandlers;
    active.peerUp('us', us);
    const event = {
      kind: 'grant',
      tenant: 'acme',
      origin: us,
      seq: 1,
      at: 0,
      grantId: 'g',
      amount: 5,
      priority: 100,
      expiresAt: null,
    } as const;
    const bytes = encodeSegment([event]);
    const good = segmentHash(h.crypto, ZERO_HASH, bytes);
    const before = h.replica.versionVector();
    const segment = (segmentBytes: Uint8Array, signature: Uint8Array) => ({
      type: 'segments' as const,
      origin: us,
      segments: [{ firstSeq: 1, lastSeq: 1, bytes: segmentBytes, signature }],
    });
    // A forged signature.
    active.frame('us', segment(bytes, new Uint8Array(64)));
    // Signed by eu's own key instead of us's.
    const signed = headSigningBytes('test', us, 1, good);
    active.frame('us', segment(bytes, h.crypto.sign(signed)));
    // Signed by us, but one byte of the segment changed: the hash no longer matches what was signed.
    const changed = Uint8Array.from(bytes);
    changed[changed.length - 1] = (changed[changed.length - 1] as number) ^ 1;
    active.frame('us', segment(changed, usCrypto.sign(signed)));
    const refused = `segment ${us}/1-1: signature does not verify (or the chain is broken)`;
    expect(drops).toEqual([refused, refused, refused]);
    expect(h.replica.versionVector()).toEqual(before);
    expect(h.replica.balance('acme')).toBeUndefined();
    // The genuine run is taken.
    active.frame('us', segment(bytes, usCrypto.sign(signed)));
    await runFor(h.clock, 100);
    expect(h.replica.balance('acme')?.granted).toBe(5);
  });
});
