/**
 * The invariants that read the nodes at the end of a run (DESIGN.md §6): S3 durability, S4
 * convergence, S5 conservation, S6 idempotency — pure functions over the scenario, the history and
 * the final state, with the ground rules of checkers.ts (which runs them beside S1, S2 and the rest).
 */
import { balanceOf, type OriginId, parseEventRecordId, regionOf } from '@allot/core';
import type { Scenario } from './api.js';
import { destroyedRanges, inRanges } from './checkers-faults.js';
import { INVARIANT_NAMES } from './invariant-names.js';
import type { FinalState, HistoryRecord, Verdict } from './results.js';
import { quietStartMs } from './timeline.js';
import { Violations } from './violations.js';

/** What the checkers read. */
export interface CheckInput {
  readonly scenario: Scenario;
  readonly history: readonly HistoryRecord[];
  /** The nodes at the end of the run; S3–S6 cannot be checked without it. */
  readonly final?: FinalState | undefined;
}

type DebitRecord = Extract<HistoryRecord, { type: 'debit' }>;
type GrantRecord = Extract<HistoryRecord, { type: 'grant' }>;
type RefundRecord = Extract<HistoryRecord, { type: 'refund' }>;
type HoldRecord = Extract<HistoryRecord, { type: 'hold' }>;
/** An acknowledged operation S3 looks for in the final state. */
type Acknowledged = DebitRecord | GrantRecord | RefundRecord | HoldRecord;

function originOfRecord(id: string): string | null {
  return parseEventRecordId(id)?.origin ?? null;
}

/** What the final state is missing of one acknowledged operation, or null. */
function missingFrom(final: FinalState, record: Acknowledged): string | null {
  const ledger = final.ledger[record.tenant];
  switch (record.type) {
    case 'debit': {
      const id = record.debitId as string;
      const found = ledger?.debits[id];
      if (found === undefined) return `debit ${id} (${record.key}) is missing`;
      if (found.key !== record.key || found.amount !== record.amount)
        return `debit ${id} is now ${found.key} of ${found.amount}, acknowledged as ${record.key} of ${record.amount}`;
      return null;
    }
    case 'grant': {
      const found = ledger?.grants[record.grantId];
      if (found === undefined) return `grant ${record.grantId} is missing`;
      if (found !== record.amount)
        return `grant ${record.grantId} is ${found}, acknowledged as ${record.amount}`;
      return null;
    }
    case 'refund': {
      const id = record.refundId as string;
      const found = ledger?.refunds[id];
      if (found === undefined) return `refund ${id} of ${record.debitId} is missing`;
      if (found.debitId !== record.debitId || found.amount !== record.amount)
        return `refund ${id} is now ${found.amount} of ${found.debitId}, acknowledged as ${record.amount} of ${record.debitId}`;
      return null;
    }
    case 'hold': {
      const id = record.holdId as string;
      const found = ledger?.holds?.[id];
      if (found === undefined) return `hold ${id} (${record.key}) is missing`;
      if (found.amount !== record.amount)
        return `hold ${id} is now of ${found.amount}, acknowledged as ${record.amount}`;
      return null;
    }
  }
}

/** The origin that wrote an acknowledged operation, when the record says. */
function writerOf(record: Acknowledged): string | null {
  switch (record.type) {
    case 'debit':
      return record.debitId === undefined ? null : originOfRecord(record.debitId);
    case 'grant':
      return record.origin ?? null;
    case 'refund':
      return record.refundId === undefined ? null : originOfRecord(record.refundId);
    case 'hold':
      return record.holdId === undefined ? null : originOfRecord(record.holdId);
  }
}

/** Acknowledged operations the final state must hold, with the id each is known by. */
function acknowledgedOperations(history: readonly HistoryRecord[]): Acknowledged[] {
  const out: Acknowledged[] = [];
  for (const record of history) {
    if (record.type === 'debit' && (record.result === 'accepted' || record.result === 'replayed')) {
      if (record.debitId !== undefined) out.push(record);
    } else if (record.type === 'grant' && (record.result === 'accepted' || record.result === 'replayed')) {
      out.push(record);
    } else if (record.type === 'refund' && (record.result === 'accepted' || record.result === 'replayed')) {
      if (record.refundId !== undefined) out.push(record);
    } else if (record.type === 'hold' && (record.result === 'accepted' || record.result === 'replayed')) {
      if (record.holdId !== undefined) out.push(record);
    }
  }
  return out;
}

