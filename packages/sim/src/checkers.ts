/**
 * The invariants S1–S6 (DESIGN.md §6) as pure functions over a recorded run: the scenario, the
 * history, and the nodes' final state. They read nothing else, so the same checkers serve the
 * simulator and the real-process tests, and a saved run can be re-checked. Each returns a Verdict
 * with the number of violations, the first and the worst.
 *
 * Ground rules shared by the checkers:
 * - "acknowledged" is what the history says a client heard: `accepted` (and `replayed`) answers;
 * - the true ledger (the `ledger` figures recorded with answers and samples) is the fold of every
 *   event made durable anywhere, including events a lost disk took with it;
 * - a lost disk (a `disk-loss` fault) takes with it what its incarnation never replicated: such
 *   acknowledged operations are excused by S3 and S5 and counted in their notes (DESIGN.md §1:
 *   the risk that `retire` reports), never hidden.
 */
import { parseEventRecordId } from '@allot/core';
import type { Scenario, TenantSpec } from './api.js';
import { overdraftBound, regionOverdraftMax } from './bounds.js';
import {
  checkFaultInvariants,
  destroyedFoldedSince,
  destroyedRanges,
  inRanges,
  reusedSince,
} from './checkers-faults.js';
import { type CheckInput, checkS3, checkS4, checkS5, checkS6 } from './checks-final.js';
import { issue12Checks } from './checks-issue12.js';
import { INVARIANT_NAMES } from './invariant-names.js';
import type { LedgerFigures, Verdict } from './results.js';
import { Violations } from './violations.js';

export { type CheckInput, checkS3, checkS4, checkS5, checkS6, INVARIANT_NAMES };

function specOf(scenario: Scenario, tenant: string): TenantSpec | undefined {
  return scenario.tenants.find((spec) => spec.tenant === tenant);
}

function boundOf(scenario: Scenario, tenant: string): number {
  const spec = specOf(scenario, tenant);
  return spec === undefined ? 0 : overdraftBound(spec);
}

/** The largest overdraft region `region` is ever allowed for `tenant`. */
function regionOverdraft(scenario: Scenario, tenant: string, region: string): number {
  return regionOverdraftMax(specOf(scenario, tenant), region);
}

/**
 * S1: at every acknowledgement, per tenant, acknowledged debits − refunds ≤ grants − expired +
 * Σ overdraft (refunds, grants and expiries from the true ledger at that instant: automatic
 * duplicate refunds and expiries are the system's own acts); and at every sample the true balance
 * is at least −Σ overdraft. An acknowledged grant that storage faults later destroyed everywhere
 * (the record's `destroyedGrants`) leaves the true ledger but still counts here, as DESIGN.md's
 * "acknowledged grants" say: the client bought it, and what was spent of it before it was destroyed
 * was covered (swarm seed 1303: ap's grant of 3,126, held by eu and us, went with eu's lost disk,
 * us's refused one and ap's old backup; the debits its rights paid stayed, and the truth read
 * −2,017 though no region spent past its rights).
 */
