/**
 * A group commit's unit (DESIGN.md §3): the own and received events, control updates and heads one
 * store write persists, the reads and acknowledgements that wait for it, and the promise that
 * settles once it is durable (or failed). Plain data; the replica fills, commits and settles it.
 */
import type { OriginId } from '@allot/core';
import type { BalanceView } from './api.js';
import type { HeldRead } from './durable-reads.js';
import type { LogHead, StoredEvent } from './ports.js';

/** A group of events (and control updates) committed in one store write. */
export interface Batch {
  /** Own and received events, in the order they were folded. */
  readonly events: StoredEvent[];
  readonly control: Uint8Array[];
  /** Own events: the first seq of this batch (null: none), the last seq and hash. */
  ownFirstSeq: number | null;
  lastSeq: number;
  lastHash: Uint8Array;
  /** Heads of other origins whose events this batch persists. */
  readonly remoteHeads: Map<OriginId, LogHead>;
  /** Run once the batch is durable (acknowledgements to peers). */
  readonly afterDurable: (() => void)[];
  /** Tenants with events in this batch: their reads wait for it (durable-reads.ts). */
  readonly tenants: Set<string>;
  /** Reads whose figures were taken when this batch started to commit, answered once it is durable. */
  readonly held: HeldRead<BalanceView | undefined>[];
  /** Own seqs also signed, where the run since the last signature would outgrow SIGNED_RUN_BYTES_MAX. */
  readonly signAt: Set<number>;
  /** Canonical bytes of this batch's own events since its last signature point. */
  runBytes: number;
  /** Resolves true once durable, false if the write failed (nothing of it happened). */
  readonly done: Promise<boolean>;
  readonly settle: (durable: boolean) => void;
}

/** An empty batch whose own events, if any, follow seq `lastSeq` with hash `lastHash`. */
export function newBatch(lastSeq: number, lastHash: Uint8Array): Batch {
  let settle: (durable: boolean) => void = () => {};
  const done = new Promise<boolean>((resolve) => {
    settle = resolve;
  });
  return {
    events: [],
    control: [],
    ownFirstSeq: null,
    lastSeq,
    lastHash,
    remoteHeads: new Map(),
    afterDurable: [],
    tenants: new Set(),
    held: [],
    signAt: new Set(),
    runBytes: 0,
    done,
    settle,
  };
}
