/**
 * `allot dev [--regions eu,us,ap] [--base-port 7001] [--data .data]`: a local cluster on loopback in
 * one process, one node per region. Each region keeps its data and its Ed25519 key in
 * `<data>/<region>/`; the cluster's tokens live in `<data>/dev-tokens.json`. Keys and tokens are
 * made on the first start and reused after, so URLs, tokens and incarnations survive a restart.
 * Each region's config goes through `validateConfig`, exactly as a user's YAML would.
 * SIGTERM or SIGINT stops every node cleanly; exit code 0.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ReplicaOpenError } from '@allot/replica';
import { generateRegionKey, rawPublicKey, readRegionKey, writeRegionKey } from '@allot/store';
import { InvalidArgumentError } from 'commander';
import { CONFIG_SCHEMA, ConfigError, type NodeConfig, validateConfig } from '../config.js';
import { type RunningNode, startNode } from './node.js';

/** Regions of `allot dev` when `--regions` is not given. */
export const DEV_REGIONS: readonly string[] = ['eu', 'us', 'ap'];
/** Cluster id of every dev cluster. */
export const DEV_CLUSTER = 'allot-dev';
/** Port of the first region; the next regions take the next ports. */
export const DEV_BASE_PORT = 7001;
/** Where keys, tokens and region data live, relative to the working directory. */
export const DEV_DATA = '.data';
/** Log level of the dev nodes: warnings only, so the printed URLs and tokens stay in sight. */
export const DEV_LOG_LEVEL: NodeConfig['logLevel'] = 'warn';
/** Log levels `--log-level` accepts: those of the node config. */
export const DEV_LOG_LEVELS: readonly NodeConfig['logLevel'][] = CONFIG_SCHEMA.properties.logLevel.enum;
/**
 * Most regions in one dev process. Every pair of regions keeps a replication connection, and all
 * nodes, each with its own LevelDB, share one event loop; eight is past any demo or test.
 */
export const DEV_REGIONS_MAX = 8;
/** The tokens file inside the data folder. */
export const DEV_TOKENS_FILE = 'dev-tokens.json';

const REGION = new RegExp(CONFIG_SCHEMA.properties.region.pattern);
const ROLES = ['admin', 'service', 'auditor'] as const;
/** What each role may do, as the banner says it (API.md "Node config"). */
const ROLE_RIGHTS: Readonly<Record<(typeof ROLES)[number], string>> = {
  admin: 'grants, refunds, policies, read',
  service: 'debit, read',
  auditor: 'read-only: balances, events, snapshots',
};

/** Options of `allot dev`, as the command line gives them. */
export interface DevOptions {
  readonly regions: readonly string[];
  readonly basePort: number;
  /** Data folder, relative to the working directory or absolute. */
  readonly data: string;
  readonly logLevel: NodeConfig['logLevel'];
}

/** The dev cluster's bearer tokens, one per role, the same at every region. */
export type DevTokens = Readonly<Record<(typeof ROLES)[number], string>>;

/** One region of the dev cluster, before its config is built. */
export interface DevRegion {
  readonly region: string;
  readonly port: number;
  readonly dataDir: string;
  readonly keyFile: string;
  /** Raw Ed25519 public key, base64. */
  readonly publicKey: string;
}

/** `--regions`: comma-separated region ids, 1 to DEV_REGIONS_MAX, each valid, none twice. */
export function parseRegions(text: string): string[] {
  const regions = text.split(',').map((region) => region.trim());
  if (regions.length > DEV_REGIONS_MAX) {
    throw new InvalidArgumentError(`at most ${DEV_REGIONS_MAX} regions, got ${regions.length}.`);
  }
  const seen = new Set<string>();
  for (const region of regions) {
    if (!REGION.test(region)) {
      throw new InvalidArgumentError(`${JSON.stringify(region)} is not a region id (${REGION.source}).`);
    }
    if (seen.has(region)) throw new InvalidArgumentError(`${region} is listed twice.`);
    seen.add(region);
  }
  return regions;
}

/** `--base-port`: an integer port, 1 to 65535. */
export function parsePort(text: string): number {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 65_535)) throw new InvalidArgumentError('must be a port, 1 to 65535.');
  return port;
}