export function checkS1(input: CheckInput): Verdict {
  const violations = new Violations();
  const acknowledged = new Map<string, { debited: number; granted: number; refunded: number }>();
  const lastSample = new Map<string, LedgerFigures>();
  const counted = new Set<string>();
  /** Acknowledged debits by id (those a damaged disk destroyed before any peer held them leave). */
  const debits = new Map<string, { tenant: string; amount: number }>();
  let excused = 0;
  let retiredRisk = 0;
  /** Grants a client was told of (accepted or replayed), as tenant NUL grantId. */
  const grantsTold = new Set<string>();
  /** Per tenant: acknowledged grants storage faults destroyed, which S1 still counts. */
  const destroyedGranted = new Map<string, number>();
  const destroyedOf = (tenant: string) => destroyedGranted.get(tenant) ?? 0;
  let checks = 0;
  const tally = (tenant: string) => {
    let found = acknowledged.get(tenant);
    if (found === undefined) {
      found = { debited: 0, granted: 0, refunded: 0 };
      acknowledged.set(tenant, found);
    }
    return found;
  };
  for (const record of input.history) {
    switch (record.type) {
      case 'grant':
        if (record.result === 'accepted') tally(record.tenant).granted += record.amount;
        if (record.result === 'accepted' || record.result === 'replayed')
          grantsTold.add(`${record.tenant}\u0000${record.grantId}`);
        break;
      case 'refund':
        if (record.result === 'accepted') tally(record.tenant).refunded += record.amount;
        break;
      case 'storage': {
        // Acknowledged debits a damaged disk destroyed before any peer held them are gone (issue 15,
        // swarm seed 276): the rights they spent are spent again, as after a lost disk. They no
        // longer count here, nor in the true ledger's figures (TrueLedger.forget).
        const ranges = destroyedRanges([record]);
        for (const [id, debit] of debits) {
          const parsed = parseEventRecordId(id);
          if (parsed === null || !inRanges(ranges.get(parsed.origin), parsed.seq)) continue;
          tally(debit.tenant).debited -= debit.amount;
          debits.delete(id);
          counted.delete(id);
          excused += 1;
        }
        for (const grant of record.destroyedGrants ?? []) {
          // Counted once per grant id: a grant written again after it was destroyed is a new event.
          if (!grantsTold.delete(`${grant.tenant}\u0000${grant.grantId}`)) continue;
          destroyedGranted.set(grant.tenant, destroyedOf(grant.tenant) + grant.amount);
        }
        break;
      }
      case 'retire': {
        // An operator retired a lost incarnation through `through` (issue 11): the debits it
        // acknowledged past that seq and never replicated are the risk the retire reports. The
        // rights they spent moved to its successor and are spent again, so they no longer count,
        // and the true ledger, which still folds them, may go that much lower. Nothing else is.
        if (record.result !== 'retired' || record.through === undefined) break;
        for (const [id, debit] of debits) {
          const parsed = parseEventRecordId(id);
          if (parsed === null || parsed.origin !== record.origin || parsed.seq <= record.through) continue;
          tally(debit.tenant).debited -= debit.amount;
          debits.delete(id);
          counted.delete(id);
          retiredRisk += 1;
        }
        break;
      }
      case 'sample': {
        if (record.ledger !== undefined) lastSample.set(record.tenant, record.ledger);
        const bound = record.overdraftBound ?? boundOf(input.scenario, record.tenant);
        checks += 1;
        const destroyed = destroyedOf(record.tenant);
        if (record.truth + destroyed < -bound) {
          const beside = destroyed === 0 ? '' : ` (+ ${destroyed} of acknowledged grants destroyed)`;
          violations.add(
            record.t,
            `${record.tenant}: the true balance is ${record.truth}${beside}, below −Σ overdraft (−${bound})`,
            -bound - record.truth - destroyed,
          );
        }
        break;
      }
      case 'debit': {
        if (record.result !== 'accepted') break;
        const key =
          record.debitId ?? `${record.tenant}\u0000${record.key}\u0000${record.region}\u0000${record.t}`;
        if (counted.has(key)) break;
        counted.add(key);
        if (record.debitId !== undefined)
          debits.set(record.debitId, { tenant: record.tenant, amount: record.amount });
        const mine = tally(record.tenant);
        mine.debited += record.amount;
        const sample = lastSample.get(record.tenant);
        const figures: LedgerFigures = record.ledger ?? {
          granted: Math.max(mine.granted, sample?.granted ?? 0),
          debited: mine.debited,
          refunded: Math.max(mine.refunded, sample?.refunded ?? 0),
          expired: sample?.expired ?? 0,
        };
        const bound = boundOf(input.scenario, record.tenant);
        const spent = mine.debited - figures.refunded;
        // Without the truth's figures the acknowledged grants stand in, destroyed ones among them.
        const destroyed = record.ledger === undefined ? 0 : destroyedOf(record.tenant);
        const allowed = figures.granted + destroyed - figures.expired + bound;
        checks += 1;
        if (spent > allowed) {
          violations.add(
            record.t,
            `${record.tenant}: acknowledged debits ${mine.debited} − refunds ${figures.refunded} = ${spent} > grants ${figures.granted}${destroyed === 0 ? '' : ` + destroyed ${destroyed}`} − expired ${figures.expired} + overdraft ${bound} = ${allowed} (after ${record.key} at ${record.region})`,
            spent - allowed,
          );
        }
        break;
      }
      default:
        break;
    }
  }
  const notes = [`${checks} instants checked`];
  if (excused > 0)
    notes.push(
      `${excused} acknowledged debits a damaged disk destroyed before any peer held them no longer count`,
    );
  const destroyedTotal = [...destroyedGranted.values()].reduce((sum, amount) => sum + amount, 0);
  if (destroyedTotal > 0)
    notes.push(
      `${destroyedTotal} credits of acknowledged grants that storage faults destroyed still count as granted`,
    );
  if (retiredRisk > 0)
    notes.push(
      `${retiredRisk} acknowledged debits of retired incarnations past their retired seq no longer count (the risk each retire reported)`,
    );
  return violations.verdict('S1', INVARIANT_NAMES.S1, notes.join('; '));
}

