/**
 * The S2 seeds of the 14,001–16,000 swarm of 2026-12-04 on 394c7b3 (14785; it failed the same way on
 * eb636ba) and of the 1,001–3,000 swarm of 2026-12-05 (2132; since protocol 9 its path is seed
 * 1861's), kept as regression cases (findings-s2-folded.json): the drawn scenarios with 5 s of
 * quiet instead of 20, run with their seeds. Replay one in full: `npx allot simulate --swarm 1 --seed 14785`.
 */
import { readFileSync } from 'node:fs';
import { destroyedFoldedSince, runSimulation, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { RUN_TIMEOUT_MS } from './findings-issue12-support.js';

const DRAWN = JSON.parse(
  readFileSync(new URL('./findings-s2-folded.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

describe('S2 after two storage faults destroyed events a lost disk had folded', () => {
  /**
   * us lost its disk at 6.4 s; it held ap's log up to seq 97. ap was restored at 9.9 s from a
   * backup 94 commits old that kept 57, while the other nodes held 68: ap's seqs 69–136 were gone
   * everywhere, an acknowledged grant of 13,606 among them. us's lost incarnation had folded them and
   * spent what they moved to it; its debits that other nodes hold stay in the true ledger, the
   * destroyed events do not, and from 10 s to the end S2 read it 285 past its rights on tenant-0
   * (241 observations, that incarnation only, the figure never moving: it writes nothing more). No
   * region spent past what it knew of, and S1 holds. S2 now leaves out a lost incarnation's
   * observations once events its disk had folded are destroyed everywhere, and says so.
   */
  it(
    'seed 14785: a lost incarnation is not held to rights that a later fault destroyed',
    async () => {
      const result = await runSimulation(validateScenario(DRAWN['14785']), 14785);
      expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
      const since = destroyedFoldedSince(result.history);
      expect([...since.keys()]).toEqual([expect.stringMatching(/^us#/)]);
      expect([...since.values()]).toEqual([9900]);
      // Since a summary must name its sender (swarm seed 5533), eu's tampered summaries close its
      // links, and in this history ap's restored disk also reuses destroyed seqs from 9.9 s: S2
      // leaves out what follows for that reason first. Seed 2132 below keeps the other path.
      const s2 = result.verdicts.find((verdict) => verdict.invariant === 'S2');
      expect(s2?.note).toMatch(
        /[1-9]\d* (of us#\S+ left out: incarnations lost with their disks|after 9900 ms left out: a damaged disk's destroyed seqs were reused)/,
      );
    },
    RUN_TIMEOUT_MS,
  );

  /**
   * The S2 seed of the 1,001–3,000 swarm of 2026-12-05 on 2931b3e. us crashed at 11 s and lost its
   * write-ahead log (its disk kept its own log up to 626 while eu held 652); at 11.7 s ap lost its
   * disk, the last copy of us's seqs 653–658. The same fault that lost ap's incarnation destroyed
   * events it had folded: the true ledger's totals did not move, rights on tenant-2 those events had
   * moved to ap left it, and ap's lost incarnation read 292 past its rights from that sample on. The
   * fault that takes a disk now counts for what that disk held (it counted from the next one, us's
   * restart at 13.8 s).
   */
  it(
    'seed 2132: every invariant holds (since protocol 9 no disk it loses is the last copy of what it folded)',
    async () => {
      const result = await runSimulation(validateScenario(DRAWN['2132']), 2132);
      expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );

  /**
   * The path seed 2132 took before protocol 9 (relayed runs end at kept signatures, so which node
   * holds what when differs), in the 1–3,000 swarm of 2026-12-06: at 8.7 s ap refused its disk (a
   * stale read), the last copy of eu's seqs 129–210 (eu was down, restored from an old backup at
   * 10.7 s), which ap's lost incarnation had folded. S2 leaves it out from 8.7 s, the fault that took
   * the disk, not from eu's restore (checkers-faults.test.ts pins the order on a made-up history).
   */
  it(
    'seed 1861: the disk loss that destroyed what only that disk held counts from its own time',
    async () => {
      const result = await runSimulation(validateScenario(DRAWN['1861']), 1861);
      expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
      const since = destroyedFoldedSince(result.history);
      expect([...since.keys()]).toEqual([expect.stringMatching(/^ap#/)]);
      expect([...since.values()]).toEqual([8700]);
      const s2 = result.verdicts.find((verdict) => verdict.invariant === 'S2');
      expect(s2?.note).toMatch(/[1-9]\d* of ap#\S+ left out: incarnations lost with their disks/);
    },
    RUN_TIMEOUT_MS,
  );
});
