/**
 * The fold: applying an event to a ledger state. Deterministic; an event at or below the version
 * vector is a duplicate and changes nothing; each origin's events apply in seq order (a gap is
 * reported, never skipped). An event that would break an invariant throws before it changes
 * anything: a replica must stop rather than serve a wrong balance.
 */
import { AmountLimitError, addChecked, invariant } from './amount.js';
import type { GrantCell, TenantCell } from './cell-codes.js';
import {
  grantCellAt,
  movedAt,
  retiredAt,
  setGrantCell,
  setMovedAt,
  setRetiredAt,
  setTenantCell,
  tenantCellAt,
} from './cells.js';
import type { LedgerEvent, Part } from './events.js';
import { addDefinition, compareDefinitions } from './grant-terms.js';
import { eventRecordId, regionOf } from './ids.js';
import { addKeyId } from './key-ids.js';
import { AMOUNT_MAX } from './limits.js';
import {
  type DebitRecord,
  debitRecordFromEvent,
  type HoldEnd,
  type HoldRecord,
  type RefundRecord,
  type RevokeRecord,
  refundRecordFromEvent,
  revokeKey,
} from './records.js';
import {
  ensureGrant,
  ensureTenant,
  type GrantState,
  internOrigin,
  type LedgerState,
  noteRetired,
  type TenantState,
} from './state.js';
import { eventProblem } from './validate.js';
import { seqOf } from './version-vector.js';

/** What applying an event did. */
export type ApplyResult = 'applied' | 'duplicate' | 'gap';

/** Pending writes of one event: computed (and checked) first, written only when all are valid. */
type Write = () => void;

function grantCellWrite(
  tenant: TenantState,
  parts: readonly Part[],
  index: number,
  kind: GrantCell,
  what: string,
  writes: Write[],
): void {
  for (const part of parts) {
    const grant = tenant.grants.get(part.grantId);
    const before = grant === undefined ? 0 : grantCellAt(grant, index, kind);
    const after = addChecked(before, part.amount, `${what} of grant ${part.grantId}`);
    writes.push(() => setGrantCell(ensureGrant(tenant, part.grantId), index, kind, after));
  }
}

function tenantCellWrite(
  tenant: TenantState,
  index: number,
  kind: TenantCell,
  amount: number,
  writes: Write[],
): void {
  if (amount === 0) return;
  const after = addChecked(tenantCellAt(tenant, index, kind), amount, `${kind} of tenant ${tenant.tenant}`);
  writes.push(() => setTenantCell(tenant, index, kind, after));
}

/** a + b, or an AmountLimitError naming `what` (made only then: this runs per cell per event). */
function sumWithin(a: number, b: number, what: string, of: string): number {
  const sum = a + b;
  if (!Number.isSafeInteger(sum) || sum > AMOUNT_MAX) throw new AmountLimitError(`${what} ${of}`, a, b);
  return sum;
}

/**
 * Folds a debit (the hot path): every sum is checked first, then the cells and the record are
 * written, as the pending writes of the other kinds do, without a closure per write.
 */
function foldDebit(tenant: TenantState, index: number, event: LedgerEvent & { kind: 'debit' }): void {
  const parts = event.parts;
  const grants = tenant.grants;
  for (const part of parts) {
    const grant = grants.get(part.grantId);
    const before = grant === undefined ? 0 : grantCellAt(grant, index, 'debited');
    sumWithin(before, part.amount, 'debited of grant', part.grantId);
  }
  const debited =
    event.amount === 0
      ? 0
      : sumWithin(tenantCellAt(tenant, index, 'debited'), event.amount, 'debited of tenant', tenant.tenant);
  const overdrawn =
    event.overdraft === 0
      ? 0
      : sumWithin(
          tenantCellAt(tenant, index, 'overdrawn'),
          event.overdraft,
          'overdrawn of tenant',
          tenant.tenant,
        );
  // A peer's debit under a record window that keeps only its own region's is indexed, not recorded.
  const window = tenant.ledger.recordWindow;
  const debit = window === undefined || window.keepsOnHeap(event.origin) ? debitRecordFromEvent(event) : null;
  for (const part of parts) {
    const grant = ensureGrant(tenant, part.grantId);
    setGrantCell(grant, index, 'debited', grantCellAt(grant, index, 'debited') + part.amount);
  }
  if (event.amount !== 0) setTenantCell(tenant, index, 'debited', debited);
  if (event.overdraft !== 0) setTenantCell(tenant, index, 'overdrawn', overdrawn);
  if (debit !== null) recordDebit(tenant, debit);
  else window?.indexedDebit(tenant, event.origin, event.idempotencyKey, event.seq, event.at);
}

/** Records `debit` in the tenant's debit index (also used by merge). */
export function recordDebit(tenant: TenantState, debit: DebitRecord): void {
  if (tenant.debits === null) tenant.debits = new Map();
  if (tenant.debitsByKey === null) tenant.debitsByKey = new Map();
  tenant.debits.set(debit.debitId, debit);
  addKeyId(tenant.debitsByKey, debit.idempotencyKey, debit.debitId);
  tenant.ledger.recordWindow?.recordedDebit(tenant, debit);
}

