/** The errors a call can end with: the API's answer, or no answer at all. */
import type { ErrorBody, ErrorCode } from './types.js';

/** The node answered with an error (the API's error body); retryable ones only after the last attempt. */
export class AllotApiError extends Error {
  override readonly name = 'AllotApiError';
  /** The catalogue's code, or `unknown` when the body was not the API's error shape. */
  readonly code: ErrorCode | 'unknown';
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    readonly status: number,
    body: unknown,
    readonly url: string,
  ) {
    const error = errorBodyOf(body);
    super(error === null ? `HTTP ${status} from ${url}` : error.message);
    this.code = error?.code ?? 'unknown';
    this.details = error?.details ?? {};
  }
}

/** No region answered: every attempt failed to connect or timed out. */
export class AllotNetworkError extends Error {
  override readonly name = 'AllotNetworkError';

  constructor(
    message: string,
    /** The URLs tried, in order. */
    readonly tried: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The stream's server sent something that is not the API's event stream. */
export class AllotStreamError extends Error {
  override readonly name = 'AllotStreamError';
}

function errorBodyOf(body: unknown): ErrorBody | null {
  if (typeof body !== 'object' || body === null || !('error' in body)) return null;
  const error = (body as { error: unknown }).error;
  if (typeof error !== 'object' || error === null) return null;
  const { code, message, details } = error as Record<string, unknown>;
  if (typeof code !== 'string' || typeof message !== 'string') return null;
  return {
    code: code as ErrorCode,
    message,
    details: typeof details === 'object' && details !== null ? (details as Record<string, unknown>) : {},
  };
}
