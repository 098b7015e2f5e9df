/**
 * Holds (API.md "Holds", issue 12): POST /v1/tenants/{tenant}/holds reserves credits like a debit
 * (borrowing included); …/holds/{holdId}/capture debits at most the held amount and releases the
 * rest; …/holds/{holdId}/void releases it all. Capture and void are decided by the holding region
 * (forwarded there when this is another region), else 503 region_unreachable. Schemas live here.
 */
import {
  AMOUNT_MAX,
  AMOUNT_MIN,
  HOLD_TTL_MS_MAX,
  type Json,
  KEY_PATTERN,
  parseEventRecordId,
  TENANT_ID_PATTERN,
} from '@allot/core';
import type { HoldCommand, HoldOutcome, HoldView, SettleOutcome } from '@allot/replica';
import type { FastifyInstance } from 'fastify';
import { debitError } from '../debit-answers.js';
import { bodyErrors } from '../error-responses.js';
import { apiError } from '../errors.js';
import { METADATA_BYTES_MAX } from '../limits.js';
import { metadataError } from '../metadata.js';
import { notReadyError, type RouteContext, unavailableError, unexpected } from '../route-context.js';
import { formatRfc3339 } from '../time.js';
import { debitBalanceJson } from '../views.js';

/** Longest time to live of a hold in seconds (core's HOLD_TTL_MS_MAX: 30 days). */
export const HOLD_TTL_SECONDS_MAX = HOLD_TTL_MS_MAX / 1000;

const tenantId = { type: 'string', pattern: TENANT_ID_PATTERN.source } as const;
const key = {
  type: 'string',
  pattern: KEY_PATTERN.source,
  description: '1–255 printable ASCII characters.',
} as const;
const amount = { type: 'integer', minimum: AMOUNT_MIN, maximum: AMOUNT_MAX } as const;
const bearer = [{ bearer: [] }];
const replayedHeaders = {
  'idempotent-replayed': { type: 'string', enum: ['true'], description: 'The request was answered before.' },
} as const;

const holdJsonSchema = {
  type: 'object',
  required: ['holdId', 'tenant', 'amount', 'region', 'expiresAt', 'status', 'captured'],
  properties: {
    holdId: { type: 'string' },
    tenant: { type: 'string' },
    amount: { type: 'integer' },
    region: { type: 'string', description: 'The holding region: the one that decides how the hold ends.' },
    expiresAt: { type: 'string', format: 'date-time', description: "On the holding region's clock." },
    status: { type: 'string', enum: ['active', 'captured', 'voided', 'expired'] },
    captured: { type: ['integer', 'null'], description: 'What a capture debited; null otherwise.' },
  },
} as const;

const holdAnswer = {
  type: 'object',
  required: ['hold', 'balance'],
  properties: { hold: holdJsonSchema, balance: { $ref: 'DebitBalance#' } },
} as const;

const settledAnswer = { type: 'object', required: ['hold'], properties: { hold: holdJsonSchema } } as const;

const holdParams = {
  type: 'object',
  additionalProperties: false,
  required: ['tenant', 'holdId'],
  properties: { tenant: tenantId, holdId: key },
} as const;

/** POST /v1/tenants/{tenant}/holds */
export const postHoldSchema = {
  tags: ['holds'],
  operationId: 'createHold',
  summary: 'Hold credits (service, admin): taken from available now like a debit, settled later.',
  security: bearer,
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['tenant'],
    properties: { tenant: tenantId },
  },
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['amount', 'idempotencyKey', 'ttlSeconds'],
    properties: {
      amount,
      idempotencyKey: key,
      ttlSeconds: { type: 'integer', minimum: 1, maximum: HOLD_TTL_SECONDS_MAX },
      metadata: {
        type: 'object',
        additionalProperties: true,
        description: `Any JSON object of at most ${METADATA_BYTES_MAX} bytes, kept with the hold event.`,
      },
    },
  },
  response: {
    200: {
      ...holdAnswer,
      description: 'Replayed (header idempotent-replayed: true).',
      headers: replayedHeaders,
    },
    201: { ...holdAnswer, description: 'Held, durably.' },
    ...bodyErrors('insufficient_credits', 'idempotency_key_conflict', 'amount_limit'),
  },
} as const;

/** POST /v1/tenants/{tenant}/holds/{holdId}/capture */
export const captureHoldSchema = {
  tags: ['holds'],
  operationId: 'captureHold',
  summary: 'Capture a hold (service, admin): debit at most the held amount, release the rest.',
  security: bearer,
  params: holdParams,
  body: { type: 'object', additionalProperties: false, required: ['amount'], properties: { amount } },
  response: {
    200: {
      ...settledAnswer,
      description: 'Replayed: the hold was captured so before.',
      headers: replayedHeaders,
    },
    201: { ...settledAnswer, description: 'Captured, durably, by the holding region.' },
    ...bodyErrors('not_found', 'hold_not_active', 'region_unreachable'),
  },
} as const;

/** POST /v1/tenants/{tenant}/holds/{holdId}/void */
export const voidHoldSchema = {
  tags: ['holds'],
  operationId: 'voidHold',
  summary: 'Void a hold (service, admin): release all of it.',
  security: bearer,
  params: holdParams,
  body: { type: ['object', 'null'], additionalProperties: false, properties: {} },
  response: {
    200: { ...settledAnswer, description: 'Voided (or voided before), durably.' },
    ...bodyErrors('not_found', 'hold_not_active', 'region_unreachable'),
  },
} as const;

