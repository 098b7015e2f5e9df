import { type Fault, randomScenario, runSwarm } from '@allot/sim';
import { describe, expect, it } from 'vitest';

describe('swarm', () => {
  it('draws every fault kind a three-region cluster can have, across seeds', () => {
    const kinds = new Set<Fault['kind']>();
    for (let seed = 0; seed < 300; seed++)
      for (const fault of randomScenario(seed).faults) kinds.add(fault.kind);
    // A ring needs four regions; with three every region is every other's neighbour.
    expect([...kinds].sort()).toEqual(
      [
        'bridge',
        'clock-drift',
        'clock-step',
        'crash',
        'disk-loss',
        'flapping',
        'halves',
        'isolate',
        'one-way',
        'pause',
      ].sort(),
    );
  });

  it('draws 10–30 simulated seconds over three regions, with both rebalancing strategies', () => {
    const scenarios = Array.from({ length: 100 }, (_, seed) => randomScenario(seed));
    for (const scenario of scenarios) {
      expect(scenario.regions).toEqual(['eu', 'us', 'ap']);
      expect(scenario.durationS).toBeGreaterThanOrEqual(10);
      expect(scenario.durationS).toBeLessThanOrEqual(30);
    }
    expect(new Set(scenarios.map((scenario) => scenario.rebalancing))).toEqual(
      new Set(['adaptive', 'static']),
    );
  });

  it('runs seeds one after the other and reports each, with its replay command on failure', async () => {
    const seen: number[] = [];
    const summary = await runSwarm(2, 1, (seed) => seen.push(seed));
    expect(seen).toEqual([1, 2]);
    expect(summary.runs).toBe(2);
    expect(summary.simulatedSeconds).toBeGreaterThan(20);
    for (const failure of summary.failures)
      expect(failure.replay).toBe(`npx allot simulate --swarm 1 --seed ${failure.seed}`);
  });
});
