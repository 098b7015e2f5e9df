/**
 * Property (issue 9): any sequence of frames from an authenticated-but-hostile peer — garbage,
 * forged runs, runs of unknown origins, bad control updates, replays, bogus summaries and pulls —
 * changes no balance and no policy that the peer could not have made through the API of its own
 * region, puts no origin of an unconfigured region in the replica's state, and persists no control
 * update. A failure prints its seed and path (fast-check), to keep as a regression case.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { TenantEventBody } from '@allot/core';
import type { ReplicationFrame } from '@allot/replica';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { controlEdit, type HostileSetup, hostileSetup, signedRun, US_ORIGIN } from './hostile-peer.js';

const TENANTS = ['acme', 'beta'] as const;
const UNKNOWN_ORIGIN = 'zz#aaaaaaaaaaaaaaaa';
const OTHER_KEY = generateKeyPairSync('ed25519').privateKey;

const BAD_POLICY_VALUES: unknown[] = [
  12345,
  null,
  'no',
  { overdraft: null, weights: {}, blocked: false },
  { overdraft: {}, weights: {}, blocked: 'no' },
  { overdraft: { eu: 1_000_000.5 }, weights: {}, blocked: false },
  { overdraft: { eu: -1 }, weights: {}, blocked: false },
  { overdraft: {}, weights: { eu: 0 }, blocked: false },
  { overdraft: {}, weights: {}, blocked: false, extra: true },
  { overdraft: {}, weights: {}, blocked: false, alerts: [{ below: -1 }] },
];

const grantBody = (tenant: string, grantId: string, amount: number): TenantEventBody => ({
  kind: 'grant',
  tenant,
  grantId,
  amount,
  priority: 1,
  expiresAt: null,
});

/** What the peer may not change: merged figures and policies of every tenant, kept control updates. */
async function fingerprint(s: HostileSetup): Promise<string> {
  const tenants = [];
  for (const tenant of TENANTS) {
    const view = await s.replica.durableBalance(tenant);
    tenants.push({
      tenant,
      figures:
        view === undefined ? null : [view.balance, view.granted, view.debited, view.refunded, view.expired],
      policy: s.replica.policy(tenant),
    });
  }
  return JSON.stringify({ tenants, control: (await s.store.readControl()).length });
}

/** One hostile frame, built against the setup (some need its current control state). */
type Hostile = (s: HostileSetup, legit: readonly ReplicationFrame[]) => Promise<unknown>;

const hostileFrame: fc.Arbitrary<Hostile> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((message) => async () => ({ type: 'control', message })),
  fc.anything().map((value) => async () => value),
  fc
    .record({ tenant: fc.constantFrom(...TENANTS), amount: fc.integer({ min: 1, max: 1_000_000 }) })
    .map(({ tenant, amount }) => async () => ({
      type: 'segments',
      origin: US_ORIGIN,
      segments: signedRun(OTHER_KEY, US_ORIGIN, [grantBody(tenant, 'forged', amount)]),
    })),
  fc
    .record({ tenant: fc.constantFrom(...TENANTS), amount: fc.integer({ min: 1, max: 1_000_000 }) })
    .map(({ tenant, amount }) => async (s: HostileSetup) => {
      // Signed by the right key but changed after signing: the chain does not hold.
      const run = signedRun(
        s.usKey,
        US_ORIGIN,
        [grantBody(tenant, 'tampered', amount)],
        2,
        new Uint8Array(32),
      );
      const first = run[0];
      if (first === undefined) throw new Error('empty run');
      return {
        type: 'segments',
        origin: US_ORIGIN,
        segments: [
          {
            ...first,
            bytes: signedRun(s.usKey, US_ORIGIN, [grantBody(tenant, 'tampered', amount + 1)], 2)[0]?.bytes,
          },
        ],
      };
    }),
  fc.integer({ min: 1, max: 1_000_000 }).map((amount) => async (s: HostileSetup) => ({
    type: 'segments',
    origin: UNKNOWN_ORIGIN,
    segments: signedRun(s.usKey, UNKNOWN_ORIGIN, [grantBody('acme', 'unknown', amount)]),
  })),
  fc.integer({ min: 1, max: 1_000_000 }).map((amount) => async (s: HostileSetup) => ({
    type: 'segments',
    origin: s.replica.origin,
    segments: signedRun(s.usKey, s.replica.origin, [grantBody('acme', 'own', amount)]),
  })),
  fc.record({ tenant: fc.constantFrom(...TENANTS), value: fc.constantFrom(...BAD_POLICY_VALUES) }).map(
    ({ tenant, value }) =>
      async (s: HostileSetup) =>
        controlEdit(await s.store.readControl(), (root) => root.set(`policy/${tenant}`, value)),
  ),
  fc
    .constantFrom(...TENANTS)
    .map(
      (tenant) => async (s: HostileSetup) =>
        controlEdit(await s.store.readControl(), (root) => root.delete(`policy/${tenant}`)),
    ),
  fc
    .string({ maxLength: 20 })
    .map(
      (key) => async (s: HostileSetup) =>
        controlEdit(await s.store.readControl(), (root) => root.set(`x/${key}`, { overdraft: {} })),
    ),
  fc
    .dictionary(
      fc.constantFrom(UNKNOWN_ORIGIN, 'ap#bbbbbbbbbbbbbbbb', US_ORIGIN),
      fc.integer({ min: 0, max: 1_000 }),
    )
    .map((versionVector) => async () => ({
      type: 'summary',
      versionVector,
      control: Y.encodeStateVector(new Y.Doc()),
    })),
  fc.constant(async () => ({ type: 'pull', origin: UNKNOWN_ORIGIN, fromSeq: 1 })),
  fc.nat({ max: 10 }).map((index) => async (_s: HostileSetup, legit: readonly ReplicationFrame[]) => {
    return legit[index % legit.length]; // a replay of a frame the peer sent honestly before
  }),
);

describe('an authenticated but hostile peer', () => {
  it('changes no balance and no policy it could not have made through its own API', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(hostileFrame, { minLength: 1, maxLength: 8 }), async (frames) => {
        const s = await hostileSetup();
        // Honest history first: eu's grant and policy, and a legit grant of us, signed by us.
        const granted = s.replica.grant({
          tenant: 'acme',
          grantId: 'g',
          amount: 900,
          priority: 1,
          expiresAt: null,
        });
        await s.run(5);
        expect((await granted).status).toBe('accepted');
        const policy = s.replica.setPolicy('acme', { overdraft: { eu: 10 }, weights: {}, blocked: false });
        await s.run(5);
        expect(await policy).toEqual({ overdraft: { eu: 10 }, weights: {}, blocked: false });
        const legit: ReplicationFrame[] = [
          {
            type: 'segments',
            origin: US_ORIGIN,
            segments: signedRun(s.usKey, US_ORIGIN, [grantBody('beta', 'u', 50)]),
          },
        ];
        s.send(legit[0]);
        await s.run(5);
        const before = await fingerprint(s);
        for (const frame of frames) {
          s.send(await frame(s, legit));
          await s.run(3);
        }
        await s.run(600); // a summary interval: lag reports and anti-entropy run
        expect(await fingerprint(s)).toBe(before);
        const origins = Object.keys(s.replica.versionVector());
        expect(origins.filter((origin) => !/^(eu|us)#/.test(origin))).toEqual([]);
        expect([...s.lagLabels].filter((origin) => !/^(eu|us)#/.test(origin))).toEqual([]);
        await s.replica.close();
      }),
      { numRuns: 25 },
    );
  });
});
