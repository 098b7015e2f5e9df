/**
 * Limits of the ledger model. Every number here is part of the public contract (API.md) or
 * protects an invariant; each says why it is that number.
 */

/** Largest amount and largest cumulative cell: beyond 2^53 − 1 a JS number loses integer precision. */
export const AMOUNT_MAX = Number.MAX_SAFE_INTEGER;

/** Smallest amount of a grant, debit, refund, move or expiry: a zero event would carry no credits. */
export const AMOUNT_MIN = 1;

/** Tenant ids are URL path segments and metric labels: short, and only characters safe in both. */
export const TENANT_ID_LENGTH_MAX = 128;
export const TENANT_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Grant ids and idempotency keys are client strings kept with every event: bounded, printable ASCII. */
export const KEY_LENGTH_MAX = 255;
export const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** Region ids name a config section, a metric label and part of every origin id. */
export const REGION_PATTERN = /^[a-z0-9-]{1,32}$/;

/**
 * Incarnation ids are random per data directory (never a counter: DESIGN.md §1). 8 to 32 characters
 * of lowercase base32 give at least 40 random bits, enough that two incarnations of one region never
 * collide in practice.
 */
export const INCARNATION_PATTERN = /^[a-z2-7]{8,32}$/;

/**
 * Origins ever known to one ledger (regions × incarnations over the cluster's life). The moved cells
 * of a grant are keyed by `from * ORIGINS_MAX + to`, which must stay a safe integer.
 */
export const ORIGINS_MAX = 65_536;

/** Grant priority: lower burns first. A bounded integer keeps the burn order a total, exact order. */
export const PRIORITY_MIN = 0;
export const PRIORITY_MAX = 1_000_000;
export const PRIORITY_DEFAULT = 100;

/** Times are integer milliseconds since the Unix epoch; this bound is the year 275760 (ECMAScript's Date range). */
export const TIME_MS_MAX = 8_640_000_000_000_000;

/** Grants one tenant may hold: the burn order is sorted per debit, so it must stay small. */
export const GRANTS_PER_TENANT_MAX = 1_024;

/**
 * Grant ids one tenant's state may know (defined, or pending: named by other origins' events before
 * their grant event arrives). A grant's slot keys its packed cells; 2^17 slots keep every cell code
 * below 2^53 (state.ts cellCode), far above GRANTS_PER_TENANT_MAX.
 */
export const GRANT_SLOTS_MAX = 131_072;

/**
 * Grants of a tenant found by a linear scan of its grant table; beyond, a Map indexes them. Most
 * tenants hold 1–3 grants, and a Map costs ~180 B per tenant.
 */
export const GRANT_SCAN_MAX = 8;

/**
 * Codes in a shared (interned) cell shape (packed.ts). Tenants with at most this many non-zero
 * numbers share their shapes; a bigger tenant owns its shape, so that building it does not leave
 * one interned shape of every intermediate size behind (quadratic memory).
 */
export const SHAPE_SHARED_MAX = 64;

/** Parts of one debit, refund, move or repay: one per grant at most. */
export const PARTS_MAX = GRANTS_PER_TENANT_MAX;

/**
 * Nesting of debit metadata (user JSON): the API's bound and the peers' (the replica and the server
 * re-export this one). 32 levels is more than any sane metadata needs, and bounds the recursion of
 * every walk over it (canonical JSON, checks, JSON.parse of a stored segment).
 */
export const METADATA_DEPTH_MAX = 32;

/**
 * Bytes of one segment (segment.ts): a group commit larger than this writes several. A full debit
 * batch (8,190 debits of ~40 bytes) fits with room to spare, the largest single event (1,024 parts
 * of 255-character grant ids, 4 KiB of metadata: ~280 KiB) fits, and a frame (4 MiB) holds several.
 */
export const SEGMENT_BYTES_MAX = 1024 * 1024;

/**
 * Slots of a new key-index table (key-index.ts): 8 bytes each, so an origin that writes a few
 * debits in a bucket costs 1 KiB, not a first doubling round per entry.
 */
export const KEY_INDEX_SLOTS_MIN = 128;

/**
 * Load past which a key-index table doubles: linear probing stays short below ~0.8 (expected
 * probes of a miss ≈ (1 + 1/(1−load)²)/2 ≈ 13 at 0.8), and the index stays near 10–16 B per key.
 */
export const KEY_INDEX_GROW_LOAD = 0.8;

/** Load a closed bucket's table is shrunk to: 8 B / 0.75 ≈ 11 B per key, misses still short. */
export const KEY_INDEX_TIGHT_LOAD = 0.75;

/**
 * Longest time to live of a hold: 30 days. A hold reserves credits for work in progress (a model
 * call, a build); a month covers any such job, and a bound keeps reserved credits from being
 * locked away indefinitely by a client that forgot them.
 */
export const HOLD_TTL_MS_MAX = 30 * 24 * 60 * 60 * 1000;

/**
 * Bits a key in a closed key-index part's Bloom filter (key-filter.ts): with KEY_FILTER_HASHES
 * probes, ≈ 1 % of fresh keys look like a maybe and cost one chunk read; 1.25 B a key in memory,
 * against ≈ 11 B for the part's table itself.
 */
export const KEY_FILTER_BITS_PER_KEY = 10;

/** Probes per key in a key filter: the best count for 10 bits a key (≈ 10 · ln 2). */
export const KEY_FILTER_HASHES = 7;

/**
 * Entries of a closed key-index part per chunk on disk (key-spill.ts): 16 B an entry, so a lookup
 * that must read the disk reads one value of ≈ 64 KiB, and a part of millions of keys is a few
 * hundred values, never a value per key.
 */
export const KEY_CHUNK_ENTRIES = 4_096;

/** Chunks one closed key-index part may have: 2^20 × 4,096 ≈ 4 billion keys in one bucket. */
export const KEY_CHUNKS_MAX = 1 << 20;
