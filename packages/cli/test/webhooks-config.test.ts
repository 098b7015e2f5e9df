import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from '../src/config.js';

const base = {
  cluster: 'acme-credits',
  region: 'eu',
  listen: { host: '127.0.0.1', port: 7001 },
  dataDir: './.data/eu',
  tokens: [{ token: 's3cret-admin', role: 'admin' }],
};
const SECRET = 'whsec-0123456789abcdef';

function problems(webhooks: unknown): readonly string[] {
  try {
    validateConfig({ ...base, webhooks }, '/etc/allot');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('config webhooks', () => {
  it('takes https:// endpoints and http:// to loopback, none by default', () => {
    expect(validateConfig(base, '/etc/allot').webhooks).toEqual([]);
    const webhooks = [
      { url: 'https://billing.internal/allot', secret: SECRET },
      { url: 'http://127.0.0.1:9000/hook', secret: SECRET },
      { url: 'http://localhost:9000/hook', secret: SECRET },
    ];
    expect(validateConfig({ ...base, webhooks }, '/etc/allot').webhooks).toEqual(webhooks);
  });

  it('refuses plain http:// elsewhere, a short secret, a duplicate, an unknown field, one line each', () => {
    expect(problems([{ url: 'http://billing.internal/allot', secret: SECRET }])).toEqual([
      expect.stringMatching(/^webhooks\.0\.url: .* is not https:\/\//),
    ]);
    expect(problems([{ url: 'ftp://x/y', secret: SECRET }])[0]).toMatch(/^webhooks\.0\.url:/);
    expect(problems([{ url: 'https://a/b', secret: 'short' }])[0]).toMatch(/^webhooks\.0\.secret:/);
    expect(
      problems([
        { url: 'https://a/b', secret: SECRET },
        { url: 'https://a/b', secret: SECRET },
      ]),
    ).toEqual(['webhooks.1.url: https://a/b is listed twice']);
    expect(problems([{ url: 'https://a/b', secret: SECRET, retries: 3 }])).toEqual([
      'webhooks.0.retries: unknown field',
    ]);
  });
});
