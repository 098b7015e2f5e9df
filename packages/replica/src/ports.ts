/**
 * The ports through which a replica reaches the world (DESIGN.md §5). The node plugs in LevelDB,
 * the system clock, crypto-random bytes and Ed25519; the simulator plugs in an in-memory store
 * with crash semantics, simulated time and a seeded generator. Nothing else leaves the replica.
 */
import type { LedgerEvent, OriginId, TenantId } from '@allot/core';
import type { ReplicationFrame } from './frames.js';

/** Integer milliseconds since the Unix epoch, and timers on the same clock. */
export interface Clock {
  /** The current time in integer ms since the epoch. */
  now(): number;
  /** Calls `callback` once, `delayMs` from now, unless cancelled first. */
  setTimer(delayMs: number, callback: () => void): TimerHandle;
}

/** A timer that can be cancelled (cancelling a fired timer does nothing). */
export interface TimerHandle {
  cancel(): void;
}

/** Random numbers: cryptographically strong in the node, seeded in the simulator. */
export interface Rng {
  /** A uniformly random integer in [0, 2^32). */
  nextUint32(): number;
}

/** Hashing and signatures. */
export interface Crypto {
  /** SHA-256 of `bytes` (32 bytes). */
  hash(bytes: Uint8Array): Uint8Array;
  /** Ed25519 signature of `bytes` with this region's private key (64 bytes). */
  sign(bytes: Uint8Array): Uint8Array;
  /** True when `signature` is `publicKey`'s Ed25519 signature of `bytes`. */
  verify(publicKey: Uint8Array, bytes: Uint8Array, signature: Uint8Array): boolean;
  /** This region's Ed25519 public key (32 bytes). */
  readonly publicKey: Uint8Array;
}

/** Structured logging (a subset of pino's interface). */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * One segment of an origin's log (DESIGN.md §2): the run of its events one commit made durable,
 * encoded once (core's segment codec), chained to the origin's previous segment and signed by the
 * origin. Stored as one value, sent and relayed as these very bytes.
 */
export interface StoredSegment {
  readonly origin: OriginId;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** The segment's bytes (core's `encodeSegment`). */
  readonly bytes: Uint8Array;
  /** H(hash of the origin's previous segment ‖ bytes); the previous hash of the first is 32 zero bytes. */
  readonly hash: Uint8Array;
  /** The origin's Ed25519 signature of `headSigningBytes(cluster, origin, lastSeq, hash)`. */
  readonly signature: Uint8Array;
}

/** A segment to commit, with the tenant of each of its events, in order (for the tenant index). */
export interface SegmentWrite extends StoredSegment {
  readonly tenants: readonly TenantId[];
}

/** One event read back from its segment: the event, and the bytes of its record (its identity). */
export interface StoredEvent {
  readonly event: LedgerEvent;
  /** The event's record in its segment (`DecodedSegment.bounds`); SHA-256 of it names the event. */
  readonly record: Uint8Array;
}

/** The newest event of an origin's log known here, and the origin's signature over it. */
export interface LogHead {
  readonly origin: OriginId;
  readonly seq: number;
  readonly hash: Uint8Array;
  /** The origin's Ed25519 signature of `headSigningBytes(cluster, head)`; null if not signed yet. */
  readonly signature: Uint8Array | null;
}

/** What a data directory knows about the node that owns it. Written once, when it is created. */
export interface NodeMeta {
  /** Layout version of the stored data; a node refuses to open a version it does not know. */
  readonly formatVersion: 1;
  readonly cluster: string;
  readonly region: string;
  /** Random per data directory, never reused (DESIGN.md §1). */
  readonly incarnation: string;
  readonly createdAt: number;
}

/** Everything one group commit writes, atomically. */
export interface StoreBatch {
  /** Segments to append, each origin's contiguous after its stored head, in seq order. */
  readonly segments: readonly SegmentWrite[];
  /** The new head of every origin that `segments` extend (its last segment's seq, hash, signature). */
  readonly heads: readonly LogHead[];
  /** Written only when a data directory is created. */
  readonly meta?: NodeMeta;
  /** Control-document updates (Yjs update bytes) to keep. */
  readonly control?: readonly Uint8Array[];
  /** Incarnations this node heard of (its own, peers' from their handshakes); each kept once. */
  readonly origins?: readonly OriginId[];
  /**
   * Log bases (joining by checkpoint, issue 11): for an origin of which nothing is stored yet, or
   * whose stored log ends before it (a node far behind: that prefix stays stored, below the base,
   * read only through the tenant index), its log here starts after this head (seq and hash from an
   * installed checkpoint; signature null); the base is also the origin's head until segments
   * follow it. Written once per origin.
   */
  readonly bases?: readonly LogHead[];
}

/** A page of a tenant's events, in the order the store indexed them. */
export interface TenantEventPage {
  readonly events: readonly StoredEvent[];
  /** Opaque cursor for the next page, or null at the end. */
  readonly next: string | null;
}

