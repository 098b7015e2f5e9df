/**
 * The fault schedule of a scenario: partitions (which directed pairs of regions cannot reach each other),
 * process faults (crash, disk loss, pause) and clock faults (step, drift), each started and ended
 * at its time and recorded in the history. Every heal (a partition lifted, a process restarted or
 * resumed) is reported, so that convergence after it can be timed.
 */
import type { Fault, Scenario } from './api.js';
import { HostileDirection } from './hostile.js';
import { RETIRE_ATTEMPTS_MAX } from './limits.js';
import type { SimNetwork } from './network.js';
import type { RegionNode } from './region.js';
import type { HistoryRecord } from './results.js';
import { streamOf } from './rng.js';
import type { Scheduler } from './scheduler.js';
import { faultEndMs, msOf } from './timeline.js';

type RetireRecord = Extract<HistoryRecord, { type: 'retire' }>;

/** What the fault schedule acts on. */
export interface FaultTargets {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly nodes: ReadonlyMap<string, RegionNode>;
  /** Simulated time of the scenario's time 0. */
  readonly startMs: number;
  record(record: HistoryRecord): void;
  /** A heal happened now (simulated ms since the start): convergence after it is timed. */
  healed(atMs: number): void;
  /** The run's seed: storage damage and hostile wires draw from their own streams of it. */
  readonly seed?: number;
}

/** The directed pairs `from>to` a partition fault blocks. */
export function blockedPairs(fault: Fault, regions: readonly string[]): Set<string> {
  const pairs = new Set<string>();
  const cut = (a: string, b: string) => {
    pairs.add(`${a}>${b}`);
    pairs.add(`${b}>${a}`);
  };
  switch (fault.kind) {
    case 'isolate':
      for (const other of regions) if (other !== fault.region) cut(fault.region, other);
      break;
    case 'halves': {
      const groupOf = new Map<string, number>();
      fault.groups.forEach((group, i) => {
        for (const region of group) groupOf.set(region, i);
      });
      for (const a of regions)
        for (const b of regions) if (a < b && groupOf.get(a) !== groupOf.get(b)) cut(a, b);
      break;
    }
    case 'ring': {
      // Each region keeps only its two neighbours in the order the scenario lists the regions.
      const n = regions.length;
      for (let i = 0; i < n; i++) {
        for (let j = i + 1; j < n; j++) {
          const distance = Math.min(j - i, n - (j - i));
          if (distance > 1) cut(regions[i] as string, regions[j] as string);
        }
      }
      break;
    }
    case 'bridge': {
      // The others split into two halves (in listed order) that reach each other only via the bridge.
      const others = regions.filter((region) => region !== fault.bridge);
      const half = Math.ceil(others.length / 2);
      const left = others.slice(0, half);
      const right = others.slice(half);
      for (const a of left) for (const b of right) cut(a, b);
      break;
    }
    case 'one-way':
      pairs.add(`${fault.from}>${fault.to}`);
      break;
    case 'flapping':
      cut(fault.from, fault.to);
      break;
    default:
      break;
  }
  return pairs;
}

function describe(fault: Fault, regions: readonly string[]): string {
  switch (fault.kind) {
    case 'isolate':
      return `${fault.region} cut off from every other region`;
    case 'halves':
      return `partition into ${fault.groups.map((group) => `{${group.join(', ')}}`).join(' | ')}`;
    case 'ring':
      return `each region reaches only its ring neighbours (${regions.join(' → ')} → ${regions[0] ?? ''})`;
    case 'bridge':
      return `${fault.bridge} is the only bridge between two halves`;
    case 'one-way':
      return `nothing from ${fault.from} reaches ${fault.to}`;
    case 'flapping':
      return `link ${fault.from}–${fault.to} flaps every ${fault.periodS / 2} s`;
    case 'crash':
      return `${fault.region} crashes: what it had not committed is lost`;
    case 'disk-loss':
      return `${fault.region} crashes and loses its disk`;
    case 'pause':
      return `${fault.region} is paused (timers, deliveries and requests wait)`;
    case 'write-errors':
      return `${fault.region}'s disk refuses writes: every commit of its log fails`;
    case 'clock-step':
      return `${fault.region}'s clock steps ${fault.stepMs > 0 ? '+' : ''}${fault.stepMs} ms`;
    case 'clock-drift':
      return `${fault.region}'s clock drifts ${fault.ppm} ppm`;
    case 'storage':
      return `${fault.region} crashes and its disk lies (${fault.damage})`;
    case 'hostile':
      return `what ${fault.from} sends${fault.to === undefined ? '' : ` to ${fault.to}`} is tampered with`;
    case 'restored-backup':
      return `${fault.region} is restarted on a backup of its disk taken ${fault.backupBeforeS} s earlier`;
    case 'retire':
      return `an operator retires ${fault.region}'s lost incarnations at ${fault.region}`;
  }
}

