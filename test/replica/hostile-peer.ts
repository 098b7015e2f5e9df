/**
 * One real replica (`eu`) and a peer (`us`) that the test plays by hand: it holds us's key, so it
 * is authenticated, and sends whatever frames the test wants. Frames that the transport's shape
 * check refuses never reach the replica (the transport closes the link), as on a real wire.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { encodeSegment, type LedgerEvent, makeEvent, type OriginId, type TenantEventBody } from '@allot/core';
import {
  ControlDocument,
  frameProblem,
  headSigningBytes,
  ManualClock,
  Replica,
  type ReplicationFrame,
  SeededRng,
  segmentHash,
  type WireSegment,
  ZERO_HASH,
} from '@allot/replica';
import { MemoryStore, nodeCrypto, rawPublicKey } from '@allot/store';
import * as Y from 'yjs';
import { MemoryNetwork } from './memory-network.js';
import { memoryLogger, START_MS } from './support.js';

/** The attacker's incarnation of `us`. */
export const US_ORIGIN: OriginId = 'us#hostilepeerusaa';

/** The replica under attack and the hand-played peer. */
export interface HostileSetup {
  readonly replica: Replica;
  readonly store: MemoryStore;
  readonly network: MemoryNetwork;
  readonly clock: ManualClock;
  readonly usKey: KeyObject;
  /** Origins the replica reported replication lag for (what would become metrics labels). */
  readonly lagLabels: Set<string>;
  /** Frames the replica sent to the peer. */
  readonly received: ReplicationFrame[];
  /** The replica's log lines. */
  readonly logger: ReturnType<typeof memoryLogger>;
  /**
   * Sends a frame as `us`; false when the transport's shape check refuses it (link closed). A
   * summary that does not name US_ORIGIN names it at seq 0, as every node's summary names itself.
   */
  send(frame: unknown): boolean;
  /** Sends a frame as `us` exactly as given. */
  sendAsIs(frame: unknown): boolean;
  /** Lets `ms` of time pass while frames and commits flow. */
  run(ms: number): Promise<void>;
}

/** Signs a run of `origin`'s events (seq `from` on, chained after `previous`) as one segment, with `key`. */
export function signedRun(
  key: KeyObject,
  origin: OriginId,
  bodies: readonly TenantEventBody[],
  from = 1,
  previous: Uint8Array = ZERO_HASH,
): WireSegment[] {
  const crypto = nodeCrypto(key);
  const events: LedgerEvent[] = bodies.map((body, i) =>
    makeEvent({ origin, seq: from + i, at: START_MS }, body),
  );
  const bytes = encodeSegment(events);
  const hash = segmentHash(crypto, previous, bytes);
  const lastSeq = from + bodies.length - 1;
  const signature = crypto.sign(headSigningBytes('test', origin, lastSeq, hash));
  return [{ firstSeq: from, lastSeq, bytes, signature }];
}

/** A control frame carrying a Yjs update made on a copy of `base` updates by `edit`. */
export function controlEdit(
  base: readonly Uint8Array[],
  edit: (root: Y.Map<unknown>, doc: Y.Doc) => void,
): ReplicationFrame {
  const doc = new Y.Doc();
  for (const update of base) Y.applyUpdate(doc, update);
  const before = Y.encodeStateVector(doc);
  doc.transact(() => edit(doc.getMap('control'), doc));
  return { type: 'control', message: ControlDocument.updateMessage(Y.encodeStateAsUpdate(doc, before)) };
}

/**
 * Opens `eu` and connects the hand-played `us`; with `honest` (default), `us` first sends an honest
 * empty summary, which makes `eu` writable.
 */
export async function hostileSetup(honest = true): Promise<HostileSetup> {
  const clock = new ManualClock(START_MS);
  const network = new MemoryNetwork();
  const euKey = generateKeyPairSync('ed25519').privateKey;
  const usKey = generateKeyPairSync('ed25519').privateKey;
  const store = MemoryStore.empty();
  const lagLabels = new Set<string>();
  const logger = memoryLogger();
  const replica = await Replica.open(
    { cluster: 'test', region: 'eu', peerKeys: { us: rawPublicKey(usKey) } },
    {
      store,
      clock,
      rng: new SeededRng(7),
      crypto: nodeCrypto(euKey),
      logger,
      observer: {
        debitDecided: () => {},
        batchCommitted: () => {},
        replicationLag: (origin) => {
          lagLabels.add(origin);
        },
      },
    },
  );
  replica.attachTransport(network.transport('eu', replica.origin, ['us']));
  const peer = network.transport('us', US_ORIGIN, ['eu']);
  const received: ReplicationFrame[] = [];
  peer.attach({ peerUp: () => {}, peerDown: () => {}, frame: (_from, frame) => received.push(frame) });
  network.connectAll();
  const run = async (ms: number) => {
    for (let i = 0; i < ms; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      clock.advance(1);
    }
  };
  const sendAsIs = (frame: unknown): boolean => {
    if (!peer.peers()[0]?.connected) network.connectAll(); // the peer reconnects after a drop
    if (frameProblem(structuredClone(frame)) !== null) return false;
    return peer.send('eu', frame as ReplicationFrame);
  };
  // The played peer names itself in every summary, as every node does (Incarnations.summaryVector).
  const send = (frame: unknown): boolean => sendAsIs(namingSender(frame));
  if (honest) {
    send({ type: 'summary', versionVector: {}, control: Y.encodeStateVector(new Y.Doc()) });
    await run(5);
    if (!replica.writable) throw new Error('eu did not become writable after an honest summary');
  }
  return { replica, store, network, clock, usKey, lagLabels, received, logger, send, sendAsIs, run };
}

/** `frame`, a summary naming US_ORIGIN when it does not (at seq 0); anything else as it is. */
function namingSender(frame: unknown): unknown {
  if (typeof frame !== 'object' || frame === null) return frame;
  const { type, versionVector } = frame as { type?: unknown; versionVector?: unknown };
  if (type !== 'summary' || typeof versionVector !== 'object' || versionVector === null) return frame;
  if (US_ORIGIN in versionVector) return frame;
  return { ...frame, versionVector: { [US_ORIGIN]: 0, ...versionVector } };
}
