/**
 * Swarm testing: a scenario drawn per seed — three regions, 10–30 simulated seconds, a random
 * network, one to three tenants with their grants, rates (steady, bursty, diurnal, sometimes a hot
 * region that moves), retries, refunds and overdraft policies, and a mix of one to five faults of
 * every kind — so that many seeds explore many fault mixes (swarm testing: Groce et al., ISSTA
 * 2012). A seed alone reproduces a swarm run: `randomScenario(seed)` then `runSimulation(…, seed)`.
 */

import { STORAGE_DAMAGES } from '@allot/store';
import type { Fault, Scenario, TenantSpec } from './api.js';
import {
  SWARM_CONFLICTING_RATE,
  SWARM_HOLDS_RATE,
  SWARM_HOSTILE_RATE,
  SWARM_RETIRE_RATE,
  SWARM_STORAGE_RATE,
  SWARM_WRITE_ERRORS_RATE,
} from './limits.js';
import type { SimulationResult, Verdict } from './results.js';
import { type RandomStream, streamOf } from './rng.js';
import { runSimulation } from './run.js';

const REGIONS = ['eu', 'us', 'ap'] as const;

/** Quiet time after the last heal: the redial backoff (LINK_POLICY.backoffMsMax) plus anti-entropy rounds, with room. */
const SWARM_QUIET_S = 20;
/** Share of a swarm's grants that a client also sends to another region (a failover retry). */
const GRANT_RETRY_CHANCE = 0.25;

/** `value` to `decimals` places, as the shortest decimal (14.6, not 14.600000000000001). */
function round(value: number, decimals = 1): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

function tenantSpec(rng: RandomStream, index: number, durationS: number): TenantSpec {
  const tenant = `tenant-${index}`;
  const grants: TenantSpec['grants'][number][] = [];
  const grantCount = rng.int(1, 3);
  for (let g = 0; g < grantCount; g++) {
    const expires = rng.chance(0.3);
    grants.push({
      grantId: `g${g}`,
      amount: rng.int(200, 20_000),
      region: rng.pick(REGIONS),
      atS: g === 0 ? 0 : round(rng.uniform(0, durationS * 0.8)),
      priority: rng.pick([10, 100, 100, 200]),
      ...(expires ? { expiresInS: round(rng.uniform(2, durationS)) } : {}),
    });
  }
  const rates: TenantSpec['rates'][number][] = [];
  if (rng.chance(0.3)) {
    // A hot region that moves: all the load at one region, then at another.
    const first = rng.pick(REGIONS);
    const second = rng.pick(REGIONS.filter((region) => region !== first));
    const switchS = round(rng.uniform(durationS * 0.3, durationS * 0.7));
    const perSecond = rng.int(10, 60);
    rates.push({ region: first, perSecond, shape: 'steady', fromS: 0, toS: switchS });
    rates.push({ region: second, perSecond, shape: 'steady', fromS: switchS, toS: durationS });
  } else {
    for (const region of REGIONS) {
      if (rng.chance(0.15)) continue;
      rates.push({
        region,
        perSecond: rng.int(2, 20),
        shape: rng.pick(['steady', 'steady', 'bursty', 'diurnal']),
      });
    }
  }
  const min = rng.int(1, 10);
  const overdraft = rng.chance(0.3)
    ? Object.fromEntries(REGIONS.filter(() => rng.chance(0.6)).map((region) => [region, rng.int(0, 50)]))
    : undefined;
  const policyChanges = rng.chance(0.2)
    ? [
        {
          atS: round(rng.uniform(0, durationS)),
          region: rng.pick(REGIONS),
          overdraft: { [rng.pick(REGIONS)]: rng.int(0, 80) },
        },
      ]
    : undefined;
  return {
    tenant,
    grants,
    rates,
    debitAmount: { min, max: min + rng.int(0, 40) },
    ...(overdraft === undefined ? {} : { overdraft }),
    ...(policyChanges === undefined ? {} : { policyChanges }),
    ...(rng.chance(0.5) ? { retryElsewhere: round(rng.uniform(0, 0.1), 2) } : {}),
    ...(rng.chance(0.5) ? { refund: round(rng.uniform(0, 0.1), 2) } : {}),
  };
}

/**
 * LLM-style holds at one tenant of `rate` of the seeds (issue 12), from their own stream
 * so that the rest of a seed's scenario stays what it was: a client at one region reserves up to a
 * few debits' worth for a few seconds, then captures what it used, voids it, or forgets it (the
 * hold expires), and some settles go to another region (forwarded, or refused across a partition).
 */
