/**
 * JSON schemas of the auditor's export routes (API.md `allot audit export`, issue 11): the public
 * keys this node knows per region, and an origin's signed segments, paged. Same conventions as
 * schemas.ts: no coercion, query values as string patterns, errors from the catalogue.
 */
import { INCARNATION_PATTERN, REGION_PATTERN } from '@allot/core';
import { errors } from './error-responses.js';
import { AUDIT_SEGMENTS_PAGE_DEFAULT, AUDIT_SEGMENTS_PAGE_MAX } from './limits.js';
import { bearer } from './schemas.js';

/** An origin id, `region#incarnation`, as a pattern built from core's two. */
export const ORIGIN_PATTERN = `^${REGION_PATTERN.source.slice(1, -1)}#${INCARNATION_PATTERN.source.slice(1, -1)}$`;

/** GET /v1/audit/keys */
export const getAuditKeysSchema = {
  tags: ['audit'],
  operationId: 'getAuditKeys',
  summary:
    'The Ed25519 public key of every region this node knows, its own and its configured peers’ (auditor, admin; not for scoped tokens).',
  security: bearer,
  response: {
    200: {
      description: 'The cluster, this region, and each region’s public key (base64 of the raw 32 bytes).',
      type: 'object',
      required: ['cluster', 'region', 'keys'],
      properties: {
        cluster: { type: 'string' },
        region: { type: 'string' },
        keys: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    ...errors(),
  },
} as const;

/** GET /v1/audit/segments */
export const getAuditSegmentsSchema = {
  tags: ['audit'],
  operationId: 'listAuditSegments',
  summary:
    'A page of one origin’s log as its signed segments, in order, from the one holding seq `after` + 1 (auditor, admin; not for scoped tokens).',
  security: bearer,
  querystring: {
    type: 'object',
    additionalProperties: false,
    required: ['origin'],
    properties: {
      origin: { type: 'string', pattern: ORIGIN_PATTERN, description: 'The origin, region#incarnation.' },
      after: {
        type: 'string',
        pattern: '^(0|[1-9][0-9]{0,15})$',
        description: 'The last seq already held (default 0: from the start of the log).',
      },
      limit: {
        type: 'string',
        pattern: '^[1-9][0-9]{0,3}$',
        description: `Segments per page, 1–${AUDIT_SEGMENTS_PAGE_MAX} (default ${AUDIT_SEGMENTS_PAGE_DEFAULT}).`,
      },
    },
  },
  response: {
    200: {
      description:
        'Segments of the origin in seq order; `next` is the `after` of the following page, null at the end of what this node holds.',
      type: 'object',
      required: ['origin', 'segments', 'next'],
      properties: {
        origin: { type: 'string' },
        segments: {
          type: 'array',
          items: {
            type: 'object',
            required: ['firstSeq', 'lastSeq', 'bytes', 'hash', 'signature'],
            properties: {
              firstSeq: { type: 'integer' },
              lastSeq: { type: 'integer' },
              bytes: { type: 'string', description: 'The segment’s bytes as stored and signed, base64.' },
              hash: { type: 'string', description: 'H(hash of the previous segment ‖ bytes), hex.' },
              signature: {
                type: 'string',
                description: 'The origin’s Ed25519 signature of (cluster, origin, lastSeq, hash), hex.',
              },
            },
          },
        },
        next: { type: ['integer', 'null'] },
      },
    },
    ...errors('not_found'),
  },
} as const;

/** GET /v1/audit/checkpoint */
export const getAuditCheckpointSchema = {
  tags: ['audit'],
  operationId: 'getAuditCheckpoint',
  summary:
    'This node’s newest checkpoint whose hash and signature verify: the fold at a version vector in core’s canonical encoding (auditor, admin; not for scoped tokens).',
  security: bearer,
  response: {
    200: {
      description:
        'The checkpoint’s version vector, SHA-256 (hex), this node’s Ed25519 signature of (cluster, vector, hash) (hex), and its bytes (base64; up to 1 GiB, streamed).',
      type: 'object',
      required: ['vector', 'hash', 'signature', 'bytes'],
      properties: {
        vector: { type: 'object', additionalProperties: { type: 'integer' } },
        hash: { type: 'string' },
        signature: { type: 'string' },
        bytes: { type: 'string' },
      },
    },
    ...errors('not_found'),
  },
} as const;
