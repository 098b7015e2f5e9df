/**
 * Frames a hostile wire made a receiver let go without closing the link, kept as regression cases:
 * each is the scenario its swarm seed drew (`randomScenario(seed)` as it was on 2026-12-02, in
 * findings-resend.json), run with that seed. Replay one: `npx allot simulate --swarm 1 --seed N`.
 */
import { readFileSync } from 'node:fs';
import { runSimulation, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';

const DRAWN = JSON.parse(readFileSync(new URL('./findings-resend.json', import.meta.url), 'utf8')) as Record<
  string,
  unknown
>;

describe('runs let go on a live link are sent again', () => {
  /**
   * S4, S5, S9 (the replica): while eu's wire was hostile, the run of eu's seq 134 reached us under
   * ap's origin (impersonated; stale for ap there, so let go unchecked) and the run of seq 135 under
   * an incarnation nobody started (held past a gap nobody fills). Neither closed the link, and eu had
   * marked both sent: us's summaries said 133 for the rest of the run and eu never sent them again,
   * though it had acknowledged 135 to its client. Fixed: what a peer leaves unacknowledged with no
   * progress for RESEND_AFTER_MS is sent again (peers.ts forgetAcknowledged).
   */
  it("seed 4456: us gets eu's seqs 134–135 after a hostile wire made it let them go", async () => {
    const result = await runSimulation(validateScenario(DRAWN['4456']), 4456);
    expect(result.scenario.faults.map((fault) => fault.kind)).toEqual(
      expect.arrayContaining(['hostile', 'crash', 'storage']),
    );
    expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
    const regions = result.final?.regions ?? {};
    const eu = regions.eu?.origin ?? '';
    expect(eu).not.toBe('');
    // eu's log reaches 135 at least (how far past it depends on how borrowing went), and every
    // region holds all of it.
    const head = regions.eu?.versionVector[eu] ?? 0;
    expect(head).toBeGreaterThanOrEqual(135);
    for (const region of ['us', 'ap']) expect(regions[region]?.versionVector[eu]).toBe(head);
  }, 300_000); // 40 simulated s: about 15 wall s alone, four times that on a shared machine
});
