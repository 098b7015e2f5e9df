/**
 * Checkpoints of a replica (issue 11, DESIGN.md §2 "Checkpoints and retention"): when to write
 * one (every `everyEvents` committed events, or every `everyMs` when any came in), how it is sealed
 * (core's canonical encoding, its SHA-256, this node's signature over cluster, vector and hash),
 * and which one a start loads: the newest whose parts, hash, signature and encoding all check and
 * whose heads the stored logs reach. A checkpoint that fails any of that is skipped with one warn
 * line naming what is used instead (an older checkpoint, or the whole log).
 *
 * A node stores its checkpoints in core's local format 3 (issue 18): the key index's closed parts on
 * disk are referred to by name and digest, not read back and embedded, so writing one reads no key
 * from disk and a start attaches those parts instead of rebuilding them. What leaves the node (a
 * joiner's offer, the audit export) is the canonical format 2 every node writes at that vector:
 * the parts read back, the checkpoint decoded whole and encoded again, and signed (canonicalCheckpoint).
 */
import {
  type CheckpointWriter,
  canonicalBytes,
  checkpointFormat,
  checkpointHeads,
  checkpointRetentionProblem,
  type DecodedCheckpoint,
  decodeCheckpoint,
  encodeCheckpoint,
  type LedgerState,
  type OriginId,
  prepareCheckpoint,
  type RecordWindowOptions,
} from '@allot/core';
import { readReferred } from './key-spill.js';
import {
  CHECKPOINT_EVERY_EVENTS_MAX,
  CHECKPOINT_EVERY_EVENTS_MIN,
  CHECKPOINT_EVERY_MS_MAX,
  CHECKPOINT_EVERY_MS_MIN,
  CHECKPOINTS_KEPT,
} from './limits.js';
import { toHex } from './log.js';
import type { Clock, Crypto, Logger, LogHead, Store, StoredCheckpoint, TimerHandle } from './ports.js';
import { sameBytes } from './values.js';

/** How often a replica writes a checkpoint: whichever comes first. */
export interface CheckpointOptions {
  /** Events committed (own and received) since the last checkpoint. */
  readonly everyEvents: number;
  /** Time since the last checkpoint (only when events came in meanwhile), ms. */
  readonly everyMs: number;
}

/** What is wrong with `options`, or null when they are within their bounds. */
export function checkpointOptionsProblem(options: CheckpointOptions): string | null {
  const { everyEvents, everyMs } = options;
  if (
    !Number.isSafeInteger(everyEvents) ||
    everyEvents < CHECKPOINT_EVERY_EVENTS_MIN ||
    everyEvents > CHECKPOINT_EVERY_EVENTS_MAX
  )
    return `checkpoint.everyEvents must be an integer from ${CHECKPOINT_EVERY_EVENTS_MIN} to ${CHECKPOINT_EVERY_EVENTS_MAX}, not ${everyEvents}`;
  if (
    !Number.isSafeInteger(everyMs) ||
    everyMs < CHECKPOINT_EVERY_MS_MIN ||
    everyMs > CHECKPOINT_EVERY_MS_MAX
  )
    return `checkpoint.everyMs must be an integer from ${CHECKPOINT_EVERY_MS_MIN} to ${CHECKPOINT_EVERY_MS_MAX}, not ${everyMs}`;
  return null;
}

/** The bytes a node signs for a checkpoint: cluster, version vector and hash, canonically. */
export function checkpointSigningBytes(
  cluster: string,
  vector: Readonly<Record<OriginId, number>>,
  hash: Uint8Array,
): Uint8Array {
  const sorted = Object.fromEntries(Object.entries(vector).sort(([a], [b]) => (a < b ? -1 : 1)));
  return canonicalBytes({ cluster, vector: sorted, hash: toHex(hash), kind: 'allot-checkpoint-v1' });
}

/** Σ of a vector's seqs: a checkpoint's name in the store. */
export function vectorTotal(vector: Readonly<Record<OriginId, number>>): number {
  let total = 0;
  for (const seq of Object.values(vector)) total += seq;
  return total;
}

