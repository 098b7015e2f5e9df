/**
 * The error answers of the route schemas (API.md's catalogue, errors.ts): one response per HTTP
 * status, each with the Error body, so a generated client types each status, and a description
 * naming the codes of that status the route answers.
 */
import { ERROR_CATALOGUE, type ErrorCode } from './errors.js';

/** A JSON schema (kept loose: fastify, ajv and @fastify/swagger each read it). */
type Schema = Readonly<Record<string, unknown>>;

/**
 * Errors every route with a token may answer: the HTTP parser's and the edge's (bad framing,
 * timeouts, rate limit, load shedding), auth, a node not ready yet, and our own faults.
 */
const EVERY_ROUTE_ERRORS = [
  'invalid_request',
  'unauthorized',
  'forbidden',
  'request_timeout',
  'too_many_requests',
  'not_ready',
  'unavailable',
  'internal',
] as const satisfies readonly ErrorCode[];

/** Errors of a route that reads a JSON body, on top of EVERY_ROUTE_ERRORS. */
const BODY_ERRORS = ['payload_too_large', 'unsupported_media_type'] as const satisfies readonly ErrorCode[];

/**
 * The error answers of a route, one per HTTP status, each with the Error body and a description
 * naming the catalogue's codes of that status that the route answers.
 */
export function errorResponses(...codes: readonly ErrorCode[]): Record<string, Schema> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = ERROR_CATALOGUE[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, Schema> = {};
  for (const [status, named] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = { description: `Error: ${named.join(', ')}.`, $ref: 'Error#' };
  }
  return responses;
}

/** The errors of a route with a token and no body, plus its own. */
export const errors = (...own: ErrorCode[]) => errorResponses(...EVERY_ROUTE_ERRORS, ...own);
/** The errors of a route with a token and a JSON body, plus its own. */
export const bodyErrors = (...own: ErrorCode[]) =>
  errorResponses(...EVERY_ROUTE_ERRORS, ...BODY_ERRORS, ...own);

/** What a probe may answer besides its own: the HTTP parser's errors and our own faults. */
export const probeErrors = (...own: ErrorCode[]) =>
  errorResponses('invalid_request', 'request_timeout', 'internal', ...own);
