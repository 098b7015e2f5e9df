/** Limits of the store. Each is named and says why it is that number (STYLE.md). */

/**
 * Events one `readLog` call may return. It must cover the replica's recovery page (10,000 events)
 * and bounds the memory of one read: 16,384 records of ~200 bytes are ~3 MiB.
 */
export const LOG_PAGE_EVENTS_MAX = 16_384;

/**
 * Segments one `readSegments` call may return. A segment is at most SEGMENT_BYTES_MAX (1 MiB), so
 * a read holds at most 64 MiB, and far less in practice (a commit of a few hundred debits is ~10 KiB).
 */
export const LOG_PAGE_SEGMENTS_MAX = 64;

/** Events in one page of a tenant's history: the largest page the events API serves. */
export const TENANT_PAGE_EVENTS_MAX = 1_000;

/**
 * Events in one commit. A full debit batch (8,190) plus the runs received from peers in the same
 * group commit fit four times over; 32,768 records of ~200 bytes are one ~6.5 MiB LevelDB write.
 */
export const COMMIT_EVENTS_MAX = 32_768;

/** Events of one tenant in one index entry: all of one commit's, which holds at most COMMIT_EVENTS_MAX. */
export const TENANT_ENTRY_EVENTS_MAX = COMMIT_EVENTS_MAX;

/** Control-document updates in one commit: the control document is low-rate, admin-edited data. */
export const COMMIT_CONTROL_UPDATES_MAX = 1_024;

/**
 * Bytes of one control-document update. A Yjs update of tenant policies is a few KiB; one past this
 * would stall every group commit behind it, and no gossip frame could carry it to the other regions.
 */
export const CONTROL_UPDATE_BYTES_MAX = 4 * 1024 * 1024;

/** Bytes of a chain hash: SHA-256 (the Crypto port's `hash`). */
export const HASH_BYTES = 32;

/** Bytes of a head signature: Ed25519 (the Crypto port's `sign`). */
export const SIGNATURE_BYTES = 64;

/** Nesting depth of debit metadata: the replica's event-shape bound, shared by frames and records. */
export { METADATA_DEPTH_MAX } from '@allot/replica';

/** Characters of a cluster id in the node metadata: a config value that names the cluster, not data. */
export const CLUSTER_ID_LENGTH_MAX = 256;

/**
 * Segment records a layout-v2 conversion writes per LevelDB batch: a log of 10M events converts in
 * batches of a few MiB, and a crash mid-way leaves v2 as it was (the v3 keys are cleared and the
 * conversion starts again).
 */
export const CONVERT_BATCH_SEGMENTS = 16;

/** Events read per iterator page from a v2 log while converting it: bounded memory per read. */
export const CONVERT_PAGE_EVENTS = 10_000;

/**
 * Bytes of a LevelDB block once uncompressed (leveldb-check.ts reads index blocks). LevelDB writes
 * ~4 KiB data blocks; an index block of a 2 MiB table is a few KiB, and even a table of 1 GiB has an
 * index below 16 MiB. A damaged length past this is refused rather than allocated.
 */
export const LEVELDB_BLOCK_BYTES_MAX = 64 * 1024 * 1024;

/**
 * LevelDB's write buffer (its memtable, and the log it replays at open): what is written before a
 * table is made of it. LevelDB's default of 4 MiB made a catching-up node flush and compact every
 * few thousand received events: with 64 MiB it spends ~13 % less CPU per received event (a warm 60 s
 * partition of bench:replication converged in 5.3–5.5 s against 6.0–6.2, alternating). The cost is
 * native memory, up to twice this while a full buffer is written out, and a longer log for LevelDB
 * to replay at each open (bench:recovery: no change measurable at 1M events).
 */
export const LEVELDB_WRITE_BUFFER_BYTES = 64 * 1024 * 1024;

/**
 * Characters of an outbox key (outbox.ts): the caller's own name for a record (a delivery number,
 * a tenant and threshold), short enough that a key is never a body-sized string.
 */
export const OUTBOX_KEY_LENGTH_MAX = 512;

/** Bytes of one outbox record: an alert delivery with its attempt log, far below a LevelDB value's comfort. */
export const OUTBOX_RECORD_BYTES_MAX = 256 * 1024;

/**
 * Durable commits between two compactions of a MemoryStore (memory-faults.ts): LevelDB turns its
 * write-ahead log into tables when the memtable fills (4 MiB by default, a few hundred group
 * commits of a busy node); 64 keeps a simulated lost WAL to a few seconds of commits, as a real one.
 */
export const COMPACTION_COMMITS = 64;

/** Images of earlier compactions a MemoryStore keeps as backups to restore (memory-faults.ts). */
export const COMPACTION_BACKUPS_KEPT = 4;

/**
 * Segments in one archive file (archive.ts): a busy node commits a few hundred segments a second,
 * so one file holds seconds to minutes of its log; past this a move takes a second file rather
 * than one unbounded write.
 */
export const ARCHIVE_FILE_SEGMENTS_MAX = 4_096;

/**
 * Bytes of one archive file. Every read of an archived segment reads and hashes its whole file
 * (checked against the manifest), so a file is kept small enough to do that in a few ms: 16 MiB.
 * A single segment (SEGMENT_BYTES_MAX, 1 MiB) always fits.
 */
export const ARCHIVE_FILE_BYTES_MAX = 16 * 1024 * 1024;

/** Tenant index entries in one archived index file: ~60 bytes each, ~4 MiB per file. */
export const ARCHIVE_INDEX_FILE_ENTRIES_MAX = 65_536;

/**
 * Bytes of one archive manifest. A manifest line per file is ~500 bytes, so 64 MiB lists ~130k
 * files (~2 TiB of archived log); a damaged length past this is refused rather than read.
 */
export const ARCHIVE_MANIFEST_BYTES_MAX = 64 * 1024 * 1024;

/**
 * Archive files kept decoded and verified in memory per store: a page of events or a recovery
 * read walks one file at a time, and a few let reads of two origins interleave without reading
 * each file again; 8 × ARCHIVE_FILE_BYTES_MAX bounds the memory at 128 MiB.
 */
export const ARCHIVE_CACHE_FILES = 8;

/**
 * Bytes of one stored part of a checkpoint (checkpoints.ts): far below LEVELDB_BLOCK_BYTES_MAX, so
 * that a checkpoint of hundreds of MiB is many ordinary values, each read and checked on its own.
 */
export const CHECKPOINT_PART_BYTES = 4 * 1024 * 1024;

/**
 * Largest checkpoint: 1 GiB. A node's whole fold (10M tenants, or 10M keys in the key index) is a
 * few hundred MiB; past this, something is wrong, and one buffer of it must stay allocatable.
 */
export const CHECKPOINT_BYTES_MAX = 1024 * 1024 * 1024;

/** Characters of a keys-area key (key-area.ts): core's part keys are 36 characters. */
export const KEY_AREA_KEY_LENGTH_MAX = 128;

/**
 * Bytes of one keys-area value: a chunk is ≈ 64 KiB, but a part's Bloom filter is 1.25 B per key
 * of its bucket in one value (≈ 22 MiB for 18 M keys: an hour at 5,000 debits/s); 256 MiB allows
 * 200 M keys a bucket and stays far below what LevelDB and the heap handle in one value.
 */
export const KEY_AREA_VALUE_BYTES_MAX = 256 * 1024 * 1024;
