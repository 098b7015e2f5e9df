/** Limits of a replica. Each is named and says why it is that number (STYLE.md). */

/**
 * Nesting of debit metadata: the HTTP API's bound (the contract) and that of every event the replica
 * takes from a peer or a disk: the server refuses deeper metadata with the same count, so a frame
 * check accepts every event the API can make, and recursive checks, the canonical JSON of the hash
 * chain and the codecs stay shallow. 32 levels are far more than any label set needs.
 */
export { METADATA_DEPTH_MAX } from '@allot/core';

/**
 * Events in one group commit. One LevelDB batch of this many ~200-byte records is ~1.6 MiB, which
 * classic-level writes in one go; it also equals the largest debit batch of the API, so a full
 * /v1/debits/batch commits in one write.
 */
export const BATCH_EVENTS_MAX = 8_190;

/**
 * Events decided but not yet durable. Past this the node is overloaded: a new command is refused
 * (503) instead of growing an unbounded queue whose clients have long timed out.
 */
export const PENDING_EVENTS_MAX = 4 * BATCH_EVENTS_MAX;

/**
 * After a failed commit the next one waits COMMIT_RETRY_MS_MIN, doubling with each failure in a row
 * up to COMMIT_RETRY_MS_MAX; a commit that succeeds ends the wait. Each failed commit rebuilds the
 * fold from the store (all of it since the newest checkpoint): retried as fast as commands came, a
 * disk refusing writes for two seconds made a node rebuild 1,272 times (swarm seed 755) and spend
 * its CPU on nothing else. What arrives meanwhile is decided and waits in the next batch, as
 * behind a slow commit; the cap bounds how long it waits once the disk takes writes again.
 */
export const COMMIT_RETRY_MS_MIN = 10;
export const COMMIT_RETRY_MS_MAX = 500;

/** Idempotency keys are kept this long by default (a day covers any sane client retry policy). */
export const IDEMPOTENCY_RETENTION_MS_DEFAULT = 24 * 60 * 60 * 1000;

/** How often records past the idempotency retention are forgotten. */
export const RETENTION_SWEEP_MS = 60 * 1000;

/** Segments read per page while recovering a log on open (bounded memory per read: at most 16 MiB). */
export const RECOVERY_PAGE_SEGMENTS = 16;

/** Largest page of a tenant's events the replica reads for the events API. */
export const TENANT_EVENTS_PAGE_MAX = 1_000;

/** Length of an incarnation id: 16 base32 characters are 80 random bits. */
export const INCARNATION_LENGTH = 16;

/**
 * Events sent to one peer beyond what it has acknowledged (its last summary). A slow peer gets
 * no more until it catches up: it is pulled from, never sent an unbounded queue (DESIGN.md §4).
 * Two full commits' worth keeps a healthy peer's pipe full.
 */
export const PEER_WINDOW_EVENTS = 2 * BATCH_EVENTS_MAX;

/** How often a replica tells its peers what it has (anti-entropy; also re-sends what was lost). */
export const SUMMARY_INTERVAL_MS = 500;

/** A region asks for rights when it holds less than its spend over this many round trips. */
export const LOW_WATER_ROUND_TRIPS = 50;

/** Round trip assumed before one is measured, and the least one counted (loopback is ~0.1 ms). */
export const RTT_MS_FLOOR = 5;

/** Spend rates are averaged over about this long (exponential decay). */
export const SPEND_RATE_WINDOW_MS = 2_000;

/** At most one rights request per tenant this often: a donor's move needs a round trip to arrive. */
export const RIGHTS_REQUEST_INTERVAL_MS = 20;

/**
 * Another origin's events are relayed to a peer only once the peer's summaries have shown no
 * progress on that origin for this long: a peer that hears the origin directly would otherwise
 * receive every event twice. Two summary intervals.
 */
export const RELAY_AFTER_MS = 2 * SUMMARY_INTERVAL_MS;

