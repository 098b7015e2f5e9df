/**
 * Schemas of the policy routes (API.md "Policies"): GET and PUT /v1/tenants/{tenant}/policy. The
 * replica checks a policy that arrives from a peer with the same rule (policy-rule.ts).
 */
import { AMOUNT_MAX, REGION_PATTERN } from '@allot/core';
import { ALERT_PERCENT_MAX, ALERT_PERCENT_MIN, POLICY_ALERTS_MAX } from '@allot/replica';
import { bodyErrors, errors } from './error-responses.js';
import { POLICY_REGIONS_MAX, POLICY_WEIGHT_MAX } from './limits.js';
import { bearer, tenantParams } from './schemas.js';

/** GET /v1/tenants/{tenant}/policy */
export const getPolicySchema = {
  tags: ['policies'],
  operationId: 'getPolicy',
  summary: 'A tenant’s policy (any role).',
  security: bearer,
  params: tenantParams,
  response: { 200: { description: 'The tenant’s policy.', $ref: 'Policy#' }, ...errors() },
} as const;

/** PUT /v1/tenants/{tenant}/policy */
export const putPolicySchema = {
  tags: ['policies'],
  operationId: 'putPolicy',
  summary:
    'Set a tenant’s policy (admin). Each field given replaces that field; a field left out keeps its value.',
  security: bearer,
  params: tenantParams,
  body: {
    type: 'object',
    additionalProperties: false,
    properties: {
      overdraft: {
        type: 'object',
        maxProperties: POLICY_REGIONS_MAX,
        propertyNames: { pattern: REGION_PATTERN.source },
        additionalProperties: { type: 'integer', minimum: 0, maximum: AMOUNT_MAX },
        description: 'Overdraft each region may take below its rights.',
      },
      weights: {
        type: 'object',
        maxProperties: POLICY_REGIONS_MAX,
        propertyNames: { pattern: REGION_PATTERN.source },
        additionalProperties: { type: 'integer', minimum: 1, maximum: POLICY_WEIGHT_MAX },
        description: 'Relative share of new grants per region (default: equal).',
      },
      blocked: { type: 'boolean', description: 'A blocked tenant is declined every debit.' },
      alerts: {
        type: 'array',
        maxItems: POLICY_ALERTS_MAX,
        description:
          'Thresholds of the merged balance: one alert (stream, webhooks) per downward crossing; [] removes them.',
        items: {
          oneOf: [
            {
              type: 'object',
              additionalProperties: false,
              required: ['below'],
              properties: { below: { type: 'integer', minimum: 1, maximum: AMOUNT_MAX } },
            },
            {
              type: 'object',
              additionalProperties: false,
              required: ['belowPercent'],
              properties: {
                belowPercent: { type: 'integer', minimum: ALERT_PERCENT_MIN, maximum: ALERT_PERCENT_MAX },
              },
            },
          ],
        },
      },
    },
  },
  response: { 200: { description: 'The policy as changed.', $ref: 'Policy#' }, ...bodyErrors() },
} as const;
