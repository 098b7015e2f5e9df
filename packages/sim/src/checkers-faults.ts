/**
 * The invariants that disks which lie and wires which forge must never break (issue 15), as pure
 * functions over a recorded run, like S1–S6 (checkers.ts):
 * - S8 log uniqueness: never two different events under one (origin, seq), in any store, ever;
 * - S9 no shorter log: at the end every running node holds each origin's log at least as far as
 *   the highest seq that origin acknowledged to a client;
 * - S10 no damaged record served: a node whose disk returns bytes that are not a record's own
 *   (a flipped bit, a misdirected read) refuses to open rather than serve them;
 * - S11 hostile frames change nothing: no forged or refused policy is in force anywhere, and no
 *   store holds events of an origin that no node ever was.
 * What a damaged disk destroyed before any other node held it is excused by S8 and S9 (and by S3,
 * through the disk's origin) exactly as a lost disk is, and counted in the notes.
 */
import { type OriginId, parseEventRecordId, regionOf } from '@allot/core';
import { policyProblem } from '@allot/replica';
import type { Scenario } from './api.js';
import type { FinalState, HistoryRecord, Verdict } from './results.js';
import { Violations } from './violations.js';

/** What the checkers read (the same as checkers.ts's CheckInput). */
interface CheckInput {
  readonly scenario: Scenario;
  readonly history: readonly HistoryRecord[];
  readonly final?: FinalState | undefined;
}

type StorageRecord = Extract<HistoryRecord, { type: 'storage' }>;

/** Damages after which every read of the damaged keys must fail its seal. */
const DETECTABLE = new Set<string>(['corrupt-middle', 'corrupt-end', 'misdirected-read']);

/** Names of the invariants of this file. */
export const FAULT_INVARIANT_NAMES = {
  S8: 'log uniqueness',
  S9: 'no shorter log than acknowledged',
  S10: 'no damaged record served',
  S11: 'hostile frames change nothing',
} as const;

function notChecked(invariant: keyof typeof FAULT_INVARIANT_NAMES): Verdict {
  return {
    invariant,
    name: FAULT_INVARIANT_NAMES[invariant],
    holds: false,
    violations: 1,
    note: 'not checked',
  };
}

/**
 * The last seq of `origin` that the node still has after a storage fault: what the damaged disk
 * kept, or nothing when its replica refused the disk and it started on a new one (swarm seed 1205:
 * ap's disk held us's seq 52, which no other node held, and was replaced; us then reused seq 52) or
 * the disk was lost (swarm seed 22486: eu's lost disk held the only copy of us's seqs 121–158, us
 * having been restored from an old backup; us wrote them again once every peer had confirmed).
 */
function keptAfter(record: StorageRecord, origin: string): number {
  return diskGone(record) ? 0 : (record.kept[origin] ?? 0);
}

/** Whether the fault took the node's disk whole: refused by its replica, or lost. */
function diskGone(record: StorageRecord): boolean {
  return record.outcome === 'refused' || record.outcome === 'lost';
}

/**
 * The seqs (from, held] of each origin that a storage fault took from a node while no other node
 * held them durably, and that their origin may write again. An incarnation no node can write as
 * any more (`record.lost`: its disk lost or replaced) writes no seq again: what of its log is gone
 * everywhere is lost with a disk, as its unreplicated tail is, and counts as that does (swarm seed
 * 3617: eu refused its disk, the last copy of the logs of us and ap, both lost; forgotten as
 * destroyed, ap's grants and moves left the truth while ap's debit past them, which only ap's lost
 * disk held, stayed, and the truth read −25 though no region spent past its rights).
 */
function* destroyedSpans(record: StorageRecord): Generator<[origin: string, from: number, held: number]> {
  const lost = new Set(record.lost ?? []);
  for (const [origin, held] of Object.entries(record.held)) {
    if (lost.has(origin)) continue;
    const from = Math.max(keptAfter(record, origin), record.elsewhere[origin] ?? 0);
    if (held > from) yield [origin, from, held];
  }
}

/**
 * The seqs (from, held] of each incarnation lost with this fault (`record.lost`) that no other node
 * held durably: they stay in the true ledger (lost with a disk, as acknowledged writes of a lost
 * disk are), but no live node can ever receive them, so rights they moved to other origins can
 * never be spent (TrueLedger.unreceivable).
 */