/** A hold as the API shows it. */
function holdJson(hold: HoldView) {
  return {
    holdId: hold.holdId,
    tenant: hold.tenant,
    amount: hold.amount,
    region: hold.region,
    expiresAt: formatRfc3339(hold.expiresAt),
    status: hold.status,
    captured: hold.captured,
  };
}

interface HoldBody {
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly ttlSeconds: number;
  readonly metadata?: { readonly [key: string]: Json };
}

/** The API error of a hold that did not happen (the debit errors, a hold in place of a debit). */
function holdError(command: HoldCommand, outcome: Exclude<HoldOutcome, { status: 'accepted' | 'replayed' }>) {
  if (outcome.status === 'conflict')
    return apiError(
      'idempotency_key_conflict',
      { idempotencyKey: command.idempotencyKey },
      { idempotencyKey: command.idempotencyKey, holdId: outcome.hold.holdId },
    );
  return debitError(command, outcome);
}

/** The API error of a capture or void that did not happen. */
function settleError(tenant: string, holdId: string, outcome: SettleOutcome) {
  switch (outcome.status) {
    case 'not_found':
      return apiError('not_found', { what: `hold ${holdId} of tenant ${tenant}` }, { holdId, tenant });
    case 'not_active':
      return apiError(
        'hold_not_active',
        { holdId, status: outcome.hold.status },
        { holdId, status: outcome.hold.status },
      );
    case 'stranded': {
      // Held by a lost incarnation of its region: held until an operator retires it (API.md Cluster).
      const origin = parseEventRecordId(holdId)?.origin ?? '';
      return apiError(
        'hold_not_active',
        { holdId, status: `held by the lost incarnation ${origin}, not retired yet` },
        { holdId, status: 'stranded', origin },
      );
    }
    case 'exceeds_hold':
      return apiError(
        'invalid_request',
        { problem: `capture of ${outcome.requested} exceeds the hold of ${outcome.held}` },
        { location: 'body', requested: outcome.requested, held: outcome.held },
      );
    case 'region_unreachable':
      return apiError('region_unreachable', { region: outcome.region }, { region: outcome.region, holdId });
    case 'invalid':
      return apiError('invalid_request', { problem: outcome.detail }, { location: 'body' });
    case 'unavailable':
      return unavailableError(outcome);
    case 'not_ready':
      return notReadyError(outcome);
    default:
      return unexpected(outcome as never, 'settle outcome');
  }
}

/** Registers the hold routes. */
export function registerHoldRoutes(app: FastifyInstance, context: RouteContext): void {
  const access = { access: { roles: ['service', 'admin'] as const, scope: 'tenant' as const } };
  app.post<{ Params: { tenant: string }; Body: HoldBody }>(
    '/v1/tenants/:tenant/holds',
    { schema: postHoldSchema, config: access },
    async (request, reply) => {
      const body = request.body;
      const refused = body.metadata === undefined ? null : metadataError(body.metadata, '/metadata');
      if (refused !== null) throw refused;
      const command: HoldCommand = {
        tenant: request.params.tenant,
        amount: body.amount,
        idempotencyKey: body.idempotencyKey,
        ttlMs: body.ttlSeconds * 1000,
        metadata: body.metadata ?? null,
      };
      const outcome = await context.replica().hold(command);
      if (outcome.status === 'accepted' || outcome.status === 'replayed') {
        if (outcome.status === 'replayed') reply.code(200).header('idempotent-replayed', 'true');
        else reply.code(201);
        return { hold: holdJson(outcome.hold), balance: debitBalanceJson(outcome.balance) };
      }
      throw holdError(command, outcome as Exclude<HoldOutcome, { status: 'accepted' | 'replayed' }>);
    },
  );

  const settle =
    (action: 'capture' | 'void') =>
    async (
      request: { params: { tenant: string; holdId: string }; body: { amount?: number } | null },
      reply: { code(status: number): { header(name: string, value: string): unknown } },
    ) => {
      const { tenant, holdId } = request.params;
      if (parseEventRecordId(holdId) === null)
        throw apiError('not_found', { what: `hold ${holdId} of tenant ${tenant}` }, { holdId, tenant });
      const amount = request.body?.amount;
      const outcome = await context
        .replica()
        .settleHold({ tenant, holdId, action, ...(amount === undefined ? {} : { amount }) });
      if (outcome.status === 'accepted') {
        reply.code(action === 'capture' ? 201 : 200);
        return { hold: holdJson(outcome.hold) };
      }
      if (outcome.status === 'replayed') {
        reply.code(200).header('idempotent-replayed', 'true');
        return { hold: holdJson(outcome.hold) };
      }
      throw settleError(tenant, holdId, outcome);
    };
  app.post<{ Params: { tenant: string; holdId: string }; Body: { amount: number } }>(
    '/v1/tenants/:tenant/holds/:holdId/capture',
    { schema: captureHoldSchema, config: access },
    settle('capture'),
  );
  app.post<{ Params: { tenant: string; holdId: string }; Body: Record<string, never> | null }>(
    '/v1/tenants/:tenant/holds/:holdId/void',
    { schema: voidHoldSchema, config: access },
    settle('void'),
  );
}
