/** `archive.afterSeconds` (issue 11): defaults to the idempotency retention, bounded, named in errors. */
import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../src/config.js';

const BASE = {
  cluster: 'c',
  region: 'eu',
  listen: { host: '127.0.0.1', port: 7001 },
  dataDir: 'data',
  tokens: [{ token: 's3cret-admin', role: 'admin' }],
};

function problemsOf(document: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    validateConfig(document, '/srv/allot', env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
}

describe('config archive.afterSeconds', () => {
  it('defaults to the idempotency retention', () => {
    expect(validateConfig(BASE, '/srv').archive).toEqual({ afterSeconds: 86_400 });
    expect(validateConfig({ ...BASE, idempotencyRetentionSeconds: 600 }, '/srv').archive).toEqual({
      afterSeconds: 600,
    });
  });

  it('takes a value from the file or ALLOT_ARCHIVE_AFTER_SECONDS', () => {
    expect(validateConfig({ ...BASE, archive: { afterSeconds: 3600 } }, '/srv').archive.afterSeconds).toBe(
      3600,
    );
    expect(validateConfig(BASE, '/srv', { ALLOT_ARCHIVE_AFTER_SECONDS: '120' }).archive.afterSeconds).toBe(
      120,
    );
  });

  it('refuses a value out of its bounds or an unknown field, naming it', () => {
    expect(problemsOf({ ...BASE, archive: { afterSeconds: 59 } }).join('\n')).toMatch(
      /archive\.afterSeconds/,
    );
    expect(problemsOf({ ...BASE, archive: { afterSeconds: 10 * 365 * 86_400 + 1 } }).join('\n')).toMatch(
      /archive\.afterSeconds/,
    );
    expect(problemsOf({ ...BASE, archive: { afterSeconds: 1.5 } }).join('\n')).toMatch(
      /archive\.afterSeconds/,
    );
    expect(problemsOf({ ...BASE, archive: { after: 60 } }).join('\n')).toMatch(/archive/);
  });
});
