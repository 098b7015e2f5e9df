/**
 * A balance as of a time at a node that joined from a checkpoint (issue 11): its logs start after
 * the checkpoint's heads (log bases), so it does not hold the events before them. As of a time the
 * checkpoint covers it answers the same figures as a node holding every event; as of an earlier
 * time it answers 404 not_found naming what it lacks, never a figure that silently leaves them out.
 */

import { buildApp, createMetrics } from '@allot/server';
import { MemoryStore, sha256 } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { farBehind, running } from './join-world.js';

describe('a balance as of a time at a node that joined from a checkpoint', () => {
  it('answers after its base as a full node does, and 404 not_found before it', async () => {
    const w = await running();
    await w.open('sa', MemoryStore.empty({ archiveHash: sha256 }));
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    const bases = await (w.stores.get('sa') as MemoryStore).bases();
    expect(bases.length).toBeGreaterThan(0);
    // The tenant's grant (at eu, before every checkpoint): eu holds it, sa only through its checkpoint.
    const first = await (w.stores.get('eu') as MemoryStore).readTenantEvents('t0', null, 1);
    const grantAt = first.events[0]?.event.at as number;
    const now = w.clock.now();
    const tokens = [{ token: 'audit-token', role: 'auditor' as const }];
    // One after the other: each registers its OpenAPI document within fastify's plugin timeout.
    const apps: Awaited<ReturnType<typeof buildApp>>[] = [];
    for (const region of ['eu', 'sa'])
      apps.push(
        await buildApp({
          replica: w.node(region),
          tokens,
          logger: false,
          metrics: createMetrics({ defaultMetrics: false }),
        }),
      );
    try {
      const get = async (at: number) => {
        const [eu, sa] = await Promise.all(
          apps.map((app) =>
            app.inject({
              url: `/v1/tenants/t0/balance?at=${new Date(at).toISOString()}`,
              headers: { authorization: 'Bearer audit-token' },
            }),
          ),
        );
        if (eu === undefined || sa === undefined) throw new Error('an app did not answer');
        return [eu, sa] as const;
      };
      // After the checkpoint sa joined from: the same figures as eu's.
      const [euNow, saNow] = await get(now);
      expect([euNow.statusCode, saNow.statusCode]).toEqual([200, 200]);
      const { versionVector: euVector, ...euFigures } = euNow.json();
      const { versionVector: saVector, ...saFigures } = saNow.json();
      expect({ ...saFigures, region: 'eu' }).toEqual(euFigures);
      // The vector names the same seqs, but where sa holds none of the tenant's events of an
      // origin past its base: there it names the base (eu names the tenant's last event, at or below).
      for (const origin of new Set([...Object.keys(euVector), ...Object.keys(saVector)])) {
        const base = bases.find((one) => one.origin === origin);
        if (saVector[origin] === euVector[origin]) continue;
        expect(base?.seq, origin).toBe(saVector[origin]);
        expect(euVector[origin] ?? 0).toBeLessThanOrEqual(base?.seq ?? 0);
      }
      // Before it: eu answers, sa lacks the events below its bases and says which.
      const [euEarly, saEarly] = await get(grantAt);
      expect(euEarly.statusCode).toBe(200);
      expect(euEarly.json()).toMatchObject({ granted: 1_000_000 });
      expect(saEarly.statusCode).toBe(404);
      const error = saEarly.json().error;
      expect(error.code).toBe('not_found');
      const base = bases.find((one) => one.origin === error.details.origin);
      expect(base).toBeDefined();
      expect(error.details).toMatchObject({ seq: base?.seq, heldFrom: (base?.seq ?? 0) + 1 });
      expect(error.message).toContain(error.details.origin);
      // The replica says the same without HTTP.
      await expect(w.node('sa').balanceAsOf('t0', grantAt)).rejects.toMatchObject({
        name: 'AsOfNotHeldError',
        origin: error.details.origin,
        seq: base?.seq,
      });
    } finally {
      for (const app of apps) await app.close();
    }
  }, 180_000);

  it('at a node far behind that installed one: its prefix below a base does not make the fold whole', async () => {
    const w = await farBehind();
    const sa = await w.open('sa', (w.stores.get('sa') as MemoryStore).crash());
    await w.until(() => w.converged(['ap', 'eu', 'us', 'sa']));
    const bases = await (w.stores.get('sa') as MemoryStore).bases();
    expect(bases.length).toBeGreaterThan(0);
    // sa holds eu's grant (it ran then), but not what eu and the others wrote up to its bases.
    const first = await (w.stores.get('sa') as MemoryStore).readTenantEvents('t0', null, 1);
    const grantAt = first.events[0]?.event.at as number;
    const now = w.clock.now();
    const { versionVector: _eu, ...euNow } = (await w.node('eu').balanceAsOf('t0', now)) ?? {};
    const { versionVector: _sa, ...saNow } = (await sa.balanceAsOf('t0', now)) ?? {};
    expect({ ...saNow, region: 'eu' }).toEqual(euNow);
    expect(await w.node('eu').balanceAsOf('t0', grantAt)).toMatchObject({ granted: 1_000_000 });
    const refusal = await sa.balanceAsOf('t0', grantAt).catch((error: unknown) => error);
    expect(refusal).toMatchObject({ name: 'AsOfNotHeldError' });
    const { origin, seq, heldFrom } = refusal as { origin: string; seq: number; heldFrom: number };
    expect(bases).toContainEqual(expect.objectContaining({ origin, seq }));
    expect(heldFrom).toBe(seq + 1);
  }, 180_000);
});