/**
 * Events sent to a peer that its summaries have not acknowledged, with no progress on their origin
 * for this long (plus a few of the slowest round trips), are sent again. A frame that reaches a live
 * link is either folded or closes it, except one a receiver cannot tell from a stale or early one
 * and lets go: a hostile wire's run under another known incarnation (stale there) or an unknown one
 * (held past a gap nobody fills). Without a resend the peer stays behind for good (swarm seed 4456).
 * Four summary intervals: a healthy peer acknowledges within one interval and a round trip.
 */
export const RESEND_AFTER_MS = 4 * SUMMARY_INTERVAL_MS;

/** Round trips of the slowest peer added to RESEND_AFTER_MS (a far peer's summaries come later). */
export const RESEND_AFTER_ROUND_TRIPS = 4;

/**
 * How long a debit waits for rights from peers by default (API.md `borrowWaitMs`): about one
 * in-continent round trip plus a donor's commit, and short enough that a client's own timeout is
 * far off.
 */
export const BORROW_WAIT_MS_DEFAULT = 50;

/**
 * The longest wait for rights a node may be configured with: a cross-continent round trip (~300 ms
 * under load) with room for the donor's commit; past this a client has given up and retried.
 */
export const BORROW_WAIT_MS_MAX = 1_000;

/**
 * Debits waiting for rights at once, over all tenants. Each holds a request open; past this a debit
 * that would wait is declined at once (reason `timeout`) rather than queue without end.
 */
export const BORROW_WAITERS_MAX = 10_000;

/**
 * Times one waiting debit asks its peers: once when it starts and again when events of its tenant
 * arrive and it is still short and who holds what has changed (asks the same as the last are not
 * sent). Bounds the frames one debit sends (× peers); 8 lets a debit follow rights that move twice
 * while it waits (issue 12: a lender's view of who holds the last credits is a hop behind).
 */
export const BORROW_ASKS_PER_WAIT_MAX = 8;

/**
 * Waiting debits ask for what they lack plus (this − 1) times their own amounts again: the rest
 * serves the debits that follow them at a region that has just shown demand, so that one of those
 * taking what arrives first does not cost the waiting ones a second round trip. Proportional to the
 * demand at hand, not to a rate: an ask as large as a low-water mark makes the last credits of a
 * tenant move as one lump to whichever region asked last (issue 12). Rights only move.
 */
export const BORROW_ASK_FACTOR = 2;

/**
 * Tenants with borrow asks a lender keeps because it could not serve them in full (it held too
 * few rights then), to serve them when rights arrive within the asker's wait. One entry per tenant
 * holds at most one ask per peer region; past this many tenants the oldest tenant's asks are
 * forgotten (its debits then get only what their next ask finds).
 */
export const BORROW_ASKS_KEPT_MAX = 10_000;

/**
 * Tenants with shares of a grant owed to regions that were unreachable when it was split. A share
 * is handed on when the region comes up; past this many tenants the oldest entry is forgotten (its
 * rights then follow demand through ordinary rebalancing).
 */
export const PENDING_SHARES_MAX = 100_000;

/**
 * Captures and voids forwarded to holding regions and not answered yet. Past this a forward is
 * refused (503) rather than queued: each holds a client's request open.
 */
export const HOLD_FORWARDS_MAX = 10_000;

/**
 * How long a forwarded capture or void waits for the holding region's answer before the client is
 * told `region_unreachable`: the link policy's peer timeout, after which the link counts as down.
 */
export const HOLD_FORWARD_TIMEOUT_MS = 5_000;

/** Regions named in one policy field: a region is a node of the cluster, and clusters have a handful. */
export const POLICY_REGIONS_MAX = 64;

/**
 * Largest region weight of a policy. Weights are relative shares of new grants; 1..1,000 gives a
 * 0.1 % resolution and keeps amount × weight products used by the split far from 2^53.
 */
export const POLICY_WEIGHT_MAX = 1_000;

