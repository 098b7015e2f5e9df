/**
 * Log recovery at open (DESIGN.md §2): every stored log is read back segment by segment, each
 * segment's hash chain checked (one hash per segment), its events decoded, checked for their place
 * and shape, and folded, each log's end checked against its stored head, and this node's own head
 * signature verified with its key; the control document is rebuilt
 * from its kept updates. Anything wrong rejects with a ReplicaOpenError that names it rather than
 * serve a wrong balance. Reads only: the replica installs what this returns.
 */
import {
  applyCheckedEvent,
  type CheckpointHead,
  createLedgerState,
  debitsOfKey,
  decodedEventProblem,
  decodeSegment,
  type LedgerEvent,
  type LedgerState,
  NOTHING_RECALLED,
  type OriginId,
  type RecordWindowOptions,
  SegmentError,
} from '@allot/core';
import { loadNewestCheckpoint } from './checkpoints.js';
import { ControlDocument } from './control.js';
import { storedEventTime } from './event-time.js';
import { RECOVERY_PAGE_SEGMENTS } from './limits.js';
import { headSigningBytes, segmentHash, signatureKept, ZERO_HASH } from './log.js';
import { ReplicaOpenError } from './open-error.js';
import type { Crypto, Logger, LogHead, Rng, Store, StoredSegment } from './ports.js';
import { sameBytes } from './values.js';

/** What a store holds, verified: the fold of every log, each log's head, the control document. */
export interface RecoveredStore {
  readonly state: LedgerState;
  readonly heads: Map<OriginId, LogHead>;
  readonly control: ControlDocument;
  /** The total of the checkpoint the fold started from; null: folded from the first event. */
  readonly checkpoint: number | null;
  /** Events folded from the logs (after the checkpoint, if any). */
  readonly folded: number;
  /**
   * Each tenant's idempotency keys taken by more than one debit (see `keysTakenTwice`): the
   * cross-region duplicates whose refund this node may owe. Every tenant is listed (repay and
   * expiry are owed per tenant), with the keys of its duplicates, none for most.
   */
  readonly duplicateKeys: Map<string, Set<string>>;
  /** The key-index parts on disk the checkpoint refers to (format 3; none: none or no checkpoint). */
  readonly checkpointParts: readonly string[];
}

type RecoveryPorts = {
  readonly store: Store;
  readonly crypto: Crypto;
  readonly rng: Rng;
  readonly logger: Logger;
};

/**
 * Reads and verifies everything in the store of the node whose current incarnation is `origin`;
 * the fold keeps `recordWindow`'s records on the heap (issue 18), all when absent. It starts from
 * the newest checkpoint that verifies (checkpoints.ts) and folds only each log's tail after it,
 * chained from the head hash the checkpoint recorded; a tail that does not continue from it falls
 * back to the whole log, with one warn line. With `retired` (issue 11: a retired incarnation's
 * events past its retired seq count nowhere, and the store may hold some that came before the
 * retire did) it folds no event of such an origin past that seq (from a checkpoint only when that
 * holds none of them), and gives that log's head at that seq.
 */
export async function recoverStore(
  ports: RecoveryPorts,
  cluster: string,
  origin: OriginId,
  recordWindow?: RecordWindowOptions,
  retired: ReadonlyMap<OriginId, number> = new Map(),
): Promise<RecoveredStore> {
  const storedHeads = await ports.store.heads();
  const byOrigin = new Map(storedHeads.map((head) => [head.origin, head]));
  const checkpoint = await loadNewestCheckpoint(ports, cluster, byOrigin, recordWindow, retired);
  if (checkpoint !== null && checkpoint.version < 2) {
    // Format 1 holds no newest event time: the latest of the logs' heads at its vector (an
    // origin's times rise with its seq), so that retention sweeps stay what the vector implies.
    for (const [at, head] of checkpoint.heads) {
      const time = await storedEventTime(ports.store, at, head.seq);
      if (time > checkpoint.state.newestAt) checkpoint.state.newestAt = time;
    }
  }
  let folded: Awaited<ReturnType<typeof foldLogs>> | null = null;
  let from: number | null = null;
  if (checkpoint !== null) {
    try {
      folded = await foldLogs(
        ports,
        cluster,
        origin,
        storedHeads,
        checkpoint.state,
        checkpoint.heads,
        retired,
        keysTakenTwice(checkpoint.state),
      );
      from = checkpoint.total;
    } catch (error) {
      if (!(error instanceof ReplicaOpenError)) throw error;
      ports.logger.warn(
        { total: checkpoint.total, problem: error.message },
        'the logs do not continue from the checkpoint: folding the whole log',
      );
    }
  }
  folded ??= await foldLogs(
    ports,
    cluster,
    origin,
    storedHeads,
    createLedgerState(recordWindow === undefined ? {} : { recordWindow }),
    new Map(),
    retired,
    new Map(),
  );
  if (from !== null)
    ports.logger.info(
      { checkpoint: from, tailEvents: folded.events },
      'fold rebuilt from a checkpoint and the tails after it',
    );
  const control = new ControlDocument(ports.rng.nextUint32());
  for (const update of await ports.store.readControl()) control.applyUpdate(update);
  for (const { key, problem } of control.audit()) {
    ports.logger.warn({ key, problem }, 'stored control entry breaks the policy rule: read as the default');
  }
  for (const [cut, head] of folded.capped) byOrigin.set(cut, head);
  return {
    state: folded.state,
    heads: byOrigin,
    control,
    checkpoint: from,
    folded: folded.events,
    duplicateKeys: folded.duplicateKeys,
    checkpointParts: from === null ? [] : (checkpoint?.parts ?? []),
  };
}

