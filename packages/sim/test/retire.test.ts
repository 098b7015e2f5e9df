/**
 * Retiring a lost incarnation in the simulator (issue 11): the operator's `retire` and the
 * `restored-backup` fault, run against the production replica with every invariant checked, and
 * the swarm's draw of them.
 */
import { type HistoryRecord, randomScenario, runSimulation, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { debitResults, smallScenario } from './support.js';

type RetireRecord = Extract<HistoryRecord, { type: 'retire' }>;

describe('an operator retires a lost incarnation', () => {
  it('after a lost disk: the retire moves what was stranded, a restored backup of it takes no writes, every invariant holds', async () => {
    const scenario = smallScenario(
      [
        { kind: 'disk-loss', region: 'eu', atS: 2, forS: 1 },
        { kind: 'retire', region: 'eu', atS: 5 },
        { kind: 'restored-backup', region: 'eu', backupBeforeS: 6, atS: 7, forS: 2 },
      ],
      { durationS: 11, quietS: 12 },
    );
    const result = await runSimulation(scenario, 3);
    expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
    const retires = result.history.filter((record): record is RetireRecord => record.type === 'retire');
    expect(retires).toHaveLength(1);
    const [retire] = retires as [RetireRecord];
    expect(retire).toMatchObject({ region: 'eu', result: 'retired' });
    expect(retire.through).toBeGreaterThan(0);
    expect(retire.rights).toBeGreaterThan(0);
    expect(result.final?.lostOrigins).toContain(retire.origin);
    // The restored disk is the retired incarnation's: it learns so from its peers and takes nothing.
    expect(debitResults(result.history, 'eu', 7_000, 9_000).accepted ?? 0).toBe(0);
    expect(debitResults(result.history, 'eu', 9_500).accepted).toBeGreaterThan(0);
  });

  it('refused for an origin retired already: the second retire says so and changes nothing', async () => {
    const scenario = smallScenario(
      [
        { kind: 'disk-loss', region: 'us', atS: 2, forS: 1 },
        { kind: 'retire', region: 'us', atS: 5 },
        { kind: 'retire', region: 'us', atS: 6 },
      ],
      { durationS: 8, quietS: 12 },
    );
    const result = await runSimulation(scenario, 5);
    expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
    const retires = result.history.filter((record): record is RetireRecord => record.type === 'retire');
    expect(retires.map((record) => record.result)).toEqual(['retired', 'refused']);
    expect(retires[1]?.detail).toContain('"status":"retired"');
  });
});

describe('scenarios with retires', () => {
  it('name an existing region, and a restored backup keeps the process to itself', () => {
    expect(() => smallScenario([{ kind: 'retire', region: 'mars', atS: 1 }])).toThrow(/faults\[0\]\.region/);
    expect(() =>
      smallScenario([
        { kind: 'disk-loss', region: 'eu', atS: 1, forS: 2 },
        { kind: 'restored-backup', region: 'eu', backupBeforeS: 1, atS: 2, forS: 1 },
      ]),
    ).toThrow(/overlaps faults\[0\]/);
    expect(() =>
      validateScenario({ ...smallScenario([]), faults: [{ kind: 'retire', region: 'eu', atS: 1, forS: 1 }] }),
    ).toThrow(/forS/);
  });

  it('are drawn by the swarm only at faultRates.retire, leaving every other seed as it was', () => {
    for (let seed = 0; seed < 50; seed++) {
      expect(randomScenario(seed, { retire: 0 })).toEqual(randomScenario(seed));
      const drawn = randomScenario(seed, { retire: 1 }).faults;
      const retire = drawn.find((fault) => fault.kind === 'retire');
      if (retire?.kind !== 'retire') throw new Error(`seed ${seed} drew no retire`);
      // Of a region that lost its disk before.
      const loss = drawn.find(
        (fault) => fault.kind === 'disk-loss' && fault.region === retire.region && fault.atS < retire.atS,
      );
      expect(loss).toBeDefined();
      // Valid as drawn: no two process faults of one region overlap.
      expect(() => validateScenario(randomScenario(seed, { retire: 1 }))).not.toThrow();
    }
  });
});
