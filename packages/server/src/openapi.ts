/**
 * The OpenAPI 3.1 document at /docs/json (and the browsable page at /docs): @fastify/swagger turns
 * the route schemas into it, then a few refinements that the validation schemas cannot carry
 * are applied to the document only. Validation stays as strict as before; the document says the
 * same thing in the terms a generator understands:
 * - a batch's items are `BatchDebit`s (validated one by one, so that one bad item fails alone);
 * - a page's `limit` is an integer (on the wire a query string, validated as its digits);
 * - an `Event` is one of its kinds, each with its own fields (the serializer passes them through).
 * Checked by Redocly's recommended rules and openapi-typescript in `openapi.test.ts`.
 */

import { AMOUNT_MAX, type EVENT_KINDS } from '@allot/core';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX, WEBHOOK_LOG_PAGE_MAX } from './limits.js';

/** The OpenAPI version of the document: 3.1 (JSON Schema 2020-12: `propertyNames`, `type` arrays). */
export const OPENAPI_VERSION = '3.1.0';

type Json = Record<string, unknown>;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const partsSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['grantId', 'amount'],
    properties: { grantId: { type: 'string' }, amount: { type: 'integer' } },
  },
  description: 'Credits taken from (or given to) each grant, in burn order.',
};

/** Where every event sits, and when its origin decided it. */
const ENVELOPE_REQUIRED = ['origin', 'seq', 'hash', 'kind', 'tenant', 'at'];
const envelope = (kind: string) => ({
  origin: { type: 'string', description: 'The origin (region#incarnation) whose log holds it.' },
  seq: { type: 'integer', description: 'Its place in that log, from 1.' },
  hash: { type: 'string', description: 'The chain hash, hex.' },
  kind: { type: 'string', enum: [kind] },
  tenant: { type: 'string' },
  at: { type: 'string', format: 'date-time', description: 'The origin’s clock when it decided.' },
});

/** The fields of each event kind as GET …/events answers them (views.ts eventJson). */
const EVENT_KIND_FIELDS: Record<(typeof EVENT_KINDS)[number], { required: string[]; properties: Json }> = {
  grant: {
    required: ['grantId', 'amount', 'priority', 'expiresAt'],
    properties: {
      grantId: { type: 'string' },
      amount: { type: 'integer' },
      priority: { type: 'integer', description: 'Lower burns first.' },
      expiresAt: { type: ['string', 'null'], format: 'date-time' },
    },
  },
  debit: {
    required: ['debitId', 'amount', 'idempotencyKey', 'parts', 'overdraft', 'metadata'],
    properties: {
      debitId: { type: 'string' },
      amount: { type: 'integer' },
      idempotencyKey: { type: 'string' },
      parts: partsSchema,
      overdraft: { type: 'integer', description: 'Taken beyond the origin’s rights.' },
      metadata: { description: 'The debit’s metadata object, or null.' },
    },
  },
  refund: {
    required: ['refundId', 'debitId', 'amount', 'idempotencyKey', 'parts', 'overdraft'],
    properties: {
      refundId: { type: 'string' },
      debitId: { type: 'string' },
      amount: { type: 'integer' },
      idempotencyKey: { type: 'string' },
      parts: partsSchema,
      overdraft: { type: 'integer', description: 'Cleared from the overdraft in use instead of grants.' },
    },
  },
  move: {
    required: ['to', 'parts'],
    properties: {
      to: { type: 'string', description: 'The origin that receives the rights.' },
      parts: partsSchema,
    },
  },
  expire: {
    required: ['grantId', 'amount'],
    properties: { grantId: { type: 'string' }, amount: { type: 'integer' } },
  },
  repay: {
    required: ['amount', 'parts'],
    properties: { amount: { type: 'integer' }, parts: partsSchema },
  },
  hold: {
    required: ['holdId', 'amount', 'idempotencyKey', 'parts', 'overdraft', 'expiresAt', 'metadata'],
    properties: {
      holdId: { type: 'string' },
      amount: { type: 'integer' },
      idempotencyKey: { type: 'string' },
      parts: partsSchema,
      overdraft: { type: 'integer', description: 'Taken beyond the origin’s rights.' },
      expiresAt: { type: 'string', format: 'date-time', description: 'On the holding region’s clock.' },
      metadata: { description: 'The hold’s metadata object, or null.' },
    },
  },
  capture: {
    required: ['holdId', 'amount', 'released', 'parts', 'overdraft'],
    properties: {
      holdId: { type: 'string' },
      amount: { type: 'integer', description: 'Debited: at most the hold.' },
      released: { type: 'integer', description: 'The rest of the hold, back to the origin’s rights.' },
      parts: partsSchema,
      overdraft: {
        type: 'integer',
        description: 'Of the released credits, cleared from the overdraft in use.',
      },
    },
  },
  retire: {
    required: ['retired', 'through', 'parts'],
    properties: {
      retired: { type: 'string', description: 'The lost incarnation (origin) retired.' },
      through: { type: 'integer', description: 'The highest seq of it that counts.' },
      parts: { ...partsSchema, description: 'Its rights per grant, now the writing origin’s.' },
    },
  },
  release: {
    required: ['holdId', 'amount', 'cause', 'parts', 'overdraft'],
    properties: {
      holdId: { type: 'string' },
      amount: { type: 'integer', description: 'The whole hold, back to the origin’s rights.' },
      cause: { type: 'string', enum: ['void', 'expiry'] },
      parts: partsSchema,
      overdraft: { type: 'integer', description: 'Cleared from the overdraft in use instead of grants.' },
    },
  },
  revoke: {
    required: ['grantId', 'loser', 'total', 'amount', 'parts', 'overdraft'],
    properties: {
      grantId: { type: 'string' },
      loser: { type: 'string', description: 'The origin whose definition of the grant id lost.' },
      total: { type: 'integer' },
      amount: { type: 'integer' },
      parts: partsSchema,
      overdraft: { type: 'integer' },
    },
  },
};

