/**
 * @allot/client — a small fetch-based client of the Allot HTTP API for services: typed from the
 * node's OpenAPI document (generated/openapi.ts, regenerated and compared by the server's tests),
 * an idempotency key generated per call and reused by its retries, retries with backoff on 5xx, 429
 * and network errors only, failover to the next region's URL when one cannot be reached, helpers for
 * grants, debits, batches, refunds, holds, balances, events and policies, and the event stream as an
 * async iterator that resumes without a gap.
 */
export {
  AllotClient,
  type AllotClientOptions,
  type BatchDebitInput,
  type DebitOptions,
  type Replayable,
} from './client.js';
export { AllotApiError, AllotNetworkError, AllotStreamError } from './errors.js';
export type { components, operations, paths } from './generated/openapi.js';
export { backoffMs, type HttpOptions, isRetryable, retryAfterMs } from './http.js';
export * from './limits.js';
export { SseParser, type StreamAlert, type StreamEvent, type StreamOptions } from './stream.js';
export type * from './types.js';