/** Schedules every fault of `scenario`. */
export function scheduleFaults(scenario: Scenario, targets: FaultTargets): void {
  const { scheduler, network, nodes, startMs } = targets;
  const regions = scenario.regions;
  const active = new Map<number, Set<string>>();
  const applyPartitions = () => {
    const union = new Set<string>();
    for (const pairs of active.values()) for (const pair of pairs) union.add(pair);
    network.setBlocked(union);
  };
  const node = (region: string): RegionNode => {
    const found = nodes.get(region);
    if (found === undefined) throw new Error(`fault on unknown region ${region}`);
    return found;
  };
  const at = (ms: number, run: () => void) => scheduler.at(startMs + ms, run);
  const t = () => scheduler.now - startMs;

  scenario.faults.forEach((fault, id) => {
    const detail = describe(fault, regions);
    const startAt = msOf(fault.atS);
    const endAt = faultEndMs(fault);
    const record = (phase: 'start' | 'end', text: string) =>
      targets.record({ type: 'fault', t: t(), kind: fault.kind, phase, detail: text });
    switch (fault.kind) {
      case 'isolate':
      case 'halves':
      case 'ring':
      case 'bridge':
      case 'one-way': {
        const pairs = blockedPairs(fault, regions);
        at(startAt, () => {
          active.set(id, pairs);
          applyPartitions();
          record('start', detail);
        });
        at(endAt, () => {
          active.delete(id);
          applyPartitions();
          record('end', `healed: ${detail}`);
          targets.healed(t());
        });
        break;
      }
      case 'flapping': {
        const pairs = blockedPairs(fault, regions);
        const halfMs = Math.max(1, Math.round(msOf(fault.periodS) / 2));
        at(startAt, () => record('start', detail));
        for (let toggle = startAt, cut = true; toggle < endAt; toggle += halfMs, cut = !cut) {
          const cutNow = cut;
          at(toggle, () => {
            if (cutNow) active.set(id, pairs);
            else active.delete(id);
            applyPartitions();
          });
        }
        at(endAt, () => {
          active.delete(id);
          applyPartitions();
          record('end', `healed: ${detail}`);
          targets.healed(t());
        });
        break;
      }
      case 'crash':
      case 'disk-loss': {
        const target = node(fault.region);
        let lost: string | null = null;
        at(startAt, () => {
          if (target.status === 'down') return; // already down (validation refuses overlaps)
          lost = target.origin;
          if (fault.kind === 'crash') target.crash();
          else target.loseDisk();
          record(
            'start',
            fault.kind === 'crash'
              ? `${detail} (${lost ?? 'not open yet'})`
              : `${detail}: ${lost ?? 'not open yet'} is gone`,
          );
        });
        at(endAt, () => {
          if (target.status !== 'down') return;
          target.start();
          record(
            'end',
            fault.kind === 'crash'
              ? `${fault.region} restarts on what its disk kept`
              : `${fault.region} restarts on an empty disk as a new incarnation; rights of ${lost ?? 'the lost one'} are stranded`,
          );
          targets.healed(t());
        });
        break;
      }
      case 'pause': {
        const target = node(fault.region);
        at(startAt, () => {
          target.pause(startMs + endAt);
          network.pauseChanged(fault.region);
          record('start', detail);
        });
        at(endAt, () => {
          network.pauseChanged(fault.region);
          record('end', `${fault.region} resumes`);
          targets.healed(t());
        });
        break;
      }
      case 'write-errors': {
        const target = node(fault.region);
        at(startAt, () => {
          target.refuseWrites(startMs + endAt);
          record('start', detail);
        });
        at(endAt, () => {
          record('end', `${fault.region}'s disk takes writes again`);
          targets.healed(t());
        });
        break;
      }
      case 'clock-step': {
        const target = node(fault.region);
        at(startAt, () => {
          target.clock.step(fault.stepMs);
          record('start', detail);
          record('end', `${detail} (now ${target.clock.offsetMs()} ms off true time)`);
        });
        break;
      }
      case 'storage': {
        const target = node(fault.region);
        const draws = streamOf(targets.seed ?? 0, `storage:${id}:${fault.region}`);
        let touched = false;
        at(startAt, () => {
          if (target.status === 'down') return;
          const damaged = target.damageDisk(fault.damage, (n) => draws.int(0, Math.max(0, n - 1)));
          touched = damaged !== null;
          record(
            'start',
            damaged === null
              ? `${detail}: its disk holds nothing this damage reaches, a plain crash`
              : `${detail}: ${damaged.report.detail}`,
          );
        });
        at(endAt, () => {
          if (target.status !== 'down') return;
          target.start();
          record('end', `${fault.region} restarts on ${touched ? 'the damaged disk' : 'what its disk kept'}`);
          targets.healed(t());
        });
        break;
      }
      case 'hostile': {
        const to = fault.to === undefined ? regions.filter((region) => region !== fault.from) : [fault.to];
        at(startAt, () => {
          for (const peer of to) {
            const wire = new HostileDirection(
              streamOf(targets.seed ?? 0, `hostile:${id}:${fault.from}>${peer}`),
              () => ({
                own: nodes.get(fault.from)?.origin ?? null,
                others: [...nodes.values()]
                  .filter((other) => other.region !== fault.from && other.origin !== null)
                  .map((other) => other.origin as string),
              }),
              scenario.tenants.map((spec) => spec.tenant),
            );
            network.setHostile(fault.from, peer, wire);
          }
          record('start', detail);
        });
        at(endAt, () => {
          for (const peer of to) network.setHostile(fault.from, peer, null);
          record('end', `honest again: ${detail}`);
          targets.healed(t());
        });
        break;
      }
      case 'restored-backup': {
        const target = node(fault.region);
        let restored = false;
        at(Math.max(0, startAt - msOf(fault.backupBeforeS)), () => target.takeBackup());
        at(startAt, () => {
          restored = target.restoreBackup((message) =>
            record('start', `${fault.region} refuses to start on the restored disk: ${message}`),
          );
          record('start', restored ? detail : `${detail}: not done (${fault.region} is down)`);
        });
        at(endAt, () => {
          if (!restored) return;
          target.returnToOwnDisk();
          record('end', `${fault.region} restarts on its own disk`);
          targets.healed(t());
        });
        break;
      }
      case 'retire': {
        const target = node(fault.region);
        at(startAt, () => {
          record('start', detail);
          const current = target.origin;
          for (const origin of new Set(target.lostOrigins)) {
            if (origin === current) continue;
            const retired = (result: 'retired' | 'refused' | 'unavailable', more: Partial<RetireRecord>) =>
              targets.record({
                type: 'retire',
                t: t(),
                region: fault.region,
                origin,
                result,
                detail: '',
                ...more,
              });
            const attempt = (tries: number) =>
              target.request(
                (replica) => replica.retire(origin),
                (outcome) => {
                  const again =
                    outcome === 'unavailable' ||
                    outcome.status === 'not_ready' ||
                    outcome.status === 'behind' ||
                    outcome.status === 'unreachable' ||
                    outcome.status === 'unavailable';
                  if (again && tries < RETIRE_ATTEMPTS_MAX) {
                    scheduler.at(scheduler.now + 1_000, () => attempt(tries + 1));
                    return;
                  }
                  if (outcome === 'unavailable')
                    retired('unavailable', { detail: `${fault.region} is down` });
                  else if (outcome.status === 'accepted')
                    retired('retired', {
                      through: outcome.retire.through,
                      rights: outcome.retire.rights,
                      detail: outcome.retire.risk,
                    });
                  else retired('refused', { detail: JSON.stringify(outcome) });
                },
              );
            attempt(1);
          }
        });
        break;
      }
      case 'clock-drift': {
        const target = node(fault.region);
        at(startAt, () => {
          target.clock.drift(fault.ppm);
          record('start', detail);
        });
        at(endAt, () => {
          target.clock.drift(0);
          record(
            'end',
            `${fault.region}'s clock stops drifting (${target.clock.offsetMs()} ms off true time)`,
          );
        });
        break;
      }
    }
  });
}
