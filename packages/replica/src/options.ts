/** A replica's options (ReplicaOptions): their defaults, and the check made before it opens. */
import { type CheckpointOptions, checkpointOptionsProblem } from './checkpoints.js';
import {
  ARCHIVE_AFTER_MS_MAX,
  BATCH_EVENTS_MAX,
  BORROW_WAIT_MS_DEFAULT,
  BORROW_WAIT_MS_MAX,
  CHECKPOINT_EVERY_EVENTS_DEFAULT,
  CHECKPOINT_EVERY_MS_DEFAULT,
  IDEMPOTENCY_RETENTION_MS_DEFAULT,
  KEY_INDEX_MEMORY_BYTES_DEFAULT,
  KEY_INDEX_MEMORY_BYTES_MAX,
  RECORD_WINDOW_RECORDS_DEFAULT,
} from './limits.js';
import { ReplicaOpenError } from './open-error.js';

/** How a replica runs. */
export interface ReplicaOptions {
  readonly cluster: string;
  readonly region: string;
  /** `fsync` (default): a commit is acknowledged once on stable storage. `os`: once handed to the OS. */
  readonly durability?: 'fsync' | 'os';
  readonly batchEventsMax?: number;
  readonly idempotencyRetentionMs?: number;
  /** Full debit and refund records kept on the heap (issue 18); older ones are read back from the log. */
  readonly recordWindowRecords?: number;
  /** Bytes the key indexes may hold in memory: tables, then closed buckets' filters (key-spill.ts). */
  readonly keyIndexMemoryBytes?: number;
  /** Ed25519 public keys (32 bytes) of the other regions, from config: they verify relayed logs. */
  readonly peerKeys?: Readonly<Record<string, Uint8Array>>;
  /**
   * `adaptive` (default): rights flow toward demand and new grants split across reachable regions.
   * `static`: rights stay where grants put them (the simulator compares the two).
   */
  readonly rebalancing?: 'adaptive' | 'static';
  /**
   * Take writes at once even though peers are configured and none has confirmed yet that this
   * node's log is whole (DESIGN.md §2): for a region that must go on alone. Logged at warn.
   */
  readonly allowLoneStart?: boolean;
  /**
   * How long a debit that this region cannot cover waits for rights asked from its peers (DESIGN.md
   * §3 "Borrowing"), ms: 0..BORROW_WAIT_MS_MAX, default BORROW_WAIT_MS_DEFAULT; 0 never waits.
   */
  readonly borrowWaitMs?: number;
  /**
   * Move segments every configured region has acknowledged to the archive once their newest event
   * is this old, ms (archiving.ts): 0..ARCHIVE_AFTER_MS_MAX. Left out (or null): never archive.
   */
  readonly archiveAfterMs?: number | null;
  /**
   * How often a checkpoint of the fold is written (issue 11): every `everyEvents` committed events
   * or `everyMs` (when any came in), within the CHECKPOINT_EVERY_* bounds; defaults
   * CHECKPOINT_EVERY_EVENTS_DEFAULT and CHECKPOINT_EVERY_MS_DEFAULT.
   */
  readonly checkpoint?: CheckpointOptions;
}

/** Every option, the left-out ones at their defaults. */
export function resolveOptions(options: ReplicaOptions): Required<ReplicaOptions> {
  return {
    peerKeys: options.peerKeys ?? {},
    rebalancing: options.rebalancing ?? 'adaptive',
    allowLoneStart: options.allowLoneStart ?? false,
    borrowWaitMs: options.borrowWaitMs ?? BORROW_WAIT_MS_DEFAULT,
    archiveAfterMs: options.archiveAfterMs ?? null,
    durability: options.durability ?? 'fsync',
    batchEventsMax: options.batchEventsMax ?? BATCH_EVENTS_MAX,
    idempotencyRetentionMs: options.idempotencyRetentionMs ?? IDEMPOTENCY_RETENTION_MS_DEFAULT,
    recordWindowRecords: options.recordWindowRecords ?? RECORD_WINDOW_RECORDS_DEFAULT,
    keyIndexMemoryBytes: options.keyIndexMemoryBytes ?? KEY_INDEX_MEMORY_BYTES_DEFAULT,
    checkpoint: options.checkpoint ?? {
      everyEvents: CHECKPOINT_EVERY_EVENTS_DEFAULT,
      everyMs: CHECKPOINT_EVERY_MS_DEFAULT,
    },
    cluster: options.cluster,
    region: options.region,
  };
}

/** Throws a ReplicaOpenError naming the first option out of its bounds. */
export function checkOptions(options: ReplicaOptions): void {
  const wait = options.borrowWaitMs;
  if (wait !== undefined && (!Number.isSafeInteger(wait) || wait < 0 || wait > BORROW_WAIT_MS_MAX))
    throw new ReplicaOpenError(
      `borrowWaitMs must be an integer from 0 to ${BORROW_WAIT_MS_MAX}, not ${wait}`,
    );
  const after = options.archiveAfterMs;
  if (
    after !== undefined &&
    after !== null &&
    (!Number.isSafeInteger(after) || after < 0 || after > ARCHIVE_AFTER_MS_MAX)
  )
    throw new ReplicaOpenError(
      `archiveAfterMs must be an integer from 0 to ${ARCHIVE_AFTER_MS_MAX}, not ${after}`,
    );
  const budget = options.keyIndexMemoryBytes;
  if (
    budget !== undefined &&
    (!Number.isSafeInteger(budget) || budget < 0 || budget > KEY_INDEX_MEMORY_BYTES_MAX)
  )
    throw new ReplicaOpenError(
      `keyIndexMemoryBytes must be an integer from 0 to ${KEY_INDEX_MEMORY_BYTES_MAX}, not ${budget}`,
    );
  const checkpointProblem =
    options.checkpoint === undefined ? null : checkpointOptionsProblem(options.checkpoint);
  if (checkpointProblem !== null) throw new ReplicaOpenError(checkpointProblem);
}
