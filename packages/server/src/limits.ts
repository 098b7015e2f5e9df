/**
 * Limits of the HTTP API. The ledger's own limits (amounts, ids, keys, priorities) come from
 * @allot/core and are re-checked here only through the schemas built from them. Each number says
 * why it is that number (STYLE.md).
 */

/**
 * Largest request body of every route but the batch: a debit is an amount, a key of ≤ 255 characters
 * and ≤ 4 KiB of metadata, so 64 KiB leaves room for escaping (a metadata string of `\u00e9`
 * escapes is six bytes per character) without letting one request pin much memory.
 */
export const BODY_BYTES_MAX = 64 * 1024;

/**
 * Largest body of POST /v1/debits/batch: 8,190 debits of a typical ~300 bytes (tenant, key, a little
 * metadata) are ~2.4 MiB; 8 MiB lets a full batch carry a kilobyte of metadata per debit. A batch
 * that wants 4 KiB of metadata on every item is split by the client, not buffered here.
 */
export const BATCH_BODY_BYTES_MAX = 8 * 1024 * 1024;

/**
 * Debits in one POST /v1/debits/batch (API.md): one batch is one group commit, and the replica
 * commits at most 8,190 events at once (the classic-level write of ~1.6 MiB, TigerBeetle's batch size).
 */
export const BATCH_DEBITS_MAX = 8_190;

/** Metadata of a debit, as the UTF-8 length of its JSON (API.md: "an object of at most 4 KiB"). */
export const METADATA_BYTES_MAX = 4 * 1024;

/**
 * Nesting of debit metadata. The events are hashed and encoded by recursive functions; 32 levels are
 * far more than any label set needs and keep those recursions shallow.
 */
export const METADATA_DEPTH_MAX = 32;

/** Events per page of GET /v1/tenants/{tenant}/events when the client names no limit. */
export const EVENTS_PAGE_DEFAULT = 100;

/** Largest page of GET /v1/tenants/{tenant}/events: one page is read from the store in one go. */
export const EVENTS_PAGE_MAX = 1_000;

/** An events cursor is the store's opaque position: short, printable, never a body-sized string. */
export const CURSOR_LENGTH_MAX = 512;

/**
 * Longest path parameter the router accepts. A tenant id is ≤ 128 characters and a debit id or key ≤ 255,
 * but a key may need percent-encoding (3 bytes per character): 1,024 covers both, and a longer
 * segment is answered 404 by the router before any handler runs.
 */
export const PATH_PARAM_LENGTH_MAX = 1_024;

/** Regions named in one policy: a region is a node of the cluster, and clusters have a handful. */
export const POLICY_REGIONS_MAX = 64;

/**
 * Largest region weight of a policy. Weights are relative shares of new grants; 1..1,000 gives a
 * 0.1 % resolution and keeps amount × weight products used by the split far from 2^53.
 */
export const POLICY_WEIGHT_MAX = 1_000;

/** Tenants per line group of a streamed snapshot: large enough to amortise a write, small enough to stream. */
export const SNAPSHOT_CHUNK_TENANTS = 1_000;

/** Bearer tokens are config strings: this bound keeps a hostile header from being hashed at length. */
export const TOKEN_LENGTH_MAX = 4_096;

/**
 * Latest time the API accepts or shows: RFC 3339 years have four digits, so 9999-12-31T23:59:59.999Z.
 * (The ledger could hold times up to the year 275760, which RFC 3339 cannot write.)
 */
export const API_TIME_MS_MAX = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