/**
 * Every tenant of `state`, each with the idempotency keys its in-memory records hold more than one
 * debit of. What a node does about a cross-region duplicate (the refund by the region that took
 * the later debit, DESIGN.md §3) is decided when the duplicate's events are folded, and waits in
 * memory while the node is not writable: a crash then loses it, and the restarted node, which
 * folds those events from its own disk, never receives them again (swarm seed 1560: eu folded
 * ap's debit of a key it had also taken while restarting, crashed again before it was writable,
 * and never refunded its own). So a start hands every duplicate it folds back to that decision.
 */
function keysTakenTwice(state: LedgerState): Map<string, Set<string>> {
  const keys = new Map<string, Set<string>>();
  for (const [tenant, ledger] of state.tenants) {
    const twice = new Set<string>();
    for (const [key, ids] of ledger.debitsByKey ?? []) if (ids.length > 1) twice.add(key);
    keys.set(tenant, twice);
  }
  return keys;
}

/**
 * Notes in `duplicateKeys` a debit about to be folded whose key an earlier debit folded here
 * already took (in memory, or in the key index of records off the heap: issue 18; a fingerprint
 * collision only adds a key that the refund decision finds has no duplicate).
 */
function noteDuplicateKey(
  state: LedgerState,
  event: LedgerEvent,
  duplicateKeys: Map<string, Set<string>>,
): void {
  if (event.kind !== 'debit') return;
  const ledger = state.tenants.get(event.tenant);
  if (ledger === undefined) return;
  const found = debitsOfKey(ledger, event.idempotencyKey, NOTHING_RECALLED);
  if (found.records.length === 0 && found.recall.length === 0) return;
  const keys = duplicateKeys.get(event.tenant) ?? new Set<string>();
  keys.add(event.idempotencyKey);
  duplicateKeys.set(event.tenant, keys);
}

/**
 * Folds every stored log into `state` from where `from` says it stands (seq and head hash; from
 * the start for an origin it does not name), checking each segment's chain, decoding, checking
 * and folding its events, each log's end against its head, and this node's head signature.
 *
 * Logs are folded one after another, but a capture or release may end a hold that another log
 * holds: one of an earlier incarnation of its region (a new incarnation settles, at expiry, the
 * holds its lost one took). A log whose next event ends a hold not folded yet waits, and the
 * others go on; it resumes once they are through. One that still waits when no other log can move
 * names the hold (swarm seed 156 of the holds swarm: ap could not open, its fold of eu's new
 * incarnation came before eu's lost one's hold).
 */
async function foldLogs(
  ports: RecoveryPorts,
  cluster: string,
  origin: OriginId,
  storedHeads: readonly LogHead[],
  state: LedgerState,
  from: ReadonlyMap<OriginId, CheckpointHead>,
  retired: ReadonlyMap<OriginId, number>,
  duplicateKeys: Map<string, Set<string>>,
): Promise<{
  state: LedgerState;
  events: number;
  capped: Map<OriginId, LogHead>;
  duplicateKeys: Map<string, Set<string>>;
}> {
  const tally = { events: 0 };
  /** Heads of retired logs at their retired seq: what this node holds of them, as every node counts. */
  const capped = new Map<OriginId, LogHead>();
  let waiting = storedHeads.map((head) => new LogFold(head, from.get(head.origin), retired.get(head.origin)));
  while (waiting.length > 0) {
    const still: LogFold[] = [];
    for (const log of waiting) {
      const blocked = await log.fold(ports, state, duplicateKeys, capped, tally);
      if (blocked === null) log.finish(ports, cluster, origin);
      else still.push(log);
    }
    if (still.length === waiting.length) {
      const first = still[0] as LogFold;
      throw new ReplicaOpenError(`${first.blockedAt()}: no stored log holds the hold it ends`);
    }
    waiting = still;
  }
  for (const tenant of state.tenants.keys())
    if (!duplicateKeys.has(tenant)) duplicateKeys.set(tenant, new Set());
  return { state, events: tally.events, capped, duplicateKeys };
}

/** True when `event` ends a hold that `state` does not hold (yet). */
function endsUnknownHold(state: LedgerState, event: LedgerEvent): boolean {
  if (event.kind !== 'capture' && event.kind !== 'release') return false;
  return state.tenants.get(event.tenant)?.holds?.get(event.holdId) === undefined;
}