/** Whether a storage fault destroyed the operation's event before any peer held it (issue 15). */
function destroyedBy(destroyed: Map<string, [number, number][]>, record: Acknowledged): boolean {
  // A grant's record names its origin but not its seq: any destroyed range of that origin may hold it
  // (swarm seed 332: eu lost its WAL while cut off, and with it a grant it had acknowledged).
  if (record.type === 'grant') return record.origin !== undefined && destroyed.has(record.origin);
  const id =
    record.type === 'debit' ? record.debitId : record.type === 'hold' ? record.holdId : record.refundId;
  const parsed = id === undefined ? null : parseEventRecordId(id);
  return parsed !== null && inRanges(destroyed.get(parsed.origin), parsed.seq);
}

/**
 * S3: every acknowledged grant, debit, refund and hold is in the nodes' final state, unchanged — across
 * crashes and restarts. Operations of an incarnation whose disk was lost and that it never
 * replicated are excused (and counted in the note).
 */
export function checkS3(input: CheckInput): Verdict {
  const violations = new Violations();
  const final = input.final;
  if (final === undefined) return notChecked('S3');
  const lost = new Set(final.lostOrigins);
  const destroyed = destroyedRanges(input.history);
  let checked = 0;
  let excused = 0;
  for (const record of acknowledgedOperations(input.history)) {
    checked += 1;
    const missing = missingFrom(final, record);
    if (missing === null) continue;
    const writer = writerOf(record);
    if (writer !== null && (lost.has(writer) || destroyedBy(destroyed, record))) {
      excused += 1;
      continue;
    }
    violations.add(
      record.t,
      `${record.tenant}: acknowledged at ${record.region} at ${record.t} ms, but ${missing}`,
      1,
    );
  }
  const note =
    excused === 0
      ? `${checked} acknowledged operations checked`
      : `${checked} acknowledged operations checked; ${excused} were lost with a disk before they replicated (the risk a retire reports)`;
  return violations.verdict('S3', INVARIANT_NAMES.S3, note);
}

function notChecked(invariant: Verdict['invariant']): Verdict {
  return {
    invariant,
    name: INVARIANT_NAMES[invariant],
    holds: false,
    violations: 1,
    first: { t: 0, detail: 'no final state was recorded: nothing to check against' },
    note: 'not checked',
  };
}

function vectorText(vector: Readonly<Record<string, number>>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(vector).sort(([a], [b]) => (a < b ? -1 : 1))));
}

/**
 * S4: after the last heal and the quiet period, every region runs, all have the same version
 * vector and byte-identical snapshots (the SHA-256 of each snapshot's canonical version vector,
 * log heads and tenant lines), and the time they converged is reported.
 */
export function checkS4(input: CheckInput): Verdict {
  const violations = new Violations();
  const final = input.final;
  if (final === undefined) return notChecked('S4');
  for (const region of final.down) violations.add(final.t, `${region} is not running at the end`, 1);
  const regions = input.scenario.regions.filter((region) => final.regions[region] !== undefined);
  for (const region of input.scenario.regions)
    if (final.regions[region] === undefined && !final.down.includes(region))
      violations.add(final.t, `${region} has no final snapshot`, 1);
  const reference = regions[0];
  if (reference !== undefined) {
    const expected = final.regions[reference] as FinalState['regions'][string];
    for (const region of regions.slice(1)) {
      const other = final.regions[region] as FinalState['regions'][string];
      if (vectorText(other.versionVector) !== vectorText(expected.versionVector)) {
        violations.add(
          final.t,
          `${region} has version vector ${vectorText(other.versionVector)}, ${reference} has ${vectorText(expected.versionVector)}`,
          1,
        );
      } else if (other.snapshotSha256 !== expected.snapshotSha256) {
        violations.add(
          final.t,
          `${region}'s snapshot differs from ${reference}'s at the same version vector`,
          2,
        );
      }
    }
  }
  const converged = [...input.history]
    .reverse()
    .find(
      (record): record is Extract<HistoryRecord, { type: 'converged' }> =>
        record.type === 'converged' && record.final === true,
    );
  if (converged === undefined && violations.count === 0)
    violations.add(final.t, 'no convergence was recorded after the last heal', 1);
  const quietFrom = quietStartMs(input.scenario);
  const note =
    converged === undefined
      ? 'not converged'
      : `converged at ${converged.t} ms, ${converged.afterHealMs} ms after the last heal (${converged.t - quietFrom} ms after the workload, the faults and the expiries ended)`;
  return violations.verdict('S4', INVARIANT_NAMES.S4, note);
}

/**
 * S5: every region's converged balance per tenant is grants − debits + refunds − expired, where
 * grants, debits and client refunds are what was acknowledged (less what a lost disk took; a grant
 * id once, however many regions accepted it, plus what revokes of its duplicates could not take
 * back), refunds
 * also count the automatic refunds of cross-region duplicates, and expired is what the ledger
 * expired. Each column is compared on its own, so the first difference names what leaked.
 */
