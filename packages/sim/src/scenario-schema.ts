/**
 * The JSON schema of a scenario document (scenario.ts validates with it): every field, its type and
 * range, unknown fields refused, and the defaults ajv fills in: network (20–60 ms, no loss,
 * duplication or reordering), quietS 10, rebalancing adaptive, no faults, steady rates, simulated
 * signatures.
 */

import { PRIORITY_MAX, PRIORITY_MIN } from '@allot/core';
import { ALERT_PERCENT_MAX, ALERT_PERCENT_MIN, BORROW_WAIT_MS_MAX, POLICY_ALERTS_MAX } from '@allot/replica';
import { STORAGE_DAMAGES } from '@allot/store';
import type { Fault } from './api.js';
import {
  CLOCK_STEP_MS_MAX,
  DELAY_MS_MAX,
  DRIFT_PPM_MAX,
  DURATION_S_MAX,
  FAULTS_MAX,
  LOSS_MAX,
  RATE_PER_SECOND_MAX,
  REGIONS_MAX,
  TENANTS_MAX,
} from './limits.js';

const REGION_PATTERN = '^[a-z0-9-]{1,32}$';
const region = { type: 'string', pattern: REGION_PATTERN };
const atS = { type: 'number', minimum: 0, maximum: DURATION_S_MAX };
const forS = { type: 'number', exclusiveMinimum: 0, maximum: DURATION_S_MAX };
const probability = { type: 'number', minimum: 0, maximum: 1 };
const amount = { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER };
const credits = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER };
const overdraft = {
  type: 'object',
  propertyNames: { pattern: REGION_PATTERN },
  additionalProperties: credits,
};

function fault(kind: Fault['kind'], properties: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['kind', ...Object.keys(properties)],
    properties: { kind: { const: kind }, ...properties },
  };
}

/** JSON schema of a scenario document (defaults are filled while validating). */
export const SCENARIO_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'regions', 'durationS', 'tenants'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string', maxLength: 10_000, default: '' },
    regions: { type: 'array', minItems: 1, maxItems: REGIONS_MAX, uniqueItems: true, items: region },
    durationS: { type: 'number', exclusiveMinimum: 0, maximum: DURATION_S_MAX },
    quietS: { type: 'number', minimum: 0, maximum: DURATION_S_MAX, default: 10 },
    rebalancing: { enum: ['adaptive', 'static'], default: 'adaptive' },
    signatures: { enum: ['simulated', 'ed25519'], default: 'simulated' },
    faultRates: {
      type: 'object',
      additionalProperties: false,
      properties: {
        storage: probability,
        hostile: probability,
        retire: probability,
        holds: probability,
        writeErrors: probability,
        conflicting: probability,
      },
    },
    borrowWaitMs: { type: 'integer', minimum: 0, maximum: BORROW_WAIT_MS_MAX },
    network: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        delayMs: {
          type: 'object',
          additionalProperties: false,
          required: ['min', 'max'],
          default: { min: 20, max: 60 },
          properties: {
            min: { type: 'integer', minimum: 0, maximum: DELAY_MS_MAX },
            max: { type: 'integer', minimum: 0, maximum: DELAY_MS_MAX },
          },
        },
        loss: { type: 'number', minimum: 0, maximum: LOSS_MAX, default: 0 },
        duplicate: { ...probability, default: 0 },
        reorder: { ...probability, default: 0 },
      },
    },
    tenants: {
      type: 'array',
      maxItems: TENANTS_MAX,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['tenant', 'grants', 'rates', 'debitAmount'],
        properties: {
          tenant: { type: 'string', minLength: 1, maxLength: 128 },
          grants: {
            type: 'array',
            maxItems: 1024,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['grantId', 'amount', 'region', 'atS'],
              properties: {
                grantId: { type: 'string', minLength: 1, maxLength: 255 },
                amount,
                region,
                atS,
                priority: { type: 'integer', minimum: PRIORITY_MIN, maximum: PRIORITY_MAX },
                expiresInS: forS,
                retry: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['region', 'afterS'],
                  properties: { region, afterS: atS },
                },
              },
            },
          },
          overdraft,
          alerts: {
            type: 'array',
            maxItems: POLICY_ALERTS_MAX,
            items: {
              oneOf: [
                {
                  type: 'object',
                  additionalProperties: false,
                  required: ['below'],
                  properties: { below: amount },
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
          rates: {
            type: 'array',
            maxItems: 1024,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['region', 'perSecond'],
              properties: {
                region,
                perSecond: { type: 'number', minimum: 0, maximum: RATE_PER_SECOND_MAX },
                shape: { enum: ['steady', 'bursty', 'diurnal'], default: 'steady' },
                fromS: atS,
                toS: atS,
              },
            },
          },
          debitAmount: {
            type: 'object',
            additionalProperties: false,
            required: ['min', 'max'],
            properties: { min: amount, max: amount },
          },
          retryElsewhere: probability,
          refund: probability,
          conflicting: probability,
          holds: {
            type: 'object',
            additionalProperties: false,
            required: ['region', 'perSecond', 'maxAmount', 'ttlS'],
            properties: {
              region,
              perSecond: { type: 'number', minimum: 0, maximum: RATE_PER_SECOND_MAX },
              maxAmount: amount,
              ttlS: { type: 'number', exclusiveMinimum: 0, maximum: DURATION_S_MAX },
              void: probability,
              never: probability,
              elsewhere: probability,
            },
          },
          policyChanges: {
            type: 'array',
            maxItems: 1024,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['atS', 'region', 'overdraft'],
              properties: { atS, region, overdraft },
            },
          },
        },
      },
    },
    faults: {
      type: 'array',
      maxItems: FAULTS_MAX,
      default: [],
      items: {
        type: 'object',
        required: ['kind'],
        properties: { kind: { type: 'string' } },
        discriminator: { propertyName: 'kind' },
        oneOf: [
          fault('isolate', { region, atS, forS }),
          fault('halves', {
            groups: { type: 'array', minItems: 2, items: { type: 'array', minItems: 1, items: region } },
            atS,
            forS,
          }),
          fault('ring', { atS, forS }),
          fault('bridge', { bridge: region, atS, forS }),
          fault('one-way', { from: region, to: region, atS, forS }),
          fault('flapping', { from: region, to: region, periodS: forS, atS, forS }),
          fault('crash', { region, atS, forS }),
          fault('disk-loss', { region, atS, forS }),
          fault('pause', { region, atS, forS }),
          fault('write-errors', { region, atS, forS }),
          fault('clock-step', {
            region,
            stepMs: {
              type: 'integer',
              minimum: -CLOCK_STEP_MS_MAX,
              maximum: CLOCK_STEP_MS_MAX,
              not: { const: 0 },
            },
            atS,
          }),
          fault('clock-drift', {
            region,
            ppm: { type: 'integer', minimum: -DRIFT_PPM_MAX, maximum: DRIFT_PPM_MAX, not: { const: 0 } },
            atS,
            forS,
          }),
          fault('storage', { region, damage: { enum: [...STORAGE_DAMAGES] }, atS, forS }),
          fault('restored-backup', { region, backupBeforeS: forS, atS, forS }),
          fault('retire', { region, atS }),
          {
            type: 'object',
            additionalProperties: false,
            required: ['kind', 'from', 'atS', 'forS'],
            properties: { kind: { const: 'hostile' }, from: region, to: region, atS, forS },
          },
        ],
      },
    },
  },
} as const;
