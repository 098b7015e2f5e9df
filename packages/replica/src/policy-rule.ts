/**
 * The rule a tenant policy obeys wherever it comes from: PUT /v1/tenants/{t}/policy (the server's
 * schema states the same rule, and a test holds the two together), a peer's control update, or a
 * data directory written by an older version. Pure: no clock, no randomness, no I/O.
 */
import { AMOUNT_MAX, isRegionId } from '@allot/core';
import type { TenantPolicy } from './api.js';
import { describeValue } from './event-shape.js';
import {
  ALERT_PERCENT_MAX,
  ALERT_PERCENT_MIN,
  POLICY_ALERTS_MAX,
  POLICY_REGIONS_MAX,
  POLICY_WEIGHT_MAX,
} from './limits.js';
import { isPlainRecord } from './values.js';

/** The fields of a policy: the first three are required, `alerts` is optional. */
const POLICY_FIELDS = ['overdraft', 'weights', 'blocked', 'alerts'] as const;
const REQUIRED_FIELDS = ['overdraft', 'weights', 'blocked'] as const;

function integerIn(value: unknown, min: number, max: number): boolean {
  return Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max;
}

function regionMapProblem(field: string, value: unknown, min: number, max: number): string | null {
  if (!isPlainRecord(value)) return `${field} is ${describeValue(value)}, not a map`;
  const regions = Object.keys(value);
  if (regions.length > POLICY_REGIONS_MAX) {
    return `${field} names ${regions.length} regions, more than ${POLICY_REGIONS_MAX}`;
  }
  for (const region of regions) {
    if (!isRegionId(region))
      return `${field} names an invalid region ${JSON.stringify(String(region).slice(0, 40))}`;
    if (!integerIn(value[region], min, max)) {
      return `${field}.${region} is not an integer in ${min}..${max}`;
    }
  }
  return null;
}

function alertProblem(index: number, alert: unknown): string | null {
  const what = `alerts[${index}]`;
  if (!isPlainRecord(alert)) return `${what} is ${describeValue(alert)}, not a map`;
  const keys = Object.keys(alert);
  if (keys.length !== 1) return `${what} must have exactly one of below, belowPercent`;
  if (Object.hasOwn(alert, 'below')) {
    return integerIn(alert.below, 1, AMOUNT_MAX) ? null : `${what}.below is not an amount`;
  }
  if (Object.hasOwn(alert, 'belowPercent')) {
    return integerIn(alert.belowPercent, ALERT_PERCENT_MIN, ALERT_PERCENT_MAX)
      ? null
      : `${what}.belowPercent is not an integer in ${ALERT_PERCENT_MIN}..${ALERT_PERCENT_MAX}`;
  }
  return `${what} has an unknown field ${JSON.stringify(keys[0]?.slice(0, 40))}`;
}

/**
 * Why `value` is not a whole tenant policy, or null when it is: `overdraft` per region a
 * non-negative safe integer, `weights` per region 1..POLICY_WEIGHT_MAX, `blocked` a boolean,
 * optional `alerts` (≤ POLICY_ALERTS_MAX of `{below}` or `{belowPercent}`), no other field.
 */
export function policyProblem(value: unknown): string | null {
  if (!isPlainRecord(value)) return `policy is ${describeValue(value)}, not a map`;
  for (const field of REQUIRED_FIELDS) if (!Object.hasOwn(value, field)) return `policy has no ${field}`;
  for (const field of Object.keys(value)) {
    if (!(POLICY_FIELDS as readonly string[]).includes(field)) {
      return `policy has an unknown field ${JSON.stringify(field.slice(0, 40))}`;
    }
  }
  const overdraft = regionMapProblem('overdraft', value.overdraft, 0, AMOUNT_MAX);
  if (overdraft !== null) return overdraft;
  const weights = regionMapProblem('weights', value.weights, 1, POLICY_WEIGHT_MAX);
  if (weights !== null) return weights;
  if (typeof value.blocked !== 'boolean') return `blocked is ${describeValue(value.blocked)}, not a boolean`;
  if (Object.hasOwn(value, 'alerts')) {
    const { alerts } = value;
    if (!Array.isArray(alerts)) return `alerts is ${describeValue(alerts)}, not an array`;
    if (alerts.length > POLICY_ALERTS_MAX) {
      return `alerts has ${alerts.length} thresholds, more than ${POLICY_ALERTS_MAX}`;
    }
    for (let i = 0; i < alerts.length; i++) {
      const problem = alertProblem(i, alerts[i]);
      if (problem !== null) return problem;
    }
  }
  return null;
}

/** True when `value` is a whole, valid tenant policy. */
export function isTenantPolicy(value: unknown): value is TenantPolicy {
  return policyProblem(value) === null;
}
