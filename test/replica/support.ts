/** A replica on the in-memory store, a manual clock, a seeded Rng and node:crypto, for tests. */
import { generateKeyPairSync } from 'node:crypto';
import {
  type Logger,
  ManualClock,
  Replica,
  type ReplicaObserver,
  type ReplicaOptions,
  SeededRng,
} from '@allot/replica';
import { MemoryStore, nodeCrypto } from '@allot/store';

/** 2027-01-15T08:00:00Z: tests start here. */
export const START_MS = Date.UTC(2027, 0, 15, 8, 0, 0);

/** A grant of `amount` to tenant `acme` under `grantId`, no expiry, the default priority. */
export const acmeGrant = (grantId: string, amount: number) => ({
  tenant: 'acme',
  grantId,
  amount,
  priority: 100,
  expiresAt: null,
});

/** A logger that keeps lines for assertions. */
export function memoryLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const log = (level: string) => (_fields: Record<string, unknown>, message: string) => {
    lines.push({ level, message });
  };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** Everything a test needs around one replica. */
export interface Harness {
  replica: Replica;
  store: MemoryStore;
  clock: ManualClock;
  commits: number[];
  /** What the replica reported as overdraft in use, in order. */
  overdraft: number[];
  crypto: ReturnType<typeof nodeCrypto>;
  logger: ReturnType<typeof memoryLogger>;
  reopen(store?: MemoryStore, options?: Partial<ReplicaOptions>): Promise<Replica>;
}

const key = generateKeyPairSync('ed25519').privateKey;

/** Opens a replica of region `region` on a new memory store. */
export async function harness(options: Partial<ReplicaOptions> = {}, seed = 1): Promise<Harness> {
  const clock = new ManualClock(START_MS);
  const commits: number[] = [];
  const overdraft: number[] = [];
  const logger = memoryLogger();
  const observer: ReplicaObserver = {
    debitDecided: () => {},
    batchCommitted: (events) => {
      commits.push(events);
    },
    overdraftInUse: (amount) => {
      overdraft.push(amount);
    },
  };
  const crypto = nodeCrypto(key);
  const h: Harness = {
    store: MemoryStore.empty(),
    clock,
    commits,
    overdraft,
    crypto,
    logger,
    replica: undefined as unknown as Replica,
    async reopen(store = h.store, more = {}) {
      h.store = store;
      h.replica = await Replica.open(
        { cluster: 'test', region: 'eu', ...options, ...more },
        { store, clock, rng: new SeededRng(seed), crypto, logger, observer },
      );
      return h.replica;
    },
  };
  await h.reopen();
  return h;
}

/** Advances the clock a millisecond at a time until `promise` settles (group commits need time). */
export async function settle<T>(clock: ManualClock, promise: Promise<T>, maxMs = 10_000): Promise<T> {
  let done = false;
  const tracked = promise.finally(() => {
    done = true;
  });
  for (let ms = 0; ms < maxMs && !done; ms++) {
    await turn();
    if (!done) clock.advance(1);
  }
  return tracked;
}

/**
 * Advances the clock `ms` milliseconds, one at a time, letting the event loop run between steps:
 * timers on the clock fire and what they start (commits, pushes) completes, whatever the machine's
 * speed. A wait of real time instead advanced the clock as far as the machine got meanwhile, so a
 * loaded machine saw fewer simulated milliseconds than a pause after a failed commit lasts.
 */
export async function runFor(clock: ManualClock, ms: number): Promise<void> {
  for (let step = 0; step < ms; step++) await tick(clock);
  await turn();
}

/** One turn of the event loop (what is ready runs). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One turn of the event loop, then the clock one millisecond on. */
export async function tick(clock: ManualClock): Promise<void> {
  await turn();
  clock.advance(1);
}

/**
 * A MemoryStore `commitLatency` whose commits, once `hold()` was called, wait until the test
 * releases them (before that they pass at once, so a replica can open on the store).
 */
export function holdCommits(): {
  latency: () => Promise<void>;
  /** From now on, commits wait for `releaseAll`. */
  hold(): void;
  /** Resolves once `n` commits have reached the store since `hold()` (held or released). */
  started(n: number): Promise<void>;
  /** How many commits have reached the store since `hold()`. */
  count(): number;
  /** Lets every held commit complete. */
  releaseAll(): void;
} {
  const waiting: (() => void)[] = [];
  let reached = 0;
  let holding = false;
  const watchers: { n: number; resolve: () => void }[] = [];
  return {
    hold() {
      holding = true;
    },
    latency() {
      if (!holding) return Promise.resolve();
      reached += 1;
      for (const watcher of watchers.filter((w) => w.n <= reached)) {
        watchers.splice(watchers.indexOf(watcher), 1);
        watcher.resolve();
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    started(n) {
      if (reached >= n) return Promise.resolve();
      return new Promise<void>((resolve) => watchers.push({ n, resolve }));
    },
    count: () => reached,
    releaseAll() {
      for (const release of waiting.splice(0)) release();
    },
  };
}
