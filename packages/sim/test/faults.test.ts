import { runSimulation } from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { debitResults, expectAllHold, samples, smallScenario } from './support.js';

describe('partitions', () => {
  it('isolate: the region spends its own rights alone, its links time out, and all converge after the heal', async () => {
    const result = await runSimulation(
      smallScenario([{ kind: 'isolate', region: 'us', atS: 2, forS: 7 }]),
      1,
    );
    expectAllHold(result);
    expect(debitResults(result.history, 'us', 2_000, 9_000).accepted).toBeGreaterThan(50);
    const during = samples(result.history).find((sample) => sample.t === 8_500);
    // us does not see the others' debits, nor they its own.
    expect(during?.views.us?.balance).not.toBe(during?.views.eu?.balance);
    expect(during?.views.eu?.balance).toBe(during?.views.ap?.balance);
    expect(result.metrics.network?.timeouts).toBe(2);
    expect(result.metrics.network?.connects).toBe(5);
    const healed = result.history.find((record) => record.type === 'converged' && record.healAt === 9_000);
    expect(healed).toBeDefined();
    const last = samples(result.history).at(-1);
    expect(new Set(Object.values(last?.views ?? {}).map((view) => view.balance))).toEqual(
      new Set([last?.truth]),
    );
  });

  it('halves: only the links between the groups are cut', async () => {
    const result = await runSimulation(
      smallScenario([{ kind: 'halves', groups: [['eu'], ['us', 'ap']], atS: 1, forS: 6 }]),
      2,
    );
    expectAllHold(result);
    expect(result.metrics.network?.timeouts).toBe(2);
  });

  it('ring: each region keeps its two neighbours (four regions: two links cut)', async () => {
    const result = await runSimulation(
      smallScenario([{ kind: 'ring', atS: 1, forS: 6 }], { regions: ['eu', 'us', 'ap', 'sa'] }),
      3,
    );
    expectAllHold(result);
    expect(result.metrics.network?.timeouts).toBe(2);
  });

  it('bridge: the halves reach each other only through the bridge', async () => {
    const result = await runSimulation(smallScenario([{ kind: 'bridge', bridge: 'us', atS: 1, forS: 6 }]), 4);
    expectAllHold(result);
    expect(result.metrics.network?.timeouts).toBe(1);
  });

  it('one-way: the receiver hears nothing and times the link out; the other direction still works until then', async () => {
    const result = await runSimulation(
      smallScenario([{ kind: 'one-way', from: 'eu', to: 'us', atS: 1, forS: 6 }]),
      5,
    );
    expectAllHold(result);
    expect(result.metrics.network?.timeouts).toBe(1);
  });

  it('flapping: a link cut for half a period at a time holds its frames and delivers them late, losing none', async () => {
    const result = await runSimulation(
      smallScenario([{ kind: 'flapping', from: 'eu', to: 'us', periodS: 2, atS: 1, forS: 6 }]),
      6,
    );
    expectAllHold(result);
    expect(result.metrics.network).toMatchObject({ timeouts: 0, lost: 0, connects: 3 });
  });

  it('loss resets links (and they reconnect); duplication and reordering happen as often as asked', async () => {
    const result = await runSimulation(
      smallScenario([], {
        network: { delayMs: { min: 5, max: 40 }, loss: 0.01, duplicate: 0.05, reorder: 0.05 },
      }),
      7,
    );
    expectAllHold(result);
    const network = result.metrics.network;
    expect(network?.resets).toBeGreaterThan(0);
    expect(network?.connects).toBeGreaterThan(3);
    expect(network?.duplicated).toBeGreaterThan(0.02 * result.metrics.messages);
    expect(network?.reordered).toBeGreaterThan(0);
  });
});

/** The incarnation of `region` that accepted debits before `beforeMs`. */
function originBefore(
  result: Awaited<ReturnType<typeof runSimulation>>,
  region: string,
  beforeMs: number,
): string {
  const record = result.history.find(
    (entry) =>
      entry.type === 'debit' && entry.region === region && entry.result === 'accepted' && entry.t < beforeMs,
  );
  if (record?.type !== 'debit' || record.debitId === undefined) throw new Error(`no debit at ${region}`);
  const [name, incarnation] = record.debitId.split('.');
  return `${name}#${incarnation}`;
}