/** The durable storage of one node. Every method rejects if the store is closed. */
export interface Store {
  /** The node's metadata, or null for a new data directory. */
  readMeta(): Promise<NodeMeta | null>;
  /**
   * Writes `batch` atomically: after a crash either all of it is there or none. With `sync`, the
   * promise resolves only once the batch is on stable storage (fsync).
   */
  commit(batch: StoreBatch, options: { readonly sync: boolean }): Promise<void>;
  /** The stored head of every origin. */
  heads(): Promise<LogHead[]>;
  /** The stored log base of every origin whose log starts past seq 1 here (StoreBatch.bases). */
  bases(): Promise<LogHead[]>;
  /**
   * Up to `limit` segments of `origin`'s log, in order, from the one that holds `fromSeq` (it may
   * start before it): contiguous, or a StoreCorruptError. None when `fromSeq` is at or below the
   * origin's log base (those events came by a checkpoint and are not held here).
   */
  readSegments(origin: OriginId, fromSeq: number, limit: number): Promise<StoredSegment[]>;
  /** Up to `limit` events of `origin`'s log with seq ≥ `fromSeq`, in seq order (decoded from its segments). */
  readLog(origin: OriginId, fromSeq: number, limit: number): Promise<StoredEvent[]>;
  /** Up to `limit` events of `tenant` from every origin, after `cursor` (null: from the start). */
  readTenantEvents(tenant: TenantId, cursor: string | null, limit: number): Promise<TenantEventPage>;
  /** Every control-document update kept, in commit order. */
  readControl(): Promise<Uint8Array[]>;
  /** Every incarnation recorded as heard of (StoreBatch.origins), by origin. */
  readOrigins(): Promise<OriginId[]>;
  /** Writes outbox records and deletes others, atomically, synced (webhook deliveries, alert states). */
  writeOutbox(puts: readonly OutboxRecord[], deletes: readonly string[]): Promise<void>;
  /** Every outbox record, in key order. */
  readOutbox(): Promise<OutboxRecord[]>;
  /**
   * Writes values of the keys area (closed key-index buckets on disk, core's key-spill.ts) and
   * deletes others, atomically, synced. Never part of a group commit: what it holds is rebuilt
   * from the logs when lost.
   */
  writeKeyArea(puts: readonly KeyAreaRecord[], deletes: readonly string[]): Promise<void>;
  /** The keys-area value `key`, checked (a StoreCorruptError naming it when damaged); null: none. */
  readKeyArea(key: string): Promise<Uint8Array | null>;
  /** The keys of the keys area that start with `prefix` ('' for all), in key order. */
  listKeyArea(prefix: string): Promise<string[]>;
  /**
   * The last seq of each origin's log moved to the archive (DESIGN.md §2 "Checkpoints and
   * retention"); origins with nothing archived are absent. Reads above see archived segments
   * as if they were live.
   */
  archivedSeqs(): Promise<Record<OriginId, number>>;
  /**
   * Moves the next segments of `origin`'s log, up to the one ending at `throughSeq` (≤ its head),
   * to the archive in one step of at most one archive file: the file and its manifest durable
   * first, then the live copies deleted in one batch (the head's segment stays live too). A crash
   * at any point loses nothing; the next call finishes a half-done step.
   */
  archiveSegments(origin: OriginId, throughSeq: number): Promise<ArchiveStep>;
  /** Moves the tenant index entries whose events are all archived, in one step; how many moved. */
  archiveTenantIndex(): Promise<number>;
  /** Writes a checkpoint (all its bytes or none), synced; one already stored at its total is replaced. */
  writeCheckpoint(checkpoint: StoredCheckpoint): Promise<void>;
  /** The totals of the checkpoints stored, newest (largest) first. */
  listCheckpoints(): Promise<number[]>;
  /** The checkpoint stored at `total`, every part checked (a StoreCorruptError if damaged); null: none. */
  readCheckpoint(total: number): Promise<StoredCheckpoint | null>;
  /** Deletes the checkpoint stored at `total` (nothing if there is none). */
  deleteCheckpoint(total: number): Promise<void>;
  /** Closes the store; pending commits finish first. */
  close(): Promise<void>;
}

/** What one archive step moved: segments and events, and the last seq now archived. */
export interface ArchiveStep {
  readonly segments: number;
  readonly events: number;
  readonly throughSeq: number;
}

/**
 * A checkpoint as stored (DESIGN.md §2): the fold at a version vector (core's encodeCheckpoint),
 * its hash, and the writing node's signature of `checkpointSigningBytes(cluster, vector, hash)`.
 */
export interface StoredCheckpoint {
  /** Σ of the seqs of its version vector: names it; a later checkpoint of one node is larger. */
  readonly total: number;
  readonly bytes: Uint8Array;
  /** SHA-256 of `bytes`. */
  readonly hash: Uint8Array;
  readonly signature: Uint8Array;
}

/** One record of the store's outbox: the caller's key (printable ASCII) and its bytes. */
export interface OutboxRecord {
  readonly key: string;
  readonly value: Uint8Array;
}

/** One value of the keys area: its key (printable ASCII) and its bytes. */
export interface KeyAreaRecord {
  readonly key: string;
  readonly value: Uint8Array;
}

/** One peer region as the transport sees it. */
export interface PeerLink {
  readonly region: string;
  readonly url: string;
  readonly connected: boolean;
  /** Milliseconds since anything was heard from the peer; null if never. */
  readonly lastHeardMs: number | null;
  /** Round-trip time of the last ping, ms; null if not measured yet. */
  readonly rttMs: number | null;
}

/** What the transport tells the replica. */
export interface TransportHandlers {
  /** The handshake with `region` completed; `origin` is its current incarnation. */
  peerUp(region: string, origin: OriginId): void;
  /** The connection to `region` closed. */
  peerDown(region: string): void;
  /** A frame from `region` (its shape already checked). */
  frame(region: string, frame: ReplicationFrame): void;
}

/**
 * The connections to the other regions (DESIGN.md §4): one per pair, authenticated, framed,
 * bounded. The node plugs in WebSockets; the simulator a simulated network.
 */
export interface Transport {
  /** Registers the replica's handlers (once, before anything is connected). */
  attach(handlers: TransportHandlers): void;
  /** Sends a frame to a connected peer; false when it is not connected or its send buffer is full. */
  send(region: string, frame: ReplicationFrame): boolean;
  /** Closes the connection to `region` because its frame did not verify; it may reconnect later. */
  drop(region: string, reason: string): void;
  /** Every configured peer and its link state. */
  peers(): PeerLink[];
}