function withHolds(rng: RandomStream, rate: number, tenants: TenantSpec[]): TenantSpec[] {
  if (!rng.chance(rate)) return tenants;
  const at = rng.int(0, tenants.length - 1);
  return tenants.map((spec, index) => {
    if (index !== at) return spec;
    const holds = {
      region: rng.pick(REGIONS),
      perSecond: rng.int(1, 8),
      maxAmount: rng.int(spec.debitAmount.max, 5 * spec.debitAmount.max),
      ttlS: round(rng.uniform(0.5, 5)),
      void: round(rng.uniform(0, 0.2), 2),
      never: round(rng.uniform(0, 0.2), 2),
      elsewhere: round(rng.uniform(0, 0.4), 2),
    };
    return { ...spec, holds };
  });
}

const FAULT_KINDS: readonly Fault['kind'][] = [
  'isolate',
  'halves',
  'bridge',
  'one-way',
  'flapping',
  'crash',
  'crash',
  'disk-loss',
  'pause',
  'clock-step',
  'clock-drift',
];

function faults(rng: RandomStream, durationS: number): Fault[] {
  const out: Fault[] = [];
  const busy = new Map<string, [number, number][]>();
  const free = (key: string, from: number, to: number) =>
    (busy.get(key) ?? []).every(([a, b]) => to <= a || b <= from);
  const take = (key: string, from: number, to: number) =>
    busy.set(key, [...(busy.get(key) ?? []), [from, to]]);
  const count = rng.int(1, 5);
  for (let i = 0; i < count; i++) {
    const kind = rng.pick(FAULT_KINDS);
    const atS = round(rng.uniform(0, durationS * 0.8));
    const forS = round(Math.max(0.2, Math.min(rng.uniform(0.5, durationS / 2), durationS - atS)));
    const region = rng.pick(REGIONS);
    const others = REGIONS.filter((other) => other !== region);
    switch (kind) {
      case 'isolate':
        out.push({ kind, region, atS, forS });
        break;
      case 'halves':
        out.push({ kind, groups: [[region], [...others]], atS, forS });
        break;
      case 'bridge':
        out.push({ kind, bridge: region, atS, forS });
        break;
      case 'one-way':
        out.push({ kind, from: region, to: rng.pick(others), atS, forS });
        break;
      case 'flapping':
        out.push({
          kind,
          from: region,
          to: rng.pick(others),
          periodS: round(rng.uniform(0.2, 4)),
          atS,
          forS,
        });
        break;
      case 'crash':
      case 'disk-loss':
      case 'pause': {
        if (!free(`process:${region}`, atS, atS + forS)) break;
        take(`process:${region}`, atS, atS + forS);
        out.push({ kind, region, atS, forS });
        break;
      }
      case 'clock-step':
        out.push({ kind, region, stepMs: rng.pick([-1, 1]) * rng.int(1, 30_000), atS });
        break;
      case 'clock-drift': {
        if (!free(`clock:${region}`, atS, atS + forS)) break;
        take(`clock:${region}`, atS, atS + forS);
        out.push({ kind, region, ppm: rng.pick([-1, 1]) * rng.int(10, 5_000), atS, forS });
        break;
      }
      case 'ring':
        break;
    }
  }
  return out.sort((a, b) => a.atS - b.atS);
}

/**
 * Storage faults and hostile wires (issue 15), drawn from their own stream at `rates` so that the
 * rest of a seed's scenario stays what it was before they existed. A storage fault (at one region,
 * or at two) takes a region whose process has no other fault then.
 */
function lyingFaults(
  seed: number,
  durationS: number,
  drawn: readonly Fault[],
  rates: Scenario['faultRates'],
): Fault[] {
  const rng = streamOf(seed, 'swarm-storage-hostile');
  const out: Fault[] = [];
  if (rng.chance(rates?.storage ?? SWARM_STORAGE_RATE)) {
    // At one region, or (a third of the time) at two: a disk that lies where another lied before.
    const first = rng.pick(REGIONS);
    const regions = rng.chance(1 / 3)
      ? [first, rng.pick(REGIONS.filter((region) => region !== first))]
      : [first];
    for (const region of regions) {
      const damage = rng.pick(STORAGE_DAMAGES);
      const atS = round(rng.uniform(durationS * 0.2, durationS * 0.8));
      const forS = round(rng.uniform(0.5, Math.max(0.6, durationS / 4)));
      const busy = [...drawn, ...out].some(
        (fault) =>
          (fault.kind === 'crash' ||
            fault.kind === 'disk-loss' ||
            fault.kind === 'pause' ||
            fault.kind === 'storage') &&
          fault.region === region &&
          atS < fault.atS + fault.forS &&
          fault.atS < atS + forS,
      );
      if (!busy) out.push({ kind: 'storage', region, damage, atS, forS });
    }
  }
  if (rng.chance(rates?.hostile ?? SWARM_HOSTILE_RATE)) {
    const from = rng.pick(REGIONS);
    const atS = round(rng.uniform(0, durationS * 0.8));
    const forS = round(rng.uniform(0.5, durationS / 2));
    const to = rng.chance(0.5) ? rng.pick(REGIONS.filter((region) => region !== from)) : undefined;
    out.push({ kind: 'hostile', from, ...(to === undefined ? {} : { to }), atS, forS });
  }
  return out;
}

