/**
 * Errors of the HTTP parser itself, before any route runs (fastify's `clientErrorHandler`): bad
 * framing, a bad request line, headers past Node's limit, and the headers and request timeouts.
 * They answer in the catalogue's shape like every other error (API.md), then close the socket.
 */
import type { Socket } from 'node:net';
import { type ApiError, apiError } from './errors.js';
import type { HttpLimits } from './http-limits.js';

/** The catalogue error of a parser-level error `code` (Node's `ERR_…` or llhttp's `HPE_…`). */
export function clientError(code: string | undefined, limits: HttpLimits, headerBytesMax: number): ApiError {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return apiError(
        'request_timeout',
        { what: 'request', timeoutMs: limits.requestTimeoutMs },
        { headersTimeoutMs: limits.headersTimeoutMs, requestTimeoutMs: limits.requestTimeoutMs },
      );
    case 'HPE_HEADER_OVERFLOW':
      return apiError(
        'payload_too_large',
        { what: 'request line and headers', limitBytes: headerBytesMax },
        { limitBytes: headerBytesMax, location: 'headers' },
      );
    default:
      return apiError(
        'invalid_request',
        { problem: 'it is not a well-formed HTTP/1.1 request' },
        { location: 'http', reason: code ?? null },
      );
  }
}

/** The raw HTTP response of `error` (the parser has no request to answer through). */
export function rawErrorResponse(error: ApiError): string {
  const body = JSON.stringify({ error: error.body });
  const reason =
    error.statusCode === 408
      ? 'Request Timeout'
      : error.statusCode === 413
        ? 'Content Too Large'
        : 'Bad Request';
  return (
    `HTTP/1.1 ${error.statusCode} ${reason}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** A `clientErrorHandler` that answers parser errors in the catalogue's shape and closes the socket. */
export function catalogueClientErrorHandler(
  limits: HttpLimits,
  headerBytesMax: number,
): (error: Error & { code?: string }, socket: Socket) => void {
  return (error, socket) => {
    // A reset connection has nobody to answer (Node's own handler does the same).
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    if (socket.writable) socket.write(rawErrorResponse(clientError(error.code, limits, headerBytesMax)));
    socket.destroy();
  };
}