export function* lostSpans(record: StorageRecord): Generator<[origin: string, from: number, held: number]> {
  for (const origin of record.lost ?? []) {
    const held = record.held[origin] ?? 0;
    const from = Math.max(keptAfter(record, origin), record.elsewhere[origin] ?? 0);
    if (held > from) yield [origin, from, held];
  }
}

/**
 * Per origin, the seq ranges (from, to] that a storage fault took from a node while no other node
 * held them durably and that their origin may write again (destroyedSpans): gone for good.
 */
export function destroyedRanges(history: readonly HistoryRecord[]): Map<string, [number, number][]> {
  const ranges = new Map<string, [number, number][]>();
  for (const record of history) {
    if (record.type !== 'storage') continue;
    for (const [origin, from, held] of destroyedSpans(record))
      ranges.set(origin, [...(ranges.get(origin) ?? []), [from, held]]);
  }
  return ranges;
}

/**
 * When a node first restarted on a damaged disk whose destroyed seqs it then reused with other
 * events (the final `written` shows two events under one of them), or null. From then on the true
 * ledger, which folds each (origin, seq) once, misses the reused seqs' new events: S2's per-origin
 * observations after it are not evidence, and S2 says how many it left out.
 */
export function reusedSince(input: CheckInput): number | null {
  const written = input.final?.written;
  if (written === undefined) return null;
  let since: number | null = null;
  for (const record of input.history) {
    if (record.type !== 'storage') continue;
    for (const [origin, from, held] of destroyedSpans(record)) {
      const log = written[origin] ?? [];
      for (let seq = from + 1; seq <= held; seq++) {
        if ((log[seq - 1]?.length ?? 0) > 1) {
          since = since === null ? record.t : Math.min(since, record.t);
          break;
        }
      }
    }
  }
  return since;
}

/**
 * Per incarnation lost with its disk: when a storage fault destroyed events of another origin that
 * its disk had held, the fault that took that disk included (swarm seed 2132: ap's disk was the
 * last copy of six of us's events when it was lost). It folded them and spent what they moved to it; its own events that other
 * nodes hold stay in the true ledger while the destroyed ones leave it, so its rights there read
 * below zero though it never spent past what it knew of (swarm seed 14785: us lost its disk, which
 * held ap's log up to seq 97; ap was then restored from a backup that kept 57 while the others held
 * 68, and from then on us's lost incarnation read 285 past its rights on tenant-0, and nothing
 * else did). A lost incarnation writes nothing more: S2's observations of it after that time only
 * weigh its past spending against a ledger that lost what it was given.
 */
export function destroyedFoldedSince(history: readonly HistoryRecord[]): Map<string, number> {
  const heldByLost = new Map<string, Readonly<Record<string, number>>>();
  const since = new Map<string, number>();
  for (const record of history) {
    if (record.type !== 'storage') continue;
    if (diskGone(record))
      for (const incarnation of record.lost ?? [])
        if (regionOf(incarnation as OriginId) === record.region) heldByLost.set(incarnation, record.held);
    for (const [origin, from] of destroyedSpans(record))
      for (const [incarnation, held] of heldByLost)
        if ((held[origin] ?? 0) > from && !since.has(incarnation)) since.set(incarnation, record.t);
  }
  return since;
}

/** Whether `seq` is in one of `ranges` (from, to]. */
export function inRanges(ranges: readonly [number, number][] | undefined, seq: number): boolean {
  return ranges?.some(([from, to]) => seq > from && seq <= to) ?? false;
}

/** S8: never two different events under one (origin, seq) in any store. */
export function checkS8(input: CheckInput): Verdict {
  const written = input.final?.written;
  if (input.final === undefined || written === undefined) return notChecked('S8');
  const found = new Violations();
  const destroyed = destroyedRanges(input.history);
  let events = 0;
  let excused = 0;
  for (const [origin, log] of Object.entries(written)) {
    log.forEach((hashes, index) => {
      events += 1;
      if (hashes.length <= 1) return;
      const seq = index + 1;
      if (inRanges(destroyed.get(origin), seq)) {
        excused += 1;
        return;
      }
      found.add(
        input.final?.t ?? 0,
        `${origin} seq ${seq}: ${hashes.length} different events stored (${hashes.join(', ')})`,
        hashes.length,
      );
    });
  }
  const note =
    excused === 0
      ? `${events} (origin, seq) checked`
      : `${events} (origin, seq) checked; ${excused} reused after a damaged disk destroyed them before any peer held them`;
  return found.verdict('S8', FAULT_INVARIANT_NAMES.S8, note);
}