/**
 * The scenario of swarm seed `seed`: three regions, 10–30 s, a drawn network, workload and fault
 * mix; storage faults and hostile wires at `rates` (default SWARM_STORAGE_RATE, SWARM_HOSTILE_RATE).
 */
export function randomScenario(seed: number, rates?: Scenario['faultRates']): Scenario {
  const rng = streamOf(seed, 'swarm');
  const durationS = rng.int(10, 30);
  const delayMin = rng.int(1, 30);
  const tenants = rng.int(1, 3);
  return {
    name: `swarm-${seed}`,
    description: `Fault mix drawn for swarm seed ${seed}.`,
    regions: [...REGIONS],
    durationS,
    quietS: SWARM_QUIET_S,
    rebalancing: rng.chance(0.8) ? 'adaptive' : 'static',
    network: {
      delayMs: { min: delayMin, max: delayMin + rng.int(0, 120) },
      loss: rng.chance(0.5) ? 0 : round(rng.uniform(0, 0.01), 3),
      duplicate: rng.chance(0.5) ? 0 : round(rng.uniform(0, 0.02), 3),
      reorder: rng.chance(0.5) ? 0 : round(rng.uniform(0, 0.05), 3),
    },
    tenants: withConflictingKeys(
      streamOf(seed, 'swarm-conflicting'),
      rates?.conflicting ?? SWARM_CONFLICTING_RATE,
      withHolds(
        streamOf(seed, 'swarm-holds'),
        rates?.holds ?? SWARM_HOLDS_RATE,
        withGrantRetries(
          streamOf(seed, 'swarm-grant-retries'),
          Array.from({ length: tenants }, (_, i) => tenantSpec(rng, i, durationS)),
          durationS,
        ),
      ),
    ),
    faults: withWriteErrors(
      streamOf(seed, 'swarm-write-errors'),
      durationS,
      withRetireFaults(
        seed,
        durationS,
        withLyingFaults(seed, durationS, faults(rng, durationS), rates),
        rates?.retire ?? SWARM_RETIRE_RATE,
      ),
      rates?.writeErrors ?? SWARM_WRITE_ERRORS_RATE,
    ),
  };
}

/**
 * Write errors at one region (a third of the time at two), drawn from their own stream at `rate`:
 * for a moment every commit there fails and the node undoes what it held, while it keeps serving.
 */
function withWriteErrors(rng: RandomStream, durationS: number, drawn: Fault[], rate: number): Fault[] {
  if (!rng.chance(rate)) return drawn;
  const first = rng.pick(REGIONS);
  const regions = rng.chance(1 / 3)
    ? [first, rng.pick(REGIONS.filter((region) => region !== first))]
    : [first];
  const ours: Fault[] = regions.map((region) => ({
    kind: 'write-errors',
    region,
    atS: round(rng.uniform(0, durationS * 0.8)),
    forS: round(rng.uniform(0.05, 2), 2),
  }));
  return [...drawn, ...ours].sort((a, b) => a.atS - b.atS);
}

/**
 * Tenants whose clients send a key again with another amount (TenantSpec.conflicting), drawn from
 * their own stream at `rate`: the rest of the seed's scenario stays what it was.
 */
function withConflictingKeys(rng: RandomStream, rate: number, tenants: TenantSpec[]): TenantSpec[] {
  if (!rng.chance(rate)) return tenants;
  return tenants.map((spec) => ({ ...spec, conflicting: round(rng.uniform(0.01, 0.1), 3) }));
}

function withLyingFaults(
  seed: number,
  durationS: number,
  drawn: Fault[],
  rates: Scenario['faultRates'],
): Fault[] {
  return [...drawn, ...lyingFaults(seed, durationS, drawn, rates)].sort((a, b) => a.atS - b.atS);
}