/**
 * The canonical bytes of `state` with each folded log's head hash from `heads`, in core's two parts
 * (prepareCheckpoint: the writer returned finishes them without reading `state`); null when the
 * fold is not exactly what `heads` say is durable (then no checkpoint describes it).
 */
export function encodeDurableFold(
  state: LedgerState,
  heads: ReadonlyMap<OriginId, LogHead>,
  retentionMs?: number,
): CheckpointWriter | null {
  const hashes = new Map<OriginId, Uint8Array>();
  for (const [origin, seq] of Object.entries(state.versionVector)) {
    const head = heads.get(origin);
    if (head?.seq !== seq) return null;
    hashes.set(origin, head.hash);
  }
  for (const [origin, head] of heads) if ((state.versionVector[origin] ?? 0) !== head.seq) return null;
  return prepareCheckpoint(
    state,
    hashes,
    retentionMs === undefined ? { referParts: true } : { retentionMs, referParts: true },
  );
}

/** Seals checkpoint bytes of the fold at `vector`: its hash and this node's signature. */
export function sealCheckpoint(
  crypto: Crypto,
  cluster: string,
  vector: Readonly<Record<OriginId, number>>,
  bytes: Uint8Array,
): StoredCheckpoint {
  const hash = crypto.hash(bytes);
  return {
    total: vectorTotal(vector),
    bytes,
    hash,
    signature: crypto.sign(checkpointSigningBytes(cluster, vector, hash)),
  };
}

/** Writes `checkpoint`, then deletes all but the newest CHECKPOINTS_KEPT. */
export async function storeCheckpoint(store: Store, checkpoint: StoredCheckpoint): Promise<void> {
  await store.writeCheckpoint(checkpoint);
  const totals = await store.listCheckpoints();
  for (const total of totals.slice(CHECKPOINTS_KEPT)) await store.deleteCheckpoint(total);
}

/**
 * Writes a checkpoint of the durable fold: `alone` runs its work while new commands wait and
 * everything pending is durable (the replica's exclusive gate), and only the copy of `fold()`
 * (prepareCheckpoint) happens there; the encoding from the copy, a piece per clock turn, the hash,
 * the signature and the store write happen after, while commands run. The newest CHECKPOINTS_KEPT
 * are kept; the line logged says how long commands waited (`stallMs`). With `retentionMs` the
 * checkpoint holds exactly the records within the idempotency retention as of its vector (core's
 * checkpoint-retention.ts). False when none was written (the reason is logged).
 */
export async function writeCheckpoint(
  ports: { readonly store: Store; readonly crypto: Crypto; readonly clock: Clock; readonly logger: Logger },
  cluster: string,
  alone: <T>(work: () => Promise<T>) => Promise<T>,
  fold: () => {
    readonly state: LedgerState;
    readonly heads: ReadonlyMap<OriginId, LogHead>;
    readonly retentionMs?: number;
  },
  /** Told the key-index parts the checkpoint refers to, as soon as it is prepared (KeySpill.hold). */
  referred: (parts: readonly string[]) => void = () => undefined,
): Promise<boolean> {
  const { clock, logger } = ports;
  let stallMs = 0;
  let taken: { bytes: Uint8Array; vector: Record<OriginId, number> } | null;
  try {
    const prepared = await alone(async () => {
      const started = clock.now();
      const { state, heads, retentionMs } = fold();
      const notCanonical = checkpointRetentionProblem(state, retentionMs ?? 0);
      if (notCanonical !== null) return { notCanonical };
      const writer = encodeDurableFold(state, heads, retentionMs);
      // Before any await: no part it refers to may be deleted from here on.
      if (writer !== null) referred(writer.parts);
      stallMs = clock.now() - started;
      const vector: Record<OriginId, number> = {};
      for (const [origin, head] of heads) vector[origin] = head.seq;
      return writer === null ? null : { writer, vector };
    });
    if (prepared !== null && 'notCanonical' in prepared) {
      logger.info(
        { problem: prepared.notCanonical },
        'checkpoint not written: not canonical until the next events',
      );
      return false;
    }
    // Tenants and key indexes are written from their copies a piece at a time, letting commands
    // and commits run between pieces.
    if (prepared !== null) while (!prepared.writer.step()) await pause(clock);
    taken = prepared === null ? null : { bytes: prepared.writer.bytes(), vector: prepared.vector };
  } catch (error) {
    logger.error({ err: error }, 'checkpoint not written: the fold could not be encoded');
    return false;
  }
  if (taken === null) {
    logger.warn({}, 'checkpoint not written: the fold is not what the store holds');
    return false;
  }
  const started = clock.now();
  try {
    const sealed = sealCheckpoint(ports.crypto, cluster, taken.vector, taken.bytes);
    await storeCheckpoint(ports.store, sealed);
    logger.info(
      { total: sealed.total, bytes: sealed.bytes.length, stallMs, writeMs: clock.now() - started },
      'checkpoint written',
    );
    return true;
  } catch (error) {
    logger.warn({ err: error }, 'checkpoint not written: the store failed');
    return false;
  }
}

