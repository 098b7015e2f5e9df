/**
 * The node config file (API.md "Node config"): YAML, every field validated at start. An unknown
 * key, a missing field or a bad value stops the start with one clear line per problem, naming the
 * field. Environment variables `ALLOT_<FIELD>` override scalar fields (`ALLOT_REGION`,
 * `ALLOT_LISTEN_PORT`, `ALLOT_DATADIR` or `ALLOT_DATA_DIR`, …).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';

/** A bearer token and what it may do. */
export interface TokenConfig {
  readonly token: string;
  readonly role: 'service' | 'admin' | 'auditor';
  readonly tenants?: readonly string[];
}

/** Another region of the cluster. */
export interface PeerConfig {
  readonly region: string;
  readonly url: string;
  readonly publicKey: string;
}

/** A validated node config; paths are absolute. */
export interface NodeConfig {
  readonly cluster: string;
  readonly region: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly dataDir: string;
  readonly keyFile: string;
  readonly peers: readonly PeerConfig[];
  readonly tokens: readonly TokenConfig[];
  readonly durability: 'fsync' | 'os';
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How long idempotency keys are kept (extension of API.md; default one day). */
  readonly idempotencyRetentionSeconds: number;
  /** Largest request body in bytes, but for the debit batch (extension of API.md; default 64 KiB). */
  readonly bodyLimitBytes: number;
}

/** The config is not usable: one line per problem, each naming the field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

const REGION = '^[a-z0-9-]{1,32}$';

/** JSON schema of the config file (after env overrides, before defaults). */
export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['cluster', 'region', 'listen', 'dataDir', 'keyFile', 'tokens'],
  properties: {
    cluster: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
    region: { type: 'string', pattern: REGION },
    listen: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port'],
      properties: {
        host: { type: 'string', minLength: 1, maxLength: 255 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
      },
    },
    dataDir: { type: 'string', minLength: 1 },
    keyFile: { type: 'string', minLength: 1 },
    peers: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['region', 'url', 'publicKey'],
        properties: {
          region: { type: 'string', pattern: REGION },
          url: { type: 'string', pattern: '^wss?://[^\\s]+$' },
          publicKey: { type: 'string', pattern: '^[A-Za-z0-9+/]{43}=$' },
        },
      },
    },
    tokens: {
      type: 'array',
      minItems: 1,
      maxItems: 1024,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['token', 'role'],
        properties: {
          token: { type: 'string', minLength: 8, maxLength: 512, pattern: '^[\\x21-\\x7e]+$' },
          role: { enum: ['service', 'admin', 'auditor'] },
          tenants: {
            type: 'array',
            minItems: 1,
            maxItems: 10000,
            items: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
          },
        },
      },
    },
    durability: { enum: ['fsync', 'os'] },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    idempotencyRetentionSeconds: { type: 'integer', minimum: 60, maximum: 31_536_000 },
    bodyLimitBytes: { type: 'integer', minimum: 1024, maximum: 67_108_864 },
  },
} as const;

/** Scalar fields that ALLOT_<FIELD> may override, by path, with how to read the variable. */
const OVERRIDES: readonly { path: readonly string[]; kind: 'string' | 'integer' }[] = [
  { path: ['cluster'], kind: 'string' },
  { path: ['region'], kind: 'string' },
  { path: ['listen', 'host'], kind: 'string' },
  { path: ['listen', 'port'], kind: 'integer' },
  { path: ['dataDir'], kind: 'string' },
  { path: ['keyFile'], kind: 'string' },
  { path: ['durability'], kind: 'string' },
  { path: ['logLevel'], kind: 'string' },
  { path: ['idempotencyRetentionSeconds'], kind: 'integer' },
  { path: ['bodyLimitBytes'], kind: 'integer' },
];

/** `dataDir` → [`ALLOT_DATADIR`, `ALLOT_DATA_DIR`]; `listen.port` → [`ALLOT_LISTEN_PORT`]. */
function envNames(path: readonly string[]): string[] {
  const plain = `ALLOT_${path.map((part) => part.toUpperCase()).join('_')}`;
  const snake = `ALLOT_${path.map((part) => part.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()).join('_')}`;
  return plain === snake ? [plain] : [plain, snake];
}

function applyOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, problems: string[]): void {
  for (const { path, kind } of OVERRIDES) {
    for (const name of envNames(path)) {
      const text = env[name];
      if (text === undefined) continue;
      let value: unknown = text;
      if (kind === 'integer') {
        if (!/^-?[0-9]+$/.test(text)) {
          problems.push(`${name}: must be an integer, got ${JSON.stringify(text)}`);
          continue;
        }
        value = Number(text);
      }
      let target = raw;
      for (const part of path.slice(0, -1)) {
        if (typeof target[part] !== 'object' || target[part] === null) target[part] = {};
        target = target[part] as Record<string, unknown>;
      }
      target[path[path.length - 1] as string] = value;
    }
  }
}

function describe(error: ErrorObject): string {
  const field = error.instancePath === '' ? '(top level)' : error.instancePath.slice(1).replaceAll('/', '.');
  switch (error.keyword) {
    case 'additionalProperties':
      return `${field === '(top level)' ? '' : `${field}.`}${error.params.additionalProperty as string}: unknown field`;
    case 'required':
      return `${field === '(top level)' ? '' : `${field}.`}${error.params.missingProperty as string}: missing`;
    case 'enum':
      return `${field}: must be one of ${(error.params.allowedValues as unknown[]).join(', ')}`;
    case 'pattern':
      return `${field}: invalid value (must match ${error.params.pattern as string})`;
    default:
      return `${field}: ${error.message ?? 'invalid'}`;
  }
}

const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(CONFIG_SCHEMA);

/**
 * Validates a parsed config document (with env overrides applied) and resolves relative paths
 * against `baseDir` (the config file's folder). Throws ConfigError listing every problem.
 */
export function validateConfig(document: unknown, baseDir: string, env: NodeJS.ProcessEnv = {}): NodeConfig {
  const problems: string[] = [];
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ConfigError(['(top level): the config must be a YAML mapping']);
  }
  const raw = structuredClone(document) as Record<string, unknown>;
  applyOverrides(raw, env, problems);
  if (!validate(raw)) problems.push(...(validate.errors ?? []).map(describe));
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  const config = raw as unknown as Omit<NodeConfig, 'durability' | 'logLevel' | 'peers'> &
    Partial<Pick<NodeConfig, 'durability' | 'logLevel' | 'peers'>>;
  const peers = config.peers ?? [];
  const seen = new Set<string>();
  for (const [i, peer] of peers.entries()) {
    if (peer.region === config.region)
      problems.push(`peers.${i}.region: ${peer.region} is this node's own region`);
    if (seen.has(peer.region)) problems.push(`peers.${i}.region: ${peer.region} is listed twice`);
    seen.add(peer.region);
  }
  const tokens = new Set<string>();
  for (const [i, token] of config.tokens.entries()) {
    if (tokens.has(token.token)) problems.push(`tokens.${i}.token: the same token is listed twice`);
    tokens.add(token.token);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  return {
    cluster: config.cluster,
    region: config.region,
    listen: { host: config.listen.host, port: config.listen.port },
    dataDir: absolute(config.dataDir),
    keyFile: absolute(config.keyFile),
    peers,
    tokens: config.tokens,
    durability: config.durability ?? 'fsync',
    logLevel: config.logLevel ?? 'info',
    idempotencyRetentionSeconds: config.idempotencyRetentionSeconds ?? 86_400,
    bodyLimitBytes: config.bodyLimitBytes ?? 64 * 1024,
  };
}

/** Reads, parses and validates the config file at `path`. Throws ConfigError with clear lines. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([
      `${path}: cannot read the config file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    ]);
  }
  let document: unknown;
  try {
    document = parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    throw new ConfigError([`${path}: not valid YAML: ${(error as Error).message.split('\n')[0]}`]);
  }
  return validateConfig(document, dirname(resolve(path)), env);
}
