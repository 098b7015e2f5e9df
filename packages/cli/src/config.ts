/**
 * The node config file (API.md "Node config"): YAML, every field validated at start. An unknown
 * key, a missing field or a bad value stops the start with one clear line per problem, naming the
 * field. Environment variables `ALLOT_<FIELD>` override scalar fields (`ALLOT_REGION`,
 * `ALLOT_LISTEN_PORT`, `ALLOT_DATADIR` or `ALLOT_DATA_DIR`, `ALLOT_HTTP_CONNECTIONSMAX`, …).
 * Tokens may also come from `tokensFile` (a YAML list of the same entries, e.g. a mounted
 * Kubernetes Secret), merged with `tokens`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import {
  BORROW_WAIT_MS_DEFAULT,
  CHECKPOINT_EVERY_EVENTS_DEFAULT,
  CHECKPOINT_EVERY_MS_DEFAULT,
  JOIN_THRESHOLD_EVENTS_DEFAULT,
  KEY_INDEX_MEMORY_BYTES_DEFAULT,
  RECORD_WINDOW_RECORDS_DEFAULT,
} from '@allot/replica';
import { resolveHttpLimits } from '@allot/server';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { CONFIG_SCHEMA, DEFAULT_KEY_FILE_NAME, TOKEN_LIST, TOKENS_MAX } from './config-schema.js';

/** A bearer token and what it may do. */
export interface TokenConfig {
  /** The token in clear, or `sha256:<64 hex digits>`: its SHA-256. */
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

/** Paths of the node's TLS identity (PEM files) and of the CA its peers' certificates are checked against. */
export interface TlsConfig {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/** Limits of the HTTP edge (all optional; defaults in @allot/server's limits.ts). */
export interface HttpConfig {
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  readonly connectionsMax?: number;
  readonly rateLimitWindowMs?: number;
  readonly rateLimitTokenRequests?: number;
  readonly rateLimitAnonymousRequests?: number;
  readonly eventLoopDelayMsMax?: number;
  readonly heapUsedBytesMax?: number;
  readonly pressureSampleIntervalMs?: number;
}

/** A validated node config; paths are absolute. */
export interface NodeConfig {
  readonly cluster: string;
  readonly region: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly dataDir: string;
  /** The region's Ed25519 key (default `<dataDir>/region.key`, generated on first start). */
  readonly keyFile: string;
  readonly peers: readonly PeerConfig[];
  /** `tokens` and the entries of `tokensFile`, merged: at least one. */
  readonly tokens: readonly TokenConfig[];
  /** Serve HTTPS and wss:// (absent: plain HTTP, peers on loopback only). */
  readonly tls?: TlsConfig;
  /** Limits of the HTTP edge (extension of API.md). */
  readonly http: HttpConfig;
  /** Start taking debits with no peer reachable to compare the log's head with (extension; default false). */
  readonly allowLoneStart: boolean;
  /** How long a debit this region cannot cover waits for rights from peers, ms (API.md; default 50). */
  readonly borrowWaitMs: number;
  readonly durability: 'fsync' | 'os';
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How long idempotency keys are kept (extension of API.md; default one day). */
  readonly idempotencyRetentionSeconds: number;
  /**
   * This region's newest full debit and refund records kept in memory (extension of API.md, issue
   * 18; default 0, ~600 B each): the others are read back from disk when a replay or refund needs
   * them (RECORD_WINDOW_RECORDS_DEFAULT says why none by default).
   */
  readonly recordWindowRecords: number;
  /**
   * Bytes the idempotency key index may hold in memory (extension of API.md, issue 18; default
   * 256 MiB): the open bucket's tables, then the Bloom filters of closed buckets on disk.
   */
  readonly keyIndexMemoryBytes: number;
  /**
   * When segments every region acknowledged move from LevelDB to archive files (extension of
   * API.md, issue 11): once their newest event is `afterSeconds` old (default: the idempotency
   * retention).
   */
  readonly archive: { readonly afterSeconds: number };
  /**
   * How often the node writes a checkpoint of its fold (extension of API.md, issue 11): after
   * `everyEvents` committed events or `everyMs` when any came in (defaults 250,000 and 10 min).
   */
  readonly checkpoint: { readonly everyEvents: number; readonly everyMs: number };
  /**
   * Joining by checkpoint (extension of API.md, issue 11): a node starting with nothing stored, or
   * far behind, joins by a checkpoint when a peer holds more than `thresholdEvents` events it lacks
   * of the other regions' logs (default 100,000), once
   * `agree` regions agree on its hash ("all" asked, the default, or at least that many).
   */
  readonly join: { readonly thresholdEvents: number; readonly agree: 'all' | number };
  /** Largest request body in bytes, but for the debit batch (extension of API.md; default 64 KiB). */
  readonly bodyLimitBytes: number;
  /** Where alerts are POSTed, signed with each endpoint's secret (API.md `webhooks`; default none). */
  readonly webhooks: readonly WebhookConfig[];
}

/** One webhook endpoint: an https:// URL (http:// only to a loopback address) and its signing secret. */
export interface WebhookConfig {
  readonly url: string;
  readonly secret: string;
}

/** The config is not usable: one line per problem, each naming the field. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

export { CONFIG_SCHEMA, DEFAULT_KEY_FILE_NAME } from './config-schema.js';

/** The fields of `http`, each overridable as ALLOT_HTTP_<FIELD>. */
const HTTP_FIELDS = [
  'headersTimeoutMs',
  'requestTimeoutMs',
  'keepAliveTimeoutMs',
  'connectionsMax',
  'rateLimitWindowMs',
  'rateLimitTokenRequests',
  'rateLimitAnonymousRequests',
  'eventLoopDelayMsMax',
  'heapUsedBytesMax',
  'pressureSampleIntervalMs',
] as const satisfies readonly (keyof HttpConfig)[];

/** Scalar fields that ALLOT_<FIELD> may override, by path, with how to read the variable. */
const OVERRIDES: readonly { path: readonly string[]; kind: 'string' | 'integer' | 'boolean' }[] = [
  { path: ['cluster'], kind: 'string' },
  { path: ['region'], kind: 'string' },
  { path: ['listen', 'host'], kind: 'string' },
  { path: ['listen', 'port'], kind: 'integer' },
  { path: ['dataDir'], kind: 'string' },
  { path: ['keyFile'], kind: 'string' },
  { path: ['durability'], kind: 'string' },
  { path: ['logLevel'], kind: 'string' },
  { path: ['idempotencyRetentionSeconds'], kind: 'integer' },
  { path: ['recordWindowRecords'], kind: 'integer' },
  { path: ['keyIndexMemoryBytes'], kind: 'integer' },
  { path: ['archive', 'afterSeconds'], kind: 'integer' },
  { path: ['checkpoint', 'everyEvents'], kind: 'integer' },
  { path: ['checkpoint', 'everyMs'], kind: 'integer' },
  { path: ['join', 'thresholdEvents'], kind: 'integer' },
  { path: ['join', 'agree'], kind: 'string' },
  { path: ['bodyLimitBytes'], kind: 'integer' },
  { path: ['tokensFile'], kind: 'string' },
  { path: ['allowLoneStart'], kind: 'boolean' },
  { path: ['borrowWaitMs'], kind: 'integer' },
  ...HTTP_FIELDS.map((field) => ({ path: ['http', field], kind: 'integer' as const })),
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
      if (kind === 'boolean') {
        if (text !== 'true' && text !== 'false') {
          problems.push(`${name}: must be true or false, got ${JSON.stringify(text)}`);
          continue;
        }
        value = text === 'true';
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

/** One line naming the field of an ajv error; `root` names the document (a field of the config, or none). */
function describe(error: ErrorObject, root?: string): string {
  const path = error.instancePath.slice(1).replaceAll('/', '.');
  const field =
    root === undefined ? (path === '' ? '(top level)' : path) : path === '' ? root : `${root}.${path}`;
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
const validateTokenList = ajv.compile(TOKEN_LIST);

/** True when `host` (of a URL: IPv6 in brackets) is a loopback address or `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./i.test(bare) || /^::ffff:7f/i.test(bare);
  return false;
}

/** The problem of a peer URL (API.md: not `wss://` only on loopback), or null. */
function peerUrlProblem(url: string, tls: boolean): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a valid URL';
  }
  if (parsed.protocol === 'ws:' && !isLoopbackHost(parsed.hostname)) {
    return `${url} is not wss://: links between regions carry money and customer data, so plain ws:// is only allowed to a loopback address`;
  }
  if (parsed.protocol === 'wss:' && !tls) {
    return `${url} is wss://, but this node has no tls config: its certificate is its client certificate towards peers`;
  }
  return null;
}

/** The problem of a webhook URL (API.md: https://, plain http:// only to a loopback address), or null. */
function webhookUrlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'not a valid URL';
  }
  if (parsed.protocol === 'https:') return null;
  if (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname)) return null;
  return `${url} is not https://: alerts carry tenants' balances, so plain http:// is only allowed to a loopback address`;
}