/** Reads the dev tokens from `file`, or makes random ones and writes them there (mode 0600). */
export function loadDevTokens(file: string): DevTokens {
  if (existsSync(file)) {
    let tokens: unknown;
    try {
      tokens = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new ConfigError([`${file}: not JSON (${(error as Error).message}); delete it to get new tokens`]);
    }
    const problems = ROLES.filter(
      (role) => typeof (tokens as Record<string, unknown> | null)?.[role] !== 'string',
    ).map((role) => `${file}: ${role}: missing or not a string; delete the file to get new tokens`);
    if (problems.length > 0) throw new ConfigError(problems);
    const read = tokens as Record<string, string>;
    return { admin: read.admin as string, service: read.service as string, auditor: read.auditor as string };
  }
  const tokens: DevTokens = {
    admin: `dev-admin-${randomBytes(18).toString('base64url')}`,
    service: `dev-service-${randomBytes(18).toString('base64url')}`,
    auditor: `dev-auditor-${randomBytes(18).toString('base64url')}`,
  };
  // Written aside and renamed, so a crash never leaves a half-written tokens file behind.
  const partial = `${file}.partial`;
  rmSync(partial, { force: true });
  writeFileSync(partial, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  renameSync(partial, file);
  return tokens;
}

/** The region key at `keyFile`, made on the first start; returns its raw public key in base64. */
export function loadDevRegionKey(keyFile: string): string {
  if (!existsSync(keyFile)) {
    mkdirSync(dirname(keyFile), { recursive: true });
    writeRegionKey(keyFile, generateRegionKey());
  }
  try {
    return Buffer.from(rawPublicKey(readRegionKey(keyFile))).toString('base64');
  } catch (error) {
    throw new ConfigError([`${keyFile}: not a region key (${(error as Error).message})`]);
  }
}

/**
 * The config document of each region, as a user would write it in YAML: every other region is a
 * peer, every region has the same tokens, durability fsync.
 */
export function devConfigDocuments(
  regions: readonly DevRegion[],
  tokens: DevTokens,
  logLevel: NodeConfig['logLevel'],
): Record<string, unknown>[] {
  return regions.map((own) => ({
    cluster: DEV_CLUSTER,
    region: own.region,
    listen: { host: '127.0.0.1', port: own.port },
    dataDir: own.dataDir,
    keyFile: own.keyFile,
    peers: regions
      .filter((other) => other.region !== own.region)
      .map((other) => ({
        region: other.region,
        url: `ws://127.0.0.1:${other.port}/v1/replication`,
        publicKey: other.publicKey,
      })),
    tokens: ROLES.map((role) => ({ token: tokens[role], role })),
    durability: 'fsync',
    logLevel,
  }));
}

/**
 * How long `allot dev` waits for every region to take writes before it prints its banner: on
 * loopback the links come up within milliseconds; this only bounds a region that cannot link.
 */
const DEV_WRITABLE_WAIT_MS = 10_000;

/** What the user sees once every region serves: URLs, tokens, and commands to paste. */
export function devBanner(
  data: string,
  nodes: readonly { readonly region: string; readonly url: string; readonly origin: string }[],
  tokens: DevTokens,
): string {
  const at = (index: number) => nodes[index % nodes.length] as (typeof nodes)[number];
  const [granting, debiting, reading] = [at(0), at(1), at(2)];
  const json = "-H 'content-type: application/json'";
  const auth = (role: (typeof ROLES)[number]) => `-H 'authorization: Bearer ${tokens[role]}'`;
  const width = Math.max(...nodes.map((node) => node.region.length));
  return [
    `allot dev: cluster ${DEV_CLUSTER}, ${nodes.length} region${nodes.length === 1 ? '' : 's'} on loopback, data in ${data}`,
    '',
    ...nodes.map((node) => `  ${node.region.padEnd(width)}  ${node.url}  ${node.origin}`),
    '',
    `tokens (every region; kept in ${join(data, DEV_TOKENS_FILE)}):`,
    ...ROLES.map((role) => `  ${role.padEnd(7)}  ${tokens[role]}  ${ROLE_RIGHTS[role]}`),
    '',
    'try:',
    `  # grant 100000 credits to tenant acme at ${granting.region}`,
    `  curl -s -XPOST ${granting.url}/v1/tenants/acme/grants ${auth('admin')} ${json} -d '{"grantId":"g-1","amount":100000}'`,
    `  # debit 3 credits at ${debiting.region}${debiting === granting ? '' : ` (once its share of the grant has reached it, a moment later)`}`,
    `  curl -s -XPOST ${debiting.url}/v1/tenants/acme/debits ${auth('service')} ${json} -d '{"amount":3,"idempotencyKey":"req-1"}'`,
    `  # the balance as ${reading.region} knows it`,
    `  curl -s ${reading.url}/v1/tenants/acme/balance ${auth('auditor')}`,
    '  # the snapshot auditors read',
    `  npx allot snapshot --url ${granting.url} --token ${tokens.auditor}`,
    '',
    'allot dev: ready; Ctrl-C (SIGINT) or SIGTERM stops every node.',
    '',
  ].join('\n');
}

/** Starts one region; a data folder it cannot use is one clear line naming region and folder. */
async function startRegion(config: NodeConfig): Promise<RunningNode> {
  try {
    return await startNode(config);
  } catch (error) {
    const where = `${config.region} (${config.dataDir})`;
    if (error instanceof ReplicaOpenError) {
      throw new ConfigError([
        `${where}: ${error.message}; a dev cluster's data may be deleted to start afresh`,
      ]);
    }
    // The store's open error wraps level's (LEVEL_DATABASE_NOT_OPEN), which wraps the reason.
    const codes: unknown[] = [];
    for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
      codes.push((cause as NodeJS.ErrnoException).code);
    }
    if (codes.includes('LEVEL_DATABASE_NOT_OPEN')) {
      const hint = codes.includes('LEVEL_LOCKED') ? ' (is another allot dev using this --data?)' : '';
      throw new ConfigError([`${where}: ${(error as Error).message}${hint}`]);
    }
    throw error;
  }
}