export function checkS5(input: CheckInput): Verdict {
  const violations = new Violations();
  const final = input.final;
  if (final === undefined) return notChecked('S5');
  const lost = new Set(final.lostOrigins);
  const destroyed = destroyedRanges(input.history);
  const expected = new Map<string, { granted: number; debited: number; refunded: number }>();
  const seen = new Set<string>();
  let excused = 0;
  const of = (tenant: string) => {
    let found = expected.get(tenant);
    if (found === undefined) {
      found = { granted: 0, debited: 0, refunded: 0 };
      expected.set(tenant, found);
    }
    return found;
  };
  for (const record of acknowledgedOperations(input.history)) {
    // A hold moves no total until it ends: its capture is debited (below), its release nothing.
    if (record.result !== 'accepted' || record.type === 'hold') continue;
    const id =
      record.type === 'debit'
        ? record.debitId
        : record.type === 'refund'
          ? record.refundId
          : `grant:${record.grantId}`;
    const key = `${record.tenant}\u0000${id}`;
    if (seen.has(key)) continue;
    const writer = writerOf(record);
    // A damaged disk that destroyed an event before any peer held it may reuse its id (issue 15).
    if (destroyedBy(destroyed, record) && missingFrom(final, record) !== null) {
      excused += 1;
      continue;
    }
    seen.add(key);
    if (writer !== null && lost.has(writer) && missingFrom(final, record) !== null) {
      excused += 1;
      continue;
    }
    const tally = of(record.tenant);
    if (record.type === 'grant') tally.granted += record.amount;
    else if (record.type === 'debit') tally.debited += record.amount;
    else tally.refunded += record.amount;
  }
  for (const [tenant, ledger] of Object.entries(final.ledger)) {
    for (const refund of Object.values(ledger.refunds))
      if (refund.key.startsWith('duplicate-of:')) of(tenant).refunded += refund.amount;
    // Captured holds are debited (issue 12); S7 checks each hold ended once and within its amount.
    for (const hold of Object.values(ledger.holds ?? {}))
      for (const end of hold.ends) of(tenant).debited += end.captured;
    // A grant id counts once: a losing definition adds only what its revokes could not take back
    // (what had expired before, and what is still owed at the bound).
    of(tenant).granted += uncountedDuplicates(ledger);
  }
  for (const [region, state] of Object.entries(final.regions)) {
    const lines = new Map(state.tenants.map((line) => [line.tenant, line]));
    for (const tenant of new Set([...expected.keys(), ...lines.keys()])) {
      const want = of(tenant);
      const line = lines.get(tenant) ?? {
        tenant,
        balance: 0,
        granted: 0,
        debited: 0,
        refunded: 0,
        expired: 0,
      };
      const columns: [string, number, number][] = [
        ['granted', line.granted, want.granted],
        ['debited', line.debited, want.debited],
        ['refunded', line.refunded, want.refunded],
      ];
      for (const [column, has, wants] of columns) {
        if (has !== wants)
          violations.add(
            final.t,
            `${region}, ${tenant}: ${column} is ${has}, the acknowledged operations make ${wants}`,
            Math.abs(has - wants),
          );
      }
      const balance = balanceOf(line);
      if (line.balance !== balance)
        violations.add(
          final.t,
          `${region}, ${tenant}: balance ${line.balance} ≠ granted − debited + refunded − expired = ${balance}`,
          Math.abs(line.balance - balance),
        );
    }
  }
  const note = excused === 0 ? undefined : `${excused} acknowledged operations lost with a disk are left out`;
  return violations.verdict('S5', INVARIANT_NAMES.S5, note);
}

/** The final ledger of one tenant. */
type FinalLedger = FinalState['ledger'][string];

/** The definitions of each grant id, winner first (origin time, then origin, then seq: core's order). */
function definitionsInOrder(
  ledger: FinalLedger,
): [string, NonNullable<FinalLedger['definitions']>[string]][] {
  return Object.entries(ledger.definitions ?? {}).map(([grantId, definitions]) => [
    grantId,
    [...definitions].sort((a, b) =>
      a.at !== b.at ? a.at - b.at : a.origin !== b.origin ? (a.origin < b.origin ? -1 : 1) : a.seq - b.seq,
    ),
  ]);
}

/** Σ over revoked losing grant definitions of their credits less what their revokes took back. */
function uncountedDuplicates(ledger: FinalLedger): number {
  let uncounted = 0;
  for (const [grantId, definitions] of definitionsInOrder(ledger)) {
    for (const loser of definitions.slice(1)) {
      const revokes = (ledger.revokes ?? []).filter(
        (revoke) => revoke.grantId === grantId && revoke.loser === loser.origin,
      );
      // Never revoked: it counts in full at the nodes, and S5 says so (the grant id counts once).
      if (revokes.length === 0) continue;
      uncounted += loser.amount;
      for (const revoke of revokes) uncounted -= revoke.amount;
    }
  }
  return uncounted;
}