/** Alert thresholds of one policy (API.md `alerts`): a few levels per tenant, not a time series. */
export const POLICY_ALERTS_MAX = 16;

/** The lowest `belowPercent` of an alert: 1 % of what was granted (a finer line is an absolute `below`). */
export const ALERT_PERCENT_MIN = 1;

/** The highest `belowPercent` of an alert: 100 %, any spend at all below what was granted. */
export const ALERT_PERCENT_MAX = 100;

/**
 * Hysteresis of an alert (alert-rule.ts): after a crossing, a threshold is armed again only once
 * the balance is back at the threshold plus 5 % of it (at least 1 credit), so a balance that
 * hovers at the line (a debit, a refund, a debit…) does not alert on every wobble.
 */
export const ALERT_REARM_PERCENT = 5;

/** Hex digits of an alertId: 128 bits of a SHA-256, unique for every (tenant, threshold, crossing). */
export const ALERT_ID_HEX_DIGITS = 32;

/**
 * Bytes of one control message (a Yjs sync message), checked by the frame check and again by the
 * control document before anything is applied. A step 2 carries the whole document a new peer
 * lacks, so this also bounds the document (some ten thousand policies); with the transport's frame
 * of a few MiB it is the one bound on what a peer may ask this node to inspect at once.
 */
export const CONTROL_MESSAGE_BYTES_MAX = 4 * 1024 * 1024;

/**
 * Origins of one region a summary may name: incarnations are made only when a disk is lost, so a
 * region has a few in its life; 16 leaves room while keeping invented ones from piling up.
 */
export const SUMMARY_ORIGINS_PER_REGION_MAX = 16;

/**
 * The one link policy of the cluster (issue 10): the WebSocket transport takes its defaults from
 * it, the node passes it whole, and the simulator's network models links with it, so what the
 * swarm finds about reconnection is what nodes do.
 */
export const LINK_POLICY = Object.freeze({
  /** How often a link is pinged: round-trip times for the cluster view, and traffic on a quiet link. */
  pingIntervalMs: 1_000,
  /**
   * Silence after which a link is closed: five missed pings. Long enough for a stall of the peer's
   * event loop (a large group commit, a GC pause), short enough that rights are not pushed for long
   * to a region that is gone.
   */
  peerTimeoutMs: 5_000,
  /**
   * Time from opening a connection to the end of the handshake (hello, hello, auth, ready). Four
   * small messages take a few round trips even across continents; a connection still not through
   * after this is a stranger or a stuck peer and gives its slot back.
   */
  handshakeTimeoutMs: 5_000,
  /**
   * Time from accepting a connection to its hello. A dialer sends its hello the moment the upgrade
   * completes, so it arrives within one trip even across continents (~150 ms); two seconds also
   * covers a GC pause. An idle socket gives its slot back after this, not after the whole handshake.
   */
  helloTimeoutMs: 2_000,
  /** First reconnect delay: a peer restarting on the same host is usually back within this. */
  backoffMsMin: 100,
  /**
   * Longest reconnect delay (full jitter up to a cap that doubles per failed dial, up to this). A
   * cluster has a handful of peers: dialling each at least once a second costs nothing, and
   * convergence after a partition heals is bounded by the reconnect (DESIGN.md §4 goal: ≤ 2 s).
   */
  backoffMsMax: 1_000,
  /**
   * Bytes of one message after the handshake (the WebSocket `maxPayload`; a larger one closes the
   * link). The largest control message the replica may send plus room for the frame's own fields:
   * "a few MiB" (DESIGN.md §8), so one message never pins much memory at the receiver.
   */
  frameBytesMax: CONTROL_MESSAGE_BYTES_MAX + 64 * 1024,
  /**
   * Bytes queued for one peer before `send` answers false. Two full frames: a peer that reads slower
   * than we write gets pulls later instead of an unbounded queue (DESIGN.md §4), and a healthy link
   * always has room for the next frame while the previous one drains.
   */
  sendBufferBytesMax: 2 * (CONTROL_MESSAGE_BYTES_MAX + 64 * 1024),
});