/** Waits for the clock's next turn (a 0 ms timer): what is queued runs meanwhile. */
function pause(clock: Clock): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimer(0, resolve);
  });
}

/** A checkpoint a start may load: decoded, with its total. */
export interface LoadedCheckpoint extends DecodedCheckpoint {
  readonly total: number;
}

/** Why `stored` may not be loaded over logs whose stored heads are `heads`, or its decoding. */
function verify(
  stored: StoredCheckpoint,
  ports: { readonly crypto: Crypto },
  cluster: string,
  heads: ReadonlyMap<OriginId, LogHead>,
  recordWindow: RecordWindowOptions | undefined,
  retired: ReadonlyMap<OriginId, number>,
): LoadedCheckpoint | string {
  const { crypto } = ports;
  if (!sameBytes(crypto.hash(stored.bytes), stored.hash)) return 'its hash does not match its bytes';
  let decoded: DecodedCheckpoint;
  try {
    // The header first: a checkpoint not signed by this node is not decoded at all.
    const vector: Record<OriginId, number> = {};
    for (const [origin, head] of checkpointHeads(stored.bytes)) vector[origin] = head.seq;
    if (vectorTotal(vector) !== stored.total)
      return `its vector sums to ${vectorTotal(vector)}, not ${stored.total}`;
    if (
      !crypto.verify(crypto.publicKey, checkpointSigningBytes(cluster, vector, stored.hash), stored.signature)
    )
      return "its signature does not verify with this node's key";
    for (const [origin, seq] of Object.entries(vector)) {
      const held = heads.get(origin);
      if (held === undefined || held.seq < seq)
        return `the log of ${origin} ends at seq ${held?.seq ?? 0}, before the checkpoint's ${seq}`;
      const cap = retired.get(origin);
      if (cap !== undefined && seq > cap)
        return `it folds ${origin} to seq ${seq}, past the seq ${cap} it was retired at`;
    }
    decoded = decodeCheckpoint(stored.bytes, recordWindow === undefined ? {} : { recordWindow });
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
  return { ...decoded, total: stored.total };
}

/**
 * The newest stored checkpoint that verifies over logs with stored `heads` (and folds no retired
 * incarnation past the seq `retired` gives it); null when none does (then the whole log is
 * folded). Each one skipped is one warn line saying what is used instead.
 */
export async function loadNewestCheckpoint(
  ports: { readonly store: Store; readonly crypto: Crypto; readonly logger: Logger },
  cluster: string,
  heads: ReadonlyMap<OriginId, LogHead>,
  recordWindow: RecordWindowOptions | undefined,
  retired: ReadonlyMap<OriginId, number> = new Map(),
): Promise<LoadedCheckpoint | null> {
  let totals: number[];
  try {
    totals = await ports.store.listCheckpoints();
  } catch (error) {
    ports.logger.warn({ err: error }, 'checkpoints could not be listed: folding the whole log');
    return null;
  }
  for (let i = 0; i < totals.length; i++) {
    const total = totals[i] as number;
    let problem: string;
    try {
      const stored = await ports.store.readCheckpoint(total);
      if (stored === null) continue;
      const loaded = verify(stored, ports, cluster, heads, recordWindow, retired);
      if (typeof loaded !== 'string') return loaded;
      problem = loaded;
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    const older = totals[i + 1];
    ports.logger.warn(
      { total, problem },
      older === undefined
        ? 'checkpoint not usable: folding the whole log'
        : `checkpoint not usable: trying the older one at ${older}`,
    );
  }
  return null;
}

/**
 * The newest stored checkpoint whose hash matches its bytes and whose signature is this node's
 * (not decoded: for handing it out, e.g. to an audit export); null when none is.
 */
export async function newestSignedCheckpoint(
  ports: { readonly store: Store; readonly crypto: Crypto },
  cluster: string,
): Promise<StoredCheckpoint | null> {
  const { store, crypto } = ports;
  for (const total of await store.listCheckpoints()) {
    let stored: StoredCheckpoint | null;
    try {
      stored = await store.readCheckpoint(total);
      if (stored === null || !sameBytes(crypto.hash(stored.bytes), stored.hash)) continue;
      const vector: Record<OriginId, number> = {};
      for (const [origin, head] of checkpointHeads(stored.bytes)) vector[origin] = head.seq;
      if (
        crypto.verify(
          crypto.publicKey,
          checkpointSigningBytes(cluster, vector, stored.hash),
          stored.signature,
        )
      )
        return stored;
    } catch {
      // A damaged checkpoint is skipped here; a start names it (loadNewestCheckpoint).
    }
  }
  return null;
}

/**
 * The newest stored checkpoint of this node (hash and this node's signature checked) whose vector
 * is within `wanted` (no origin past its seq there), decoded; null when none is or it does not
 * decode. What a snapshot at a past vector folds from instead of every log's first event.
 */
export function newestCheckpointWithin(
  ports: { readonly store: Store; readonly crypto: Crypto },
  cluster: string,
  wanted: Readonly<Record<OriginId, number>>,
  recordWindow: RecordWindowOptions,
): Promise<{ state: LedgerState; vector: Record<OriginId, number> } | null> {
  const most = vectorTotal(wanted);
  return newestCheckpointWhere(ports, cluster, recordWindow, {
    total: (total) => total <= most,
    bytes: (_bytes, vector) => Object.entries(vector).every(([origin, seq]) => seq <= (wanted[origin] ?? 0)),
  });
}

/**
 * The newest stored checkpoint whose vector total, bytes (with its vector) and decoded state pass
 * `accept`, with a hash and this node's signature that verify; a damaged one is skipped.
 */
export async function newestCheckpointWhere(
  ports: { readonly store: Store; readonly crypto: Crypto },
  cluster: string,
  recordWindow: RecordWindowOptions,
  accept: {
    readonly total: (total: number) => boolean;
    readonly bytes: (bytes: Uint8Array, vector: Readonly<Record<OriginId, number>>) => boolean;
    readonly state?: (state: LedgerState) => boolean;
  },
): Promise<{ state: LedgerState; vector: Record<OriginId, number> } | null> {
  const { store, crypto } = ports;
  for (const total of await store.listCheckpoints()) {
    if (!accept.total(total)) continue;
    try {
      const stored = await store.readCheckpoint(total);
      if (stored === null) continue;
      const vector: Record<OriginId, number> = {};
      for (const [origin, head] of checkpointHeads(stored.bytes)) vector[origin] = head.seq;
      // Only a filter (what it passes is still checked whole): no hash of a checkpoint it refuses.
      if (!accept.bytes(stored.bytes, vector)) continue;
      if (
        !sameBytes(crypto.hash(stored.bytes), stored.hash) ||
        !crypto.verify(
          crypto.publicKey,
          checkpointSigningBytes(cluster, vector, stored.hash),
          stored.signature,
        )
      )
        continue;
      const { state } = await decodeWhole(ports, stored.bytes, recordWindow);
      if (accept.state !== undefined && !accept.state(state)) continue;
      return { state, vector };
    } catch {
      // A damaged checkpoint is no base: an older one, or the logs from their start.
    }
  }
  return null;
}

/**
 * Decodes checkpoint `bytes` whole into a fresh ledger (no key-index parts attached): a format-3
 * checkpoint's referred parts are read back from the store and checked against their digests.
 */
export async function decodeWhole(
  ports: { readonly store: Store; readonly crypto: Crypto },
  bytes: Uint8Array,
  recordWindow: RecordWindowOptions,
): Promise<DecodedCheckpoint> {
  const window = { records: recordWindow.records, bucketMs: recordWindow.bucketMs };
  if (checkpointFormat(bytes).version < 3) return decodeCheckpoint(bytes, { recordWindow: window });
  const partChunks = await readReferred(ports.store, ports.crypto, bytes);
  return decodeCheckpoint(bytes, { recordWindow: window, partChunks });
}

/**
 * The canonical form of this node's checkpoint `stored` (format 2: what every node writes at its
 * vector, its hash what joiners and auditors compare), signed by this node: `stored` itself when it
 * is one already; a format-3 one decoded whole (its parts read back) and encoded again.
 */
export async function canonicalCheckpoint(
  ports: { readonly store: Store; readonly crypto: Crypto },
  cluster: string,
  stored: StoredCheckpoint,
  recordWindow: RecordWindowOptions,
): Promise<StoredCheckpoint> {
  if (checkpointFormat(stored.bytes).version < 3) return stored;
  const decoded = await decodeWhole(ports, stored.bytes, recordWindow);
  const hashes = new Map<OriginId, Uint8Array>();
  const vector: Record<OriginId, number> = {};
  for (const [origin, head] of decoded.heads) {
    hashes.set(origin, head.hash);
    vector[origin] = head.seq;
  }
  const bytes = encodeCheckpoint(decoded.state, hashes, { retentionMs: decoded.retentionMs });
  return sealCheckpoint(ports.crypto, cluster, vector, bytes);
}

/** The canonical form of the newest stored checkpoint that verifies (newestSignedCheckpoint); null: none. */
export async function newestCanonicalCheckpoint(
  ports: { readonly store: Store; readonly crypto: Crypto },
  cluster: string,
  recordWindow: RecordWindowOptions,
): Promise<StoredCheckpoint | null> {
  const stored = await newestSignedCheckpoint(ports, cluster);
  return stored === null ? null : canonicalCheckpoint(ports, cluster, stored, recordWindow);
}

/**
 * When to write a checkpoint: after `everyEvents` committed events, or `everyMs` after the last one
 * when any events came in since. One at a time; `take` does the work (and may decline).
 */
export class CheckpointSchedule {
  private events = 0;
  private timer: TimerHandle | null = null;
  private running: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly options: CheckpointOptions,
    private readonly clock: Clock,
    private readonly take: () => Promise<void>,
  ) {}

  /** Starts the timer (call once the replica is open). */
  start(): void {
    this.arm();
  }

  /** Counts events made durable; starts a checkpoint once enough were. */
  committed(events: number): void {
    this.events += events;
    if (this.events >= this.options.everyEvents) this.trigger();
  }

  /** The checkpoint being written, if any (a test waits for it). */
  get inFlight(): Promise<void> | null {
    return this.running;
  }

  /** Stops the timer and waits for a checkpoint being written. */
  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    await this.running;
  }

  private arm(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimer(this.options.everyMs, () => {
      if (this.events > 0) this.trigger();
      this.arm();
    });
  }

  private trigger(): void {
    if (this.running !== null || this.closed) return;
    this.events = 0;
    this.running = this.take().finally(() => {
      this.running = null;
    });
  }
}
