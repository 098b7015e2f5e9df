/**
 * Schemas of the cluster operations (API.md "Cluster (admin)"): POST
 * /v1/cluster/incarnations/{origin}/retire. Kept apart from schemas.ts, which is long enough.
 */
import { INCARNATION_PATTERN, REGION_PATTERN } from '@allot/core';
import { errors } from './error-responses.js';

const bearer = [{ bearer: [] }];

/** An origin id `region#incarnation`, from core's patterns (in a path: `#` written `%23`). */
const ORIGIN_PATTERN = `^${REGION_PATTERN.source.slice(1, -1)}#${INCARNATION_PATTERN.source.slice(1, -1)}$`;

/** POST /v1/cluster/incarnations/{origin}/retire */
export const postRetireSchema = {
  tags: ['cluster'],
  operationId: 'retireIncarnation',
  summary:
    "Retire a lost incarnation of this node's region (admin): its stranded rights go to the region's current incarnation by durable retire events, and no node accepts its events past the retired seq.",
  security: bearer,
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['origin'],
    properties: {
      origin: {
        type: 'string',
        pattern: ORIGIN_PATTERN,
        description: 'The lost incarnation, `region#incarnation` (`#` written `%23` in the path).',
      },
    },
  },
  response: {
    200: {
      description: 'What the retire moved, the seq it counts through, and the risk taken.',
      type: 'object',
      additionalProperties: false,
      required: [
        'origin',
        'region',
        'by',
        'through',
        'rights',
        'overdraftInUse',
        'tenants',
        'moved',
        'events',
        'peersAsked',
        'risk',
      ],
      properties: {
        origin: { type: 'string', description: 'The incarnation retired.' },
        region: { type: 'string' },
        by: { type: 'string', description: 'The incarnation that retired it and now holds its rights.' },
        through: {
          type: 'integer',
          description: 'The highest seq of it that counts: its events past this are refused everywhere.',
        },
        rights: { type: 'integer', description: 'Rights moved, over every tenant and grant.' },
        overdraftInUse: {
          type: 'integer',
          description:
            'Its overdraft in use: what it counts for against its region’s allowance from now on, instead of the whole allowance.',
        },
        tenants: { type: 'integer', description: 'Tenants with rights moved or overdraft counted.' },
        moved: {
          type: 'array',
          description: 'Per tenant (the first 1,000 by tenant id): rights moved and overdraft in use.',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['tenant', 'rights', 'overdraftInUse'],
            properties: {
              tenant: { type: 'string' },
              rights: { type: 'integer' },
              overdraftInUse: { type: 'integer' },
            },
          },
        },
        events: { type: 'integer', description: 'Retire events written to this node’s log.' },
        peersAsked: {
          type: 'array',
          items: { type: 'string' },
          description: 'Every peer region: each summary showed no more of it than this node holds.',
        },
        risk: {
          type: 'string',
          description:
            'In words: debits it acknowledged past `through` and never replicated were paid from rights that moved.',
        },
      },
    },
    ...errors('not_found', 'retired', 'region_unreachable'),
  },
} as const;