/** Records `refund` in the tenant's refund index (also used by merge). */
export function recordRefund(tenant: TenantState, refund: RefundRecord): void {
  if (tenant.refunds === null) tenant.refunds = new Map();
  if (tenant.refundsByKey === null) tenant.refundsByKey = new Map();
  if (tenant.refundedByDebit === null) tenant.refundedByDebit = new Map();
  invariant(!tenant.refunds.has(refund.refundId), `refund ${refund.refundId} recorded twice`);
  tenant.refunds.set(refund.refundId, refund);
  addKeyId(tenant.refundsByKey, refund.idempotencyKey, refund.refundId);
  const before = tenant.refundedByDebit.get(refund.debitId) ?? 0;
  tenant.refundedByDebit.set(
    refund.debitId,
    addChecked(before, refund.amount, `refunds of debit ${refund.debitId}`),
  );
  tenant.ledger.recordWindow?.recordedRefund(tenant, refund);
}

/** Records `hold` in the tenant's hold index, or its end over an active record (also used by merge). */
export function recordHold(tenant: TenantState, hold: HoldRecord): void {
  if (tenant.holds === null) tenant.holds = new Map();
  if (tenant.holdsByKey === null) tenant.holdsByKey = new Map();
  const known = tenant.holds.get(hold.holdId);
  if (known === undefined || (known.end === null && hold.end !== null)) tenant.holds.set(hold.holdId, hold);
  addKeyId(tenant.holdsByKey, hold.idempotencyKey, hold.holdId);
}

/** Checks that a settling event may end `holdId` and returns the active hold it ends. */
function activeHold(tenant: TenantState, event: LedgerEvent & { holdId: string }): HoldRecord {
  const hold = tenant.holds?.get(event.holdId);
  invariant(hold !== undefined, `${event.kind} ${event.origin}/${event.seq}: hold ${event.holdId} unknown`);
  invariant(
    hold.end === null,
    `${event.kind} ${event.origin}/${event.seq}: hold ${event.holdId} ended already`,
  );
  invariant(
    regionOf(hold.origin) === regionOf(event.origin),
    `${event.kind} ${event.origin}/${event.seq}: hold ${event.holdId} is settled by its own region only`,
  );
  return hold;
}

/** Adds the grant event's definition; the winner is one rule at every replica (compareDefinitions). */
function defineGrant(tenant: TenantState, grant: GrantState, event: LedgerEvent & { kind: 'grant' }): void {
  const definition = {
    amount: event.amount,
    priority: event.priority,
    expiresAt: event.expiresAt,
    origin: event.origin,
    seq: event.seq,
    at: event.at,
  };
  if (addDefinition(grant, definition)) tenant.burnOrder = null;
}

/** Records `revoke` in the tenant's revoke index, in compareDefinitions order (also used by merge). */
export function recordRevoke(tenant: TenantState, revoke: RevokeRecord): void {
  if (tenant.revokes === null) tenant.revokes = new Map();
  const key = revokeKey(revoke.grantId, revoke.loser);
  const known = tenant.revokes.get(key) ?? [];
  if (known.some((other) => other.revokeId === revoke.revokeId)) return;
  known.push(revoke);
  known.sort(compareDefinitions);
  tenant.revokes.set(key, known);
}

/** Applies `event` to `state` (mutating it). */
export function applyEvent(state: LedgerState, event: LedgerEvent): ApplyResult {
  // Validate first: a malformed seq must not pass as a duplicate or a gap.
  const problem = eventProblem(event);
  invariant(problem === null, `event ${event.origin}/${event.seq} is malformed: ${problem}`);
  return applyCheckedEvent(state, event);
}

/**
 * Applies `event`, which `eventProblem` has just passed (a verified run, a log being recovered),
 * to `state`: applyEvent without checking its shape a second time. The same fold, the same result.
 */
