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
import { WebSocketTransport } from '@allot/transport';
import pino from 'pino';
import type { NodeConfig } from '../config.js';

/** Longest wait between reconnect attempts to a peer. */
const RECONNECT_BACKOFF_MS_MAX = 1_000;

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
  const peerKeys = Object.fromEntries(
    config.peers.map((peer) => [peer.region, new Uint8Array(Buffer.from(peer.publicKey, 'base64'))]),
  );
  let replica: Replica;
  try {
    replica = await Replica.open(
      {
        cluster: config.cluster,
        region: config.region,
        durability: config.durability,
        idempotencyRetentionMs: config.idempotencyRetentionSeconds * 1000,
        peerKeys,
      },
      { store, clock: systemClock, rng: systemRng(), crypto, logger, observer: metrics.observer },
    );
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
    // A handful of peers: retrying each at least once a second costs nothing, and convergence after
    // a partition heals is bounded by the reconnect (DESIGN.md §4 goal: ≤ 2 s).
    backoffMsMax: RECONNECT_BACKOFF_MS_MAX,
  });
  replica.attachTransport(transport);
  const app = await buildApp({
    replica,
    tokens: config.tokens,
    logger,
    bodyLimitBytes: config.bodyLimitBytes,
    metrics,
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
