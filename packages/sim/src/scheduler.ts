/**
 * The simulator's discrete-event loop. Simulated time is an integer number of milliseconds; tasks
 * run in (time, insertion) order, so the same inputs always run in the same order. The replica and
 * the memory store work with promises: before time moves on, the loop lets every microtask run
 * (one `setImmediate` turn drains the whole microtask queue), so all the consequences of one
 * instant happen at that instant. Tasks of one instant run back to back without a drain between
 * them: still one deterministic interleaving (microtasks have a fixed order), and a drain per
 * instant instead of per task is what keeps the loop cheap (~1 µs a drain).
 */
import { TASKS_PENDING_MAX } from './limits.js';

/** A scheduled task; cancel it with `Scheduler.cancel`. */
export interface Task {
  readonly at: number;
  readonly seq: number;
  run: (() => void) | null;
}

/** The run failed: a task threw, or a limit was passed. Carries the simulated time. */
export class SimulationFailure extends Error {
  override readonly name = 'SimulationFailure';
  constructor(
    message: string,
    readonly atMs: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const drain = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A deterministic discrete-event scheduler over simulated milliseconds. */
export class Scheduler {
  private time = 0;
  private readonly heap: Task[] = [];
  private order = 0;
  /** A task ran since the last drain: its promises may still have work to do at this instant. */
  private dirty = false;
  private failure: SimulationFailure | null = null;

  /** The current simulated time, ms. */
  get now(): number {
    return this.time;
  }

  /** Tasks waiting (cancelled ones included until their time comes). */
  get pending(): number {
    return this.heap.length;
  }

  /** Runs `run` at `at` (never before now). */
  at(at: number, run: () => void): Task {
    const task: Task = { at: Math.max(this.time, Math.ceil(at)), seq: this.order++, run };
    if (this.heap.length >= TASKS_PENDING_MAX) {
      this.fail(new SimulationFailure(`more than ${TASKS_PENDING_MAX} tasks pending`, this.time));
    }
    this.push(task);
    return task;
  }

  /** Runs `run` after `delayMs`. */
  after(delayMs: number, run: () => void): Task {
    return this.at(this.time + Math.max(0, delayMs), run);
  }

  /** Cancels a task that has not run (nothing happens for one that has). */
  cancel(task: Task): void {
    task.run = null;
  }

  /**
   * Records a failure (the first one wins); the loop stops at once and `runUntil` rejects with it.
   * For failures found outside a task, e.g. in a promise callback.
   */
  fail(failure: SimulationFailure): void {
    this.failure ??= failure;
  }

  /** Runs every task due up to `endMs`, then sets the time to `endMs`. */
  async runUntil(endMs: number): Promise<void> {
    for (;;) {
      if (this.failure !== null) throw this.failure;
      let next = this.heap[0];
      while (next !== undefined && next.run === null) {
        this.pop();
        next = this.heap[0];
      }
      if (next === undefined || next.at > this.time) {
        if (this.dirty) {
          this.dirty = false;
          await drain();
          continue;
        }
        if (next === undefined || next.at > endMs) break;
        this.time = next.at;
      }
      this.pop();
      const run = next.run as () => void;
      next.run = null;
      this.dirty = true;
      try {
        run();
      } catch (error) {
        this.fail(
          new SimulationFailure(`a task threw at ${this.time} ms: ${(error as Error).message}`, this.time, {
            cause: error,
          }),
        );
      }
    }
    if (this.failure !== null) throw this.failure;
    if (endMs > this.time) this.time = endMs;
  }

  /** Runs tasks until `promise` settles (or `maxMs` of simulated time pass), and returns its value. */
  async settle<T>(promise: Promise<T>, maxMs: number): Promise<T> {
    let settled = false;
    const tracked = promise.finally(() => {
      settled = true;
    });
    // Whatever happens, the caller awaits `tracked`; this copy only must not be reported unhandled.
    tracked.catch(() => {});
    const deadline = this.time + maxMs;
    await drain();
    while (!settled && this.time < deadline) {
      await this.runUntil(Math.min(deadline, this.time + 1));
      await drain();
    }
    if (!settled) throw new SimulationFailure(`not settled within ${maxMs} simulated ms`, this.time);
    return tracked;
  }

  private less(a: Task, b: Task): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(task: Task): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(task);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent] as Task;
      if (!this.less(task, above)) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = task;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && this.less(heap[right] as Task, heap[left] as Task)) child = right;
      if (!this.less(heap[child] as Task, last)) break;
      heap[i] = heap[child] as Task;
      i = child;
    }
    heap[i] = last;
  }
}
