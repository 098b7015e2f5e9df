/**
 * The answers of a batch of commands (debitMany) once their events are durable: one wait per group
 * commit the batch's events went into, not one promise per command. A command decided at once
 * leaves a `DurableAnswer` (its outcome and the own seq it waits for); the others leave an outcome
 * or a promise (borrowing, recall) of an outcome or of a DurableAnswer, awaited as they are.
 */

/**
 * An outcome that holds once own event `seq` is durable: a command decided and appended now, or
 * refused for what own events not durable yet took (a conflict, a decline).
 */
export class DurableAnswer<O extends { readonly status: string }> {
  /** The outcome's status. Borrowing never sees one: a decline is made one after its wait. */
  readonly status: O['status'];

  /** `outcome` once own event `seq` is durable. */
  constructor(
    readonly seq: number,
    readonly outcome: O,
  ) {
    this.status = outcome.status;
  }
}

/**
 * The outcomes of `decided` in order: each `DurableAnswer` is its outcome once its commit is
 * durable (`durable(seq)` resolves true) and `failed` when that commit failed; promises are
 * awaited, and a DurableAnswer one settles with is waited for the same way. Commits shared by many
 * answers decided at once are awaited once each.
 */
export async function durableAnswers<O extends { readonly status: string }, F>(
  decided: readonly (O | Promise<O | DurableAnswer<O>> | DurableAnswer<O>)[],
  durable: (seq: number) => Promise<boolean>,
  failed: F,
): Promise<(O | F)[]> {
  const waits = new Map<Promise<boolean>, boolean>();
  const commitOf: (Promise<boolean> | undefined)[] = new Array(decided.length);
  const pending: Promise<unknown>[] = [];
  const answers: (O | F)[] = new Array(decided.length);
  for (let i = 0; i < decided.length; i++) {
    const item = decided[i] as O | Promise<O> | DurableAnswer<O>;
    if (item instanceof DurableAnswer) {
      const commit = durable(item.seq);
      commitOf[i] = commit;
      if (!waits.has(commit)) {
        waits.set(commit, false);
        pending.push(commit.then((ok) => waits.set(commit, ok)));
      }
    } else if (item instanceof Promise) {
      pending.push(
        item.then(async (outcome: O | DurableAnswer<O>) => {
          if (!(outcome instanceof DurableAnswer)) answers[i] = outcome;
          else answers[i] = (await durable(outcome.seq)) ? outcome.outcome : failed;
        }),
      );
    } else {
      answers[i] = item;
    }
  }
  await Promise.all(pending);
  for (let i = 0; i < decided.length; i++) {
    const commit = commitOf[i];
    if (commit === undefined) continue;
    answers[i] = waits.get(commit) === true ? (decided[i] as DurableAnswer<O>).outcome : failed;
  }
  return answers;
}
