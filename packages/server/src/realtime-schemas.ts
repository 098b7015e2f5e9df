/**
 * JSON schemas of the real-time routes (API.md "GET /v1/stream", "Alerts and webhooks"): the
 * stream's query and the webhook delivery log. Kept beside schemas.ts, in the same style.
 */
import { TENANT_ID_PATTERN } from '@allot/core';
import { errors } from './error-responses.js';
import { STREAM_CURSOR_LENGTH_MAX, WEBHOOK_LOG_PAGE_MAX } from './limits.js';
import { bearer } from './schemas.js';

/** GET /v1/stream */
export const getStreamSchema = {
  tags: ['reads'],
  operationId: 'streamEvents',
  summary:
    'Server-Sent Events: every event committed or received from now on (or after a cursor), and alerts (auditor, admin; a scoped token only its tenants).',
  description:
    'Each ledger event is a message whose `id:` is a cursor; `Last-Event-ID` (or `?after=`) resumes after it with no gap and no duplicate, also on another node or after a restart. `event: alert` carries an alert; `event: overflow` ends a stream whose consumer fell behind, with the cursor to resume from. Heartbeats (a comment line and an `id:` alone, every 15 s) keep proxies from closing an idle stream and move the resume cursor.',
  security: bearer,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      tenant: {
        type: 'string',
        pattern: TENANT_ID_PATTERN.source,
        description: 'Only this tenant’s events and alerts (required for a tenant-scoped token).',
      },
      after: {
        type: 'string',
        maxLength: STREAM_CURSOR_LENGTH_MAX,
        pattern: '^[A-Za-z0-9_-]*$',
        description: 'Resume after this cursor (an `id:` of an earlier stream); `Last-Event-ID` wins.',
      },
    },
  },
  response: {
    200: {
      description: 'The stream: `id:`, `event:` and `data:` (JSON) lines per event, until the client leaves.',
      content: { 'text/event-stream': { schema: { type: 'string' } } },
    },
    ...errors(),
  },
} as const;

const attempt = {
  type: 'object',
  required: ['at'],
  properties: {
    at: { type: 'string', format: 'date-time' },
    status: { type: 'integer', description: 'The receiver’s HTTP status.' },
    error: { type: 'string', description: 'Why no status came back (timeout, connection refused).' },
  },
} as const;

/** GET /v1/webhooks/deliveries */
export const getDeliveriesSchema = {
  tags: ['operations'],
  operationId: 'listWebhookDeliveries',
  summary: 'The webhook delivery log, newest first: each delivery’s status and attempts (admin).',
  security: bearer,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      limit: {
        type: 'string',
        pattern: '^[1-9][0-9]{0,3}$',
        description: `Deliveries to list, 1–${WEBHOOK_LOG_PAGE_MAX} (default ${WEBHOOK_LOG_PAGE_MAX}).`,
      },
    },
  },
  response: {
    200: {
      description: 'The delivery log, newest first.',
      type: 'object',
      required: ['deliveries'],
      properties: {
        deliveries: {
          type: 'array',
          items: {
            type: 'object',
            required: ['deliveryId', 'alertId', 'tenant', 'url', 'status', 'attempts', 'createdAt'],
            properties: {
              deliveryId: { type: 'string' },
              alertId: { type: 'string' },
              tenant: { type: 'string' },
              url: { type: 'string' },
              status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
              createdAt: { type: 'string', format: 'date-time' },
              nextAttemptAt: { type: ['string', 'null'], format: 'date-time' },
              attempts: { type: 'array', items: attempt },
            },
          },
        },
      },
    },
    ...errors(),
  },
} as const;
