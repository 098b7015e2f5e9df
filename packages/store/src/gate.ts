/**
 * The open/closed state of a store and its operations in flight: a call on a closed store rejects,
 * and closing waits for what is in flight ("pending commits finish first", the Store port); and
 * operations that must run one at a time, in call order.
 */
import { StoreClosedError } from './errors.js';

/** Admits operations while open; once closed, rejects them with the reason it was closed for. */
export class OperationGate {
  private closedBecause: string | null = null;
  private readonly inFlight = new Set<Promise<unknown>>();

  /** True until `close` or `shut` is called. */
  get isOpen(): boolean {
    return this.closedBecause === null;
  }

  /** Throws a StoreClosedError if the gate is closed. */
  assertOpen(): void {
    if (this.closedBecause !== null) throw new StoreClosedError(this.closedBecause);
  }

  /** Runs `operation` if open (else rejects), and tracks it until it settles. */
  run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closedBecause !== null) return Promise.reject(new StoreClosedError(this.closedBecause));
    let promise: Promise<T>;
    try {
      promise = operation();
    } catch (error) {
      return Promise.reject(error);
    }
    this.inFlight.add(promise);
    const forget = () => this.inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  /** Refuses new operations with `reason`, then waits for those in flight to settle. */
  async close(reason: string): Promise<void> {
    this.shut(reason);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Refuses new operations with `reason` at once, without waiting. */
  shut(reason: string): void {
    this.closedBecause ??= reason;
  }
}

/**
 * Runs operations one at a time, in call order: each starts once the one before it has settled,
 * whatever its outcome (a store's commits, and its archive steps).
 */
export class OneAtATime {
  private tail: Promise<unknown> = Promise.resolve();

  /** Runs `operation` after every operation queued before it; its own outcome is returned. */
  run<T>(operation: () => Promise<T>): Promise<T> {
    const done = this.tail.then(operation);
    this.tail = done.catch(() => undefined);
    return done;
  }
}
