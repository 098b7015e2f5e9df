/**
 * The error catalogue: every error the API answers, with its HTTP status and message template
 * (fastify's lib/errors.js is the model). The codes of API.md are checked against the document by
 * test/errors.test.ts; codes beyond it are named in EXTENSIONS. A 5xx is only ever our fault
 * (a failed store, a bug), never a client's mistake.
 */

/** One entry of the catalogue: the HTTP status and a message template with `{name}` placeholders. */
export interface ErrorSpec {
  readonly status: number;
  readonly message: string;
}

/** Every error code the API answers, with its status and message template. */
export const ERROR_CATALOGUE = {
  invalid_request: { status: 400, message: 'The request is invalid: {problem}.' },
  unauthorized: { status: 401, message: 'A valid bearer token is required: {problem}.' },
  forbidden: { status: 403, message: 'This token may not {action}.' },
  tenant_not_found: { status: 404, message: 'Tenant {tenant} is not known at this region.' },
  not_found: { status: 404, message: 'Not found: {what}.' },
  idempotency_key_conflict: {
    status: 409,
    message: 'Idempotency key {idempotencyKey} was already used with a different request.',
  },
  grant_id_conflict: { status: 409, message: 'Grant {grantId} already exists with different terms.' },
  refund_exceeds_debit: {
    status: 409,
    message: 'A refund of {requested} exceeds the {refundable} still refundable of debit {debitId}.',
  },
  wrong_region: {
    status: 409,
    message: 'Debit {debitId} was taken by region {region}: only that region can refund it.',
  },
  insufficient_credits: {
    status: 402,
    message: 'Tenant {tenant} cannot spend {requested} at this region: {available} available ({reason}).',
  },
  payload_too_large: { status: 413, message: 'The {what} is larger than its limit of {limitBytes} bytes.' },
  unsupported_media_type: {
    status: 415,
    message: 'Content type {contentType} is not supported: send application/json.',
  },
  not_ready: {
    status: 503,
    message: 'The node is not ready: {why}.',
  },
  too_many_requests: {
    status: 429,
    message: 'Too many requests from this {who}: retry in {retryAfterSeconds} s.',
  },
  // API.md's codes of holds and of retiring an incarnation (409 retired: retired already).
  hold_not_active: { status: 409, message: 'Hold {holdId} is not active: it was {status}.' },
  region_unreachable: {
    status: 503,
    message: 'Region {region}, which decides this, cannot be reached from here now; retry later.',
  },
  retired: { status: 409, message: 'Incarnation {origin} was retired at seq {seq}.' },
  // Extensions (listed in EXTENSIONS below).
  amount_limit: {
    status: 409,
    message: 'The {what} would pass the largest amount a ledger figure can hold, {limit}.',
  },
  grant_limit: { status: 409, message: 'Tenant {tenant} already holds the most grants allowed, {limit}.' },
  refund_not_creditable: {
    status: 409,
    message: 'Debit {debitId} cannot be refunded yet: no grant of the tenant is known here to credit.',
  },
  unavailable: {
    status: 503,
    message: 'The ledger cannot take this request now ({reason}): nothing was changed; retry later.',
  },
  request_timeout: {
    status: 408,
    message: 'The request did not arrive in time: its {what} must arrive within {timeoutMs} ms.',
  },
  stream_cursor_behind: {
    status: 409,
    message:
      'The stream cursor is {behind} events behind this node, more than the {limit} a stream replays: page GET /v1/tenants/<tenant>/events instead.',
  },
  internal: { status: 500, message: 'An internal error occurred; it was logged, and nothing was changed.' },
} as const satisfies Record<string, ErrorSpec>;

/**
 * Codes beyond API.md's list, and why each exists:
 * - amount_limit 409: a grant, debit or refund would push a cumulative figure of the tenant past
 *   2^53 − 1 (DESIGN.md §8). The request is well-formed; the ledger's state refuses it, hence 409.
 * - grant_limit 409: the tenant already holds GRANTS_PER_TENANT_MAX grants (a state conflict too).
 * - refund_not_creditable 409: the repaid overdraft part of a debit must return to a grant, and no
 *   grant of the tenant is defined here yet (it waits for replication).
 * - unavailable 503: the store failed, the node is closing, or too many events wait for the disk;
 *   nothing happened, and a retry may succeed (Retry-After says when to try).
 * - request_timeout 408: the client did not send its headers, or its whole request, in time
 *   (headersTimeoutMs / requestTimeoutMs); the connection is closed after the answer.
 * - stream_cursor_behind 409: GET /v1/stream was asked to resume from a cursor further behind than
 *   STREAM_RESUME_EVENTS_MAX; the events are there, but the events pages are the way to read them.
 * - internal 500: a bug. Logged at error level with its stack; the client sees no stack.
 */
export const EXTENSIONS = [
  'amount_limit',
  'grant_limit',
  'refund_not_creditable',
  'unavailable',
  'request_timeout',
  'stream_cursor_behind',
  'internal',
] as const;

/** A code of the catalogue. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

type Placeholders<S extends string> = S extends `${string}{${infer Name}}${infer Rest}`
  ? Name | Placeholders<Rest>
  : never;

/** The values the message template of `C` needs, by placeholder name. */
export type MessageParams<C extends ErrorCode> = Readonly<
  Record<Placeholders<(typeof ERROR_CATALOGUE)[C]['message']>, string | number>
>;

/** Machine-readable details of an error: JSON values only. */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/** The `error` object of an error body. */
export interface ErrorObject {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details: ErrorDetails;
}

/** An error body as API.md defines it: `{ "error": { "code", "message", "details" } }`. */
export interface ErrorBody {
  readonly error: ErrorObject;
}

/** `template` with every `{name}` replaced by `params[name]` (left as is when absent). */
export function formatMessage(template: string, params: Readonly<Record<string, string | number>>): string {
  return template.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) =>
    Object.hasOwn(params, name) ? String(params[name]) : whole,
  );
}

/** The error object of `code` with its message filled from `params`. */
export function errorObject<C extends ErrorCode>(
  code: C,
  params: MessageParams<C>,
  details: ErrorDetails = {},
): ErrorObject {
  return { code, message: formatMessage(ERROR_CATALOGUE[code].message, params), details };
}

/** An error that becomes an API answer: its status comes from the catalogue. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** The HTTP status of the answer. */
  readonly statusCode: number;
  /** Headers to send with the answer (e.g. WWW-Authenticate, Retry-After). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    readonly body: ErrorObject,
    headers: Readonly<Record<string, string>> = {},
  ) {
    super(body.message);
    this.statusCode = ERROR_CATALOGUE[body.code].status;
    this.headers = headers;
  }

  /** The error code. */
  get code(): ErrorCode {
    return this.body.code;
  }
}

/** An ApiError of `code` (status from the catalogue, message from `params`). */
export function apiError<C extends ErrorCode>(
  code: C,
  params: MessageParams<C>,
  details: ErrorDetails = {},
  headers: Readonly<Record<string, string>> = {},
): ApiError {
  return new ApiError(errorObject(code, params, details), headers);
}

/** The HTTP status of `code`. */
export function statusOf(code: ErrorCode): number {
  return ERROR_CATALOGUE[code].status;
}
