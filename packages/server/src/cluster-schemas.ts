/**
 * Schemas of the cluster routes: GET /v1/cluster (any role but a scoped token) and, API.md "Cluster
 * (admin)", POST /v1/cluster/incarnations/{origin}/retire.
 */
import { INCARNATION_PATTERN, REGION_PATTERN } from '@allot/core';
import { errors } from './error-responses.js';
import { bearer, versionVector } from './schemas.js';

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
        'held',
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
        held: {
          type: 'integer',
          description:
            'Credits its holds still active keep held: stranded until now, this node ends them from now on (released at their expiry unless settled).',
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

/** GET /v1/cluster */
export const getClusterSchema = {
  tags: ['reads'],
  operationId: 'getCluster',
  summary: 'This node, its version vector, its peers and stranded rights (any role).',
  security: bearer,
  response: {
    200: {
      description: 'This node, its version vector, its peers and stranded rights.',
      type: 'object',
      required: ['cluster', 'region', 'origin', 'versionVector', 'peers', 'stranded'],
      properties: {
        cluster: { type: 'string' },
        region: { type: 'string' },
        origin: { type: 'string' },
        versionVector,
        peers: {
          type: 'array',
          items: {
            type: 'object',
            required: ['region', 'url', 'connected', 'lastHeardMs', 'lagEvents', 'rttMs'],
            properties: {
              region: { type: 'string' },
              url: { type: 'string' },
              connected: { type: 'boolean' },
              lastHeardMs: { type: ['integer', 'null'] },
              lagEvents: { type: 'integer' },
              rttMs: { type: ['number', 'null'] },
            },
          },
        },
        stranded: {
          type: 'array',
          description:
            'Lost incarnations (their disk lost or replaced) not retired yet that still hold rights or active holds: nobody spends or settles them until a retire.',
          items: {
            type: 'object',
            required: ['origin', 'region', 'rights', 'tenants', 'held'],
            properties: {
              origin: { type: 'string' },
              region: { type: 'string' },
              rights: {
                type: 'integer',
                description: 'Credits of rights it holds, over every tenant and grant.',
              },
              tenants: { type: 'integer', description: 'Tenants it holds rights of.' },
              held: { type: 'integer', description: 'Credits of its holds still active (stranded with it).' },
            },
          },
        },
        grantConflicts: {
          type: 'array',
          description:
            'Grant ids defined with different terms at two regions (two top-ups that reused an id across a partition): the winner stands, the loser is revoked by its region.',
          items: {
            type: 'object',
            required: ['tenant', 'grantId', 'winner', 'loser'],
            properties: {
              tenant: { type: 'string' },
              grantId: { type: 'string' },
              winner: { type: 'string', description: 'Origin whose definition stands.' },
              loser: { type: 'string', description: 'Origin whose definition is revoked.' },
            },
          },
        },
      },
    },
    ...errors(),
  },
} as const;
