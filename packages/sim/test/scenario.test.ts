import { BORROW_WAIT_MS_DEFAULT, BORROW_WAIT_MS_MAX } from '@allot/replica';
import { randomScenario, ScenarioError, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { borrowWaitOf } from '../src/scenario.js';

const minimal = {
  name: 'minimal',
  regions: ['eu', 'us'],
  durationS: 10,
  tenants: [
    {
      tenant: 'acme',
      grants: [{ grantId: 'g1', amount: 100, region: 'eu', atS: 0 }],
      rates: [{ region: 'us', perSecond: 5 }],
      debitAmount: { min: 1, max: 3 },
    },
  ],
};

/** The problems validateScenario reports for `document`. */
function problems(document: unknown): readonly string[] {
  try {
    validateScenario(document);
  } catch (error) {
    if (error instanceof ScenarioError) return error.problems;
    throw error;
  }
  return [];
}

describe('validateScenario', () => {
  it('fills the defaults and leaves the input alone', () => {
    const input = structuredClone(minimal);
    const scenario = validateScenario(input);
    expect(scenario).toMatchObject({
      description: '',
      quietS: 10,
      rebalancing: 'adaptive',
      signatures: 'simulated',
      network: { delayMs: { min: 20, max: 60 }, loss: 0, duplicate: 0, reorder: 0 },
      faults: [],
    });
    expect(scenario.tenants[0]?.rates[0]?.shape).toBe('steady');
    expect(input).toEqual(minimal);
  });

  it('accepts every swarm scenario', () => {
    for (let seed = 0; seed < 200; seed++) expect(() => validateScenario(randomScenario(seed))).not.toThrow();
  });

  it('names each field that is wrong, one line per problem, all at once', () => {
    expect(
      problems({
        ...minimal,
        durationS: -1,
        colour: 'red',
        network: { delayMs: { min: 10 }, loss: 0.9 },
        tenants: [{ ...minimal.tenants[0], debitAmount: { min: 0, max: 2.5 } }],
      }),
    ).toEqual([
      'colour: unknown field',
      'durationS: must be > 0',
      'network.delayMs.max: missing',
      'network.loss: must be <= 0.5',
      'tenants[0].debitAmount.min: must be >= 1',
      'tenants[0].debitAmount.max: must be an integer',
    ]);
  });

  it('refuses a missing field, a wrong type, and an unknown fault kind', () => {
    expect(problems({ ...minimal, name: undefined })).toEqual(['name: missing']);
    expect(problems({ ...minimal, regions: 'eu' })).toEqual(['regions: must be an array']);
    expect(problems({ ...minimal, faults: [{ kind: 'meteor', atS: 1 }] })).toEqual([
      'faults[0].kind: must be one of isolate, halves, ring, bridge, one-way, flapping, crash, disk-loss, pause, write-errors, clock-step, clock-drift, storage, hostile, restored-backup, retire',
    ]);
    expect(problems({ ...minimal, faults: [{ kind: 'crash', region: 'eu', atS: 1 }] })).toEqual([
      'faults[0].forS: missing',
    ]);
    expect(problems({ ...minimal, rebalancing: 'sometimes' })).toEqual([
      'rebalancing: must be one of adaptive, static',
    ]);
    expect(problems('name: x')).toEqual(['(top level): a scenario must be a mapping']);
  });

  it('refuses regions that the scenario does not list, wherever they are named', () => {
    expect(
      problems({
        ...minimal,
        tenants: [
          {
            ...minimal.tenants[0],
            grants: [{ grantId: 'g1', amount: 100, region: 'mars', atS: 0 }],
            overdraft: { venus: 3 },
            rates: [{ region: 'pluto', perSecond: 1 }],
          },
        ],
        faults: [
          { kind: 'isolate', region: 'xx', atS: 1, forS: 1 },
          { kind: 'one-way', from: 'eu', to: 'yy', atS: 1, forS: 1 },
          { kind: 'halves', groups: [['eu'], ['zz']], atS: 1, forS: 1 },
        ],
      }),
    ).toEqual([
      'tenants[0].grants[0].region: unknown region "mars" (regions: eu, us)',
      'tenants[0].overdraft.venus: unknown region "venus" (regions: eu, us)',
      'tenants[0].rates[0].region: unknown region "pluto" (regions: eu, us)',
      'faults[0].region: unknown region "xx" (regions: eu, us)',
      'faults[1].to: unknown region "yy" (regions: eu, us)',
      'faults[2].groups[1][0]: unknown region "zz" (regions: eu, us)',
      'faults[2].groups: every region must be in a group; missing us',
    ]);
  });

  it('refuses what a schema cannot say: overlaps, reversed ranges, duplicates, impossible topologies', () => {
    expect(
      problems({
        ...minimal,
        network: { delayMs: { min: 50, max: 10 } },
        tenants: [
          {
            ...minimal.tenants[0],
            tenant: 'bad tenant',
            grants: [
              { grantId: 'g1', amount: 1, region: 'eu', atS: 0 },
              { grantId: 'g1', amount: 1, region: 'eu', atS: 20 },
            ],
            rates: [{ region: 'us', perSecond: 1, fromS: 5, toS: 2 }],
            debitAmount: { min: 5, max: 1 },
          },
        ],
        faults: [
          { kind: 'crash', region: 'eu', atS: 1, forS: 5 },
          { kind: 'pause', region: 'eu', atS: 3, forS: 1 },
          { kind: 'ring', atS: 1, forS: 1 },
          { kind: 'flapping', from: 'eu', to: 'eu', periodS: 1, atS: 1, forS: 1 },
        ],
      }),
    ).toEqual([
      'network.delayMs: min 50 is above max 10',
      'tenants[0].tenant: "bad tenant" is not a valid tenant id',
      'tenants[0].grants[1].grantId: g1 is used twice',
      'tenants[0].grants[1].atS: 20 is after the end (durationS 10)',
      'tenants[0].rates[0]: fromS 5 is not before toS 2',
      'tenants[0].debitAmount: min 5 is above max 1',
      'faults[1]: overlaps faults[0] (process faults of one region must not overlap)',
      "faults[2]: a ring needs at least 4 regions (with 2, every region is every other's neighbour)",
      'faults[3].to: must differ from from (eu)',
    ]);
  });

  it('takes write errors at a region and clients that send a key again with another amount', () => {
    const scenario = validateScenario({
      ...minimal,
      tenants: [{ ...minimal.tenants[0], conflicting: 0.1 }],
      faults: [
        { kind: 'write-errors', region: 'eu', atS: 2, forS: 0.5 },
        // Write errors do not hold the process: a crash of the region may come during them.
        { kind: 'crash', region: 'eu', atS: 2.2, forS: 1 },
      ],
      faultRates: { writeErrors: 0.5, conflicting: 0 },
    });
    expect(scenario.tenants[0]?.conflicting).toBe(0.1);
    expect(scenario.faults.map((fault) => fault.kind)).toEqual(['write-errors', 'crash']);
    expect(
      problems({
        ...minimal,
        tenants: [{ ...minimal.tenants[0], conflicting: 1.5 }],
        faults: [
          { kind: 'write-errors', region: 'mars', atS: 2, forS: 0.5 },
          { kind: 'write-errors', region: 'eu', atS: 2 },
        ],
        faultRates: { writeErrors: -1 },
      }),
    ).toEqual([
      'faultRates.writeErrors: must be >= 0',
      'tenants[0].conflicting: must be <= 1',
      'faults[1].forS: missing',
    ]);
    expect(
      problems({ ...minimal, faults: [{ kind: 'write-errors', region: 'mars', atS: 2, forS: 0.5 }] }),
    ).toEqual(['faults[0].region: unknown region "mars" (regions: eu, us)']);
  });

  it('reports problems in a ScenarioError whose message has one line per problem', () => {
    const error = (() => {
      try {
        validateScenario({ ...minimal, quietS: -1, durationS: 'long' });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ScenarioError);
    expect((error as ScenarioError).message.split('\n')).toEqual((error as ScenarioError).problems);
  });
});

describe('borrowWaitOf', () => {
  const drawn = randomScenario(5300);
  const withDelay = (max: number, extra: object = {}) =>
    validateScenario({ ...drawn, network: { ...drawn.network, delayMs: { min: 1, max } }, ...extra });

  it('spans two round trips and a half of the slowest link, with 20 ms of commits', () => {
    // Seed 5300's links (up to 86 ms): a wait of 3 delays (278 ms) ran out with the rights on their way.
    expect(borrowWaitOf(withDelay(86))).toBe(5 * 86 + 20);
  });

  it('is never below the node default nor above BORROW_WAIT_MS_MAX, and a scenario may set it', () => {
    expect(borrowWaitOf(withDelay(1))).toBe(BORROW_WAIT_MS_DEFAULT);
    expect(borrowWaitOf(withDelay(500))).toBe(BORROW_WAIT_MS_MAX);
    expect(borrowWaitOf(withDelay(86, { borrowWaitMs: 120 }))).toBe(120);
  });
});