/** Stops every node; the first failure is rethrown once all have been asked to stop. */
async function stopAll(nodes: readonly RunningNode[]): Promise<void> {
  const results = await Promise.allSettled(nodes.map((node) => node.stop()));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
}

/** Runs the dev cluster until SIGTERM or SIGINT; resolves to the exit code. */
export async function runDev(
  options: DevOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const lastPort = options.basePort + options.regions.length - 1;
  if (lastPort > 65_535) {
    throw new ConfigError([
      `--base-port: ${options.regions.length} regions from port ${options.basePort} would pass port 65535`,
    ]);
  }
  const dataDir = resolve(options.data);
  mkdirSync(dataDir, { recursive: true });
  const tokens = loadDevTokens(join(dataDir, DEV_TOKENS_FILE));
  const regions = options.regions.map((region, index): DevRegion => {
    const keyFile = join(dataDir, region, 'region.key');
    return {
      region,
      port: options.basePort + index,
      dataDir: join(dataDir, region),
      keyFile,
      publicKey: loadDevRegionKey(keyFile),
    };
  });
  const configs = devConfigDocuments(regions, tokens, options.logLevel).map((document) =>
    validateConfig(document, process.cwd()),
  );

  // Listen before the first node starts: a signal during the start stops what has started.
  // The first signal asks for a clean stop; the listeners go with it, so a second one ends the
  // process at once should a stop ever hang.
  let signalled = false;
  let onSignal = () => {};
  const stopRequested = new Promise<void>((resolve) => {
    onSignal = () => {
      signalled = true;
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve();
    };
  });
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const nodes: RunningNode[] = [];
  try {
    try {
      for (const config of configs) {
        if (signalled) break;
        nodes.push(await startRegion(config));
      }
    } catch (error) {
      await stopAll(nodes);
      throw error;
    }
    // A node takes writes once a peer confirmed its log is whole (DESIGN.md §2): the banner's
    // commands work when it shows, not 503 not_ready a moment before.
    const waitedUntil = Date.now() + DEV_WRITABLE_WAIT_MS;
    while (!signalled && !nodes.every((node) => node.replica.writable) && Date.now() < waitedUntil) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (!signalled && !nodes.every((node) => node.replica.writable)) {
      out.write(
        `allot dev: some regions have not heard from a peer within ${DEV_WRITABLE_WAIT_MS} ms: their writes answer 503 not_ready until they do\n`,
      );
    }
    if (!signalled) {
      const shown = nodes.map((node, index) => ({
        region: (configs[index] as NodeConfig).region,
        url: node.url,
        origin: node.replica.origin,
      }));
      out.write(devBanner(options.data, shown, tokens));
    }
    await stopRequested;
    await stopAll(nodes);
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
