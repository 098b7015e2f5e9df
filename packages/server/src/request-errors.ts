/**
 * Fastify's own errors (schema validation, body parsing, routing) in the terms of the catalogue.
 * Every client mistake becomes a 4xx with a code; anything else is ours: 500 internal.
 */

import { StoreClosedError, StoreCursorError } from '@allot/store';
import type { FastifyError, FastifySchemaValidationError } from 'fastify';
import { ApiError, apiError } from './errors.js';

/** Where a validation error was found (fastify's `validationContext`, or a batch item). */
export type ValidationLocation = string;

/** The JSON pointer of the field an ajv error is about (the missing or unknown property included). */
function fieldOf(error: FastifySchemaValidationError): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
    return `${error.instancePath}/${params.missingProperty}`;
  }
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return `${error.instancePath}/${params.additionalProperty}`;
  }
  if (error.keyword === 'propertyNames' && typeof params.propertyName === 'string') {
    return `${error.instancePath}/${params.propertyName}`;
  }
  return error.instancePath;
}

/** A sentence for an ajv error, naming the field. */
function problemOf(location: ValidationLocation, field: string, error: FastifySchemaValidationError): string {
  const where = `${location}${field}`;
  switch (error.keyword) {
    case 'required':
      return `${where} is required`;
    case 'additionalProperties':
      return `${where} is not a known field`;
    case 'propertyNames':
      return `${where} is not a valid name here`;
    default:
      return `${where} ${error.message ?? 'is invalid'}`;
  }
}

/** The 400 invalid_request of the first ajv error of `location` (body, params, querystring, or a batch item). */
export function validationError(
  errors: readonly FastifySchemaValidationError[],
  location: ValidationLocation,
): ApiError {
  const first = errors[0];
  if (first === undefined)
    return apiError('invalid_request', { problem: `${location} is invalid` }, { location });
  const field = fieldOf(first);
  return apiError(
    'invalid_request',
    { problem: problemOf(location, field, first) },
    { location, field, rule: first.keyword, params: first.params },
  );
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error;
}

/**
 * The catalogue error a thrown error answers as: a client's mistake (4xx), or a store closed under a
 * read while the node stops (503 unavailable); null for anything else, a fault of ours (500 internal).
 */
export function catalogueError(
  error: unknown,
  context: { readonly bodyLimitBytes: number; readonly contentType?: string | undefined },
): ApiError | null {
  if (error instanceof ApiError) return error;
  if (error instanceof StoreClosedError) {
    return apiError('unavailable', { reason: 'closing' }, { reason: 'closing' }, { 'retry-after': '1' });
  }
  if (error instanceof StoreCursorError) {
    return apiError(
      'invalid_request',
      { problem: error.message },
      { location: 'querystring', field: '/after' },
    );
  }
  if (!isFastifyError(error)) return null;
  if (error.validation !== undefined)
    return validationError(error.validation, error.validationContext ?? 'request');
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return apiError(
        'payload_too_large',
        { what: 'request body', limitBytes: context.bodyLimitBytes },
        { limitBytes: context.bodyLimitBytes },
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return apiError(
        'unsupported_media_type',
        { contentType: JSON.stringify(context.contentType ?? '(none)') },
        { contentType: context.contentType ?? null },
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return apiError(
        'invalid_request',
        { problem: 'the body is empty: send a JSON object' },
        { location: 'body' },
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      // secure-json-parse also refuses __proto__ and constructor.prototype keys (prototype poisoning).
      return apiError(
        'invalid_request',
        { problem: 'the body is not valid JSON, or has a __proto__ or constructor.prototype key' },
        { location: 'body' },
      );
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return apiError('invalid_request', { problem: 'the body does not match its Content-Length' }, {});
    case 'FST_ERR_BAD_URL':
      return apiError('invalid_request', { problem: 'the URL is not valid (bad percent-encoding)' }, {});
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return apiError('invalid_request', { problem: 'a path segment is too long' }, { location: 'params' });
    default:
      break;
  }
  const status = error.statusCode;
  if (status === 413) {
    return apiError(
      'payload_too_large',
      { what: 'request body', limitBytes: context.bodyLimitBytes },
      { limitBytes: context.bodyLimitBytes },
    );
  }
  if (status === 415) {
    return apiError(
      'unsupported_media_type',
      { contentType: JSON.stringify(context.contentType ?? '(none)') },
      { contentType: context.contentType ?? null },
    );
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return apiError(
      'invalid_request',
      { problem: 'the request could not be read' },
      { reason: error.code ?? null },
    );
  }
  return null;
}
