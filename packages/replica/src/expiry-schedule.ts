/** When the replica must look at a tenant's grants again because one of them expires. */

interface Entry {
  readonly at: number;
  readonly tenant: string;
}

/** A min-heap of (expiry time, tenant). */
export class ExpirySchedule {
  private readonly heap: Entry[] = [];

  /** Number of scheduled checks. */
  get size(): number {
    return this.heap.length;
  }

  /** Schedules a check of `tenant` at `at`. */
  add(at: number, tenant: string): void {
    const heap = this.heap;
    heap.push({ at, tenant });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as Entry).at <= at) break;
      [heap[i], heap[parent]] = [heap[parent] as Entry, heap[i] as Entry];
      i = parent;
    }
  }

  /** The earliest scheduled time, or null. */
  peek(): number | null {
    return this.heap[0]?.at ?? null;
  }

  /** Removes and returns the tenants due at `now` (each once). */
  takeDue(now: number): string[] {
    const due = new Set<string>();
    while (this.heap.length > 0 && (this.heap[0] as Entry).at <= now) due.add(this.pop().tenant);
    return [...due];
  }

  /** Removes every entry. */
  clear(): void {
    this.heap.length = 0;
  }

  private pop(): Entry {
    const heap = this.heap;
    const top = heap[0] as Entry;
    const last = heap.pop() as Entry;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && (heap[left] as Entry).at < (heap[smallest] as Entry).at) smallest = left;
        if (right < heap.length && (heap[right] as Entry).at < (heap[smallest] as Entry).at) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest] as Entry, heap[i] as Entry];
        i = smallest;
      }
    }
    return top;
  }
}
