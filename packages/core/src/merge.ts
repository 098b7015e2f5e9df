/**
 * State merge: per-cell max (each cell has one writer and only grows), union of debit and refund
 * records, pointwise max of version vectors. merge(fold(P), fold(Q)) = fold(P ∪ Q) for log
 * prefixes P and Q, which the properties check.
 */
import { invariant } from './amount.js';
import { canonicalJson } from './canonical.js';
import { GRANT_CELLS, TENANT_CELLS } from './cell-codes.js';
import {
  forEachMoved,
  forEachRetired,
  grantCellAt,
  movedAt,
  retiredAt,
  setGrantCell,
  setMovedAt,
  setRetiredAt,
  setTenantCell,
  tenantCellAt,
} from './cells.js';
import { recordDebit, recordHold, recordRefund, recordRevoke } from './fold.js';
import { addDefinition } from './grant-terms.js';
import {
  createLedgerState,
  ensureGrant,
  ensureTenant,
  type GrantState,
  internOrigin,
  type LedgerState,
  noteRetired,
} from './state.js';

function mergeDefinitions(target: GrantState, source: GrantState): boolean {
  if (source.definition === null) return false;
  let changed = false;
  for (const definition of [source.definition, ...(source.others ?? [])])
    if (addDefinition(target, definition)) changed = true;
  return changed;
}

/** Merges `source` into `target` (mutating target only). */
export function mergeInto(target: LedgerState, source: LedgerState): void {
  // Local indices differ between states: translate every index of source through its origin id.
  const translate = source.origins.map((origin) => internOrigin(target, origin));
  for (const [origin, seq] of Object.entries(source.versionVector)) {
    if (seq > (target.versionVector[origin] ?? 0)) target.versionVector[origin] = seq;
  }
  for (const [origin, retired] of source.retired) noteRetired(target, origin, retired);
  if (source.newestAt > target.newestAt) target.newestAt = source.newestAt;
  for (const [tenantId, theirs] of source.tenants) {
    const ours = ensureTenant(target, tenantId);
    for (const [grantId, grant] of theirs.grants) {
      const mine = ensureGrant(ours, grantId);
      translate.forEach((to, from) => {
        for (const kind of GRANT_CELLS) {
          const value = grantCellAt(grant, from, kind);
          if (value > grantCellAt(mine, to, kind)) setGrantCell(mine, to, kind, value);
        }
      });
      // After the cells: a definition's amount is its origin's granted cell.
      if (mergeDefinitions(mine, grant)) ours.burnOrder = null;
      forEachMoved(grant, (theirFrom, theirTo, value) => {
        const from = translate[theirFrom] as number;
        const to = translate[theirTo] as number;
        if (value > movedAt(mine, from, to)) setMovedAt(mine, from, to, value);
      });
      forEachRetired(grant, (theirLost, theirCurrent, value) => {
        const lost = translate[theirLost] as number;
        const current = translate[theirCurrent] as number;
        if (value > retiredAt(mine, lost, current)) setRetiredAt(mine, lost, current, value);
      });
    }
    translate.forEach((to, from) => {
      for (const kind of TENANT_CELLS) {
        const value = tenantCellAt(theirs, from, kind);
        if (value > tenantCellAt(ours, to, kind)) setTenantCell(ours, to, kind, value);
      }
    });
    for (const debit of theirs.debits?.values() ?? []) {
      const known = ours.debits?.get(debit.debitId);
      if (known === undefined) recordDebit(ours, debit);
      else
        invariant(
          canonicalJson(known as never) === canonicalJson(debit as never),
          `debit ${debit.debitId} differs`,
        );
    }
    for (const refund of theirs.refunds?.values() ?? []) {
      if (ours.refunds?.has(refund.refundId) !== true) recordRefund(ours, refund);
    }
    for (const revokes of theirs.revokes?.values() ?? [])
      for (const revoke of revokes) recordRevoke(ours, revoke);
    // A hold known ended on either side is ended in the merge (its end event is in that side's prefix).
    for (const hold of theirs.holds?.values() ?? []) recordHold(ours, hold);
  }
}

/** A new state: the merge of a and b. Neither input changes. */
export function mergeStates(a: LedgerState, b: LedgerState): LedgerState {
  const merged = createLedgerState();
  mergeInto(merged, a);
  mergeInto(merged, b);
  return merged;
}

/** A deep copy of `state`. */
export function cloneState(state: LedgerState): LedgerState {
  const copy = createLedgerState();
  mergeInto(copy, state);
  return copy;
}
