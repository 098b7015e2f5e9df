/** Errors that are not fastify's validation: the store's, and anything unknown (ours: 500). */
import { StoreClosedError, StoreCursorError } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { catalogueError } from '../src/request-errors.js';

describe('the catalogue error of a thrown error', () => {
  const context = { bodyLimitBytes: 100 };

  it('answers a cursor the store did not hand out 400 invalid_request', () => {
    const error = catalogueError(new StoreCursorError('zz', 'not a cursor of this store'), context);
    expect(error?.statusCode).toBe(400);
    expect(error?.body.details).toEqual({ location: 'querystring', field: '/after' });
  });

  it('answers a store closed under a read 503 unavailable, to retry', () => {
    const error = catalogueError(new StoreClosedError('closed'), context);
    expect(error?.statusCode).toBe(503);
    expect(error?.body).toMatchObject({ code: 'unavailable', details: { reason: 'closing' } });
    expect(error?.headers['retry-after']).toBe('1');
  });

  it('knows nothing else: a bug is ours', () => {
    expect(catalogueError(new Error('boom'), context)).toBeNull();
    expect(catalogueError(new SyntaxError('Unexpected token'), context)).toBeNull();
    expect(catalogueError('a string', context)).toBeNull();
    expect(catalogueError(undefined, context)).toBeNull();
  });
});
