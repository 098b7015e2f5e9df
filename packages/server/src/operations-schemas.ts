/**
 * Schemas of the operations routes (API.md "Operations", no token): /healthz, /readyz, /metrics.
 */
import { probeErrors } from './error-responses.js';

const status = {
  type: 'object',
  required: ['status'],
  properties: { status: { type: 'string' } },
} as const;

/** GET /healthz */
export const getHealthSchema = {
  tags: ['operations'],
  operationId: 'getHealth',
  summary: '200 while the process runs (no token).',
  security: [],
  response: { 200: { ...status, description: 'The process runs.' }, ...probeErrors() },
} as const;

/** GET /readyz */
export const getReadySchema = {
  tags: ['operations'],
  operationId: 'getReady',
  summary:
    '200 once the store is open, the logs recovered and the control document loaded; 503 before (no token).',
  security: [],
  response: { 200: { ...status, description: 'The node serves.' }, ...probeErrors('not_ready') },
} as const;

/** GET /metrics */
export const getMetricsSchema = {
  tags: ['operations'],
  operationId: 'getMetrics',
  summary: 'Prometheus text exposition (no token).',
  security: [],
  response: {
    200: {
      description: 'Prometheus text format 0.0.4.',
      content: { 'text/plain': { schema: { type: 'string' } } },
    },
    ...probeErrors(),
  },
} as const;
