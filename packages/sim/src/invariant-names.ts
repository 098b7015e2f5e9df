/**
 * The names of the simulator's invariants, in one place for the checkers and the reports.
 */

import { FAULT_INVARIANT_NAMES } from './checkers-faults.js';
import type { Verdict } from './results.js';

/** Names of the invariants, as DESIGN.md §6 gives them. */
export const INVARIANT_NAMES: Readonly<Record<Verdict['invariant'], string>> = {
  S1: 'no overspend beyond the bound',
  S2: 'local safety',
  S3: 'durability',
  S4: 'convergence',
  S5: 'conservation',
  S6: 'idempotency',
  S7: 'holds end once, within the bound',
  F1: 'no false declines while the cluster is whole',
  ...FAULT_INVARIANT_NAMES,
  A1: 'every crossing alerted',
};
