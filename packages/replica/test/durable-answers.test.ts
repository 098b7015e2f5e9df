/**
 * Property: answering a batch with one wait per group commit gives each command exactly what
 * waiting for it alone gives: its outcome once its commit is durable, the failure when that commit
 * failed, and what a promise settles to (an outcome, or a DurableAnswer: a command decided later,
 * after a read or a wait for rights, waited for like one decided at once), in order.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DurableAnswer, durableAnswers } from '../src/durable-answers.js';

type Item =
  | { kind: 'now'; value: number }
  | { kind: 'later'; value: number }
  | { kind: 'durable'; seq: number; value: number }
  | { kind: 'later-durable'; seq: number; value: number };

const item: fc.Arbitrary<Item> = fc.oneof(
  fc.record({ kind: fc.constant('now' as const), value: fc.integer() }),
  fc.record({ kind: fc.constant('later' as const), value: fc.integer() }),
  fc.record({
    kind: fc.constant('durable' as const),
    seq: fc.integer({ min: 1, max: 40 }),
    value: fc.integer(),
  }),
  fc.record({
    kind: fc.constant('later-durable' as const),
    seq: fc.integer({ min: 1, max: 40 }),
    value: fc.integer(),
  }),
);

describe('answers of a batch once durable', () => {
  it('equal one wait per command, with one wait per commit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(item, { maxLength: 60 }),
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        async (items, perCommit, commitOk) => {
          // Seqs go into commits of `perCommit` events; commit c succeeds when commitOk[c].
          const commits = new Map<number, Promise<boolean>>();
          let asked = 0;
          const durable = (seq: number): Promise<boolean> => {
            asked++;
            const commit = Math.floor((seq - 1) / perCommit);
            let done = commits.get(commit);
            if (done === undefined) {
              done = new Promise<boolean>((resolve) =>
                setTimeout(() => resolve(commitOk[commit] === true), 0),
              );
              commits.set(commit, done);
            }
            return done;
          };
          const outcome = (value: number) => ({ status: 'done', value });
          const decided = items.map((each) => {
            switch (each.kind) {
              case 'now':
                return outcome(each.value);
              case 'later':
                return Promise.resolve(outcome(each.value));
              case 'durable':
                return new DurableAnswer(each.seq, outcome(each.value));
              default:
                return Promise.resolve(new DurableAnswer(each.seq, outcome(each.value)));
            }
          });
          const answers = await durableAnswers(decided, durable, 'failed' as const);
          expect(answers).toEqual(
            items.map((each) =>
              each.kind === 'now' || each.kind === 'later'
                ? outcome(each.value)
                : commitOk[Math.floor((each.seq - 1) / perCommit)] === true
                  ? outcome(each.value)
                  : 'failed',
            ),
          );
          // Commits of commands decided at once are asked for once per command; one decided later
          // asks for its own when it settles.
          expect(asked).toBe(items.filter((each) => each.kind.endsWith('durable')).length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects when a promised outcome rejects', async () => {
    const failing: Promise<{ status: string }> = Promise.reject(new Error('bug'));
    const done = { status: 'done' };
    await expect(durableAnswers([done, failing], () => Promise.resolve(true), 0)).rejects.toThrow('bug');
  });
});