export function applyCheckedEvent(state: LedgerState, event: LedgerEvent): ApplyResult {
  const expected = seqOf(state.versionVector, event.origin) + 1;
  if (event.seq < expected) return 'duplicate';
  if (event.seq > expected) return 'gap';

  const existing = state.tenants.get(event.tenant);
  const index = internOrigin(state, event.origin);
  const tenant = existing ?? ensureTenant(state, event.tenant);
  const writes: Write[] = [];
  try {
    switch (event.kind) {
      case 'grant': {
        const grant = tenant.grants.get(event.grantId);
        invariant(
          grant === undefined || grantCellAt(grant, index, 'granted') === 0,
          `grant ${event.grantId} of ${event.tenant} granted twice by ${event.origin}`,
        );
        writes.push(() => {
          const target = ensureGrant(tenant, event.grantId);
          setGrantCell(target, index, 'granted', event.amount);
          defineGrant(tenant, target, event);
        });
        break;
      }
      case 'debit':
        foldDebit(tenant, index, event);
        break;
      case 'refund': {
        grantCellWrite(tenant, event.parts, index, 'refunded', 'refunded', writes);
        tenantCellWrite(tenant, index, 'refunded', event.amount, writes);
        tenantCellWrite(tenant, index, 'overdraftRefunded', event.overdraft, writes);
        addChecked(
          tenant.refundedByDebit?.get(event.debitId) ?? 0,
          event.amount,
          `refunds of ${event.debitId}`,
        );
        const refund = refundRecordFromEvent(event);
        writes.push(() => recordRefund(tenant, refund));
        break;
      }
      case 'move': {
        const to = internOrigin(state, event.to);
        for (const part of event.parts) {
          const grant = tenant.grants.get(part.grantId);
          const before = grant === undefined ? 0 : movedAt(grant, index, to);
          const after = addChecked(before, part.amount, `moved of grant ${part.grantId}`);
          writes.push(() => setMovedAt(ensureGrant(tenant, part.grantId), index, to, after));
        }
        break;
      }
      case 'expire':
        grantCellWrite(tenant, [event], index, 'expired', 'expired', writes);
        break;
      case 'repay':
        grantCellWrite(tenant, event.parts, index, 'debited', 'debited', writes);
        tenantCellWrite(tenant, index, 'repaid', event.amount, writes);
        break;
      case 'hold': {
        // It burns like a debit; the tenant's figures count it as held until it ends.
        grantCellWrite(tenant, event.parts, index, 'debited', 'held', writes);
        tenantCellWrite(tenant, index, 'held', event.amount, writes);
        tenantCellWrite(tenant, index, 'overdrawn', event.overdraft, writes);
        const hold: HoldRecord = {
          holdId: eventRecordId(event.origin, event.seq),
          tenant: event.tenant,
          origin: event.origin,
          seq: event.seq,
          at: event.at,
          amount: event.amount,
          idempotencyKey: event.idempotencyKey,
          parts: event.parts,
          overdraft: event.overdraft,
          expiresAt: event.expiresAt,
          metadata: event.metadata,
          end: null,
        };
        writes.push(() => recordHold(tenant, hold));
        break;
      }
      case 'capture':
      case 'release': {
        const hold = activeHold(tenant, event);
        const captured = event.kind === 'capture' ? event.amount : 0;
        const released = event.kind === 'capture' ? event.released : event.amount;
        invariant(
          captured + released === hold.amount,
          `${event.kind} ${event.origin}/${event.seq}: captured ${captured} + released ${released} ≠ hold ${hold.amount}`,
        );
        // What is released returns like a refund; what is captured is debited to the client.
        grantCellWrite(tenant, event.parts, index, 'refunded', 'released', writes);
        tenantCellWrite(tenant, index, 'overdraftRefunded', event.overdraft, writes);
        tenantCellWrite(tenant, index, 'heldSettled', hold.amount, writes);
        tenantCellWrite(tenant, index, 'debited', captured, writes);
        const end: HoldEnd = {
          kind: event.kind,
          cause: event.kind === 'capture' ? 'capture' : event.cause,
          captured,
          released,
          origin: event.origin,
          seq: event.seq,
          at: event.at,
        };
        writes.push(() => recordHold(tenant, { ...hold, end }));
        break;
      }
      case 'retire': {
        // Only the region's current incarnation takes over a lost one of its region (eventProblem).
        const lost = internOrigin(state, event.retired);
        for (const part of event.parts) {
          const grant = tenant.grants.get(part.grantId);
          const before = grant === undefined ? 0 : retiredAt(grant, lost, index);
          const after = addChecked(before, part.amount, `retired of grant ${part.grantId}`);
          writes.push(() => setRetiredAt(ensureGrant(tenant, part.grantId), lost, index, after));
        }
        writes.push(() => noteRetired(state, event.retired, { by: event.origin, through: event.through }));
        break;
      }
      case 'revoke': {
        // Its parts burn like a debit's; what it takes beyond them is overdraft in use.
        grantCellWrite(tenant, event.parts, index, 'debited', 'revoked', writes);
        tenantCellWrite(tenant, index, 'overdrawn', event.overdraft, writes);
        tenantCellWrite(tenant, index, 'revoked', event.amount, writes);
        const revoke: RevokeRecord = {
          revokeId: eventRecordId(event.origin, event.seq),
          tenant: event.tenant,
          origin: event.origin,
          seq: event.seq,
          at: event.at,
          grantId: event.grantId,
          loser: event.loser,
          total: event.total,
          amount: event.amount,
          parts: event.parts,
          overdraft: event.overdraft,
        };
        writes.push(() => recordRevoke(tenant, revoke));
        break;
      }
    }
  } catch (error) {
    // Nothing was written; do not leave an empty tenant behind for an event that failed.
    if (existing === undefined) state.tenants.delete(event.tenant);
    throw error;
  }
  for (const write of writes) write();
  state.versionVector[event.origin] = event.seq;
  if (event.at > state.newestAt) state.newestAt = event.at;
  return 'applied';
}
