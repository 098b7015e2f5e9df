/**
 * Schemas of the as-of reads (issue 11): GET /v1/tenants/{tenant}/balance with `?at=<RFC 3339
 * time>` and GET /v1/snapshot with `?at=<version vector JSON>`. They extend the plain routes'
 * schemas with their query strings (kept apart from schemas.ts, which other work shares).
 */
import { errors } from './error-responses.js';
import { BALANCE_AT_LENGTH_MAX, SNAPSHOT_AT_LENGTH_MAX } from './limits.js';
import { getBalanceSchema, getSnapshotSchema } from './schemas.js';
import { RFC3339_PATTERN } from './time.js';

/** GET /v1/tenants/{tenant}/balance, with or without `at`. */
export const getBalanceAsOfSchema = {
  ...getBalanceSchema,
  summary:
    'A tenant’s merged balance as known at this region (any role); with `at`, as of that time: the fold of ' +
    'each origin’s events of the tenant up to the first one later than `at`, `versionVector` saying which.',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      at: {
        type: 'string',
        maxLength: BALANCE_AT_LENGTH_MAX,
        pattern: RFC3339_PATTERN,
        description:
          'RFC 3339 time: the balance as of then (every region holding those events answers the same figures). ' +
          'A node that does not hold events it needs (its log of an origin starts after a checkpoint of a later ' +
          'time) answers 404 not_found with `details.origin`, `details.seq` and `details.heldFrom`.',
      },
    },
  },
  response: { ...getBalanceSchema.response, ...errors('tenant_not_found', 'not_found') },
} as const;

/** GET /v1/snapshot, with or without `at`. */
export const getSnapshotAtSchema = {
  ...getSnapshotSchema,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      at: {
        type: 'string',
        minLength: 2,
        maxLength: SNAPSHOT_AT_LENGTH_MAX,
        description:
          'A version vector as JSON, e.g. {"eu#k3x9":42}: the snapshot of exactly those log prefixes (origins ' +
          'left out: none of their events). Each seq must end a segment (else 400 naming its bounds); prefixes ' +
          'that do not fold together (an event needing one the vector leaves out): 400; past what this node ' +
          'holds: 404 not_found with `details.held`.',
      },
    },
  },
  response: { ...getSnapshotSchema.response, ...errors('not_found') },
} as const;
