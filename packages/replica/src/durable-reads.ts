/**
 * Reads that see only durable state (issue 9 item 5): a tenant's events are folded in memory when
 * they are decided or received, before the store has them, and a failed commit undoes them. A read
 * of a tenant with such events waits: it is answered either with figures taken when the fold held
 * exactly what the commit in flight makes durable (resolved once it is), or once the tenant has no
 * pending events. The hot path pays one Set insertion per event; reads of idle tenants do not wait.
 */

/** A figure taken at the start of a commit, answered if the commit succeeds. */
export interface HeldRead<V> {
  readonly tenant: string;
  readonly view: V;
  readonly answer: readonly ((view: V) => void)[];
}

/** The reads waiting for a tenant's pending events to settle. */
export class DurableReads<V> {
  private readonly waiting = new Map<string, ((view: V) => void)[]>();

  /** A read of `tenant` that waits until `settle` answers it. */
  wait(tenant: string): Promise<V> {
    return new Promise<V>((resolve) => {
      const answers = this.waiting.get(tenant);
      if (answers === undefined) this.waiting.set(tenant, [resolve]);
      else answers.push(resolve);
    });
  }

  /** True when no read waits. */
  get idle(): boolean {
    return this.waiting.size === 0;
  }

  /**
   * At the start of a commit after which nothing else is pending: takes every waiting read with
   * the figure `read` gives now (the fold is exactly what the commit makes durable).
   */
  hold(read: (tenant: string) => V): HeldRead<V>[] {
    const held: HeldRead<V>[] = [];
    for (const [tenant, answer] of this.waiting) held.push({ tenant, view: read(tenant), answer });
    this.waiting.clear();
    return held;
  }

  /** Answers the waiting reads of every tenant that `pending` says has nothing pending any more. */
  answerSettled(pending: (tenant: string) => boolean, read: (tenant: string) => V): void {
    for (const [tenant, answers] of [...this.waiting]) {
      if (pending(tenant)) continue;
      this.waiting.delete(tenant);
      const view = read(tenant);
      for (const answer of answers) answer(view);
    }
  }

  /** Puts held reads back to wait (their commit failed: the figures they hold were undone). */
  requeue(held: readonly HeldRead<V>[]): void {
    for (const each of held) {
      const answers = this.waiting.get(each.tenant) ?? [];
      answers.push(...each.answer);
      this.waiting.set(each.tenant, answers);
    }
  }
}
