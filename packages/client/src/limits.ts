/** The client's limits: every retry, wait and buffer is bounded. */

/**
 * Attempts of one call, the first included. Five attempts with the backoff below span about 1.5 s
 * of waiting, past a node's restart or a group commit's hiccup, without holding a caller for long.
 */
export const ATTEMPTS_MAX = 5;

/** First backoff after a failed attempt, ms: one group commit (~1 ms) plus a network round trip, with room. */
export const BACKOFF_BASE_MS = 50;

/** Longest backoff between two attempts, ms (the backoff doubles from BACKOFF_BASE_MS up to it). */
export const BACKOFF_MAX_MS = 2_000;

/**
 * Longest wait a server's Retry-After can ask for, ms: a hostile or confused server must not park a
 * caller for hours; past it the client waits this long and tries again (or gives up).
 */
export const RETRY_AFTER_MS_MAX = 10_000;

/** Time one attempt may take before it counts as a connection failure, ms (a debit answers in ms). */
export const ATTEMPT_TIMEOUT_MS_DEFAULT = 10_000;

/**
 * Longest line of the event stream, bytes. An event is one ledger event or alert (a debit carries at
 * most 4 KiB of metadata): 1 MiB is far past any of them, and bounds what a hostile server can make
 * the client buffer.
 */
export const STREAM_LINE_BYTES_MAX = 1024 * 1024;

/**
 * Reconnects of the stream in a row without receiving an event before it gives up. With the backoff
 * above, a region down for about ten seconds is ridden out (and another region tried each time).
 */
export const STREAM_RECONNECTS_MAX = 8;
