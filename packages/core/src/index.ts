/**
 * @allot/core — the ledger semantics of Allot, pure: ids and limits, events, the per-grant escrow
 * counter with its grow-only cells (DESIGN.md §1), decisions as pure functions that return outcome
 * values, the deterministic fold, state merge, version vectors, canonical encoding, and balance
 * figures. No I/O, no clock, no randomness: the replica passes time in and appends what it decides.
 */
export * from './amount.js';
export * from './balance.js';
export * from './canonical.js';
export { GRANT_CELLS, type GrantCell, TENANT_CELLS, type TenantCell } from './cell-codes.js';
export * from './cells.js';
export * from './checkpoint.js';
export * from './decide.js';
export type {
  AmountLimitOutcome,
  DebitContext,
  DecisionContext,
  InvalidRequestOutcome,
  RecallOutcome,
} from './decide-outcomes.js';
export * from './decide-refund.js';
export * from './decide-revoke.js';
export { availableAt, regionOverdraftInUse, rightsOwedToOverdraft } from './decide-rights.js';
export * from './decide-upkeep.js';
export * from './encode.js';
export * from './event-encoding.js';
export * from './events.js';
export * from './fold.js';
export * from './grant-terms.js';
export * from './holds.js';
export * from './ids.js';
export * from './key-filter.js';
export * from './key-index.js';
export * from './key-spill.js';
export { FingerprintTable } from './key-table.js';
export * from './keyed-records.js';
export * from './limits.js';
export * from './merge.js';
export * from './queries.js';
export * from './record-window.js';
export * from './records.js';
export * from './retention.js';
export * from './retire.js';
export * from './segment.js';
export { zeroedBytes } from './small-bytes.js';
export * from './standing.js';
export * from './state.js';
export * from './validate.js';
export * from './version-vector.js';