/** The component name of an event kind's schema: `GrantEvent`, `DebitEvent`, … */
function eventComponent(kind: string): string {
  return `${kind.charAt(0).toUpperCase()}${kind.slice(1)}Event`;
}

/** The per-kind event schemas and `Event` as their discriminated union. */
function eventSchemas(): Record<string, Json> {
  const schemas: Record<string, Json> = {};
  const mapping: Record<string, string> = {};
  for (const [kind, fields] of Object.entries(EVENT_KIND_FIELDS)) {
    const name = eventComponent(kind);
    mapping[kind] = ref(name).$ref;
    schemas[name] = {
      type: 'object',
      description: `A \`${kind}\` event.`,
      required: [...ENVELOPE_REQUIRED, ...fields.required],
      properties: { ...envelope(kind), ...fields.properties },
    };
  }
  schemas.Event = {
    description: 'One event of an origin log: its place, chain hash (hex), kind, and the fields of its kind.',
    oneOf: Object.keys(mapping).map((kind) => ref(eventComponent(kind))),
    discriminator: { propertyName: 'kind', mapping },
  };
  return schemas;
}

/** The `limit` of each paged GET route: a query string of digits on the wire, an integer in the document. */
const PAGE_LIMITS: Readonly<Record<string, { max: number; default: number }>> = {
  '/v1/tenants/:tenant/events': { max: EVENTS_PAGE_MAX, default: EVENTS_PAGE_DEFAULT },
  '/v1/webhooks/deliveries': { max: WEBHOOK_LOG_PAGE_MAX, default: WEBHOOK_LOG_PAGE_MAX },
};

/** A route's document-only schema: what validation checks by hand, said in schema terms. */
function documentedRouteSchema(method: string, url: string, schema: Json): Json {
  if (method === 'POST' && url === '/v1/debits/batch') {
    const body = schema.body as Json;
    const properties = body.properties as Json;
    return {
      ...schema,
      body: {
        ...body,
        properties: { debits: { ...(properties.debits as Json), items: { $ref: 'BatchDebit#' } } },
      },
    };
  }
  const limit = method === 'GET' ? PAGE_LIMITS[url] : undefined;
  if (limit !== undefined) {
    const querystring = schema.querystring as Json;
    const properties = querystring.properties as Json;
    return {
      ...schema,
      querystring: {
        ...querystring,
        properties: {
          ...properties,
          limit: {
            type: 'integer',
            minimum: 1,
            maximum: limit.max,
            default: limit.default,
            description: `How many per page, 1–${limit.max} (default ${limit.default}).`,
          },
        },
      },
    };
  }
  return schema;
}

/** The document's tags, each with what its routes are for. */
const TAGS = [
  { name: 'grants', description: 'Credits created for a tenant (admin).' },
  { name: 'debits', description: 'Credits spent, one debit or a batch (service, admin).' },
  { name: 'refunds', description: 'Debits given back, all or part (admin).' },
  { name: 'holds', description: 'Credits reserved now, captured or voided later (service, admin).' },
  { name: 'reads', description: 'Balances, events, snapshots and the cluster’s state.' },
  { name: 'cluster', description: 'Cluster operations: retiring a lost incarnation (admin).' },
  { name: 'policies', description: 'Per-tenant overdraft, weights and blocking (admin writes).' },
  { name: 'audit', description: 'Signed logs and region keys for `allot audit export` (auditor, admin).' },
  { name: 'operations', description: 'Probes and metrics, without a token.' },
];

/** Registers the OpenAPI document (/docs/json, /docs/yaml) and the browsable page (/docs). */
export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: OPENAPI_VERSION,
      info: {
        title: 'Allot',
        description:
          'A multi-region credit ledger node: grants, debits, refunds, balances, events, snapshots. ' +
          `Amounts are integers, 1 ≤ amount ≤ ${AMOUNT_MAX}; every error has the Error body.`,
        version: '1',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      // Relative: the node that serves the document is the server (each region serves the same API).
      servers: [{ url: '/', description: 'The region that serves this document.' }],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      tags: TAGS,
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, index) =>
        typeof json.$id === 'string' ? json.$id : `def-${index}`,
    },
    transform: ({ schema, url, route }) => {
      const method = Array.isArray(route.method) ? String(route.method[0]) : String(route.method);
      return { schema: documentedRouteSchema(method, url, schema as unknown as Json) as never, url };
    },
    transformObject: (documentObject) => {
      const document = (
        'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject
      ) as Json & { components?: { schemas?: Json } };
      const components = document.components ?? {};
      components.schemas = { ...components.schemas, ...eventSchemas() };
      document.components = components;
      return document as never;
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
