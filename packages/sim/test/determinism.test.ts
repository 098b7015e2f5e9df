import { randomScenario, runSimulation } from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { smallScenario } from './support.js';

describe('determinism', () => {
  const scenario = smallScenario(
    [
      { kind: 'isolate', region: 'ap', atS: 1, forS: 2 },
      { kind: 'crash', region: 'us', atS: 2, forS: 1.5 },
      { kind: 'clock-step', region: 'eu', stepMs: -3_000, atS: 3 },
    ],
    { network: { delayMs: { min: 5, max: 60 }, loss: 0.005, duplicate: 0.01, reorder: 0.02 } },
    { retryElsewhere: 0.05, refund: 0.05, overdraft: { us: 20 } },
  );

  it('the same scenario and seed give the same history, byte for byte', async () => {
    const first = await runSimulation(scenario, 42);
    const second = await runSimulation(scenario, 42);
    expect(second.historyHash).toBe(first.historyHash);
    expect(second.history.length).toBe(first.history.length);
    expect(second.final).toEqual(first.final);
  });

  it('another seed gives another history', async () => {
    const first = await runSimulation(scenario, 42);
    const other = await runSimulation(scenario, 43);
    expect(other.historyHash).not.toBe(first.historyHash);
  });

  it('real Ed25519 signatures change nothing the history shows', async () => {
    const simulated = await runSimulation(scenario, 42);
    const ed25519 = await runSimulation({ ...scenario, signatures: 'ed25519' }, 42);
    expect(ed25519.historyHash).toBe(simulated.historyHash);
  });

  it('a swarm seed gives the same scenario every time', () => {
    expect(randomScenario(77)).toEqual(randomScenario(77));
    expect(randomScenario(77)).not.toEqual(randomScenario(78));
  });

  it('reports progress every simulated second, up to the end of the quiet period', async () => {
    const seen: number[] = [];
    await runSimulation(smallScenario([], { durationS: 3, quietS: 2 }), 1, {
      onProgress: (s) => seen.push(s),
    });
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it('starts the quiet period after the last expiry, so that S4 is not checked while regions still expire', async () => {
    const scenario = smallScenario(
      [],
      { durationS: 8, quietS: 2 },
      { grants: [{ grantId: 'g1', amount: 3_000, region: 'eu', atS: 0, expiresInS: 9.99 }] },
    );
    const result = await runSimulation(scenario, 1);
    expect(result.metrics.simulatedSeconds).toBeGreaterThanOrEqual(9.99 + 2);
    expect(result.verdicts.every((verdict) => verdict.holds)).toBe(true);
  });

  it('the replay command names the scenario and the seed', async () => {
    const result = await runSimulation(smallScenario([], { durationS: 1, quietS: 1 }), 5, {
      scenarioPath: 'simulations/small.yaml',
    });
    expect(result.replay).toBe('npx allot simulate simulations/small.yaml --seed 5');
  });
});
