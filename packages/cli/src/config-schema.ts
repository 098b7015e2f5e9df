/**
 * The JSON schema of the node config file (API.md "Node config"), with the bounds of every field;
 * config.ts validates a document against it, applies env overrides and defaults.
 */
import {
  ARCHIVE_AFTER_MS_MAX,
  BORROW_WAIT_MS_MAX,
  CHECKPOINT_EVERY_EVENTS_MAX,
  CHECKPOINT_EVERY_EVENTS_MIN,
  CHECKPOINT_EVERY_MS_MAX,
  CHECKPOINT_EVERY_MS_MIN,
  JOIN_AGREE_MAX,
  JOIN_THRESHOLD_EVENTS_MAX,
  JOIN_THRESHOLD_EVENTS_MIN,
  KEY_INDEX_MEMORY_BYTES_MAX,
  RECORD_WINDOW_RECORDS_MAX,
} from '@allot/replica';
import { WEBHOOK_ENDPOINTS_MAX, WEBHOOK_SECRET_LENGTH_MIN } from '@allot/server';

const REGION = '^[a-z0-9-]{1,32}$';

/** The region key's file name in the data directory when `keyFile` is not given. */
export const DEFAULT_KEY_FILE_NAME = 'region.key';

/** One token entry, in `tokens` and in `tokensFile`. */
const TOKEN_ENTRY = {
  type: 'object',
  additionalProperties: false,
  required: ['token', 'role'],
  properties: {
    token: { type: 'string', minLength: 8, maxLength: 512, pattern: '^[\\x21-\\x7e]+$' },
    role: { enum: ['service', 'admin', 'auditor'] },
    tenants: {
      type: 'array',
      minItems: 1,
      maxItems: 10000,
      items: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
    },
  },
} as const;

/** A list of token entries; `tokens` and `tokensFile` together hold at most this many. */
export const TOKENS_MAX = 1024;

export const TOKEN_LIST = { type: 'array', maxItems: TOKENS_MAX, items: TOKEN_ENTRY } as const;

/**
 * Shortest `archive.afterSeconds`: the archive task sweeps every 10 s (ARCHIVE_SWEEP_MS), so a
 * shorter age would only move each segment a little sooner, in smaller files.
 */
const ARCHIVE_AFTER_SECONDS_MIN = 60;

/** A duration of the HTTP edge in ms: at least 1 ms, at most a day. */
const HTTP_MS = { type: 'integer', minimum: 1, maximum: 86_400_000 } as const;

/** A count of the HTTP edge. */
const HTTP_COUNT = { type: 'integer', minimum: 1, maximum: 1_000_000_000 } as const;

/** JSON schema of the config file (after env overrides, before defaults). */
export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['cluster', 'region', 'listen', 'dataDir'],
  properties: {
    cluster: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
    region: { type: 'string', pattern: REGION },
    listen: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port'],
      properties: {
        host: { type: 'string', minLength: 1, maxLength: 255 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
      },
    },
    dataDir: { type: 'string', minLength: 1 },
    keyFile: { type: 'string', minLength: 1 },
    peers: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['region', 'url', 'publicKey'],
        properties: {
          region: { type: 'string', pattern: REGION },
          url: { type: 'string', pattern: '^wss?://[^\\s]+$' },
          publicKey: { type: 'string', pattern: '^[A-Za-z0-9+/]{43}=$' },
        },
      },
    },
    // Given, it lists at least one token; the tokens may also all come from tokensFile.
    tokens: { ...TOKEN_LIST, minItems: 1 },
    tokensFile: { type: 'string', minLength: 1 },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['cert', 'key', 'ca'],
      properties: {
        cert: { type: 'string', minLength: 1 },
        key: { type: 'string', minLength: 1 },
        ca: { type: 'string', minLength: 1 },
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      properties: {
        headersTimeoutMs: HTTP_MS,
        requestTimeoutMs: HTTP_MS,
        keepAliveTimeoutMs: HTTP_MS,
        connectionsMax: HTTP_COUNT,
        rateLimitWindowMs: HTTP_MS,
        rateLimitTokenRequests: HTTP_COUNT,
        rateLimitAnonymousRequests: HTTP_COUNT,
        eventLoopDelayMsMax: { type: 'integer', minimum: 0, maximum: 86_400_000 },
        heapUsedBytesMax: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
        pressureSampleIntervalMs: { type: 'integer', minimum: 10, maximum: 60_000 },
      },
    },
    allowLoneStart: { type: 'boolean' },
    borrowWaitMs: { type: 'integer', minimum: 0, maximum: BORROW_WAIT_MS_MAX },
    durability: { enum: ['fsync', 'os'] },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    idempotencyRetentionSeconds: { type: 'integer', minimum: 60, maximum: 31_536_000 },
    recordWindowRecords: { type: 'integer', minimum: 0, maximum: RECORD_WINDOW_RECORDS_MAX },
    keyIndexMemoryBytes: { type: 'integer', minimum: 0, maximum: KEY_INDEX_MEMORY_BYTES_MAX },
    archive: {
      type: 'object',
      additionalProperties: false,
      properties: {
        afterSeconds: {
          type: 'integer',
          minimum: ARCHIVE_AFTER_SECONDS_MIN,
          maximum: ARCHIVE_AFTER_MS_MAX / 1000,
        },
      },
    },
    checkpoint: {
      type: 'object',
      additionalProperties: false,
      properties: {
        everyEvents: {
          type: 'integer',
          minimum: CHECKPOINT_EVERY_EVENTS_MIN,
          maximum: CHECKPOINT_EVERY_EVENTS_MAX,
        },
        everyMs: { type: 'integer', minimum: CHECKPOINT_EVERY_MS_MIN, maximum: CHECKPOINT_EVERY_MS_MAX },
      },
    },
    join: {
      type: 'object',
      additionalProperties: false,
      properties: {
        thresholdEvents: {
          type: 'integer',
          minimum: JOIN_THRESHOLD_EVENTS_MIN,
          maximum: JOIN_THRESHOLD_EVENTS_MAX,
        },
        agree: {
          oneOf: [
            { type: 'string', enum: ['all'] },
            { type: 'integer', minimum: 1, maximum: JOIN_AGREE_MAX },
          ],
        },
      },
    },
    bodyLimitBytes: { type: 'integer', minimum: 1024, maximum: 67_108_864 },
    webhooks: {
      type: 'array',
      maxItems: WEBHOOK_ENDPOINTS_MAX,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url', 'secret'],
        properties: {
          url: { type: 'string', minLength: 1, maxLength: 2048 },
          secret: {
            type: 'string',
            minLength: WEBHOOK_SECRET_LENGTH_MIN,
            maxLength: 512,
            pattern: '^[\\x21-\\x7e]+$',
          },
        },
      },
    },
  },
} as const;
