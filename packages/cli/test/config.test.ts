import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, isLoopbackHost, loadConfig, validateConfig } from '../src/config.js';

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
    expect(config.recordWindowRecords).toBe(0);
    expect(validateConfig({ ...valid, recordWindowRecords: 100_000 }, '/').recordWindowRecords).toBe(100_000);
    expect(validateConfig({ ...valid, recordWindowRecords: 0 }, '/').recordWindowRecords).toBe(0);
    expect(problems({ ...valid, recordWindowRecords: 10_000_001 })).toEqual([
      'recordWindowRecords: must be <= 10000000',
    ]);
    expect(problems({ ...valid, recordWindowRecords: -1 })).toEqual(['recordWindowRecords: must be >= 0']);
    expect(config.keyIndexMemoryBytes).toBe(256 * 1024 * 1024);
    expect(validateConfig({ ...valid, keyIndexMemoryBytes: 0 }, '/').keyIndexMemoryBytes).toBe(0);
    expect(problems({ ...valid, keyIndexMemoryBytes: -1 })).toEqual(['keyIndexMemoryBytes: must be >= 0']);
    expect(problems({ ...valid, keyIndexMemoryBytes: 2 ** 37 })).toEqual([
      'keyIndexMemoryBytes: must be <= 68719476736',
    ]);
    const env = { ALLOT_KEY_INDEX_MEMORY_BYTES: '1048576' };
    expect(validateConfig(valid, '/', env).keyIndexMemoryBytes).toBe(1_048_576);
    const { durability: _d, logLevel: _l, peers: _p, ...minimal } = valid;
    expect(validateConfig(minimal, '/').peers).toEqual([]);
  });

  it('checkpoint: defaults, bounds with clear lines, and ALLOT_CHECKPOINT_* overrides', () => {
    expect(validateConfig(valid, '/').checkpoint).toEqual({ everyEvents: 250_000, everyMs: 600_000 });
    expect(validateConfig({ ...valid, checkpoint: { everyMs: 5_000 } }, '/').checkpoint).toEqual({
      everyEvents: 250_000,
      everyMs: 5_000,
    });
    expect(problems({ ...valid, checkpoint: { everyEvents: 10, everyMs: 1 } })).toEqual([
      'checkpoint.everyEvents: must be >= 1000',
      'checkpoint.everyMs: must be >= 1000',
    ]);
    expect(problems({ ...valid, checkpoint: { every: 1 } })).toEqual(['checkpoint.every: unknown field']);
    const env = { ALLOT_CHECKPOINT_EVERY_EVENTS: '5000', ALLOT_CHECKPOINT_EVERY_MS: '2000' };
    expect(validateConfig(valid, '/', env).checkpoint).toEqual({ everyEvents: 5_000, everyMs: 2_000 });
    expect(problems(valid, { ALLOT_CHECKPOINT_EVERY_MS: 'soon' })).toEqual([
      'ALLOT_CHECKPOINT_EVERY_MS: must be an integer, got "soon"',
    ]);
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

  it('defaults keyFile to <dataDir>/region.key', () => {
    const { keyFile: _k, ...noKeyFile } = valid;
    expect(validateConfig(noKeyFile, '/etc/allot').keyFile).toBe('/etc/allot/.data/eu/region.key');
    expect(validateConfig(noKeyFile, '/etc/allot', { ALLOT_KEYFILE: '/keys/eu.key' }).keyFile).toBe(
      '/keys/eu.key',
    );
  });

  it('refuses two peers with one public key, naming the second', () => {
    const peers = [
      valid.peers[0],
      { region: 'ap', url: 'ws://127.0.0.1:7003/v1/replication', publicKey: valid.peers[0]?.publicKey },
    ];
    expect(problems({ ...valid, peers })).toEqual([
      'peers.1.publicKey: the same key as peers.0.publicKey: each region has its own key',
    ]);
  });

  it('refuses a peer URL that is not wss:// unless its host is loopback, one line naming the field', () => {
    const peer = (url: string) => ({ ...valid, peers: [{ ...valid.peers[0], url }] });
    for (const url of [
      'ws://127.0.0.1:7002/v1/replication',
      'ws://127.8.9.10:7002/v1/replication',
      'ws://localhost:7002/v1/replication',
      'ws://[::1]:7002/v1/replication',
    ]) {
      expect(problems(peer(url)), url).toEqual([]);
    }
    for (const url of [
      'ws://10.0.0.2:7002/v1/replication',
      'ws://us.internal:7002/v1/replication',
      'ws://[::2]:7/x',
    ]) {
      const lines = problems(peer(url));
      expect(lines, url).toHaveLength(1);
      expect(lines[0]).toMatch(/^peers\.0\.url: .* is not wss:\/\/: .*only allowed to a loopback address$/);
    }
    // wss:// needs the node's own certificate, which is its client certificate towards peers.
    expect(problems(peer('wss://us.internal:7002/v1/replication'))).toEqual([
      'peers.0.url: wss://us.internal:7002/v1/replication is wss://, but this node has no tls config: its certificate is its client certificate towards peers',
    ]);
    const tls = { cert: 'tls/eu.crt', key: 'tls/eu.key', ca: 'tls/ca.crt' };
    const withTls = validateConfig({ ...peer('wss://us.internal:7002/v1/replication'), tls }, '/etc/allot');
    expect(withTls.tls).toEqual({
      cert: '/etc/allot/tls/eu.crt',
      key: '/etc/allot/tls/eu.key',
      ca: '/etc/allot/tls/ca.crt',
    });
    expect(problems({ ...valid, tls: { cert: 'a', key: 'b' } })).toEqual(['tls.ca: missing']);
    expect(problems({ ...valid, tls: { ...tls, pass: 'x' } })).toEqual(['tls.pass: unknown field']);
    expect(isLoopbackHost('127.0.0.1')).toBe(true);
    expect(isLoopbackHost('[::1]')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    expect(isLoopbackHost('127.0.0.1.example.com')).toBe(false);
  });

  it('takes tokens as sha256:<hex>, and names a malformed one', () => {
    const hex = createHash('sha256').update('s3cret-hashed').digest('hex');
    const config = validateConfig({ ...valid, tokens: [{ token: `sha256:${hex}`, role: 'admin' }] }, '/');
    expect(config.tokens).toEqual([{ token: `sha256:${hex}`, role: 'admin' }]);
    expect(problems({ ...valid, tokens: [{ token: `sha256:${hex.slice(2)}`, role: 'admin' }] })).toEqual([
      'tokens.0.token: starts with sha256: but is not followed by 64 hex digits',
    ]);
    // The same token in clear and hashed (in any case) is one token listed twice.
    expect(
      problems({
        ...valid,
        tokens: [
          { token: 's3cret-hashed', role: 'admin' },
          { token: `sha256:${hex.toUpperCase()}`, role: 'service' },
        ],
      }),
    ).toEqual(['tokens.1.token: the same token is listed twice']);
  });

  it('merges tokensFile with tokens; either may be absent, but not both', () => {
    const tokensFile = join(dir, 'tokens.yaml');
    writeFileSync(
      tokensFile,
      '- { token: from-the-file, role: auditor }\n- { token: scoped-file, role: service, tenants: [acme] }\n',
    );
    const both = validateConfig({ ...valid, tokensFile: 'tokens.yaml' }, dir);
    expect(both.tokens.map((token) => token.token)).toEqual([
      's3cret-service',
      's3cret-acme',
      'from-the-file',
      'scoped-file',
    ]);
    const { tokens: _t, ...noTokens } = valid;
    expect(validateConfig({ ...noTokens, tokensFile }, '/').tokens).toHaveLength(2);
    expect(validateConfig(noTokens, '/', { ALLOT_TOKENSFILE: tokensFile }).tokens).toHaveLength(2);
    expect(problems(noTokens)).toEqual([
      'tokens: missing: give at least one token in tokens or in tokensFile',
    ]);
    expect(problems({ ...noTokens, tokens: [] })).toEqual(['tokens: must NOT have fewer than 1 items']);
    writeFileSync(
      tokensFile,
      '- { token: s3cret-service, role: admin }\n- { token: short, role: admin }\n- { token: fine-token, role: root }\n',
    );
    expect(problems({ ...valid, tokensFile })).toEqual([
      'tokensFile.1.token: must NOT have fewer than 8 characters',
      'tokensFile.2.role: must be one of service, admin, auditor',
    ]);
    writeFileSync(tokensFile, '- { token: s3cret-service, role: admin }\n');
    expect(problems({ ...valid, tokensFile })).toEqual([
      'tokensFile.0.token: the same token is listed twice',
    ]);
    writeFileSync(tokensFile, 'token: not-a-list\n');
    expect(problems({ ...valid, tokensFile })).toEqual(['tokensFile: must be array']);
    writeFileSync(tokensFile, '- [unclosed\n');
    expect(problems({ ...valid, tokensFile })[0]).toMatch(/^tokensFile: .* is not valid YAML/);
    expect(problems({ ...valid, tokensFile: join(dir, 'absent.yaml') })[0]).toMatch(
      /^tokensFile: cannot read .*absent\.yaml \(ENOENT\)$/,
    );
  });

  it('takes the optional http limits and allowLoneStart, with env overrides, and names a bad one', () => {
    expect(validateConfig(valid, '/').http).toEqual({});
    expect(validateConfig(valid, '/').allowLoneStart).toBe(false);
    const config = validateConfig({ ...valid, http: { connectionsMax: 64, requestTimeoutMs: 5_000 } }, '/', {
      ALLOT_HTTP_HEADERSTIMEOUTMS: '2000',
      ALLOT_ALLOWLONESTART: 'true',
    });
    expect(config.http).toEqual({ connectionsMax: 64, requestTimeoutMs: 5_000, headersTimeoutMs: 2_000 });
    expect(config.allowLoneStart).toBe(true);
    expect(validateConfig(valid, '/', { ALLOT_ALLOW_LONE_START: 'false' }).allowLoneStart).toBe(false);
    expect(problems(valid, { ALLOT_ALLOWLONESTART: 'yes' })).toEqual([
      'ALLOT_ALLOWLONESTART: must be true or false, got "yes"',
    ]);
    expect(problems({ ...valid, allowLoneStart: 'yes' })).toEqual(['allowLoneStart: must be boolean']);
    expect(problems({ ...valid, http: { connectionsMax: 0 } })).toEqual([
      'http.connectionsMax: must be >= 1',
    ]);
    expect(problems({ ...valid, http: { burst: 1 } })).toEqual(['http.burst: unknown field']);
    expect(problems({ ...valid, http: { headersTimeoutMs: 9_000, requestTimeoutMs: 5_000 } })).toEqual([
      'http.headersTimeoutMs: must not exceed http.requestTimeoutMs (9000 > 5000)',
    ]);
  });
});