/** The token entries of `tokensFile` (a YAML list), with a problem line per bad entry naming it. */
function readTokensFile(path: string, problems: string[]): readonly TokenConfig[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    problems.push(`tokensFile: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    return [];
  }
  let document: unknown;
  try {
    document = parseYaml(text, { uniqueKeys: true });
  } catch (error) {
    problems.push(`tokensFile: ${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
    return [];
  }
  if (!validateTokenList(document)) {
    const lines = (validateTokenList.errors ?? []).map((error) => describe(error, 'tokensFile'));
    problems.push(...lines);
    return [];
  }
  return document as TokenConfig[];
}

/** Fields the file may leave out: the schema gives them defaults or they are optional. */
type DefaultedField =
  | 'durability'
  | 'logLevel'
  | 'peers'
  | 'keyFile'
  | 'tokens'
  | 'http'
  | 'allowLoneStart'
  | 'borrowWaitMs'
  | 'checkpoint'
  | 'join'
  | 'webhooks'
  | 'archive';

/**
 * Validates a parsed config document (with env overrides applied) and resolves relative paths
 * against `baseDir` (the config file's folder); reads `tokensFile` when given. Throws ConfigError
 * listing every problem.
 */
export function validateConfig(document: unknown, baseDir: string, env: NodeJS.ProcessEnv = {}): NodeConfig {
  const problems: string[] = [];
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ConfigError(['(top level): the config must be a YAML mapping']);
  }
  const raw = structuredClone(document) as Record<string, unknown>;
  applyOverrides(raw, env, problems);
  // ALLOT_JOIN_AGREE is "all" or a count: a count arrives as text.
  const joining = raw.join as Record<string, unknown> | undefined;
  if (typeof joining?.agree === 'string' && /^[0-9]+$/.test(joining.agree))
    joining.agree = Number(joining.agree);
  if (!validate(raw)) problems.push(...(validate.errors ?? []).map((error) => describe(error)));
  if (problems.length > 0) throw new ConfigError([...new Set(problems)]);
  const config = raw as unknown as Omit<NodeConfig, DefaultedField> &
    Partial<Pick<NodeConfig, DefaultedField>> & {
      readonly tokensFile?: string;
    };
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(baseDir, path));
  const peers = config.peers ?? [];
  const seen = new Set<string>();
  const keys = new Map<string, number>();
  for (const [i, peer] of peers.entries()) {
    if (peer.region === config.region)
      problems.push(`peers.${i}.region: ${peer.region} is this node's own region`);
    if (seen.has(peer.region)) problems.push(`peers.${i}.region: ${peer.region} is listed twice`);
    seen.add(peer.region);
    const first = keys.get(peer.publicKey);
    if (first !== undefined) {
      problems.push(
        `peers.${i}.publicKey: the same key as peers.${first}.publicKey: each region has its own key`,
      );
    } else {
      keys.set(peer.publicKey, i);
    }
    const urlProblem = peerUrlProblem(peer.url, config.tls !== undefined);
    if (urlProblem !== null) problems.push(`peers.${i}.url: ${urlProblem}`);
  }
  const fromFile =
    config.tokensFile === undefined ? [] : readTokensFile(absolute(config.tokensFile), problems);
  const inConfig = config.tokens ?? [];
  const tokens = [...inConfig, ...fromFile];
  const where = (i: number) => (i < inConfig.length ? `tokens.${i}` : `tokensFile.${i - inConfig.length}`);
  if (tokens.length === 0 && problems.length === 0) {
    problems.push('tokens: missing: give at least one token in tokens or in tokensFile');
  }
  if (tokens.length > TOKENS_MAX) {
    problems.push(`tokens: ${tokens.length} tokens in tokens and tokensFile together; at most ${TOKENS_MAX}`);
  }
  // Tokens are compared by their SHA-256, so one listed in clear and again hashed is caught too.
  const tokenSeen = new Set<string>();
  for (const [i, token] of tokens.entries()) {
    const hashed = /^sha256:([0-9a-fA-F]{64})$/.exec(token.token)?.[1];
    if (hashed === undefined && token.token.startsWith('sha256:')) {
      problems.push(`${where(i)}.token: starts with sha256: but is not followed by 64 hex digits`);
      continue;
    }
    const digest = hashed?.toLowerCase() ?? createHash('sha256').update(token.token).digest('hex');
    if (tokenSeen.has(digest)) problems.push(`${where(i)}.token: the same token is listed twice`);
    tokenSeen.add(digest);
  }
  const webhooks = config.webhooks ?? [];
  const webhookUrls = new Set<string>();
  for (const [i, webhook] of webhooks.entries()) {
    const problem = webhookUrlProblem(webhook.url);
    if (problem !== null) problems.push(`webhooks.${i}.url: ${problem}`);
    if (webhookUrls.has(webhook.url)) problems.push(`webhooks.${i}.url: ${webhook.url} is listed twice`);
    webhookUrls.add(webhook.url);
  }
  try {
    resolveHttpLimits(config.http);
  } catch (error) {
    problems.push((error as Error).message.replace(/^(http\.\w+) /, '$1: '));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const dataDir = absolute(config.dataDir);
  return {
    cluster: config.cluster,
    region: config.region,
    listen: { host: config.listen.host, port: config.listen.port },
    dataDir,
    keyFile: config.keyFile === undefined ? join(dataDir, DEFAULT_KEY_FILE_NAME) : absolute(config.keyFile),
    peers,
    tokens,
    ...(config.tls === undefined
      ? {}
      : {
          tls: {
            cert: absolute(config.tls.cert),
            key: absolute(config.tls.key),
            ca: absolute(config.tls.ca),
          },
        }),
    http: config.http ?? {},
    allowLoneStart: config.allowLoneStart ?? false,
    borrowWaitMs: config.borrowWaitMs ?? BORROW_WAIT_MS_DEFAULT,
    durability: config.durability ?? 'fsync',
    logLevel: config.logLevel ?? 'info',
    idempotencyRetentionSeconds: config.idempotencyRetentionSeconds ?? 86_400,
    recordWindowRecords: config.recordWindowRecords ?? RECORD_WINDOW_RECORDS_DEFAULT,
    keyIndexMemoryBytes: config.keyIndexMemoryBytes ?? KEY_INDEX_MEMORY_BYTES_DEFAULT,
    archive: {
      afterSeconds: config.archive?.afterSeconds ?? config.idempotencyRetentionSeconds ?? 86_400,
    },
    checkpoint: {
      everyEvents: config.checkpoint?.everyEvents ?? CHECKPOINT_EVERY_EVENTS_DEFAULT,
      everyMs: config.checkpoint?.everyMs ?? CHECKPOINT_EVERY_MS_DEFAULT,
    },
    join: {
      thresholdEvents: config.join?.thresholdEvents ?? JOIN_THRESHOLD_EVENTS_DEFAULT,
      agree: config.join?.agree ?? 'all',
    },
    bodyLimitBytes: config.bodyLimitBytes ?? 64 * 1024,
    webhooks,
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
