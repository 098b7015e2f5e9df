/**
 * JSON schemas of the write routes (API.md): grants, debits (one and a batch) and refunds. The
 * shared components, the read routes and the rules every schema follows are in schemas.ts.
 */
import { PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN } from '@allot/core';
import { bodyErrors } from './error-responses.js';
import { BATCH_DEBITS_MAX } from './limits.js';
import {
  amount,
  bearer,
  key,
  metadata,
  replayedHeaders,
  type Schema,
  tenantId,
  tenantParams,
} from './schemas.js';
import { RFC3339_PATTERN } from './time.js';

/** Schema of one debit of a batch, compiled per item by the batch handler. */
export const BATCH_DEBIT_ITEM: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['tenant', 'amount', 'idempotencyKey'],
  properties: { tenant: tenantId, amount, idempotencyKey: key, metadata },
};

/** POST /v1/tenants/{tenant}/grants */
export const postGrantSchema = {
  tags: ['grants'],
  operationId: 'createGrant',
  summary: 'Create a grant (admin). Same grantId and terms again replays; other terms conflict.',
  security: bearer,
  params: tenantParams,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['grantId', 'amount'],
    properties: {
      grantId: key,
      amount,
      priority: {
        type: 'integer',
        minimum: PRIORITY_MIN,
        maximum: PRIORITY_MAX,
        default: PRIORITY_DEFAULT,
        description: 'Lower burns first.',
      },
      expiresAt: {
        type: ['string', 'null'],
        pattern: RFC3339_PATTERN,
        description: 'RFC 3339; absent or null: never expires.',
      },
    },
  },
  response: {
    200: {
      description: 'Replayed: the grant existed with these terms (header idempotent-replayed: true).',
      headers: replayedHeaders,
      type: 'object',
      required: ['grant', 'balance'],
      properties: { grant: { $ref: 'Grant#' }, balance: { $ref: 'Balance#' } },
    },
    201: {
      description: 'Created.',
      type: 'object',
      required: ['grant', 'balance'],
      properties: { grant: { $ref: 'Grant#' }, balance: { $ref: 'Balance#' } },
    },
    ...bodyErrors('grant_id_conflict', 'amount_limit', 'grant_limit'),
  },
} as const;

const debitAnswer = {
  type: 'object',
  required: ['debit', 'balance'],
  properties: { debit: { $ref: 'Debit#' }, balance: { $ref: 'DebitBalance#' } },
} as const;

/** POST /v1/tenants/{tenant}/debits */
export const postDebitSchema = {
  tags: ['debits'],
  operationId: 'createDebit',
  summary: 'Debit a tenant (service, admin). Same key and body again replays; another body conflicts.',
  security: bearer,
  params: tenantParams,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['amount', 'idempotencyKey'],
    properties: { amount, idempotencyKey: key, metadata },
  },
  response: {
    200: {
      ...debitAnswer,
      description: 'Replayed (header idempotent-replayed: true).',
      headers: replayedHeaders,
    },
    201: { ...debitAnswer, description: 'Debited, durably.' },
    ...bodyErrors('insufficient_credits', 'idempotency_key_conflict', 'amount_limit'),
  },
} as const;

const batchResult = {
  type: 'object',
  required: ['status'],
  properties: {
    status: {
      type: 'string',
      enum: ['accepted', 'replayed', 'declined', 'conflict', 'invalid', 'unavailable'],
    },
    debit: { $ref: 'Debit#' },
    balance: { $ref: 'DebitBalance#' },
    error: {
      type: 'object',
      required: ['code', 'message', 'details'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        details: { type: 'object', additionalProperties: true },
      },
    },
  },
} as const;

/** POST /v1/debits/batch */
export const postDebitBatchSchema = {
  tags: ['debits'],
  operationId: 'createDebitBatch',
  summary: `Debit many tenants in one group commit (service, admin): 1–${BATCH_DEBITS_MAX} debits, one result each, in order.`,
  security: bearer,
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['debits'],
    properties: {
      debits: {
        type: 'array',
        minItems: 1,
        maxItems: BATCH_DEBITS_MAX,
        // Items are validated one by one (schema BatchDebit) so that one bad item fails alone.
        items: { description: 'A BatchDebit.' },
      },
    },
  },
  response: {
    200: {
      description: 'One result per debit, in the order of the request.',
      type: 'object',
      required: ['results'],
      properties: { results: { type: 'array', items: batchResult } },
    },
    ...bodyErrors(),
  },
} as const;

/** POST /v1/tenants/{tenant}/debits/{debitId}/refunds */
export const postRefundSchema = {
  tags: ['refunds'],
  operationId: 'createRefund',
  summary: 'Refund a debit, all or part (admin), at the region that took it.',
  security: bearer,
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['tenant', 'debitId'],
    properties: { tenant: tenantId, debitId: key },
  },
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['idempotencyKey'],
    properties: {
      amount: { ...amount, description: 'Absent: all that is still refundable.' },
      idempotencyKey: key,
    },
  },
  response: {
    200: {
      description: 'Replayed (header idempotent-replayed: true).',
      headers: replayedHeaders,
      type: 'object',
      required: ['refund', 'balance'],
      properties: { refund: { $ref: 'Refund#' }, balance: { $ref: 'Balance#' } },
    },
    201: {
      description: 'Refunded, durably.',
      type: 'object',
      required: ['refund', 'balance'],
      properties: { refund: { $ref: 'Refund#' }, balance: { $ref: 'Balance#' } },
    },
    ...bodyErrors(
      'not_found',
      'idempotency_key_conflict',
      'refund_exceeds_debit',
      'wrong_region',
      'refund_not_creditable',
      'amount_limit',
    ),
  },
} as const;
