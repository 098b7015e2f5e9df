/**
 * JSON schemas of the routes (API.md): the shared components, the parts every schema uses and the
 * money read routes here; the write routes in write-schemas.ts, the others beside their area
 * (cluster-, policy-, audit-, realtime-, as-of-, operations-schemas.ts). Fastify compiles them with
 * ajv at start (validation) and fast-json-stringify (serialization), and @fastify/swagger turns the
 * same schemas into the OpenAPI document. ajv runs without type coercion, so "3" is not an amount,
 * and bodies refuse unknown fields. Query-string values are strings on the wire, so their schemas
 * are string patterns.
 */
import { AMOUNT_MAX, AMOUNT_MIN, EVENT_KINDS, KEY_PATTERN, TENANT_ID_PATTERN } from '@allot/core';
import { errors } from './error-responses.js';
import { ERROR_CATALOGUE } from './errors.js';
import { CURSOR_LENGTH_MAX, EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX, METADATA_BYTES_MAX } from './limits.js';

/** A JSON schema (kept loose: fastify, ajv and @fastify/swagger each read it). */
export type Schema = Readonly<Record<string, unknown>>;

export const tenantId = {
  type: 'string',
  pattern: TENANT_ID_PATTERN.source,
  description: 'Tenant id: 1–128 characters of [A-Za-z0-9._:-].',
} as const;

export const key = {
  type: 'string',
  pattern: KEY_PATTERN.source,
  description: '1–255 printable ASCII characters.',
} as const;

export const amount = {
  type: 'integer',
  minimum: AMOUNT_MIN,
  maximum: AMOUNT_MAX,
  description: 'Credits in minor units: an integer, 1 ≤ amount ≤ 2^53 − 1.',
} as const;

/** A figure of the ledger (≥ 0, or a balance that an overdraft took below zero). */
const figure = { type: 'integer' } as const;

const time = { type: 'string', format: 'date-time', description: 'RFC 3339.' } as const;
const optionalTime = {
  type: ['string', 'null'],
  format: 'date-time',
  description: 'RFC 3339, or null.',
} as const;

export const metadata = {
  type: 'object',
  additionalProperties: true,
  description: `Any JSON object of at most ${METADATA_BYTES_MAX} bytes (UTF-8 of its JSON), kept with the debit event.`,
} as const;

/** A version vector `{ origin: seq }`. */
export const versionVector = {
  type: 'object',
  additionalProperties: { type: 'integer' },
  description: 'Events of each origin (region#incarnation) folded here.',
} as const;

const parts = {
  type: 'array',
  items: {
    type: 'object',
    required: ['grantId', 'amount'],
    properties: { grantId: { type: 'string' }, amount: { type: 'integer' } },
  },
} as const;

/** What a debit and a refund both carry: the event's charge (a refund adds its own and the debit's id). */
const CHARGE_REQUIRED = [
  'tenant',
  'amount',
  'region',
  'parts',
  'overdraft',
  'at',
  'origin',
  'idempotencyKey',
] as const;
const CHARGE_PROPERTIES = {
  tenant: { type: 'string' },
  amount: figure,
  region: { type: 'string' },
  parts,
  overdraft: figure,
  at: time,
  origin: { type: 'string' },
  idempotencyKey: { type: 'string' },
} as const;

/** The NDJSON media type of API.md (GET /v1/snapshot with `Accept: application/x-ndjson`). */
export const NDJSON_MEDIA_TYPE = 'application/x-ndjson';

const SNAPSHOT_HEADER_REQUIRED = ['cluster', 'region', 'takenAt', 'versionVector', 'heads'] as const;
const SNAPSHOT_HEADER_PROPERTIES = {
  cluster: { type: 'string' },
  region: { type: 'string' },
  takenAt: time,
  versionVector,
  heads: {
    type: 'object',
    description: 'Each origin’s last event folded into the snapshot, with its signature.',
    additionalProperties: {
      type: 'object',
      required: ['seq', 'hash', 'signature'],
      properties: {
        seq: { type: 'integer' },
        hash: { type: 'string' },
        signature: { type: ['string', 'null'] },
      },
    },
  },
} as const;

