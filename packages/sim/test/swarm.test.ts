import { type Fault, randomScenario, runSwarm, validateScenario } from '@allot/sim';
import { STORAGE_DAMAGES } from '@allot/store';
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
        'storage',
        'hostile',
        'write-errors',
      ].sort(),
    );
  });

  it('draws every storage damage, and storage and hostile faults at the rates a scenario sets', () => {
    const damages = new Set<string>();
    let storage = 0;
    let hostile = 0;
    let several = 0;
    for (let seed = 0; seed < 300; seed++) {
      const faults = randomScenario(seed).faults;
      const regions = new Set(faults.flatMap((fault) => (fault.kind === 'storage' ? [fault.region] : [])));
      if (regions.size > 1) several += 1;
      for (const fault of faults) {
        if (fault.kind === 'storage') {
          damages.add(fault.damage);
          storage += 1;
        }
        if (fault.kind === 'hostile') hostile += 1;
      }
    }
    expect([...damages].sort()).toEqual([...STORAGE_DAMAGES].sort());
    expect(storage).toBeGreaterThan(40);
    expect(several).toBeGreaterThan(5); // a storage fault at one region or at several
    expect(hostile).toBeGreaterThan(30);
    const none = Array.from({ length: 100 }, (_, seed) => randomScenario(seed, { storage: 0, hostile: 0 }));
    expect(
      none.flatMap((scenario) => scenario.faults).some((f) => f.kind === 'storage' || f.kind === 'hostile'),
    ).toBe(false);
    const always = Array.from({ length: 50 }, (_, seed) => randomScenario(seed, { storage: 1, hostile: 1 }));
    expect(always.every((scenario) => scenario.faults.some((fault) => fault.kind === 'hostile'))).toBe(true);
  });

  it('leaves the rest of a seed as it was when no storage or hostile fault is drawn', () => {
    for (let seed = 0; seed < 50; seed++) {
      const drawn = randomScenario(seed);
      const without = randomScenario(seed, { storage: 0, hostile: 0 });
      expect(drawn.faults.filter((fault) => fault.kind !== 'storage' && fault.kind !== 'hostile')).toEqual(
        without.faults,
      );
      expect({ ...drawn, faults: [] }).toEqual({ ...without, faults: [] });
    }
  });

  it('draws holds at one tenant of the share of seeds a scenario sets, and leaves the rest of a seed as it was', () => {
    let drawing = 0;
    for (let seed = 0; seed < 400; seed++) {
      const drawn = randomScenario(seed, { holds: 0.25 });
      const without = randomScenario(seed, { holds: 0 });
      const holding = drawn.tenants.filter((tenant) => tenant.holds !== undefined);
      expect(holding.length).toBeLessThanOrEqual(1);
      if (holding.length === 1) drawing += 1;
      expect(drawn.tenants.map(({ holds: _, ...rest }) => rest)).toEqual(without.tenants);
      expect({ ...drawn, tenants: [] }).toEqual({ ...without, tenants: [] });
      expect(() => validateScenario(drawn)).not.toThrow();
    }
    expect(drawing).toBeGreaterThan(60);
    expect(drawing).toBeLessThan(140);
    expect(randomScenario(7, { holds: 1 }).tenants.some((tenant) => tenant.holds !== undefined)).toBe(true);
    // By default a quarter (SWARM_HOLDS_RATE): seed 8 draws them, seed 3 does not.
    expect(randomScenario(8)).toEqual(randomScenario(8, { holds: 0.25 }));
    expect(randomScenario(8).tenants.some((tenant) => tenant.holds !== undefined)).toBe(true);
    expect(randomScenario(3).tenants.some((tenant) => tenant.holds !== undefined)).toBe(false);
    expect(randomScenario(8, { holds: 0 }).tenants.some((tenant) => tenant.holds !== undefined)).toBe(false);
  });

  it('draws write errors and conflicting keys at the rates a scenario sets, and leaves the rest of a seed as it was', () => {
    let writeErrors = 0;
    let twoRegions = 0;
    let conflicting = 0;
    for (let seed = 0; seed < 300; seed++) {
      const drawn = randomScenario(seed);
      const without = randomScenario(seed, { writeErrors: 0, conflicting: 0 });
      const ours = drawn.faults.filter((fault) => fault.kind === 'write-errors');
      expect(drawn.faults.filter((fault) => fault.kind !== 'write-errors')).toEqual(without.faults);
      expect(drawn.tenants.map(({ conflicting: _, ...rest }) => rest)).toEqual(without.tenants);
      expect({ ...drawn, faults: [], tenants: [] }).toEqual({ ...without, faults: [], tenants: [] });
      expect(() => validateScenario(drawn)).not.toThrow();
      if (ours.length > 0) writeErrors += 1;
      if (new Set(ours.map((fault) => (fault.kind === 'write-errors' ? fault.region : ''))).size === 2)
        twoRegions += 1;
      for (const fault of ours) {
        if (fault.kind !== 'write-errors') continue;
        expect(fault.forS).toBeGreaterThanOrEqual(0.05);
        expect(fault.forS).toBeLessThanOrEqual(2);
        expect(fault.atS).toBeLessThanOrEqual(drawn.durationS);
      }
      const rates = drawn.tenants.map((tenant) => tenant.conflicting);
      if (rates.some((rate) => rate !== undefined)) {
        conflicting += 1;
        for (const rate of rates) expect(rate).toBeGreaterThan(0);
      }
    }
    // SWARM_WRITE_ERRORS_RATE 0.2 (a third of them at two regions), SWARM_CONFLICTING_RATE 0.3.
    expect(writeErrors).toBeGreaterThan(35);
    expect(writeErrors).toBeLessThan(90);
    expect(twoRegions).toBeGreaterThan(5);
    expect(conflicting).toBeGreaterThan(60);
    expect(conflicting).toBeLessThan(120);
    const always = Array.from({ length: 30 }, (_, seed) =>
      randomScenario(seed, { writeErrors: 1, conflicting: 1 }),
    );
    expect(always.every((scenario) => scenario.faults.some((fault) => fault.kind === 'write-errors'))).toBe(
      true,
    );
    expect(
      always.every((scenario) => scenario.tenants.every((tenant) => tenant.conflicting !== undefined)),
    ).toBe(true);
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
