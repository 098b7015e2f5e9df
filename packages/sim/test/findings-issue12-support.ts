/** What issue 12's regression files share: the drawn scenarios and one check that a seed holds. */
import { readFileSync } from 'node:fs';
import { runSimulation, validateScenario } from '@allot/sim';
import { expect } from 'vitest';

const DRAWN = JSON.parse(readFileSync(new URL('./findings-issue12.json', import.meta.url), 'utf8')) as Record<
  string,
  unknown
>;

/** A whole drawn run takes 4–8 s on an idle two-core machine, several times that on a shared one. */
export const RUN_TIMEOUT_MS = 240_000;

/** Runs the scenario seed `seed` drew (findings-issue12.json) with that seed; every invariant holds. */
export async function holds(seed: number): Promise<void> {
  const result = await runSimulation(validateScenario(DRAWN[String(seed)]), seed);
  expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
}
