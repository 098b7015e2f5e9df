/** What issue 12's regression files share: the drawn scenarios and one check that a seed holds. */
import { readFileSync } from 'node:fs';
import { runSimulation, validateScenario } from '@allot/sim';
import { expect } from 'vitest';

/** A whole drawn run takes 4–8 s on an idle two-core machine, several times that on a shared one. */
export const RUN_TIMEOUT_MS = 240_000;

/**
 * A check over the scenarios kept in `file` (JSON beside this one, by seed): runs the scenario a
 * seed drew with that seed, and every invariant holds.
 */
export function drawnHolds(file: string): (seed: number) => Promise<void> {
  const drawn = JSON.parse(readFileSync(new URL(`./${file}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  return async (seed) => {
    const result = await runSimulation(validateScenario(drawn[String(seed)]), seed);
    expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
  };
}

/** Runs the scenario seed `seed` drew (findings-issue12.json) with that seed; every invariant holds. */
export const holds = drawnHolds('findings-issue12.json');
