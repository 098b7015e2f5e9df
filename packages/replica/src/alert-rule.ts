/**
 * When a tenant's merged balance crosses an alert threshold (API.md "Alerts and webhooks"), as a
 * pure function of the state of one threshold and the tenant's figures now. A threshold starts
 * armed when first seen at or above its line; an armed threshold fires once when the balance goes
 * below it, and is re-armed only at the line plus ALERT_REARM_PERCENT (hysteresis). The node's
 * alert watcher and the simulator run this same rule.
 *
 * The alertId is the same at every region: SHA-256 of the tenant, the threshold's rule and the
 * tenant's inflow (granted + refunded + credits of holds that ended) at the crossing. Between two
 * genuine crossings the balance must rise past the re-arm level, which only a grant, a refund or the
 * end of a hold does (a void or an expiry gives back what was held), so the inflow differs and so
 * does the id; two regions that see the same crossing know the same grants and refunds, so they
 * compute the same id, and a receiver dedupes what a partition made twice.
 */
import { canonicalBytes } from '@allot/core';
import type { AlertRule } from './api.js';
import { ALERT_ID_HEX_DIGITS, ALERT_REARM_PERCENT } from './limits.js';
import { toHex } from './log.js';

/** Where one threshold of one tenant stands. */
export interface AlertState {
  /** True when the next downward crossing fires. */
  readonly armed: boolean;
  /** The id of the last alert it fired, if any. */
  readonly alertId: string | null;
}

/** A tenant's figures that alerts read. */
export interface AlertFigures {
  readonly balance: number;
  readonly granted: number;
  readonly refunded: number;
  /** Credits of the tenant's holds that have ended (core `holdsEndedOf`); 0 when absent. */
  readonly holdsEnded?: number;
}

/** A fired alert, before it gets its time. */
export interface Crossing {
  readonly alertId: string;
  readonly threshold: number;
  readonly balance: number;
}

/** SHA-256 (the Crypto port's hash). */
export type AlertHash = (bytes: Uint8Array) => Uint8Array;

/** The rule's stable name, part of its alertId and its state's key: `below:10000`, `belowPercent:10`. */
export function ruleKey(rule: AlertRule): string {
  return 'below' in rule ? `below:${rule.below}` : `belowPercent:${rule.belowPercent}`;
}

/** What has come into the tenant's balance: granted + refunded + credits of holds that ended. */
export function inflowOf(figures: AlertFigures): number {
  return figures.granted + figures.refunded + (figures.holdsEnded ?? 0);
}

/** The threshold in credits: `below`, or `belowPercent` % of what was granted (rounded down). */
export function thresholdOf(rule: AlertRule, granted: number): number {
  if ('below' in rule) return rule.below;
  // Exact: granted ≤ 2^53 − 1 and percent ≤ 100, so the product is a bigint, never a rounded float.
  return Number((BigInt(Math.max(0, granted)) * BigInt(rule.belowPercent)) / 100n);
}

/** The balance at which a fired threshold is armed again: the line plus ALERT_REARM_PERCENT, ≥ 1 credit more. */
export function rearmLevel(threshold: number): number {
  const margin = Number((BigInt(threshold) * BigInt(ALERT_REARM_PERCENT) + 99n) / 100n);
  return threshold + Math.max(1, margin);
}

/** The id every region computes for the crossing of `rule` by `tenant` at `inflow` (see `inflowOf`). */
export function alertIdOf(hash: AlertHash, tenant: string, rule: AlertRule, inflow: number): string {
  const bytes = canonicalBytes(['allot-alert', tenant, ruleKey(rule), inflow]);
  return toHex(hash(bytes)).slice(0, ALERT_ID_HEX_DIGITS);
}

/**
 * The next state of a threshold given the figures now, and the crossing it fires (if any).
 * `state` undefined: first seen; armed when at or above the line, and a first sight fires nothing
 * (a balance that was never seen above a line has not crossed it).
 */
export function evaluateAlert(
  hash: AlertHash,
  tenant: string,
  rule: AlertRule,
  state: AlertState | undefined,
  figures: AlertFigures,
): { readonly state: AlertState; readonly crossing: Crossing | null } {
  const threshold = thresholdOf(rule, figures.granted);
  if (state === undefined) {
    return { state: { armed: figures.balance >= threshold, alertId: null }, crossing: null };
  }
  if (state.armed && figures.balance < threshold) {
    const alertId = alertIdOf(hash, tenant, rule, inflowOf(figures));
    return {
      state: { armed: false, alertId },
      crossing: { alertId, threshold, balance: figures.balance },
    };
  }
  if (!state.armed && figures.balance >= rearmLevel(threshold)) {
    return { state: { armed: true, alertId: state.alertId }, crossing: null };
  }
  return { state, crossing: null };
}
