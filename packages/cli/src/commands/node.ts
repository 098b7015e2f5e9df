/**
 * `allot node --config <file.yaml>`: one region's node in the foreground. Chooses the concrete
 * parts (LevelDB store, system clock, crypto-random Rng, node:crypto with the region key, pino)
 * and serves the HTTP API. SIGTERM or SIGINT stops it cleanly: no new requests, the pending batch
 * committed, the store closed, exit code 0.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Replica } from '@allot/replica';
import { buildApp, createMetrics } from '@allot/server';
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
import pino from 'pino';
import type { NodeConfig } from '../config.js';

/** A running node: its address, and how to stop it. */
export interface RunningNode {
  readonly url: string;
  readonly replica: Replica;
  stop(): Promise<void>;
}

/** Starts a node from a validated config. Rejects (one clear line) if it cannot start. */
export async function startNode(config: NodeConfig): Promise<RunningNode> {
  const logger = pino({ level: config.logLevel, base: { region: config.region } });
  mkdirSync(config.dataDir, { recursive: true });
  if (!existsSync(config.keyFile)) {
    mkdirSync(dirname(config.keyFile), { recursive: true });
    const key = generateRegionKey();
    writeRegionKey(config.keyFile, key);
    logger.warn(
      { keyFile: config.keyFile, publicKey: Buffer.from(rawPublicKey(key)).toString('base64') },
      'no region key: generated one (give its public key to the other regions)',
    );
  }
  const crypto = nodeCrypto(readRegionKey(config.keyFile));
  const store = await LevelStore.open(config.dataDir);
  const metrics = createMetrics();
  let replica: Replica;
  try {
    replica = await Replica.open(
      {
        cluster: config.cluster,
        region: config.region,
        durability: config.durability,
        idempotencyRetentionMs: config.idempotencyRetentionSeconds * 1000,
      },
      { store, clock: systemClock, rng: systemRng(), crypto, logger, observer: metrics.observer },
    );
  } catch (error) {
    await store.close();
    throw error;
  }
  const app = await buildApp({
    replica,
    tokens: config.tokens,
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    metrics,
  });
  const url = await app.listen({ host: config.listen.host, port: config.listen.port });
  logger.info({ url, origin: replica.origin }, 'allot node serving');
  let stopping: Promise<void> | null = null;
  return {
    url,
    replica,
    stop() {
      stopping ??= (async () => {
        await app.close();
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