/** The highest seq each origin acknowledged to a client (debits and refunds name theirs). */
function acknowledgedSeqs(history: readonly HistoryRecord[]): Map<string, { seq: number; t: number }> {
  const out = new Map<string, { seq: number; t: number }>();
  for (const record of history) {
    const id =
      record.type === 'debit' && (record.result === 'accepted' || record.result === 'replayed')
        ? record.debitId
        : record.type === 'refund' && (record.result === 'accepted' || record.result === 'replayed')
          ? record.refundId
          : undefined;
    if (id === undefined) continue;
    const parsed = parseEventRecordId(id);
    if (parsed === null) continue;
    const known = out.get(parsed.origin);
    if (known === undefined || parsed.seq > known.seq)
      out.set(parsed.origin, { seq: parsed.seq, t: record.t });
  }
  return out;
}

/** S9: every running node ends holding each origin's log as far as that origin acknowledged. */
export function checkS9(input: CheckInput): Verdict {
  const final = input.final;
  if (final === undefined) return notChecked('S9');
  const found = new Violations();
  const lost = new Set(final.lostOrigins);
  const destroyed = destroyedRanges(input.history);
  let checked = 0;
  for (const [origin, acked] of acknowledgedSeqs(input.history)) {
    if (lost.has(origin)) continue;
    // What a damaged disk destroyed before any peer held it cannot be held anywhere.
    let needed = acked.seq;
    while (needed > 0 && inRanges(destroyed.get(origin), needed)) needed -= 1;
    for (const [region, state] of Object.entries(final.regions)) {
      checked += 1;
      const holds = state.versionVector[origin] ?? 0;
      if (holds < needed)
        found.add(
          acked.t,
          `${region} ends with ${origin} at seq ${holds}, though it acknowledged seq ${needed}`,
          needed - holds,
        );
    }
  }
  return found.verdict('S9', FAULT_INVARIANT_NAMES.S9, `${checked} (region, origin) pairs checked`);
}

/** S10: a disk that returns bytes not a record's own never gets them served: the node refuses to open. */
export function checkS10(input: CheckInput): Verdict {
  const found = new Violations();
  const storage = input.history.filter((record): record is StorageRecord => record.type === 'storage');
  let damaged = 0;
  for (const record of storage) {
    if (!DETECTABLE.has(record.damage) || record.damagedKeys.length === 0) continue;
    damaged += 1;
    if (record.outcome === 'opened')
      found.add(
        record.t,
        `${record.region} opened on a disk whose ${record.damagedKeys.join(', ')} read back wrong (${record.detail})`,
        1,
      );
  }
  return found.verdict('S10', FAULT_INVARIANT_NAMES.S10, `${damaged} restarts on damaged records checked`);
}

/** S11: no forged or refused policy in force anywhere, no events of an origin no node ever was. */
export function checkS11(input: CheckInput): Verdict {
  const final = input.final;
  if (final === undefined || final.hostile === undefined || final.written === undefined)
    return notChecked('S11');
  const found = new Violations();
  const forged = new Set(final.hostile.forgedPolicies);
  for (const [region, policies] of Object.entries(final.hostile.policies)) {
    for (const [tenant, text] of Object.entries(policies)) {
      if (text === null) continue;
      if (forged.has(text)) found.add(final.t, `${region} has the forged policy ${text} for ${tenant}`, 2);
      else {
        const problem = policyProblem(JSON.parse(text) as unknown);
        if (problem !== null)
          found.add(final.t, `${region} has a policy the API refuses for ${tenant}: ${problem}`, 1);
      }
    }
  }
  const known = new Set([
    ...Object.values(final.regions).map((region) => region.origin),
    ...final.lostOrigins,
  ]);
  for (const origin of acknowledgedSeqs(input.history).keys()) known.add(origin);
  for (const record of input.history)
    if (record.type === 'grant' && record.origin !== undefined) known.add(record.origin);
  for (const origin of Object.keys(final.written)) {
    if (!known.has(origin))
      found.add(final.t, `a store holds events of ${origin}, which no node ever was`, 3);
  }
  return found.verdict('S11', FAULT_INVARIANT_NAMES.S11, `${final.hostile.tampered} frames tampered with`);
}

/** S8–S11, in order. */
export function checkFaultInvariants(input: CheckInput): Verdict[] {
  return [checkS8(input), checkS9(input), checkS10(input), checkS11(input)];
}
