/** Limits of a replica. Each is named and says why it is that number (STYLE.md). */

/**
 * Events in one group commit. One LevelDB batch of this many ~200-byte records is ~1.6 MiB, which
 * classic-level writes in one go; it also equals the largest debit batch of the API, so a full
 * /v1/debits/batch commits in one write.
 */
export const BATCH_EVENTS_MAX = 8_190;

/** A batch closes this long after its first event (DESIGN.md §3: ~1 ms), unless it fills first. */
export const BATCH_DELAY_MS_DEFAULT = 1;

/**
 * Events decided but not yet durable. Past this the node is overloaded: a new command is refused
 * (503) instead of growing an unbounded queue whose clients have long timed out.
 */
export const PENDING_EVENTS_MAX = 4 * BATCH_EVENTS_MAX;

/** Idempotency keys are kept this long by default (a day covers any sane client retry policy). */
export const IDEMPOTENCY_RETENTION_MS_DEFAULT = 24 * 60 * 60 * 1000;

/** How often records past the idempotency retention are forgotten. */
export const RETENTION_SWEEP_MS = 60 * 1000;

/** Events read per page while recovering a log on open (bounded memory per read). */
export const RECOVERY_PAGE_EVENTS = 10_000;

/** Largest page of a tenant's events the replica reads for the events API. */
export const TENANT_EVENTS_PAGE_MAX = 1_000;

/** Length of an incarnation id: 16 base32 characters are 80 random bits. */
export const INCARNATION_LENGTH = 16;
