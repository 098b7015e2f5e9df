/**
 * Issue 17 from the outside: a top-up sent to eu, "timed out", and retried at ap while ap was cut
 * off (three real node processes, every link through a relay). Both regions answer 201; after the
 * heal every region shows the tenant credited once, a replay at either region answers the winner,
 * and the same id with a different body is reported as a conflict.
 */
import { describe, expect, it } from 'vitest';
import { useProcessCluster } from './cluster-process.js';
import { call, eventually, TOKENS } from './node-process.js';

const REGIONS = ['eu', 'us', 'ap'] as const;

const processes = useProcessCluster(REGIONS);
const url = processes.url;

interface ClusterBody {
  peers: { region: string; connected: boolean }[];
  grantConflicts: { tenant: string; grantId: string; winner: string; loser: string }[];
}

async function clusterView(region: string): Promise<ClusterBody> {
  return (await call(url(region), TOKENS.auditor, 'GET', '/v1/cluster')).body as ClusterBody;
}

/** Waits until `region` sees each of `peers` connected (true) or not (false). */
async function links(region: string, connected: boolean, peers: readonly string[]): Promise<void> {
  await eventually(
    () => clusterView(region),
    (view) => peers.every((peer) => view.peers.find((each) => each.region === peer)?.connected === connected),
  );
}

async function balances(tenant: string): Promise<unknown[]> {
  return Promise.all(
    REGIONS.map(async (region) => {
      const answer = await call(url(region), TOKENS.auditor, 'GET', `/v1/tenants/${tenant}/balance`);
      const body = answer.body as { balance: number; granted: number };
      return answer.status === 200 ? { balance: body.balance, granted: body.granted } : answer.status;
    }),
  );
}

/** POST a grant; the answer with its replay header. */
async function topUp(
  region: string,
  tenant: string,
  grantId: string,
  amount: number,
): Promise<{ status: number; body: unknown; replayed: string | null }> {
  const response = await fetch(`${url(region)}/v1/tenants/${tenant}/grants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ grantId, amount }),
  });
  return {
    status: response.status,
    body: await response.json(),
    replayed: response.headers.get('idempotent-replayed'),
  };
}

describe('a grant retried at another region across a partition (real processes, relays)', () => {
  it('credits the tenant once after the heal; a replay answers the winner; a different body is a conflict', async () => {
    for (const region of REGIONS)
      await links(
        region,
        true,
        REGIONS.filter((other) => other !== region),
      );
    // ap is cut off from eu (and from us, which would otherwise relay eu's log to it).
    processes.cluster().isolate('ap');
    await links('ap', false, ['eu', 'us']);
    await links('eu', false, ['ap']);

    // The same top-up: sent to eu, then retried at ap. Both accept it.
    expect((await topUp('eu', 'acme', 'topup-1', 1_000)).status).toBe(201);
    const retried = await topUp('ap', 'acme', 'topup-1', 1_000);
    expect(retried.status).toBe(201);
    // ap spends part of what it holds while cut off: 300 of the duplicate's credits.
    for (let i = 0; i < 3; i++) {
      const debit = await call(url('ap'), TOKENS.service, 'POST', '/v1/tenants/acme/debits', {
        amount: 100,
        idempotencyKey: `ap-${i}`,
      });
      expect(debit.status).toBe(201);
    }
    // Two different top-ups that reused one id.
    expect((await topUp('eu', 'acme', 'topup-2', 500)).status).toBe(201);
    expect((await topUp('ap', 'acme', 'topup-2', 700)).status).toBe(201);

    processes.cluster().heal();
    // Credited once each (1,000 + the winner's 500, eu's: it came first), less the 300 spent.
    await eventually(
      () => balances('acme'),
      (all) =>
        all.every((each) => JSON.stringify(each) === JSON.stringify({ balance: 1_200, granted: 1_500 })),
    );

    // A replay at either region answers the winner's grant, 200, idempotent-replayed.
    for (const region of ['eu', 'ap']) {
      const replay = await topUp(region, 'acme', 'topup-1', 1_000);
      expect(replay.status).toBe(200);
      expect(replay.replayed).toBe('true');
      expect(replay.body).toMatchObject({ grant: { grantId: 'topup-1', amount: 1_000, region: 'eu' } });
    }
    const loserReplay = await topUp('ap', 'acme', 'topup-2', 700);
    expect(loserReplay.status).toBe(200);
    expect(loserReplay.replayed).toBe('true');
    expect(loserReplay.body).toMatchObject({ grant: { grantId: 'topup-2', amount: 500, region: 'eu' } });

    // The conflict is visible at every region, and counted.
    for (const region of REGIONS) {
      const view = await clusterView(region);
      expect(view.grantConflicts).toEqual([
        {
          tenant: 'acme',
          grantId: 'topup-2',
          winner: expect.stringMatching(/^eu#/),
          loser: expect.stringMatching(/^ap#/),
        },
      ]);
    }
    const metrics = await fetch(`${url('eu')}/metrics`);
    expect(await metrics.text()).toMatch(/^allot_grant_conflicts_total 1$/m);

    // The revokes are durable events on the tenant's events page.
    const events = await call(url('us'), TOKENS.auditor, 'GET', '/v1/tenants/acme/events?limit=1000');
    const revokes = (
      events.body as { events: { kind: string; grantId: string; loser: string }[] }
    ).events.filter((event) => event.kind === 'revoke');
    expect(new Set(revokes.map((event) => event.grantId))).toEqual(new Set(['topup-1', 'topup-2']));
    expect(revokes.every((event) => event.loser.startsWith('ap#'))).toBe(true);
  });
});