/** One stored log being folded at open, resumable where an event waits for a hold (foldLogs). */
class LogFold {
  private previous: Uint8Array;
  private seq: number;
  /** The segments read and not folded yet, and the decoded events of the first, from `next`. */
  private page: StoredSegment[] = [];
  private events: readonly LedgerEvent[] | null = null;
  private hash: Uint8Array | null = null;
  private next = 0;

  constructor(
    private readonly head: LogHead,
    start: CheckpointHead | undefined,
    private readonly cap: number | undefined,
  ) {
    this.previous = start?.hash ?? ZERO_HASH;
    this.seq = start?.seq ?? 0;
  }

  /** Where this log waits: its next event. */
  blockedAt(): string {
    return `log ${this.head.origin} seq ${this.events?.[this.next]?.seq ?? this.seq + 1}`;
  }

  /**
   * Folds on until the log's end (null) or an event that ends a hold `state` does not hold yet
   * (that event; `fold` resumes at it).
   */
  async fold(
    ports: RecoveryPorts,
    state: LedgerState,
    duplicateKeys: Map<string, Set<string>>,
    capped: Map<OriginId, LogHead>,
    tally: { events: number },
  ): Promise<LedgerEvent | null> {
    const { head, cap } = this;
    if (cap !== undefined && cap < head.seq && cap === 0)
      capped.set(head.origin, { origin: head.origin, seq: 0, hash: ZERO_HASH, signature: null });
    while (this.seq < head.seq || this.page.length > 0) {
      if (this.page.length === 0) {
        this.page = await ports.store.readSegments(head.origin, this.seq + 1, RECOVERY_PAGE_SEGMENTS);
        if (this.page.length === 0) break;
      }
      const segment = this.page[0] as StoredSegment;
      if (this.events === null) this.open(ports, segment);
      const events = this.events as readonly LedgerEvent[];
      for (; this.next < events.length; this.next++) {
        const event = events[this.next] as LedgerEvent;
        if (event.seq > (cap ?? event.seq)) continue;
        if (endsUnknownHold(state, event)) return event;
        noteDuplicateKey(state, event, duplicateKeys);
        if (applyCheckedEvent(state, event) !== 'applied')
          throw new ReplicaOpenError(`log ${head.origin} seq ${event.seq}: not applicable`);
        tally.events += 1;
      }
      this.previous = this.hash as Uint8Array;
      this.seq = segment.lastSeq;
      this.page.shift();
      this.events = null;
      this.hash = null;
      this.next = 0;
      if (cap !== undefined && cap < head.seq && this.seq === cap)
        capped.set(head.origin, {
          origin: head.origin,
          seq: this.seq,
          hash: segment.hash,
          signature: signatureKept(segment.signature) ? segment.signature : null,
        });
    }
    return null;
  }

  /** Checks `segment`'s place and chain, and decodes and checks its events. */
  private open(ports: RecoveryPorts, segment: StoredSegment): void {
    const origin = this.head.origin;
    const where = `log ${origin} seq ${this.seq + 1}`;
    if (segment.origin !== origin || segment.firstSeq !== this.seq + 1) {
      throw new ReplicaOpenError(`${where}: found segment ${segment.origin} seq ${segment.firstSeq} instead`);
    }
    const hash = segmentHash(ports.crypto, this.previous, segment.bytes);
    if (!sameBytes(hash, segment.hash)) throw new ReplicaOpenError(`${where}: hash chain broken`);
    let decoded: ReturnType<typeof decodeSegment>['events'];
    try {
      decoded = decodeSegment(segment.bytes).events;
    } catch (error) {
      if (error instanceof SegmentError) throw new ReplicaOpenError(`${where}: ${error.message}`);
      throw error;
    }
    for (const event of decoded) {
      const problem = decodedEventProblem(event);
      if (problem !== null)
        throw new ReplicaOpenError(`log ${origin} seq ${event.seq}: malformed event: ${problem}`);
    }
    this.events = decoded;
    this.hash = hash;
    this.next = 0;
  }

  /** The log is folded: its end must be its head, and this node's own head must verify. */
  finish(ports: RecoveryPorts, cluster: string, origin: OriginId): void {
    const { head } = this;
    if (this.seq !== head.seq || !sameBytes(this.previous, head.hash)) {
      throw new ReplicaOpenError(`log ${head.origin}: ends at seq ${this.seq}, its head says ${head.seq}`);
    }
    if (head.origin !== origin) return;
    const { crypto } = ports;
    const signed =
      head.signature !== null &&
      crypto.verify(
        crypto.publicKey,
        headSigningBytes(cluster, head.origin, head.seq, head.hash),
        head.signature,
      );
    if (!signed)
      throw new ReplicaOpenError(`log ${head.origin}: head signature does not verify with this node's key`);
  }
}