/**
 * Conflict answers: each says that another request holds its key, so the final state holds a debit
 * of that key with another amount (the workload sends a key again only with another amount). A
 * conflict answered against a debit whose commit then failed broke this. A region that lost its
 * disk, or whose disk a storage fault damaged, may have lost the debit it answered against, as S3
 * excuses: those are counted, not judged.
 */
function checkConflicts(
  history: readonly HistoryRecord[],
  final: FinalState,
  violations: Violations,
): { conflicts: number; excused: number } {
  const lossy = new Set(final.lostOrigins.map((origin) => regionOf(origin as OriginId)));
  for (const origin of destroyedRanges(history).keys()) lossy.add(regionOf(origin as OriginId));
  let conflicts = 0;
  let excused = 0;
  for (const record of history) {
    if (record.type !== 'debit' || record.result !== 'conflict') continue;
    conflicts += 1;
    const debits = Object.values(final.ledger[record.tenant]?.debits ?? {});
    if (debits.some((debit) => debit.key === record.key && debit.amount !== record.amount)) continue;
    if (lossy.has(record.region)) {
      excused += 1;
      continue;
    }
    violations.add(
      record.t,
      `${record.tenant}: key ${record.key} was answered conflict at ${record.region}, but no debit of another amount holds it`,
      record.amount,
    );
  }
  return { conflicts, excused };
}

/**
 * S6: in the final state, at most one effective debit per idempotency key: over the debits that
 * carry a key, Σ (amount − refunded) is at most one debit's amount; one effective grant per
 * grant id: every definition but the first is revoked, never past what it credited; and every
 * conflict answer names a key another debit holds (checkConflicts).
 */
export function checkS6(input: CheckInput): Verdict {
  const violations = new Violations();
  const final = input.final;
  if (final === undefined) return notChecked('S6');
  let keys = 0;
  let duplicates = 0;
  let grantDuplicates = 0;
  let owed = 0;
  for (const [tenant, ledger] of Object.entries(final.ledger)) {
    // One effective grant per grant id: every losing definition is revoked by its region.
    for (const [grantId, definitions] of definitionsInOrder(ledger)) {
      for (const loser of definitions.slice(1)) {
        grantDuplicates += 1;
        const revokes = (ledger.revokes ?? []).filter(
          (revoke) => revoke.grantId === grantId && revoke.loser === loser.origin,
        );
        if (revokes.length === 0) {
          violations.add(
            final.t,
            `${tenant}: grant ${grantId} is defined at ${definitions[0]?.origin} and at ${loser.origin}, and ${loser.origin}'s definition was never revoked`,
            loser.amount,
          );
          continue;
        }
        const total = revokes[0]?.total ?? 0;
        const charged = revokes.reduce((sum, revoke) => sum + revoke.amount, 0);
        if (charged > total)
          violations.add(
            final.t,
            `${tenant}: grant ${grantId} revoked ${charged}, more than its ${total}`,
            charged - total,
          );
        owed += Math.max(0, total - charged);
      }
    }
    const refunded = new Map<string, number>();
    for (const refund of Object.values(ledger.refunds))
      refunded.set(refund.debitId, (refunded.get(refund.debitId) ?? 0) + refund.amount);
    const byKey = new Map<string, { count: number; charged: number; amount: number }>();
    for (const [debitId, debit] of Object.entries(ledger.debits)) {
      const entry = byKey.get(debit.key) ?? { count: 0, charged: 0, amount: 0 };
      entry.count += 1;
      entry.charged += debit.amount - (refunded.get(debitId) ?? 0);
      entry.amount = Math.max(entry.amount, debit.amount);
      byKey.set(debit.key, entry);
    }
    for (const [key, entry] of byKey) {
      keys += 1;
      if (entry.count > 1) duplicates += 1;
      if (entry.charged > entry.amount)
        violations.add(
          final.t,
          `${tenant}: key ${key} has ${entry.count} debits charging ${entry.charged} in all, more than one debit (${entry.amount})`,
          entry.charged - entry.amount,
        );
    }
  }
  const { conflicts, excused } = checkConflicts(input.history, final, violations);
  return violations.verdict(
    'S6',
    INVARIANT_NAMES.S6,
    `${keys} keys, ${duplicates} taken at more than one region; ${grantDuplicates} grant ids defined at two regions, revoked (${owed} credits still owed at the bound)${conflicts === 0 ? '' : `; ${conflicts} conflict answers, each held by a debit of another amount${excused === 0 ? '' : ` (${excused} excused: the region lost or damaged its disk)`}`}`,
  );
}
