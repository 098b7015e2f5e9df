/**
 * @allot/store — the replica's Store port (DESIGN.md §2, §5), twice: `LevelStore` keeps a node's
 * origin logs (one value per segment), heads, tenant index and control-document updates in
 * LevelDB, one atomic batch per group commit, fsynced when asked; `MemoryStore` keeps the same
 * records as a plain key → bytes map with the crash semantics of a disk, for tests and the
 * deterministic simulator. Both write the same records, each sealed with a CRC-32C of key and
 * value, under the same versioned keys (layout v3; a v2 directory is converted at open), refuse a
 * batch that would break a log, and never hand out a record that fails its checksum, does not
 * decode and check, or a run of a log with a segment missing. LevelStore checks LevelDB's own table
 * checksums before LevelDB opens a directory (leveldb-check.ts). Segments every region acknowledged
 * move to an archive of immutable files with manifests (archive*.ts), read back transparently. `system-ports` adds the replica's
 * other ports on Node.js (system clock, crypto-random Rng, SHA-256 and Ed25519 from node:crypto,
 * region key files).
 */
export { Archive, type ArchiveFiles, type ArchiveUsage } from './archive.js';
export { DiskArchiveFiles, openArchiveDir, sha256 } from './archive-files.js';
export * from './archive-format.js';
export * from './archive-manifest.js';

export { CHECKPOINT_RANGE, checkpointKey, parseCheckpointKey } from './checkpoints.js';
export type { ConversionReport } from './convert-v2.js';
export { cursorOf, isCursor, parseCursor } from './cursor.js';
export {
  decodeControlUpdate,
  decodeCounter,
  decodeHeardOrigin,
  decodeLogHead,
  decodeNodeMeta,
  decodeStoredEvent,
  encodeControlUpdate,
  encodeCounter,
  encodeHeardOrigin,
  encodeLogHead,
  encodeNodeMeta,
  encodeStoredEvent,
  logHeadProblem,
  nodeMetaProblem,
  storedEventProblem,
  storedLogHead,
  type V2StoredEvent,
} from './encoding.js';
export { StoreClosedError, StoreCorruptError, StoreCursorError, StoreInvariantError } from './errors.js';
export {
  CONTROL_RANGE,
  COUNTER_KEY,
  controlKey,
  HEAD_RANGE,
  headKey,
  LAYOUT_PREFIX,
  META_KEY,
  OLD_LAYOUT_PREFIX,
  ORIGIN_RANGE,
  originKey,
  parseControlKey,
  parseHeadKey,
  parseOriginKey,
  parseSegmentKey,
  parseTenantKey,
  SEGMENT_RANGE,
  segmentEnd,
  segmentKey,
  TENANT_RANGE,
  tenantKey,
  tenantRange,
  V2_LAYOUT_PREFIX,
} from './keys.js';
export { LevelStore } from './level-store.js';
export * from './limits.js';
export { type ArchiveStepName, MemoryArchiveFiles } from './memory-archive.js';
export {
  type DamageReport,
  DETECTABLE_DAMAGES,
  flipBit,
  type Pick,
  STORAGE_DAMAGES,
  type StorageDamage,
} from './memory-faults.js';
export {
  type CrashOptions,
  MemoryStore,
  type MemoryStoreBackup,
  type MemoryStoreOptions,
} from './memory-store.js';
export { checkOutboxKey, OUTBOX_RANGE } from './outbox.js';
export { openRecord, RECORD_CHECKSUM_BYTES, sealRecord } from './records.js';
export {
  decodeSegmentRecord,
  decodeTenantEntry,
  type EventPosition,
  encodeSegmentRecord,
  encodeTenantEntry,
} from './segment-records.js';
export * from './system-ports.js';
