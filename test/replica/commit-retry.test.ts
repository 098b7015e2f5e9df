/**
 * After a failed commit the next one waits (COMMIT_RETRY_MS_MIN, doubling with each failure in a
 * row up to COMMIT_RETRY_MS_MAX, group-commit.ts): every failed commit rebuilds the fold from the
 * store, and retried as fast as commands came, a disk refusing writes made a node do nothing else
 * (swarm seed 755: 1,272 rebuilds in one run, 95 % of its CPU). What is decided meanwhile waits in
 * the next batch and is answered by that commit, as behind a slow one.
 */
import { COMMIT_RETRY_MS_MAX, COMMIT_RETRY_MS_MIN, type DebitOutcome } from '@allot/replica';
import { describe, expect, it } from 'vitest';
import { type Harness, harness, settle, tick } from './support.js';

const grant = { tenant: 'acme', grantId: 'g1', amount: 1_000_000, priority: 100, expiresAt: null };
const debit = (key: string) => ({ tenant: 'acme', amount: 1, idempotencyKey: key, metadata: null });

/** Makes every commit of `h` fail while the returned switch is on. */
function refusingDisk(h: Harness): { on: boolean } {
  const disk = { on: false };
  const commit = h.store.commit.bind(h.store);
  h.store.commit = async (batch, options) => {
    if (disk.on) throw new Error('EIO: the disk refuses writes');
    return commit(batch, options);
  };
  return disk;
}

const failedCommits = (h: Harness) =>
  h.logger.lines.filter((line) => line.message === 'commit failed; recovering from the store').length;

describe('commits after a failed one', () => {
  it('a disk refusing writes for a second: a few rebuilds, not one per debit; what waited is accepted once it writes', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant));
    const disk = refusingDisk(h);
    disk.on = true;
    const answers: Promise<DebitOutcome>[] = [];
    let pausedSeen = false;
    for (let ms = 0; ms < 1_000; ms++) {
      answers.push(h.replica.debit(debit(`k${ms}`)));
      await tick(h.clock);
      pausedSeen ||= h.replica.commitsPaused;
    }
    expect(pausedSeen).toBe(true);
    // Waits of 10, 20, 40 … ms after each failure in a row: one commit tried per wait, not per debit.
    let waited = 0;
    let tries = 1;
    for (
      let wait = COMMIT_RETRY_MS_MIN;
      waited + wait < 1_000;
      wait = Math.min(2 * wait, COMMIT_RETRY_MS_MAX)
    ) {
      waited += wait;
      tries += 1;
    }
    const failed = failedCommits(h);
    expect(failed).toBeGreaterThanOrEqual(tries - 1);
    expect(failed).toBeLessThanOrEqual(tries + 1);
    disk.on = false;
    const outcomes = await settle(h.clock, Promise.all(answers), 2 * COMMIT_RETRY_MS_MAX);
    expect(failedCommits(h)).toBe(failed);
    expect(h.replica.commitsPaused).toBe(false);
    // Every debit either failed with a commit (unavailable: the client sends it again) or waited
    // for the commit after the disk healed and was accepted; nothing else, and the balance agrees.
    const statuses = new Set(outcomes.map((outcome) => outcome.status));
    expect([...statuses].sort()).toEqual(['accepted', 'unavailable']);
    const accepted = outcomes.filter((outcome) => outcome.status === 'accepted').length;
    expect(accepted).toBeGreaterThan(0);
    // The debits after the last failed commit are the accepted ones: they waited for its retry.
    expect(outcomes.slice(-accepted).every((outcome) => outcome.status === 'accepted')).toBe(true);
    expect(h.replica.balance('acme')?.debited).toBe(accepted);
    // Once the disk writes, a debit commits without a wait.
    const before = h.commits.length;
    const next = h.replica.debit(debit('after'));
    await tick(h.clock);
    expect((await next).status).toBe('accepted');
    expect(h.commits.length).toBe(before + 1);
  });

  it('the first failure after a success waits the shortest time again', async () => {
    const h = await harness();
    await settle(h.clock, h.replica.grant(grant));
    const disk = refusingDisk(h);
    for (let round = 0; round < 3; round++) {
      disk.on = true;
      expect((await settle(h.clock, h.replica.debit(debit(`fails${round}`)))).status).toBe('unavailable');
      disk.on = false;
      // Decided now, committed only once COMMIT_RETRY_MS_MIN has passed since the failure.
      const commits = h.commits.length;
      const answer = h.replica.debit(debit(`waits${round}`));
      for (let ms = 0; ms < COMMIT_RETRY_MS_MIN - 2; ms++) await tick(h.clock);
      expect(h.replica.commitsPaused).toBe(true);
      expect(h.commits.length).toBe(commits);
      expect((await settle(h.clock, answer)).status).toBe('accepted');
      expect(h.commits.length).toBe(commits + 1);
      expect(h.replica.commitsPaused).toBe(false);
    }
  });
});