/**
 * Incarnations of one region a node records as heard of (issue 16). A summary names at most
 * SUMMARY_ORIGINS_PER_REGION_MAX per region, so recording more would be of no use to a peer; and
 * a hostile peer naming invented incarnations, summary after summary, fills this many records at
 * most. One past it is not recorded (so not named): the incarnation it belongs to then takes no
 * overdraft unless another peer names it, which errs on the side of the bound.
 */
export const HEARD_ORIGINS_PER_REGION_MAX = SUMMARY_ORIGINS_PER_REGION_MAX;

/**
 * Bytes of own events after which a group commit starts a new segment. The largest single event
 * (a debit of 1,024 parts with 255-character grant ids and 4 KiB of metadata) is ~280 KiB, so a
 * segment cut here stays below SEGMENT_BYTES_MAX (1 MiB); and a frame (LINK_POLICY.frameBytesMax)
 * always holds a whole segment.
 */
export const SEGMENT_CUT_BYTES = 512 * 1024;

/**
 * Bytes of segments in one `segments` frame: a frame's bytes less room for its own fields and each
 * segment's signature and seqs. A segment alone never exceeds it (SEGMENT_BYTES_MAX is 1 MiB), so
 * a run of any length is sent in frames, never refused.
 */
export const FRAME_SEGMENT_BYTES_MAX = LINK_POLICY.frameBytesMax - 64 * 1024;

/** Segments read from the store per push step: a frame's worth of small ones, or a few large ones. */
export const PUSH_READ_SEGMENTS = 64;

/**
 * The longest stretch of a stored log of another origin from one segment whose signature is kept
 * to the next (that one included): segments, and their bytes. A received run is verified with the
 * signature of its last segment (the hash chain binds the ones before it) and of as few others as
 * keep every stretch within these bounds (run-check.ts); the rest are stored without a signature.
 * A push reads PUSH_READ_SEGMENTS segments within FRAME_SEGMENT_BYTES_MAX bytes from wherever the
 * peer is and must end at a kept signature (anti-entropy.ts): within these bounds it always finds
 * one, and one stretch always fits in one frame (a test states both).
 */
export const SIGNED_STRETCH_SEGMENTS_MAX = PUSH_READ_SEGMENTS;
export const SIGNED_STRETCH_BYTES_MAX = FRAME_SEGMENT_BYTES_MAX;

/**
 * Full debit and refund records a replica keeps on the heap by default (issue 18): none. Each
 * record held cost ~600 B of heap and, through the garbage collector and the maps that hold it,
 * about a third of a debit's CPU (bench:replica 8.4 µs a debit with none against 12.8 µs with
 * 100,000; bench:batch +40 %). Every key within the retention stays in the compact key index
 * (~10–16 B each, off the JS heap); a replay, refund or duplicate check reads its record back from
 * the log, through the segments kept for recalls (RECALL_SEGMENT_BYTES_MAX): ~35 µs a replay, and
 * a retried batch reads each of its segments once. A node may still keep a window (config
 * `recordWindowRecords`) to answer replays of its newest keys without a read.
 */
export const RECORD_WINDOW_RECORDS_DEFAULT = 0;

/**
 * Largest record window: 10 million records are ~6 GiB of heap, past any sane heap limit. 0 is
 * allowed (every record is read back from the log when needed).
 */
export const RECORD_WINDOW_RECORDS_MAX = 10_000_000;

/**
 * Key-index buckets per retention: the retention sweep drops a whole bucket, so a key is known up
 * to retention × (1 + 1/24) (an hour past a day), and a lookup probes ~25 tables per origin.
 */
export const KEY_INDEX_BUCKETS_PER_RETENTION = 24;

/**
 * Shortest key-index bucket: the retention sweep runs every RETENTION_SWEEP_MS, so finer buckets
 * would forget nothing sooner and only make lookups probe more tables.
 */
