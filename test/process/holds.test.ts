/**
 * Borrowing and holds across three real node processes (issue 12), every link through a relay the
 * test cuts and heals: a covered debit is accepted at every region, a hold taken at one region is
 * captured through another, and a hold left alone is released at its expiry.
 */
import { describe, expect, it } from 'vitest';
import { useProcessCluster } from './cluster-process.js';
import { call, eventually, TOKENS } from './node-process.js';

const REGIONS = ['eu', 'us', 'ap'] as const;
const processes = useProcessCluster(REGIONS);
const url = processes.url;

async function allConnected(): Promise<void> {
  await eventually(
    () =>
      Promise.all(
        REGIONS.map(async (region) => (await call(url(region), TOKENS.auditor, 'GET', '/v1/cluster')).body),
      ),
    (all) =>
      all.every((view) =>
        (view as { peers: { connected: boolean }[] }).peers.every((peer) => peer.connected),
      ),
  );
}

async function balance(
  region: string,
  tenant: string,
): Promise<{ balance?: number; held?: number; debited?: number }> {
  const answer = await call(url(region), TOKENS.auditor, 'GET', `/v1/tenants/${tenant}/balance`);
  return answer.status === 200 ? (answer.body as { balance: number; held: number; debited: number }) : {};
}

describe('borrowing and holds between processes', () => {
  it('a grant made while ap was cut off: once ap is back, a covered debit there is accepted at once', async () => {
    await allConnected();
    processes.cluster().isolate('ap');
    const granted = await call(url('eu'), TOKENS.admin, 'POST', '/v1/tenants/fresh/grants', {
      grantId: 'g1',
      amount: 1000,
    });
    expect(granted.status).toBe(201);
    processes.cluster().heal();
    await allConnected();
    // After the heal every region takes a covered debit (its share, or rights it borrows, arrive in
    // milliseconds; on a loaded machine the first try at ap can still beat the grant there by more
    // than the borrow wait). A decline records nothing, so the same key is tried again.
    for (const region of ['ap', 'us', 'eu']) {
      const answer = await eventually(
        () =>
          call(url(region), TOKENS.service, 'POST', '/v1/tenants/fresh/debits', {
            amount: 7,
            idempotencyKey: `first-${region}`,
          }),
        (each) => each.status === 201,
      );
      expect({ region, status: answer.status }).toMatchObject({ region, status: 201 });
    }
    await eventually(
      () => Promise.all(REGIONS.map(async (region) => (await balance(region, 'fresh')).balance)),
      (all) => all.every((value) => value === 1000 - 21),
    );
    const declined = await call(url('ap'), TOKENS.service, 'POST', '/v1/tenants/fresh/debits', {
      amount: 980,
      idempotencyKey: 'too-much',
    });
    expect(declined.status).toBe(402);
    expect(declined.body).toMatchObject({
      error: { code: 'insufficient_credits', details: { reason: 'insufficient' } },
    });
  });

  it('a hold at eu is captured through us; settling it again is 409; cut off from eu, ap answers 503', async () => {
    await allConnected();
    expect(
      (
        await call(url('eu'), TOKENS.admin, 'POST', '/v1/tenants/llm/grants', {
          grantId: 'g1',
          amount: 10_000,
        })
      ).status,
    ).toBe(201);
    // 4,000 is more than eu's share of the split: eu borrows the rest, within borrowWaitMs (50 ms)
    // of wall-clock time, which a loaded machine (two cores, many processes) can overrun. A decline
    // records nothing, so the same key is tried again.
    const held = await eventually(
      () =>
        call(url('eu'), TOKENS.service, 'POST', '/v1/tenants/llm/holds', {
          amount: 4000,
          idempotencyKey: 'req-1',
          ttlSeconds: 300,
        }),
      (answer) => answer.status === 201,
    );
    expect(held.status).toBe(201);
    const holdId = (held.body as { hold: { holdId: string } }).hold.holdId;
    const captured = await call(
      url('us'),
      TOKENS.service,
      'POST',
      `/v1/tenants/llm/holds/${holdId}/capture`,
      {
        amount: 1234,
      },
    );
    expect(captured).toMatchObject({
      status: 201,
      body: { hold: { status: 'captured', captured: 1234, region: 'eu' } },
    });
    await eventually(
      () => Promise.all(REGIONS.map((region) => balance(region, 'llm'))),
      (all) => all.every((figures) => figures.balance === 10_000 - 1234 && figures.held === 0),
    );
    const again = await call(url('ap'), TOKENS.service, 'POST', `/v1/tenants/llm/holds/${holdId}/void`, {});
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'hold_not_active' } } });

    const second = await call(url('eu'), TOKENS.service, 'POST', '/v1/tenants/llm/holds', {
      amount: 100,
      idempotencyKey: 'req-2',
      ttlSeconds: 300,
    });
    const secondId = (second.body as { hold: { holdId: string } }).hold.holdId;
    processes.cluster().relay('ap', 'eu').cut();
    processes.cluster().relay('eu', 'ap').cut();
    const unreachable = await eventually(
      () => call(url('ap'), TOKENS.service, 'POST', `/v1/tenants/llm/holds/${secondId}/void`, {}),
      (answer) => answer.status === 503,
    );
    expect(unreachable.body).toMatchObject({
      error: { code: 'region_unreachable', details: { region: 'eu' } },
    });
    processes.cluster().heal();
  });

  it('a hold left alone is released at its expiry, everywhere', async () => {
    await allConnected();
    expect(
      (await call(url('us'), TOKENS.admin, 'POST', '/v1/tenants/ttl/grants', { grantId: 'g1', amount: 500 }))
        .status,
    ).toBe(201);
    // 200 is more than us's share of the split: borrowed within borrowWaitMs, tried again if a
    // loaded machine overran it (as above).
    const held = await eventually(
      () =>
        call(url('us'), TOKENS.service, 'POST', '/v1/tenants/ttl/holds', {
          amount: 200,
          idempotencyKey: 'short',
          ttlSeconds: 1,
        }),
      (answer) => answer.status === 201,
    );
    expect(held.status).toBe(201);
    await eventually(
      () => Promise.all(REGIONS.map((region) => balance(region, 'ttl'))),
      (all) => all.every((figures) => figures.held === 0 && figures.balance === 500 && figures.debited === 0),
    );
  });
});
