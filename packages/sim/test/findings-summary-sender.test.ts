/**
 * Swarm seed 5533 (5,001–7,000 on 2026-12-05, kept in findings-summary-sender.json as
 * randomScenario(5533) drew it, with 5 s of quiet instead of 20): it failed the same way on the
 * main before this session. us was restored from a backup at 16.3 s that held its log to 681, while
 * ap held it to 741. ap's wire was hostile from 12.2 s: one tampering renames the sender's origin in
 * a frame's bytes to another region's incarnation, and in ap's summary it named us's own origin, so
 * the vector's two entries decoded as one that showed 14 of us's log (ap's own seq). us took it for
 * ap's confirmation, took writes at 681 and forked its log (S3, S4, S5, S8, S9 broke). A summary
 * must now name its sender's incarnation, which every node's does; one that does not drops the link.
 * Replay in full: `npx allot simulate --swarm 1 --seed 5533`.
 */
import { readFileSync } from 'node:fs';
import { runSimulation, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';

/** A 60 s run takes ~2 s alone on one core; more when the suite shares it. */
const RUN_TIMEOUT_MS = 120_000;

const DRAWN = JSON.parse(
  readFileSync(new URL('./findings-summary-sender.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

describe('summaries rewritten on a hostile wire', () => {
  it(
    'seed 5533: a node restored from a backup does not take writes on a summary that lost its sender',
    async () => {
      const result = await runSimulation(validateScenario(DRAWN['5533']), 5533);
      expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
      const forks = Object.entries(result.metrics.replicaLog ?? {}).filter(([line]) =>
        line.includes('the logs may have forked'),
      );
      expect(forks).toEqual([]);
    },
    RUN_TIMEOUT_MS,
  );
});