export const KEY_INDEX_BUCKET_MS_MIN = RETENTION_SWEEP_MS;

/**
 * Rounds of reading records back for one decision. Each round reads what the last one missed; a
 * new round is needed only when events with a colliding key were folded while reading, so a
 * few rounds always suffice and more means something is wrong (answered 503 internal, logged).
 */
export const RECALL_ROUNDS_MAX = 8;

/**
 * Bytes of stored segments kept for the recalls that follow the one that read them (cold-records.ts
 * RecalledSegments; ~40 B an event of a debit with a short key, so ~200,000 events): a retried batch
 * of 8,190 keys off the heap reads its few segments once, not once per key.
 */
export const RECALL_SEGMENT_BYTES_MAX = 8 * 1024 * 1024;

/**
 * How often the archive task looks for segments to move (archiving.ts): a busy node commits a few
 * hundred segments a second, and ARCHIVE_SWEEP_STEPS_MAX files of up to ARCHIVE_SCAN_SEGMENTS_MAX
 * segments each per origin per sweep keep up with ~3,000 commits/s at one sweep every 10 s.
 */
export const ARCHIVE_SWEEP_MS = 10_000;

/** Archive steps (files) per origin per sweep: bounded work per sweep, and the store's files small. */
export const ARCHIVE_SWEEP_STEPS_MAX = 8;

/** Segments one archive step looks at: a store's archive file holds at most this many (its ARCHIVE_FILE_SEGMENTS_MAX). */
export const ARCHIVE_SCAN_SEGMENTS_MAX = 4_096;

/**
 * Longest time before a segment every region acknowledged moves to the archive, ms: ten years.
 * Past it a node might as well not archive at all (leave `archiveAfterMs` out).
 */
export const ARCHIVE_AFTER_MS_MAX = 10 * 365 * 24 * 60 * 60 * 1000;

/**
 * Tenants a retire's answer lists by name (the totals cover all): a lost incarnation may have held
 * rights of millions of tenants, and an operator reads the first screenful; the events page has all.
 */
export const RETIRE_TENANTS_SHOWN_MAX = 1_000;

/**
 * Retire events appended before waiting for them to be durable: one group commit's worth, so that a
 * retire over millions of tenants never holds more than that pending (PENDING_EVENTS_MAX).
 */
export const RETIRE_EVENTS_PER_COMMIT = BATCH_EVENTS_MAX;

/**
 * Events committed between two checkpoints by default (issue 11): a start folds at most this many
 * events past its newest checkpoint, ~2.5–4 s at the 60–100k events/s a tail folds at (measured by
 * bench:recovery), which keeps a start within the 5 s goal. A checkpoint is ~8 B per idempotency
 * key within the retention: 80 MiB for 10M keys, written every 250k events.
 */
export const CHECKPOINT_EVERY_EVENTS_DEFAULT = 250_000;

/** Fewest events between checkpoints: each one encodes the whole fold, so not after every commit. */
export const CHECKPOINT_EVERY_EVENTS_MIN = 1_000;

/** Most events between checkpoints: past 100M a start folds for half an hour again. */
export const CHECKPOINT_EVERY_EVENTS_MAX = 100_000_000;

/** Longest time between checkpoints by default, when events came in since the last one. */
export const CHECKPOINT_EVERY_MS_DEFAULT = 10 * 60 * 1000;

/** Shortest time between checkpoints: one second (tests), far below any production setting. */
export const CHECKPOINT_EVERY_MS_MIN = 1_000;

/** Longest time between checkpoints: a day, the idempotency retention's default. */
export const CHECKPOINT_EVERY_MS_MAX = 24 * 60 * 60 * 1000;

/**
 * Checkpoints kept in the store: the newest and the one before it, so that a damaged newest one
 * falls back to an older checkpoint rather than to the whole log.
 */
export const CHECKPOINTS_KEPT = 2;

