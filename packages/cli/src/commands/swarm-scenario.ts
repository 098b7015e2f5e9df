/**
 * The scenario of one swarm seed over a scenario file (`allot simulate <file> --swarm N`): the
 * file's regions and workload with the fault mix the seed draws, and the command that replays it.
 */
import { type Fault, randomScenario, type Scenario, validateScenario } from '@allot/sim';

/** A word a POSIX shell reads back as itself. */
function shellWord(word: string): string {
  return /^[\w./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The command that replays one seed exactly (with `--swarm 1` when the seed drew its fault mix). */
export function replayCommand(file: string, seed: number, swarm: boolean): string {
  return `npx allot simulate ${shellWord(file)} --seed ${seed}${swarm ? ' --swarm 1' : ''}`;
}

/** Maps a fault drawn over three regions onto `regions`; undefined if it makes no sense there. */
function mapFault(
  fault: Fault,
  regions: readonly string[],
  region: (drawn: string) => string,
): Fault | undefined {
  switch (fault.kind) {
    case 'ring':
      return regions.length >= 4 ? fault : undefined;
    case 'halves': {
      const placed = new Set<string>();
      const groups = fault.groups
        .map((group) =>
          group.map(region).filter((name) => {
            if (placed.has(name)) return false;
            placed.add(name);
            return true;
          }),
        )
        .filter((group) => group.length > 0);
      // Regions the drawn halves did not name (the file has more regions) join the last group.
      const last = groups[groups.length - 1];
      if (last !== undefined) last.push(...regions.filter((name) => !placed.has(name)));
      return groups.length >= 2 ? { ...fault, groups } : undefined;
    }
    case 'bridge':
      return regions.length >= 3 ? { ...fault, bridge: region(fault.bridge) } : undefined;
    case 'one-way':
    case 'flapping': {
      const from = region(fault.from);
      const to = region(fault.to);
      return from === to ? undefined : { ...fault, from, to };
    }
    case 'hostile': {
      const from = region(fault.from);
      const to = fault.to === undefined ? undefined : region(fault.to);
      return from === to ? undefined : { ...fault, from, ...(to === undefined ? {} : { to }) };
    }
    default:
      return { ...fault, region: region(fault.region) };
  }
}

/** Seconds rounded to the millisecond. */
function roundS(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * The scenario one swarm seed runs with a file: the file's regions, network and workload, and the
 * fault mix `randomScenario(seed)` draws (over three regions, 10–30 s), its regions mapped onto the
 * file's (rotated by the seed, so that every region gets its share), its times scaled onto the
 * file's duration. Faults the file's topology cannot take (a bridge with two regions, process
 * faults made to overlap by the mapping) are left out. Checked by validateScenario like any file.
 */
export function swarmScenario(base: Scenario, seed: number): Scenario {
  const drawn = randomScenario(seed, base.faultRates);
  const position = new Map(drawn.regions.map((name, index) => [name, index]));
  const region = (name: string): string =>
    base.regions[((position.get(name) ?? 0) + seed) % base.regions.length] as string;
  const scale = base.durationS / drawn.durationS;
  const busy = new Map<string, [number, number][]>();
  const faults: Fault[] = [];
  for (const fault of drawn.faults) {
    const mapped = mapFault(fault, base.regions, region);
    if (mapped === undefined) continue;
    const atS = roundS(mapped.atS * scale);
    const scaled: Fault =
      mapped.kind === 'clock-step' || mapped.kind === 'retire'
        ? { ...mapped, atS }
        : mapped.kind === 'restored-backup'
          ? {
              ...mapped,
              atS,
              forS: Math.max(0.001, roundS(mapped.forS * scale)),
              backupBeforeS: Math.max(0.001, roundS(mapped.backupBeforeS * scale)),
            }
          : { ...mapped, atS, forS: Math.max(0.001, roundS(mapped.forS * scale)) };
    if (
      scaled.kind === 'crash' ||
      scaled.kind === 'disk-loss' ||
      scaled.kind === 'storage' ||
      scaled.kind === 'restored-backup' ||
      scaled.kind === 'pause' ||
      scaled.kind === 'clock-drift'
    ) {
      const key = `${scaled.kind === 'clock-drift' ? 'clock' : 'process'}:${scaled.region}`;
      const spans = busy.get(key) ?? [];
      const endS = scaled.atS + scaled.forS;
      if (spans.some(([from, to]) => scaled.atS < to && from < endS)) continue;
      busy.set(key, [...spans, [scaled.atS, endS]]);
    }
    faults.push(scaled);
  }
  return validateScenario({
    ...base,
    description: `${base.description}\nSwarm seed ${seed}: ${faults.length} fault${faults.length === 1 ? '' : 's'} drawn (${
      faults.map((fault) => fault.kind).join(', ') || 'none'
    }).`,
    faults,
  });
}