/** Shared schemas, registered with `addSchema` and referenced as `<$id>#` (OpenAPI components). */
export const SHARED_SCHEMAS: readonly Schema[] = [
  {
    $id: 'Error',
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message', 'details'],
        properties: {
          code: { type: 'string', enum: Object.keys(ERROR_CATALOGUE) },
          message: { type: 'string' },
          details: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
  {
    $id: 'Balance',
    type: 'object',
    required: [
      'tenant',
      'balance',
      'granted',
      'debited',
      'refunded',
      'expired',
      'region',
      'regions',
      'grants',
      'versionVector',
      'asOf',
    ],
    properties: {
      tenant: { type: 'string' },
      balance: figure,
      granted: figure,
      debited: figure,
      refunded: figure,
      expired: figure,
      held: { ...figure, description: 'Credits reserved by active holds (not in balance, not yet debited).' },
      region: { type: 'string', description: 'The region answering.' },
      regions: {
        type: 'object',
        additionalProperties: {
          type: 'object',
          required: ['rights', 'overdraft', 'overdraftInUse'],
          properties: { rights: figure, overdraft: figure, overdraftInUse: figure },
        },
      },
      grants: {
        type: 'array',
        items: {
          type: 'object',
          required: ['grantId', 'amount', 'remaining', 'priority', 'expiresAt', 'status'],
          properties: {
            grantId: { type: 'string' },
            amount: figure,
            remaining: figure,
            priority: {
              type: ['integer', 'null'],
              description: 'null while the grant event is not known here.',
            },
            expiresAt: optionalTime,
            status: { type: 'string', enum: ['active', 'exhausted', 'expired', 'pending'] },
          },
        },
      },
      versionVector,
      asOf: time,
    },
  },
  {
    $id: 'Grant',
    type: 'object',
    required: ['grantId', 'tenant', 'amount', 'priority', 'expiresAt', 'region', 'origin', 'at'],
    properties: {
      grantId: { type: 'string' },
      tenant: { type: 'string' },
      amount: figure,
      priority: { type: 'integer' },
      expiresAt: optionalTime,
      region: { type: 'string' },
      origin: { type: 'string' },
      at: time,
    },
  },
  {
    $id: 'Debit',
    type: 'object',
    required: ['debitId', ...CHARGE_REQUIRED],
    properties: { debitId: { type: 'string' }, ...CHARGE_PROPERTIES },
  },
  {
    $id: 'DebitBalance',
    type: 'object',
    required: ['available', 'tenant'],
    properties: {
      available: { type: 'integer', description: 'What this region can still spend for the tenant now.' },
      tenant: { type: 'integer', description: 'The merged balance of the tenant known here.' },
    },
  },
  {
    $id: 'Refund',
    type: 'object',
    required: ['refundId', 'debitId', ...CHARGE_REQUIRED],
    properties: { refundId: { type: 'string' }, debitId: { type: 'string' }, ...CHARGE_PROPERTIES },
  },
  {
    $id: 'Policy',
    type: 'object',
    required: ['overdraft', 'weights', 'blocked'],
    properties: {
      overdraft: { type: 'object', additionalProperties: { type: 'integer' } },
      weights: { type: 'object', additionalProperties: { type: 'integer' } },
      blocked: { type: 'boolean' },
      alerts: {
        type: 'array',
        items: {
          type: 'object',
          properties: { below: { type: 'integer' }, belowPercent: { type: 'integer' } },
        },
      },
    },
  },
  {
    $id: 'Event',
    type: 'object',
    required: ['origin', 'seq', 'hash', 'kind', 'tenant', 'at'],
    additionalProperties: true,
    description: 'One event of an origin log: its place, chain hash (hex), kind, and the fields of its kind.',
    properties: {
      origin: { type: 'string' },
      seq: { type: 'integer' },
      hash: { type: 'string' },
      kind: { type: 'string', enum: [...EVENT_KINDS] },
      tenant: { type: 'string' },
      at: time,
    },
  },
  {
    $id: 'SnapshotTenant',
    type: 'object',
    required: ['tenant', 'balance', 'granted', 'debited', 'refunded', 'expired', 'held'],
    properties: {
      tenant: { type: 'string' },
      balance: figure,
      granted: figure,
      debited: figure,
      refunded: figure,
      expired: figure,
      held: figure,
    },
  },
  {
    $id: 'SnapshotHeader',
    description: 'The first line of an NDJSON snapshot: the snapshot without its tenants.',
    type: 'object',
    required: [...SNAPSHOT_HEADER_REQUIRED],
    properties: SNAPSHOT_HEADER_PROPERTIES,
  },
  {
    $id: 'BatchDebit',
    description: 'One debit of a batch; validated item by item (an invalid item does not stop the others).',
    type: 'object',
    additionalProperties: false,
    required: ['tenant', 'amount', 'idempotencyKey'],
    properties: { tenant: tenantId, amount, idempotencyKey: key, metadata },
  },
];

/** The header of a replayed answer (same idempotency key or grant id, same body). */
export const replayedHeaders = {
  'idempotent-replayed': { type: 'string', enum: ['true'], description: 'The request was answered before.' },
} as const;

/** Every /v1 route: `Authorization: Bearer <token>`. */
export const bearer = [{ bearer: [] }];

/** The `{tenant}` path parameter. */
export const tenantParams = {
  type: 'object',
  additionalProperties: false,
  required: ['tenant'],
  properties: { tenant: tenantId },
} as const;

/** GET /v1/tenants/{tenant}/balance */
export const getBalanceSchema = {
  tags: ['reads'],
  operationId: 'getBalance',
  summary: 'A tenant’s merged balance as known at this region (any role).',
  security: bearer,
  params: tenantParams,
  response: {
    200: { description: 'The tenant’s balance as known here.', $ref: 'Balance#' },
    ...errors('tenant_not_found'),
  },
} as const;

/** GET /v1/tenants/{tenant}/events */
export const getEventsSchema = {
  tags: ['reads'],
  operationId: 'listEvents',
  summary: 'A page of a tenant’s events from every origin known here (auditor, admin).',
  security: bearer,
  params: tenantParams,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      after: {
        type: 'string',
        minLength: 1,
        maxLength: CURSOR_LENGTH_MAX,
        pattern: '^[\\x21-\\x7e]+$',
        description: 'The `next` cursor of the previous page.',
      },
      limit: {
        type: 'string',
        pattern: '^(1000|[1-9][0-9]{0,2})$',
        description: `Events per page, 1–${EVENTS_PAGE_MAX} (default ${EVENTS_PAGE_DEFAULT}).`,
      },
    },
  },
  response: {
    200: {
      description: 'A page of events; `next` is the cursor of the following page, null at the end.',
      type: 'object',
      required: ['events', 'next'],
      properties: {
        events: { type: 'array', items: { $ref: 'Event#' } },
        next: { type: ['string', 'null'] },
      },
    },
    ...errors(),
  },
} as const;

/** GET /v1/snapshot */
export const getSnapshotSchema = {
  tags: ['reads'],
  operationId: 'getSnapshot',
  summary:
    'Every tenant’s figures at one version vector, with each origin’s signed head (auditor, admin; not for scoped tokens). ' +
    'With Accept: application/x-ndjson: the header object, then one tenant per line.',
  security: bearer,
  response: {
    200: {
      description: 'The snapshot: one JSON object, or NDJSON lines (the header, then one tenant per line).',
      content: {
        'application/json': {
          schema: {
            allOf: [
              { $ref: 'SnapshotHeader#' },
              {
                type: 'object',
                required: ['tenants'],
                properties: { tenants: { type: 'array', items: { $ref: 'SnapshotTenant#' } } },
              },
            ],
          },
        },
        [NDJSON_MEDIA_TYPE]: {
          schema: {
            type: 'string',
            description:
              'Newline-delimited JSON: the first line a SnapshotHeader, then one SnapshotTenant per line.',
          },
        },
      },
    },
    ...errors(),
  },
} as const;