/**
 * Events of a tenant read per store call by an as-of balance (issue 11): the largest page the
 * store hands out for a tenant, so a long history is folded page by page in bounded memory.
 */
export const ASOF_PAGE_EVENTS = TENANT_EVENTS_PAGE_MAX;

/**
 * A balance as of a time starts from a checkpoint only for a tenant with more events than this: a
 * checkpoint is decoded whole (every tenant's state), a cost that grows with the node, not with the
 * tenant, while a page of one tenant's events folds in a bounded few ms.
 */
export const ASOF_BASE_EVENTS_MIN = ASOF_PAGE_EVENTS;

/**
 * Segments read per store call by a snapshot at a version vector: as recovery reads them (at most
 * 16 MiB a page), since such a snapshot refolds the named prefixes the way a start does.
 */
export const ASOF_PAGE_SEGMENTS = RECOVERY_PAGE_SEGMENTS;

/**
 * Origins one asked-for version vector may name. A cluster has a handful of regions, each with at
 * most SUMMARY_ORIGINS_PER_REGION_MAX incarnations worth naming; 256 covers 16 regions of 16 and
 * keeps the query string (and the heads read for it) small.
 */
export const ASOF_VECTOR_ORIGINS_MAX = 256;

/**
 * Snapshots at a version vector folded at once. Each refolds the prefixes it names into a state of
 * its own, as large as the node's (a start's worth of memory and CPU), so one at a time: a second
 * asked meanwhile is answered "retry later" rather than doubling the node's memory.
 */
export const ASOF_SNAPSHOTS_MAX = 1;

// ---------------------------------------------------------------------------------------------
// Joining by checkpoint (issue 11, DESIGN.md §2 and §4 `checkpoint`)

/**
 * Events a peer must hold beyond this node before it joins by checkpoint instead of plain catch-up
 * (default): at ~60k events/s of verify + fold, 100,000 events are under 2 s of plain catch-up,
 * so below it a checkpoint saves nothing worth its refold at the peers.
 */
export const JOIN_THRESHOLD_EVENTS_DEFAULT = 100_000;

/** Smallest join threshold: below ~1,000 events a checkpoint is larger than the events it replaces. */
export const JOIN_THRESHOLD_EVENTS_MIN = 1_000;

/** Largest join threshold: past 10^12 events no node ever joins by checkpoint (effectively "never"). */
export const JOIN_THRESHOLD_EVENTS_MAX = 1_000_000_000_000;

/**
 * Most regions a join may require to agree on a checkpoint's hash (`join.agree` as a number): no
 * honest cluster has more regions than core's ORIGINS_MAX origins.
 */
export const JOIN_AGREE_MAX = 64;

/**
 * Bytes of one `join-chunk` frame's payload: 1 MiB keeps a chunk well inside a frame
 * (LINK_POLICY.frameBytesMax) next to live traffic, and a 1 GiB checkpoint is ~1,000 round trips.
 */
export const JOIN_CHUNK_BYTES = 1024 * 1024;

/**
 * Largest checkpoint a joiner accepts (bytes): the store's CHECKPOINT_BYTES_MAX (1 GiB), so any
 * checkpoint a peer may store can be fetched, and a hostile size is refused before anything is allocated.
 */
export const JOIN_CHECKPOINT_BYTES_MAX = 1024 * 1024 * 1024;

/**
 * How long a joiner waits for every asked peer's answer (offers, hashes, a chunk) before it decides
 * with what it has, or gives up this attempt and retries: a peer computing a hash refolds up to
 * two checkpoint intervals of events (~250k–500k events at ~60k/s, < 10 s), so 60 s leaves room.
 */
export const JOIN_ANSWER_WAIT_MS = 60_000;

/** Pause before a join attempt that failed (no offer, disagreement, bad bytes) is retried. */
export const JOIN_RETRY_MS = 5_000;

/**
 * Hashes at a vector a node keeps computed for joiners: each costs a refold, and a join asks each
 * peer for one vector, so a few cover several joiners at once without holding state for hostile asks.
 */
