/**
 * The replica's alert rule (alert-rule.ts there) with the node's SHA-256: the same ids the
 * simulator and every other region compute.
 */
import { createHash } from 'node:crypto';
import {
  type AlertFigures,
  type AlertRule,
  type AlertState,
  alertIdOf as alertIdWith,
  type Crossing,
  evaluateAlert as evaluateWith,
} from '@allot/replica';

export {
  type AlertFigures,
  type AlertState,
  type Crossing,
  rearmLevel,
  ruleKey,
  thresholdOf,
} from '@allot/replica';

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** The id every region computes for the crossing of `rule` by `tenant` at `inflow` (granted + refunded + holds ended). */
export function alertIdOf(tenant: string, rule: AlertRule, inflow: number): string {
  return alertIdWith(sha256, tenant, rule, inflow);
}

/** The next state of a threshold and the crossing it fires (see the replica's evaluateAlert). */
export function evaluateAlert(
  tenant: string,
  rule: AlertRule,
  state: AlertState | undefined,
  figures: AlertFigures,
): { readonly state: AlertState; readonly crossing: Crossing | null } {
  return evaluateWith(sha256, tenant, rule, state, figures);
}
