/**
 * A command's records read back from the log before it is decided again (DESIGN.md §3): a debit or
 * refund whose records are off the heap reads them through cold-records.ts, waits for the replica
 * to take commands again, and is then decided on the fold as it is. The commands (commands.ts) and
 * the received runs (remote-events.ts, through them) reach it through `CommandRecallHost`.
 */
import type { LedgerState } from '@allot/core';
import type { StoreFailure } from './api.js';
import { IndexedEventMissing, RecalledSegments, RecalledSet, recallRecords } from './cold-records.js';
import type { GroupCommit } from './group-commit.js';
import type { KeySpill } from './key-spill.js';
import { RECALL_SEGMENT_BYTES_MAX } from './limits.js';
import type { Logger, Store } from './ports.js';
import { CLOSING, INTERNAL, STORE_FAILED } from './refusals.js';

/** What a recall needs of its replica. */
export interface CommandRecallHost {
  readonly store: Store;
  readonly logger: Logger;
  readonly ownLog: GroupCommit;
  /** The key indexes' closed buckets on disk: lookups read their chunks through it. */
  readonly keySpill: KeySpill;
  /** The fold (replaced when it is rebuilt). */
  state(): LedgerState;
  closing(): boolean;
}

/** Reads the records a command needs back from the log, then decides it again. */
export class CommandRecall {
  /** Stored segments read back by recalls, for the recalls that follow. */
  private readonly recalledSegments = new RecalledSegments(RECALL_SEGMENT_BYTES_MAX);

  constructor(private readonly host: CommandRecallHost) {}

  /**
   * Reads records off the heap back from the log (cold-records.ts), waits for the replica to take
   * commands again, then decides again. A failed commit (or a refold) that rebuilt the fold
   * meanwhile makes what was read stale: its seqs are taken again by other events, and an event
   * read as pending may be undone. Then the records are read again for the fold as it is now.
   */
  async recallThen<T>(
    ids: readonly string[],
    recalled: RecalledSet | undefined,
    again: (more: RecalledSet) => T | Promise<T>,
  ): Promise<T | StoreFailure> {
    const folded = this.host.state();
    let more: RecalledSet | null;
    let missing: IndexedEventMissing | null = null;
    try {
      more = await this.recall(ids, recalled);
    } catch (error) {
      if (this.host.closing()) return CLOSING;
      if (!(error instanceof IndexedEventMissing)) {
        this.host.logger.error({ err: error, ids }, 'reading records back from the log failed');
        return STORE_FAILED;
      }
      // Legitimate only while the fold is being rebuilt: the gate is closed until it is.
      missing = error;
      more = new RecalledSet();
      more.rounds = (recalled?.rounds ?? 0) + 1;
    }
    if (more === null) {
      this.host.logger.error({ ids }, 'records read back from the log kept changing: decision given up');
      return INTERNAL;
    }
    const refused = await this.host.ownLog.admit(0);
    if (refused !== null) return refused;
    if (this.host.state() !== folded) {
      // Decided again from nothing recalled: the decision asks for what the new fold indexes.
      const fresh = new RecalledSet();
      fresh.rounds = more.rounds;
      return again(fresh);
    }
    if (missing !== null) {
      this.host.logger.error(
        { err: missing, ids },
        'an indexed event is neither pending nor stored, and the fold was not rebuilt: a broken invariant; the command is refused',
      );
      return INTERNAL;
    }
    return again(more);
  }

  private recall(ids: readonly string[], recalled: RecalledSet | undefined): Promise<RecalledSet | null> {
    const window = this.host.state().recordWindow;
    return recallRecords(
      {
        store: this.host.store,
        segments: this.recalledSegments,
        pending: () => [this.host.ownLog.inFlight, ...this.host.ownLog.queue, this.host.ownLog.open],
        keyParts: {
          partOf: (key) => window?.debitKeys.partOfChunk(key) ?? window?.refundKeys.partOfChunk(key),
          readChunk: (part, key) => this.host.keySpill.readChunk(part, key),
        },
      },
      ids,
      recalled,
    );
  }
}
