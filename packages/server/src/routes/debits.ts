/**
 * POST /v1/tenants/{tenant}/debits and POST /v1/debits/batch (service, admin): debits decided on
 * this region's rights, answered once durable.
 */
import type { Json } from '@allot/core';
import type { DebitCommand, DebitOutcome } from '@allot/replica';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { inScope, tenantForbidden } from '../auth.js';
import { batchBody } from '../batch-body.js';
import { isPlainBatchItem } from '../batch-items.js';
import { batchStatusOf, debitAnswer, debitError, isDone } from '../debit-answers.js';
import type { ApiError, ErrorObject } from '../errors.js';
import { metadataError } from '../metadata.js';
import { validationError } from '../request-errors.js';
import { notReadyError, type RouteContext, unavailableError } from '../route-context.js';
import { debitBalanceJson, debitJson } from '../views.js';
import { BATCH_DEBIT_ITEM, postDebitBatchSchema, postDebitSchema } from '../write-schemas.js';

/** The schema of one result of a batch answer (what its serializer is compiled from, once). */
const BATCH_RESULT_SCHEMA = postDebitBatchSchema.response[200].properties.results.items;

/** The body of a debit request, as its schema admits it. */
interface DebitBody {
  readonly amount: number;
  readonly idempotencyKey: string;
  readonly metadata?: { readonly [key: string]: Json };
}

/** One item of a batch, once it passed its schema. */
interface BatchItem extends DebitBody {
  readonly tenant: string;
}

/**
 * One result of a batch (API.md), plus the debit's balance when it happened. A type, not an
 * interface: the route's compiled serializer takes a record of fields.
 */
type BatchResult = {
  readonly status: 'accepted' | 'replayed' | 'declined' | 'conflict' | 'invalid' | 'unavailable';
  readonly debit?: ReturnType<typeof debitJson>;
  readonly balance?: ReturnType<typeof debitBalanceJson>;
  readonly error?: ErrorObject;
};

/** The command of a debit; absent metadata is kept as null. */
function commandOf(tenant: string, body: DebitBody): DebitCommand {
  return {
    tenant,
    amount: body.amount,
    idempotencyKey: body.idempotencyKey,
    metadata: body.metadata ?? null,
  };
}

/**
 * Why one item of a batch is refused (schema BatchDebit, the token's scope, then its metadata), or null when it is a
 * valid debit. Plain items (no metadata, well formed) are checked without the schema validator.
 */
function batchItemRefusal(request: FastifyRequest, item: unknown, index: number): ApiError | null {
  const principal = request.principal;
  if (!isPlainBatchItem(item)) {
    const validate = request.compileValidationSchema(BATCH_DEBIT_ITEM, 'body');
    if (!validate(item)) {
      const errors = (validate.errors ?? []) as FastifySchemaValidationError[];
      return validationError(
        errors.map((error) => ({ ...error, instancePath: `/debits/${index}${error.instancePath}` })),
        'body',
      );
    }
  }
  const { tenant, metadata } = item as BatchItem;
  if (principal !== null && !inScope(principal, tenant)) return tenantForbidden(tenant);
  return metadata === undefined ? null : metadataError(metadata, `/debits/${index}/metadata`);
}

function seconds(reply: FastifyReply): number {
  return reply.elapsedTime / 1000;
}

/** Registers the debit routes. */
export function registerDebitRoutes(app: FastifyInstance, context: RouteContext): void {
  app.post<{ Params: { tenant: string }; Body: DebitBody }>(
    '/v1/tenants/:tenant/debits',
    {
      schema: postDebitSchema,
      config: { access: { roles: ['service', 'admin'], scope: 'tenant' }, debitsInBody: 'one' },
    },
    async (request, reply) => {
      const command = commandOf(request.params.tenant, request.body);
      const refused =
        request.body.metadata === undefined ? null : metadataError(request.body.metadata, '/metadata');
      if (refused !== null) throw refused;
      const outcome = await context.replica().debit(command);
      context.debitAnswered(request, outcome.status, seconds(reply));
      if (!isDone(outcome)) throw debitError(command, outcome);
      if (outcome.status === 'replayed') reply.code(200).header('idempotent-replayed', 'true');
      else reply.code(201);
      return debitAnswer(outcome);
    },
  );

  app.post<{ Body: { readonly debits: readonly unknown[] } }>(
    '/v1/debits/batch',
    {
      schema: postDebitBatchSchema,
      bodyLimit: context.batchBodyLimitBytes,
      config: { access: { roles: ['service', 'admin'], scope: 'per-item' }, debitsInBody: 'batch' },
    },
    async (request, reply) => {
      const items = request.body.debits;
      const results: (BatchResult | undefined)[] = new Array(items.length);
      const commands: DebitCommand[] = [];
      const positions: number[] = [];
      let invalid = 0;
      for (let index = 0; index < items.length; index++) {
        const item = items[index];
        const refused = batchItemRefusal(request, item, index);
        if (refused === null) {
          const debit = item as BatchItem;
          commands.push(commandOf(debit.tenant, debit));
          positions.push(index);
          continue;
        }
        results[index] = { status: 'invalid', error: refused.body };
        invalid++;
      }
      if (invalid > 0) context.debitAnswered(request, 'invalid', seconds(reply), invalid);
      const outcomes: DebitOutcome[] =
        commands.length === 0 ? [] : await context.replica().debitMany(commands);
      if (outcomes.length !== commands.length) {
        throw new Error(`debitMany answered ${outcomes.length} outcomes for ${commands.length} debits`);
      }
      // The whole batch was refused before anything was decided (node recovering, closing,
      // overloaded), or its group commit failed as a whole: nothing happened, the client retries
      // it. A batch in which some items happened always answers 200 with one result per item.
      const [first] = outcomes;
      if (first?.status === 'not_ready' && outcomes.every((outcome) => outcome.status === 'not_ready'))
        throw notReadyError(first);
      if (
        first?.status === 'unavailable' &&
        first.reason !== 'internal' &&
        outcomes.every((outcome) => outcome.status === 'unavailable' && outcome.reason !== 'internal')
      )
        throw unavailableError(first);
      // Counted per result, once per distinct result: the metrics cost nothing per item.
      const answered = new Map<DebitOutcome['status'], number>();
      for (let at = 0; at < outcomes.length; at++) {
        const outcome = outcomes[at] as DebitOutcome;
        const index = positions[at] as number;
        answered.set(outcome.status, (answered.get(outcome.status) ?? 0) + 1);
        if (isDone(outcome)) {
          results[index] = {
            status: outcome.status,
            debit: debitJson(outcome.debit),
            balance: debitBalanceJson(outcome.balance),
          };
        } else {
          const command = commands[at] as DebitCommand;
          results[index] = { status: batchStatusOf(outcome), error: debitError(command, outcome).body };
        }
      }
      const elapsed = seconds(reply);
      for (const [status, count] of answered) context.debitAnswered(request, status, elapsed, count);
      // Serialized here, result by result, by the route's compiled serializer for one result, into
      // bytes (batch-body.ts): fastify then takes the Buffer's length and writes it without a copy.
      const serializeResult: (result: BatchResult) => string = reply.compileSerializationSchema(
        BATCH_RESULT_SCHEMA,
        '200',
      );
      reply.type('application/json; charset=utf-8');
      return batchBody(results as BatchResult[], serializeResult);
    },
  );
}
