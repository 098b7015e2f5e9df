/**
 * `allot node --config <file.yaml>`: one region's node in the foreground. Chooses the concrete
 * parts (LevelDB store, system clock, crypto-random Rng, node:crypto with the region key, pino)
 * and serves the HTTP API, on HTTPS and wss:// when the config has `tls`. SIGTERM or SIGINT stops
 * it cleanly: no new requests, the pending batch committed, the store closed, exit code 0.
 */

import type { KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import { LINK_POLICY, Replica } from '@allot/replica';
import { buildApp, createMetrics, Realtime, resolveHttpLimits } from '@allot/server';
import {
  generateRegionKey,
  LevelStore,
  nodeCrypto,
  rawPublicKey,
  readRegionKey,
  systemClock,
  systemRng,
  writeRegionKey,
} from '@allot/store';
import { WebSocketTransport } from '@allot/transport';
import pino, { type Logger } from 'pino';
import { ConfigError, type NodeConfig, type TlsConfig } from '../config.js';

/** A running node: its address, and how to stop it. */
export interface RunningNode {
  readonly url: string;
  readonly replica: Replica;
  stop(): Promise<void>;
}

/** The PEM contents of the node's TLS identity and CA (the transport and the server take the same). */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer;
}

/** Reads and checks the `tls` files; a missing or unusable one is a ConfigError naming its field. */
export function readTlsMaterial(tls: TlsConfig): TlsMaterial {
  const read = (field: keyof TlsConfig): Buffer => {
    try {
      return readFileSync(tls[field]);
    } catch (error) {
      throw new ConfigError([
        `tls.${field}: cannot read ${tls[field]} (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      ]);
    }
  };
  const material = { cert: read('cert'), key: read('key'), ca: read('ca') };
  try {
    createSecureContext(material);
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new ConfigError([
      `tls: the certificate, key and CA files are not a usable PEM identity (${reason})`,
    ]);
  }
  return material;
}

/**
 * The region key of `keyFile`, generated on first start when the file does not exist. Anything but
 * an Ed25519 private key is a ConfigError naming `keyFile`; a file that group or others may read
 * is used, with a warning.
 */
export function loadRegionKey(keyFile: string, logger: Logger): KeyObject {
  if (!existsSync(keyFile)) {
    mkdirSync(dirname(keyFile), { recursive: true });
    const key = generateRegionKey();
    writeRegionKey(keyFile, key);
    logger.warn(
      { keyFile, publicKey: Buffer.from(rawPublicKey(key)).toString('base64') },
      'no region key: generated one (give its public key to the other regions)',
    );
    return key;
  }
  let key: KeyObject;
  try {
    key = readRegionKey(keyFile);
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0]?.replace(`${keyFile}: `, '');
    throw new ConfigError([
      `keyFile: ${keyFile} is not an Ed25519 private key in PEM (from \`allot keygen\`): ${reason}`,
    ]);
  }
  const mode = statSync(keyFile).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    logger.warn(
      { keyFile, mode: `0${mode.toString(8)}` },
      'the region key file is readable by group or others: anyone who reads it can sign as this region (chmod 600 it)',
    );
  }
  return key;
}

/** Starts a node from a validated config. Rejects (one clear line) if it cannot start. */
export async function startNode(config: NodeConfig): Promise<RunningNode> {
  const logger = pino({ level: config.logLevel, base: { region: config.region } });
  const tls = config.tls === undefined ? undefined : readTlsMaterial(config.tls);
  mkdirSync(config.dataDir, { recursive: true });
  const crypto = nodeCrypto(loadRegionKey(config.keyFile, logger));
  const ownKey = Buffer.from(crypto.publicKey).toString('base64');
  const sameKey = config.peers.findIndex((peer) => peer.publicKey === ownKey);
  if (sameKey >= 0) {
    throw new ConfigError([`peers.${sameKey}.publicKey: is this node's own public key (keyFile)`]);
  }
  // The node's key signs its own log again when a layout-v2 directory is converted (segments).
  const store = await LevelStore.open(config.dataDir, { crypto });
  if (store.converted !== null)
    logger.warn(
      { ...store.converted },
      'data directory converted from layout v2 to v3: own log re-signed as segments; the logs of other origins are fetched back from peers',
    );
  const metrics = createMetrics();
  const peerKeys = Object.fromEntries(
    config.peers.map((peer) => [peer.region, new Uint8Array(Buffer.from(peer.publicKey, 'base64'))]),
  );
  // allowLoneStart: ReplicaOptions.allowLoneStart (helper R's branch); passed through as it is.
  const replicaOptions = {
    cluster: config.cluster,
    region: config.region,
    durability: config.durability,
    idempotencyRetentionMs: config.idempotencyRetentionSeconds * 1000,
    recordWindowRecords: config.recordWindowRecords,
    keyIndexMemoryBytes: config.keyIndexMemoryBytes,
    archiveAfterMs: config.archive.afterSeconds * 1000,
    peerKeys,
    allowLoneStart: config.allowLoneStart,
    borrowWaitMs: config.borrowWaitMs,
    checkpoint: config.checkpoint,
  };
  let replica: Replica;
  try {
    replica = await Replica.open(replicaOptions, {
      store,
      clock: systemClock,
      rng: systemRng(),
      crypto,
      logger,
      observer: metrics.observer,
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  const transport = new WebSocketTransport({
    cluster: config.cluster,
    region: config.region,
    incarnation: replica.incarnation,
    crypto,
    peers: config.peers.map((peer) => ({
      region: peer.region,
      url: peer.url,
      publicKey: peerKeys[peer.region] as Uint8Array,
    })),
    logger,
    // The cluster's one link policy (timeouts, reconnect backoff, buffers), as the simulator models it.
    ...LINK_POLICY,
    // The same PEM identity and CA as the server: dialing wss:// presents it as the client certificate.
    ...(tls === undefined ? {} : { tls }),
  });
  replica.attachTransport(transport);
  // The stream, alerts and webhooks: their outbox is read once, and what waits there is delivered.
  const realtime = await Realtime.open({
    replica,
    store,
    webhooks: config.webhooks,
    registry: metrics.registry,
    logger,
    // Streams may take half the connections (STREAM_CONSUMERS_MAX_DEFAULT is half the default cap).
    stream: { consumersMax: Math.max(1, Math.floor(resolveHttpLimits(config.http).connectionsMax / 2)) },
  });
  const app = await buildApp({
    replica,
    tokens: config.tokens,
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    metrics,
    http: config.http,
    realtime,
    ...(tls === undefined ? {} : { tls }),
  });
  transport.attachTo(app.server);
  const url = await app.listen({ host: config.listen.host, port: config.listen.port });
  transport.start();
  logger.info({ url, origin: replica.origin, peers: config.peers.length }, 'allot node serving');
  let stopping: Promise<void> | null = null;
  return {
    url,
    replica,
    stop() {
      stopping ??= (async () => {
        await transport.close();
        await app.close();
        await realtime.close();
        await replica.close();
      })();
      return stopping;
    },
  };
}

/** Runs a node until SIGTERM or SIGINT; resolves to the exit code. */
export async function runNode(config: NodeConfig): Promise<number> {
  const node = await startNode(config);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await node.stop();
  return 0;
}
