/** What every route handler is given: the replica (once ready) and the metrics. */
import type { DebitOutcome, NotReady, StoreFailure } from '@allot/replica';
import type { FastifyRequest } from 'fastify';
import { type ApiError, apiError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { ServedReplica } from './served-replica.js';

/** The shared context of the route handlers of one app. */
export interface RouteContext {
  /** The replica; throws the 503 not_ready while the node has none yet. */
  replica(): ServedReplica;
  readonly metrics: Metrics;
  /** Body limit of POST /v1/debits/batch. */
  readonly batchBodyLimitBytes: number;
  /**
   * Counts `count` (default 1) answered debits of `request` with one result in the metrics (a
   * single-debit request counts once).
   */
  debitAnswered(
    request: FastifyRequest,
    result: DebitOutcome['status'] | 'invalid',
    seconds: number,
    count?: number,
  ): void;
}

/** Seconds a client should wait before retrying after a 503 unavailable: one group commit is ~1 ms. */
export const RETRY_AFTER_SECONDS = 1;

/** The 503 of a command the store could not take: nothing happened, a retry may succeed. */
export function unavailableError(failure: StoreFailure): ApiError {
  return apiError(
    'unavailable',
    { reason: failure.reason.replaceAll('_', ' ') },
    { reason: failure.reason },
    { 'retry-after': String(RETRY_AFTER_SECONDS) },
  );
}

/**
 * The 503 of a node that is not ready yet: still opening (no `refused`), or refusing writes until
 * every peer confirmed its own log whole (`refused` names the peers it waits for, DESIGN.md §2).
 */
export function notReadyError(refused?: NotReady): ApiError {
  const headers = { 'retry-after': String(RETRY_AFTER_SECONDS) };
  if (refused === undefined)
    return apiError(
      'not_ready',
      { why: 'it is still opening its store and recovering its logs' },
      {},
      headers,
    );
  if (refused.reason === 'retired')
    return notReadyBecause(
      "this node's incarnation was retired (a data directory restored from a backup?): it takes no writes; start this region on an empty data directory",
      { reason: 'retired' },
    );
  const peers = refused.waitingFor.join(', ');
  return apiError(
    'not_ready',
    {
      why: `it takes no writes until every peer confirms it holds all of its own log; waiting for ${peers} (reads are served)`,
    },
    { reason: refused.reason, waitingFor: [...refused.waitingFor] },
    headers,
  );
}

/** A 503 not_ready saying `why` (it completes "The node is not ready: …"), with `details` and Retry-After. */
export function notReadyBecause(why: string, details: Readonly<Record<string, unknown>>): ApiError {
  return apiError('not_ready', { why }, details, { 'retry-after': String(RETRY_AFTER_SECONDS) });
}

/** Throws when `value` is reached: a case the code does not know (a replica outcome added later). */
export function unexpected(value: never, what: string): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