export const JOIN_HASH_CACHE = 4;

/**
 * Join attempts (offers, agreement, bytes) before a joiner gives up and catches up on every event
 * instead: plain catch-up is always correct, only slower, so a cluster that cannot agree (a peer
 * lying, or none able to compute the hash) still gets the node ready.
 */
export const JOIN_ATTEMPTS_MAX = 3;

/**
 * How long a node that joined (or gave up joining) may wait for the events its peers held meanwhile
 * before it says, once, which ones its writes still wait for: at the ~60k events/s of plain
 * catch-up, 10 minutes is ~36M events, past any tail after a checkpoint (issue 11's 10M history).
 */
export const JOIN_CATCH_UP_WARN_MS = 10 * 60_000;

/**
 * Runs of segments that arrived past a gap in their origin's log, held to be folded when the gap
 * fills (a link or a relay that delivers frames out of order) instead of dropped and sent again
 * after a pull. Each is at most one frame (LINK_POLICY.frameBytesMax), so this bounds the memory
 * held to ~16 frames; past it the oldest held run is let go (the pull sent for its gap brings it
 * again).
 */
export const HELD_RUNS_MAX = 16;

/**
 * Received events per group-commit batch: runs that arrive while a commit is in flight go into the
 * next batch, and past this many into the one after it, so one commit stays within the store's
 * COMMIT_EVENTS_MAX (32,768) with a full batch of own events (BATCH_EVENTS_MAX) beside them. Found
 * by bench:join: a new region catching up on 1M events under load piled 152,000 received events into
 * one batch, its commit was refused, and the refused commit's drain spun.
 */
export const RECEIVED_BATCH_EVENTS_MAX = 16_384;

/**
 * Events of a stretch of more than one segment between kept signatures (SIGNED_STRETCH_SEGMENTS_MAX):
 * a commit of received segments ends at a kept signature, so that every stored head of another
 * origin carries one, and a stretch goes into one commit whole; within this bound it never makes a
 * commit of received events pass RECEIVED_BATCH_EVENTS_MAX.
 */
export const SIGNED_STRETCH_EVENTS_MAX = RECEIVED_BATCH_EVENTS_MAX;
/**
 * Memory a replica's key indexes may hold by default (issue 18): the open bucket's tables (≈ 16 B
 * a key: rate × retention / 24) and the Bloom filters of the closed buckets on disk (1.25 B a key),
 * newest first; a closed bucket past the budget keeps no filter, and every lookup of a fresh key
 * reads one 64 KiB chunk of it. 256 MiB holds the filters of ≈ 200 M keys: 24 h at ~2,300 debits/s.
 */
export const KEY_INDEX_MEMORY_BYTES_DEFAULT = 256 * 1024 * 1024;

/** Largest key-index budget: 64 GiB, past any machine this runs on; 0 keeps no filter at all. */
export const KEY_INDEX_MEMORY_BYTES_MAX = 64 * 1024 * 1024 * 1024;

/**
 * Bytes of chunks one keys-area write carries while a closed bucket goes to disk: the bucket's
 * chunks go in several synced batches (its header last, so a part exists only once whole), none
 * so large that it stalls the store's other writes for long.
 */
export const KEY_SPILL_WRITE_BYTES = 8 * 1024 * 1024;

/**
 * Share of the key-index budget the tables in memory may hold before even the open bucket goes to
 * disk as a part (a bucket is retention / 24 long: at 5,000 debits/s and 24 h, an hour holds 18 M
 * keys, ≈ 290 MiB of tables); the rest is for the closed parts' filters.
 */
export const KEY_INDEX_TABLE_SHARE = 0.5;

/**
 * Fewest keys in memory tables for which an open bucket goes to disk early: with a budget of 0,
 * parts of ≈ 64 Ki keys (≈ 1 MiB), not one per commit.
 */
export const KEY_SPILL_PART_ENTRIES_MIN = 65_536;
