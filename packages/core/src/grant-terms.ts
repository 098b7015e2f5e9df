/**
 * A grant's definitions: the winning terms packed in its slot, the losing definitions of the same
 * id beside them, and the order every replica agrees on to pick the winner.
 */
import { invariant } from './amount.js';
import {
  PRIORITY_RANGE,
  TERM_AT,
  TERM_EXPIRES,
  TERM_ORIGIN_PRIORITY,
  TERM_SEQ,
  termCode,
} from './cell-codes.js';
import { grantCellAt } from './cells.js';
import type { OriginId } from './ids.js';
import { PRIORITY_MAX } from './limits.js';
import { readPacked, writePacked } from './packed.js';
import { type GrantDefinition, type GrantState, internOrigin } from './state.js';

/**
 * Orders grant definitions of one grant id (and revokes of one definition) the same way at every
 * replica, as duplicate debits: the origin's time, then origin id, then seq. The first wins.
 */
export function compareDefinitions(
  a: { readonly at: number; readonly origin: OriginId; readonly seq: number },
  b: { readonly at: number; readonly origin: OriginId; readonly seq: number },
): number {
  if (a.at !== b.at) return a.at - b.at;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  return a.seq - b.seq;
}

/** True when a grant event of `grant`'s id is known here (its terms are set): no definition object. */
export function isDefined(grant: GrantState): boolean {
  return readPacked(grant.owner, termCode(grant.slot, TERM_ORIGIN_PRIORITY)) !== 0;
}

/**
 * The winning definition's expiresAt of a defined grant (null: never expires), read without making
 * the definition: the burn path asks this per grant per decision.
 */
export function definedExpiresAt(grant: GrantState): number | null {
  const expires = readPacked(grant.owner, termCode(grant.slot, TERM_EXPIRES));
  return expires === 0 ? null : expires - 1;
}

/** The winning definition's priority of a defined grant, read without making the definition. */
export function definedPriority(grant: GrantState): number {
  return readPacked(grant.owner, termCode(grant.slot, TERM_ORIGIN_PRIORITY)) % PRIORITY_RANGE;
}

function writeTerms(grant: GrantState, definition: GrantDefinition): void {
  const tenant = grant.owner;
  invariant(definition.priority <= PRIORITY_MAX && PRIORITY_MAX < PRIORITY_RANGE, 'priority out of range');
  const index = internOrigin(tenant.ledger, definition.origin);
  invariant(
    grantCellAt(grant, index, 'granted') === definition.amount,
    `grant ${grant.grantId}: definition of ${definition.origin} does not match its granted cell`,
  );
  writePacked(
    tenant,
    termCode(grant.slot, TERM_ORIGIN_PRIORITY),
    (index + 1) * PRIORITY_RANGE + definition.priority,
  );
  writePacked(tenant, termCode(grant.slot, TERM_SEQ), definition.seq);
  writePacked(tenant, termCode(grant.slot, TERM_AT), definition.at + 1);
  writePacked(
    tenant,
    termCode(grant.slot, TERM_EXPIRES),
    definition.expiresAt === null ? 0 : definition.expiresAt + 1,
  );
}

/**
 * Adds `definition` to `grant` (winner first); true when the winner changed. The granted cell of
 * the definition's origin must be written first (it is the definition's amount).
 */
export function addDefinition(grant: GrantState, definition: GrantDefinition): boolean {
  const winner = grant.definition;
  if (winner === null) {
    writeTerms(grant, definition);
    return true;
  }
  const order = compareDefinitions(definition, winner);
  if (order === 0) return false;
  const tenant = grant.owner;
  const others = grant.others ?? [];
  let loser = definition;
  if (order < 0) {
    writeTerms(grant, definition);
    loser = winner;
  }
  // Binary search: a grant id may be defined at every origin (ORIGINS_MAX), so no linear scans.
  let low = 0;
  let high = others.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareDefinitions(others[middle] as GrantDefinition, loser) < 0) low = middle + 1;
    else high = middle;
  }
  if (low < others.length && compareDefinitions(others[low] as GrantDefinition, loser) === 0) return false;
  others.splice(low, 0, { ...loser });
  const bySlot = tenant.othersBySlot ?? new Map<number, GrantDefinition[]>();
  bySlot.set(grant.slot, others);
  tenant.othersBySlot = bySlot;
  return order < 0;
}
