/** `join.thresholdEvents` and `join.agree` (issue 11, joining by checkpoint): defaults, env, bounds. */
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

describe('config join', () => {
  it('defaults to 100,000 events and every region asked', () => {
    expect(validateConfig(BASE, '/srv').join).toEqual({ thresholdEvents: 100_000, agree: 'all' });
  });

  it('takes values from the file or ALLOT_JOIN_THRESHOLD_EVENTS / ALLOT_JOIN_AGREE', () => {
    expect(validateConfig({ ...BASE, join: { thresholdEvents: 5_000, agree: 2 } }, '/srv').join).toEqual({
      thresholdEvents: 5_000,
      agree: 2,
    });
    const env = { ALLOT_JOIN_THRESHOLD_EVENTS: '2000', ALLOT_JOIN_AGREE: '1' };
    expect(validateConfig(BASE, '/srv', env).join).toEqual({ thresholdEvents: 2_000, agree: 1 });
    expect(validateConfig(BASE, '/srv', { ALLOT_JOIN_AGREE: 'all' }).join.agree).toBe('all');
  });

  it('refuses values out of their bounds or unknown, naming the field', () => {
    expect(problemsOf({ ...BASE, join: { thresholdEvents: 10 } }).join(' ')).toMatch(/join\.thresholdEvents/);
    expect(problemsOf({ ...BASE, join: { agree: 0 } }).join(' ')).toMatch(/join\.agree/);
    expect(problemsOf({ ...BASE, join: { agree: 'most' } }).join(' ')).toMatch(/join\.agree/);
    expect(problemsOf(BASE, { ALLOT_JOIN_AGREE: '65' }).join(' ')).toMatch(/join\.agree/);
    expect(problemsOf({ ...BASE, join: { every: 1 } }).join(' ')).toMatch(/join\.every: unknown field/);
  });
});