/**
 * S2: no origin spent beyond the rights it knew of plus its overdraft. Checked on the true ledger:
 * an origin's true rights on a grant are at least what it knew of (moves to it only add), so they
 * are never negative unless it spent rights that did not exist; and its overdraft in use never
 * exceeds the most its region was ever allowed.
 */
export function checkS2(input: CheckInput): Verdict {
  const violations = new Violations();
  let observations = 0;
  let skipped = 0;
  let unfolded = 0;
  const reused = reusedSince(input);
  const folded = destroyedFoldedSince(input.history);
  for (const record of input.history) {
    if (record.type !== 'sample' || record.origins === undefined) continue;
    if (reused !== null && record.t >= reused) {
      skipped += Object.keys(record.origins).length;
      continue;
    }
    for (const [origin, seen] of Object.entries(record.origins)) {
      const lostFolded = folded.get(origin);
      if (lostFolded !== undefined && record.t >= lostFolded) {
        unfolded += 1;
        continue;
      }
      observations += 1;
      if (seen.rightsMin < 0) {
        violations.add(
          record.t,
          `${origin} spent ${-seen.rightsMin} beyond its rights on a grant of ${record.tenant}`,
          -seen.rightsMin,
        );
      }
      const allowed = regionOverdraft(input.scenario, record.tenant, seen.region);
      if (seen.overdraftInUseMax > allowed) {
        violations.add(
          record.t,
          `${origin} had ${seen.overdraftInUseMax} of overdraft in use for ${record.tenant}, more than the ${allowed} ever allowed to ${seen.region}`,
          seen.overdraftInUseMax - allowed,
        );
      }
    }
  }
  let note =
    observations === 0 ? 'no per-origin observations in the history' : `${observations} observations`;
  if (skipped > 0)
    note += `; ${skipped} after ${reused} ms left out: a damaged disk's destroyed seqs were reused, which the true ledger cannot fold`;
  if (unfolded > 0)
    note += `; ${unfolded} of ${[...folded.keys()].join(', ')} left out: incarnations lost with their disks, after events they had folded were destroyed everywhere`;
  return violations.verdict('S2', INVARIANT_NAMES.S2, note);
}

/** S1–S6 in order, then the checks of issue 12 (checks-issue12.ts) and of issue 15 (checkers-faults.ts). */
export function checkAll(input: CheckInput): Verdict[] {
  return [
    checkS1(input),
    checkS2(input),
    checkS3(input),
    checkS4(input),
    checkS5(input),
    checkS6(input),
    ...issue12Checks(input),
    ...checkFaultInvariants(input),
  ];
}
