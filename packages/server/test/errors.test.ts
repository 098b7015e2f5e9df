/**
 * The error catalogue against API.md, the public contract: exactly its codes with its statuses,
 * plus the extensions named in EXTENSIONS, nothing else.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ApiError,
  apiError,
  ERROR_CATALOGUE,
  type ErrorCode,
  EXTENSIONS,
  errorObject,
  statusOf,
} from '../src/errors.js';

/**
 * The public contract as this build implements it: a verbatim copy of API.md kept in the repository,
 * so that a clone alone checks its catalogue. Where shared/ sits beside the repository (CI:
 * shared/API.md next to the clone), the copy must be the contract byte for byte.
 */
const API_MD = fileURLToPath(new URL('./contract/API.md', import.meta.url));
const SHARED_API_MD = fileURLToPath(new URL('../../../../shared/API.md', import.meta.url));

/** The codes and statuses of API.md's error paragraph ("Every error is … with these codes: …"). */
function apiMdCodes(): Map<string, number> {
  const text = readFileSync(API_MD, 'utf8');
  const start = text.indexOf('Every error is');
  const end = text.indexOf('A request that fails changes nothing', start);
  if (start < 0 || end < 0) throw new Error(`API.md (${API_MD}) no longer has its error paragraph`);
  const codes = new Map<string, number>();
  for (const match of text.slice(start, end).matchAll(/`([a-z_]+)`\s+(\d{3})/g)) {
    codes.set(match[1] as string, Number(match[2]));
  }
  return codes;
}

describe('the error catalogue', () => {
  const documented = apiMdCodes();

  it.skipIf(!existsSync(SHARED_API_MD))('checks a copy of API.md that is the contract verbatim', () => {
    expect(readFileSync(API_MD, 'utf8')).toBe(readFileSync(SHARED_API_MD, 'utf8'));
  });

  it('finds the codes of API.md', () => {
    expect(documented.size).toBeGreaterThanOrEqual(13);
    expect(documented.get('invalid_request')).toBe(400);
  });

  it('has exactly the codes of API.md with their statuses, plus the named extensions', () => {
    const extensions = new Set<string>(EXTENSIONS);
    const ours = new Map(
      Object.entries(ERROR_CATALOGUE)
        .filter(([code]) => !extensions.has(code))
        .map(([code, spec]) => [code, spec.status]),
    );
    expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(documented));
  });

  it('names every extension in the catalogue, and none of them in API.md', () => {
    for (const code of EXTENSIONS) {
      expect(ERROR_CATALOGUE).toHaveProperty(code);
      expect(documented.has(code)).toBe(false);
    }
  });

  it('answers 5xx only for our own faults', () => {
    const serverSide = Object.entries(ERROR_CATALOGUE)
      .filter(([, spec]) => spec.status >= 500)
      .map(([code]) => code)
      .sort();
    expect(serverSide).toEqual(['internal', 'not_ready', 'region_unreachable', 'unavailable']);
  });

  it('has a message template per code that ends a sentence', () => {
    for (const [code, spec] of Object.entries(ERROR_CATALOGUE)) {
      expect(spec.message, code).toMatch(/\.$/);
      expect(spec.status, code).toBeGreaterThanOrEqual(400);
    }
  });

  it('fills message templates and takes the status from the catalogue', () => {
    const error = apiError(
      'insufficient_credits',
      { tenant: 'acme', requested: 5, available: 2, reason: 'not enough credits' },
      { requested: 5, available: 2 },
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.statusCode).toBe(402);
    expect(error.code).toBe('insufficient_credits');
    expect(error.body).toEqual({
      code: 'insufficient_credits',
      message: 'Tenant acme cannot spend 5 at this region: 2 available (not enough credits).',
      details: { requested: 5, available: 2 },
    });
    expect(errorObject('not_ready', { why: 'opening' }).details).toEqual({});
    for (const code of Object.keys(ERROR_CATALOGUE) as ErrorCode[]) {
      expect(statusOf(code)).toBe(ERROR_CATALOGUE[code].status);
    }
  });
});