/** Faults that keep a region's process busy (one at a time per region). */
function processSpan(fault: Fault): { region: string; from: number; to: number } | null {
  return fault.kind === 'crash' ||
    fault.kind === 'disk-loss' ||
    fault.kind === 'pause' ||
    fault.kind === 'storage' ||
    fault.kind === 'restored-backup'
    ? { region: fault.region, from: fault.atS, to: fault.atS + fault.forS }
    : null;
}

/**
 * A lost disk whose incarnation an operator retires (issue 11), drawn from its own stream at `rate`
 * so that the rest of a seed's scenario stays what it was: a region loses its disk, an operator
 * retires the lost incarnation a few seconds after the region is back, and half of the time the
 * region is restarted later on a backup of its disk taken before the loss (an operator's mistake
 * that the node must refuse). Drawn process faults of that region that would overlap are left out.
 */
function withRetireFaults(seed: number, durationS: number, drawn: Fault[], rate: number): Fault[] {
  const rng = streamOf(seed, 'swarm-retire');
  if (!rng.chance(rate)) return drawn;
  const region = rng.pick(REGIONS);
  const lossAt = round(rng.uniform(durationS * 0.1, durationS * 0.4));
  const lossFor = round(rng.uniform(0.5, 2));
  const retireAt = round(Math.min(durationS, lossAt + lossFor + rng.uniform(1, 5)));
  const ours: Fault[] = [
    { kind: 'disk-loss', region, atS: lossAt, forS: lossFor },
    { kind: 'retire', region, atS: retireAt },
  ];
  const restoreAt = round(retireAt + rng.uniform(1, 4));
  if (rng.chance(0.5) && restoreAt < durationS) {
    const backupBeforeS = round(restoreAt - lossAt + rng.uniform(0.1, Math.max(0.2, lossAt)));
    const forS = round(rng.uniform(0.5, 3));
    ours.push({ kind: 'restored-backup', region, backupBeforeS, atS: restoreAt, forS });
  }
  const spans = ours.map(processSpan).filter((span) => span !== null);
  const kept = drawn.filter((fault) => {
    const span = processSpan(fault);
    return (
      span === null ||
      spans.every((mine) => mine.region !== span.region || span.to <= mine.from || mine.to <= span.from)
    );
  });
  return [...kept, ...ours].sort((a, b) => a.atS - b.atS);
}

/**
 * Grants a client retries at another region (issue 17), drawn from their own stream so that the
 * rest of a seed's scenario stays what it was before retries were drawn.
 */
function withGrantRetries(rng: RandomStream, tenants: TenantSpec[], durationS: number): TenantSpec[] {
  return tenants.map((spec) => ({
    ...spec,
    grants: spec.grants.map((grant) => {
      if (!rng.chance(GRANT_RETRY_CHANCE)) return grant;
      const afterS = round(rng.uniform(0.2, 3));
      if (grant.atS + afterS > durationS) return grant;
      return { ...grant, retry: { region: rng.pick(REGIONS.filter((r) => r !== grant.region)), afterS } };
    }),
  }));
}

/** One failed swarm run: how to replay it and what failed. */
export interface SwarmFailure {
  readonly seed: number;
  readonly replay: string;
  /** The violated invariants, or the error that stopped the run. */
  readonly verdicts: readonly Verdict[];
  readonly error?: string;
}

/** What a swarm found. */
export interface SwarmSummary {
  readonly runs: number;
  readonly failures: readonly SwarmFailure[];
  readonly simulatedSeconds: number;
  readonly wallSeconds: number;
}

/** The replay command of swarm seed `seed`. */
export function swarmReplay(seed: number): string {
  return `npx allot simulate --swarm 1 --seed ${seed}`;
}

/**
 * Runs `count` swarm seeds from `firstSeed`, one after the other; `onResult` sees every result (or
 * the error of a run that broke) as it comes. Failures are collected with their replay commands.
 */
export async function runSwarm(
  count: number,
  firstSeed: number,
  onResult?: (seed: number, result: SimulationResult | Error) => void,
): Promise<SwarmSummary> {
  const started = performance.now();
  const failures: SwarmFailure[] = [];
  let simulatedSeconds = 0;
  for (let seed = firstSeed; seed < firstSeed + count; seed++) {
    const replay = swarmReplay(seed);
    try {
      const result = await runSimulation(randomScenario(seed), seed, { replay });
      simulatedSeconds += result.metrics.simulatedSeconds;
      if (!result.ok)
        failures.push({ seed, replay, verdicts: result.verdicts.filter((verdict) => !verdict.holds) });
      onResult?.(seed, result);
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      failures.push({ seed, replay, verdicts: [], error: failure.message });
      onResult?.(seed, failure);
    }
  }
  return { runs: count, failures, simulatedSeconds, wallSeconds: (performance.now() - started) / 1000 };
}