describe('process faults', () => {
  it('crash: the region answers nothing while down, restarts as the same incarnation, keeps what it acknowledged', async () => {
    const result = await runSimulation(smallScenario([{ kind: 'crash', region: 'us', atS: 2, forS: 3 }]), 8);
    expectAllHold(result);
    expect(debitResults(result.history, 'us', 2_010, 5_000)).toEqual({ unavailable: expect.any(Number) });
    expect(debitResults(result.history, 'us', 6_000).accepted).toBeGreaterThan(0);
    expect(result.final?.regions.us?.origin).toBe(originBefore(result, 'us', 2_000));
    expect(result.final?.lostOrigins).toEqual([]);
  });

  it('disk-loss: the region restarts as a new incarnation; the old one is lost, and what it replicated is kept', async () => {
    const result = await runSimulation(
      smallScenario([{ kind: 'disk-loss', region: 'us', atS: 2, forS: 3 }]),
      9,
    );
    expectAllHold(result);
    const before = originBefore(result, 'us', 2_000);
    expect(result.final?.regions.us?.origin).not.toBe(before);
    expect(result.final?.regions.us?.origin).toMatch(/^us#/);
    expect(result.final?.lostOrigins).toEqual([before]);
    // The lost incarnation's log, as far as it replicated, is still in every region's vector.
    expect(result.final?.regions.eu?.versionVector[before]).toBeGreaterThan(0);
  });

  it('write-errors: commits fail and their debits are unavailable, never acknowledged; the process runs on', async () => {
    const result = await runSimulation(
      smallScenario([{ kind: 'write-errors', region: 'us', atS: 2, forS: 1.5 }]),
      12,
    );
    expectAllHold(result);
    // A debit asked during the fault waits for its commit (~5 ms) before it is answered.
    const during = debitResults(result.history, 'us', 2_010, 3_500);
    expect(during.unavailable).toBeGreaterThan(10);
    expect(during.accepted).toBeUndefined();
    expect(debitResults(result.history, 'us', 3_600).accepted).toBeGreaterThan(0);
    // The other regions write on.
    expect(debitResults(result.history, 'eu', 2_010, 3_500).accepted).toBeGreaterThan(10);
    expect(result.final?.regions.us?.origin).toBe(originBefore(result, 'us', 2_000));
    expect(result.final?.lostOrigins).toEqual([]);
  });

  it('a start on a disk that refuses writes fails, and the supervisor starts the node again until it opens', async () => {
    const result = await runSimulation(
      smallScenario([
        { kind: 'disk-loss', region: 'us', atS: 2, forS: 1 },
        { kind: 'write-errors', region: 'us', atS: 2.5, forS: 1.7 },
      ]),
      13,
    );
    expectAllHold(result);
    // The new incarnation cannot write its first record until 4.2 s: us answers nothing before.
    expect(debitResults(result.history, 'us', 2_010, 4_200).accepted).toBeUndefined();
    expect(debitResults(result.history, 'us', 5_000).accepted).toBeGreaterThan(0);
    const before = originBefore(result, 'us', 2_000);
    expect(result.final?.regions.us?.origin).not.toBe(before);
    expect(result.final?.lostOrigins).toEqual([before]);
  });

  it('pause: requests wait instead of failing, and are answered when the pause ends', async () => {
    const result = await runSimulation(smallScenario([{ kind: 'pause', region: 'us', atS: 2, forS: 2 }]), 10);
    expectAllHold(result);
    // From 1 s on: at the start a replica takes writes once every peer's summary confirmed its log.
    expect(debitResults(result.history, 'us', 1_000).unavailable).toBeUndefined();
    const waited = result.history.filter(
      (record) =>
        record.type === 'debit' && record.region === 'us' && record.t >= 4_000 && record.latencyMs >= 1_000,
    );
    expect(waited.length).toBeGreaterThan(10);
    expect(debitResults(result.history, 'us', 2_010, 4_000)).toEqual({});
    expect(result.metrics.network?.timeouts).toBe(0);
  });

  it('a pause longer than the peer timeout gets the region disconnected, and it reconnects after', async () => {
    const result = await runSimulation(smallScenario([{ kind: 'pause', region: 'us', atS: 1, forS: 6 }]), 11);
    expectAllHold(result);
    expect(result.metrics.network?.timeouts).toBe(2);
    expect(result.metrics.network?.connects).toBe(5);
  });
});

describe('clock faults', () => {
  /** Scenario time of the first sample in which some credits had expired. */
  const firstExpiry = (result: Awaited<ReturnType<typeof runSimulation>>) =>
    samples(result.history).find((sample) => (sample.ledger?.expired ?? 0) > 0)?.t;
  const expiring = (faults: Parameters<typeof smallScenario>[0]) =>
    smallScenario(
      faults,
      { durationS: 12 },
      { grants: [{ grantId: 'g1', amount: 3_000, region: 'eu', atS: 0, expiresInS: 10 }] },
    );

  it('without a clock fault, a grant expires at its time', async () => {
    const result = await runSimulation(expiring([]), 12);
    expectAllHold(result);
    expect(firstExpiry(result)).toBeGreaterThanOrEqual(9_900);
    expect(firstExpiry(result)).toBeLessThanOrEqual(10_200);
  });

  it('clock-step: a region whose clock jumps 6 s ahead expires its share 6 s early', async () => {
    const result = await runSimulation(
      expiring([{ kind: 'clock-step', region: 'us', stepMs: 6_000, atS: 2 }]),
      12,
    );
    expectAllHold(result);
    expect(firstExpiry(result)).toBeGreaterThanOrEqual(3_900);
    expect(firstExpiry(result)).toBeLessThanOrEqual(4_200);
  });

  it('clock-drift: a clock 10% fast reaches the expiry at 10/1.1 s of true time', async () => {
    const result = await runSimulation(
      expiring([{ kind: 'clock-drift', region: 'us', ppm: 100_000, atS: 0, forS: 11 }]),
      12,
    );
    expectAllHold(result);
    expect(firstExpiry(result)).toBeGreaterThanOrEqual(9_000);
    expect(firstExpiry(result)).toBeLessThanOrEqual(9_300);
  });
});
