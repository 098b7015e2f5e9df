import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, validateConfig } from '../src/config.js';

const valid = {
  cluster: 'acme-credits',
  region: 'eu',
  listen: { host: '127.0.0.1', port: 7001 },
  dataDir: './.data/eu',
  keyFile: './.data/eu/region.key',
  peers: [{ region: 'us', url: 'ws://127.0.0.1:7002/v1/replication', publicKey: `${'A'.repeat(43)}=` }],
  tokens: [
    { token: 's3cret-service', role: 'service' },
    { token: 's3cret-acme', role: 'service', tenants: ['acme'] },
  ],
  durability: 'fsync',
  logLevel: 'info',
};

function problems(document: unknown, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    validateConfig(document, '/etc/allot', env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

const dir = mkdtempSync(join(tmpdir(), 'allot-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('node config', () => {
  it('accepts the example of API.md, with defaults and paths resolved against the file', () => {
    const config = validateConfig(valid, '/etc/allot');
    expect(config.dataDir).toBe('/etc/allot/.data/eu');
    expect(config.durability).toBe('fsync');
    expect(config.idempotencyRetentionSeconds).toBe(86_400);
    const { durability: _d, logLevel: _l, peers: _p, ...minimal } = valid;
    expect(validateConfig(minimal, '/').peers).toEqual([]);
  });

  it('names the field of an unknown key, a missing field and a bad value, one line each', () => {
    expect(problems({ ...valid, colour: 'blue' })).toEqual(['colour: unknown field']);
    const { region: _r, ...noRegion } = valid;
    expect(problems(noRegion)).toEqual(['region: missing']);
    expect(problems({ ...valid, region: 'EU!' })).toEqual([
      'region: invalid value (must match ^[a-z0-9-]{1,32}$)',
    ]);
    expect(problems({ ...valid, durability: 'sometimes' })).toEqual(['durability: must be one of fsync, os']);
    expect(problems({ ...valid, listen: { host: 'x', port: 70000 } })).toEqual([
      'listen.port: must be <= 65535',
    ]);
    expect(problems({ ...valid, listen: { host: 'x', port: '7001' } })).toEqual([
      'listen.port: must be integer',
    ]);
    expect(problems({ ...valid, tokens: [{ token: 's3cret-x', role: 'root' }] })).toEqual([
      'tokens.0.role: must be one of service, admin, auditor',
    ]);
    expect(problems({ ...valid, peers: [{ ...valid.peers[0], region: 'eu' }] })).toEqual([
      "peers.0.region: eu is this node's own region",
    ]);
    expect(problems({ ...valid, tokens: [valid.tokens[0], valid.tokens[0]] })).toEqual([
      'tokens.1.token: the same token is listed twice',
    ]);
    expect(problems([1, 2])).toEqual(['(top level): the config must be a YAML mapping']);
  });

  it('lets ALLOT_<FIELD> override scalar fields, and names a bad override', () => {
    const config = validateConfig(valid, '/', {
      ALLOT_REGION: 'ap',
      ALLOT_LISTEN_PORT: '7009',
      ALLOT_DATA_DIR: '/srv/x',
    });
    expect(config.region).toBe('ap');
    expect(config.listen.port).toBe(7009);
    expect(config.dataDir).toBe('/srv/x');
    expect(validateConfig(valid, '/', { ALLOT_DURABILITY: 'os' }).durability).toBe('os');
    expect(problems(valid, { ALLOT_LISTEN_PORT: 'seven' })).toEqual([
      'ALLOT_LISTEN_PORT: must be an integer, got "seven"',
    ]);
  });

  it('reads YAML files and says what is wrong with an unreadable or broken one', () => {
    const file = join(dir, 'node.yaml');
    writeFileSync(
      file,
      'cluster: c\nregion: eu\nlisten: { host: h, port: 1 }\ndataDir: d\nkeyFile: k\ntokens:\n  - { token: t0123456, role: admin }\n',
    );
    expect(loadConfig(file, {}).keyFile).toBe(join(dir, 'k'));
    writeFileSync(file, 'cluster: [unclosed');
    expect(() => loadConfig(file, {})).toThrow(/not valid YAML/);
    writeFileSync(file, 'region: eu\nregion: us\n');
    expect(() => loadConfig(file, {})).toThrow(/not valid YAML/);
    expect(() => loadConfig(join(dir, 'absent.yaml'), {})).toThrow(/cannot read the config file \(ENOENT\)/);
  });
});
