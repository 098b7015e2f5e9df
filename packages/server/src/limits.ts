/**
 * Limits of the HTTP API. The ledger's own limits (amounts, ids, keys, priorities) come from
 * @allot/core and are re-checked here only through the schemas built from them. Each number says
 * why it is that number (STYLE.md).
 */
import { BATCH_EVENTS_MAX } from '@allot/replica';
import { LOG_PAGE_SEGMENTS_MAX } from '@allot/store';

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
 * Debits in one POST /v1/debits/batch (API.md: 8,190): the replica's group commit bound, so one
 * full batch is one commit (the classic-level write of ~1.6 MiB, TigerBeetle's batch size).
 */
export const BATCH_DEBITS_MAX = BATCH_EVENTS_MAX;

/** Metadata of a debit, as the UTF-8 length of its JSON (API.md: "an object of at most 4 KiB"). */
export const METADATA_BYTES_MAX = 4 * 1024;

/** Nesting of debit metadata: the replica's bound (32), so the API and peers take the same events. */
export { METADATA_DEPTH_MAX } from '@allot/replica';

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

/**
 * Time a client has to send its request line and headers. Real clients send them in one packet;
 * ten seconds covers a congested link, and a socket that dribbles headers (slowloris) or sends
 * nothing at all is answered 408 and closed instead of holding a descriptor (Node's default: 60 s).
 */
export const HEADERS_TIMEOUT_MS_DEFAULT = 10_000;

/**
 * Time a client has to send its whole request, body included (the body-read timeout). The largest
 * body is a full debit batch (BATCH_BODY_BYTES_MAX, 8 MiB): 60 s lets it arrive at ~140 KB/s, while a
 * client sending one byte every few seconds is cut off instead of staying open forever.
 */
export const REQUEST_TIMEOUT_MS_DEFAULT = 60_000;

/**
 * How long an idle keep-alive connection is kept between requests. Longer than the 60 s idle timeout
 * of common load balancers, so the balancer closes first and never sends into a closing socket.
 */
export const KEEP_ALIVE_TIMEOUT_MS_DEFAULT = 65_000;

/**
 * Open connections (HTTP, and replication sockets upgraded from them) past which new ones are closed
 * at once. Well under the usual descriptor limits (1,024 in a shell, 1,048,576 in a container), with
 * room left for LevelDB's table files (classic-level keeps up to 1,000 open): a flood of sockets then
 * costs refused connections, never a process out of descriptors.
 */
export const CONNECTIONS_MAX_DEFAULT = 512;

/** Headers and request timeouts are checked this often at most (Node checks every 30 s by default). */
export const TIMEOUT_CHECK_INTERVAL_MS_MAX = 1_000;

/**
 * Window of the request rate limit. One second: a burst is judged against the rate a client can
 * sustain, and a client over it waits at most a second (its Retry-After).
 */
export const RATE_LIMIT_WINDOW_MS_DEFAULT = 1_000;

/**
 * Requests per window of one token. A node answers ~10k debits/s on two cores: 50,000 never throttles
 * a real service or a benchmark, and still stops one runaway client from taking every core.
 */
export const RATE_LIMIT_TOKEN_REQUESTS_DEFAULT = 50_000;

/**
 * Requests per window from one IP address without a valid token (probes, Prometheus, and whoever
 * floods with unknown tokens). Probes send a few per second; 10,000 only stops a flood.
 */
export const RATE_LIMIT_ANONYMOUS_REQUESTS_DEFAULT = 10_000;

/**
 * Mean event-loop delay, over one sample interval, past which requests are shed (503 unavailable
 * with Retry-After). A debit is answered in about a millisecond; a loop a whole second behind on
 * average is starving (probes time out next), and taking more work would only make every answer later.
 */
export const EVENT_LOOP_DELAY_MS_MAX_DEFAULT = 1_000;

/**
 * Share of V8's heap limit past which requests are shed: the ledger's state lives in the heap, so a
 * node this close to the limit takes no more requests rather than die in the middle of one.
 */
export const HEAP_USED_FRACTION_MAX = 0.9;

/**
 * How often the event-loop delay and the heap are sampled for load shedding; the delay is the mean
 * over this interval. Five seconds: one long task (a large snapshot, a full batch) averages out
 * and sheds nothing, while a loop that stays behind is caught within seconds. A shed request's
 * Retry-After is one interval.
 */
export const PRESSURE_SAMPLE_INTERVAL_MS_DEFAULT = 5_000;

/**
 * How often the status page (GET /ui) reads GET /v1/cluster, and a tenant's balance and events
 * when the node has no stream: 2 s shows a link going down within a few seconds of the transport
 * noticing, and a page left open in a dozen tabs costs a node a few requests a second.
 */
export const UI_POLL_MS = 2_000;

/**
 * The status page re-reads a tenant's balance this long after a streamed event, so a burst of
 * debits costs one read, not one per debit.
 */
export const UI_REFRESH_DELAY_MS = 250;

/** Newest events of a tenant the status page keeps and shows: a screen's worth during an incident. */
export const UI_EVENTS_SHOWN = 50;

/**
 * Event pages the status page reads when a tenant is chosen (each EVENTS_PAGE_MAX long): the
 * events API pages from the oldest, so a tenant with a long history shows the newest events of its
 * first 20,000 and what arrives after, and says so.
 */
export const UI_EVENT_PAGES_MAX = 20;

/** The status page's stream reconnects after this long, doubling up to the max, while it fails. */
export const UI_STREAM_RETRY_MS_MIN = 500;
export const UI_STREAM_RETRY_MS_MAX = 10_000;

/**
 * Consumers of GET /v1/stream at once: half the default connection cap (CONNECTIONS_MAX_DEFAULT),
 * so that streams never take the connections that debits need. An idle consumer costs a socket and
 * a few KiB (bench/stream.mjs measures it); a node that wants more raises both caps together.
 */
export const STREAM_CONSUMERS_MAX_DEFAULT = 256;

/**
 * Bytes a stream consumer may leave unread in its socket buffer before it is closed with
 * `event: overflow`: ~2,000 events of ~500 bytes, a few seconds of a busy node. A consumer slower
 * than that for longer resumes from the overflow's cursor instead of pinning the node's memory.
 */
export const STREAM_BUFFER_BYTES_MAX = 1024 * 1024;

/**
 * Events a stream buffers for a consumer while it is still catching up from its cursor: past it the
 * consumer gets `event: overflow` with the cursor it reached (the same bound as its socket buffer).
 */
export const STREAM_PENDING_EVENTS_MAX = 2_000;

/**
 * Events a stream replays from the logs when it resumes from a cursor: a few minutes of a busy
 * node. A cursor further behind is answered 409 `stream_cursor_behind`: page the tenant's events.
 */
export const STREAM_RESUME_EVENTS_MAX = 100_000;

/** Events read from one origin's log per store read while a stream catches up: one events page. */
export const STREAM_RESUME_PAGE_EVENTS = 1_000;

/**
 * A heartbeat (a comment line and the consumer's cursor as `id:`) every 15 s: under the 30–60 s
 * idle timeouts of common proxies and load balancers, so an idle stream stays open, at ~60 bytes
 * per consumer per beat.
 */
export const STREAM_HEARTBEAT_MS = 15_000;

/**
 * A tenant's stream skips other tenants' events; after this many skipped it sends an `id:` line
 * alone, so that a resume never has to replay more than this of what it skipped.
 */
export const STREAM_ID_REFRESH_EVENTS = 1_000;

/**
 * Characters of a stream cursor (base64url of each origin's seq): ~30 per origin, so 4,096 holds
 * the vector of a hundred incarnations, far more than a cluster's regions ever leave behind.
 */
export const STREAM_CURSOR_LENGTH_MAX = 4_096;

/** What a client's EventSource waits before it reconnects (the SSE `retry:` field), ms. */
export const STREAM_RETRY_MS = 2_000;

/** Deliveries GET /v1/webhooks/deliveries lists at most (and by default): the newest ones. */
export const WEBHOOK_LOG_PAGE_MAX = 1_000;

/** Webhook deliveries are retried for 24 h after their alert (API.md), then marked failed. */
export const WEBHOOK_RETRY_HORIZON_MS = 24 * 60 * 60 * 1000;

/** The first retry of a webhook waits about 1 s; each next one twice as long (with jitter). */
export const WEBHOOK_BACKOFF_BASE_MS = 1_000;

/** The longest wait between two attempts: an hour, so a receiver back after a long outage hears within the hour. */
export const WEBHOOK_BACKOFF_MAX_MS = 60 * 60 * 1000;

/** One attempt's answer must come within 10 s (a receiver should queue, not work, before it answers). */
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** Attempts in flight at once over all endpoints: alerts are rare; a slow receiver must not pile up sockets. */
export const WEBHOOK_CONCURRENCY_MAX = 8;

/**
 * Deliveries waiting at once. Alerts are a few per tenant per day; 100,000 waiting means every
 * receiver has been down for long: past it new deliveries are refused (logged, counted failed)
 * rather than grow the outbox without end.
 */
export const WEBHOOK_PENDING_MAX = 100_000;

/** Finished deliveries (delivered or failed) kept for GET /v1/webhooks/deliveries: the newest 1,000. */
export const WEBHOOK_LOG_KEEP = 1_000;

/**
 * How old a signature's `t=` may be when a receiver checks it (verifyWebhookSignature): 5 minutes,
 * Stripe's tolerance, enough for clock skew and a slow network, short for a replayed request.
 */
export const WEBHOOK_SIGNATURE_TOLERANCE_SECONDS = 300;

/** Webhook endpoints of one node (config `webhooks`): a few receivers, not a fan-out service. */
export const WEBHOOK_ENDPOINTS_MAX = 16;

/** Shortest webhook secret: 16 characters, so the HMAC key is not guessable. */
export const WEBHOOK_SECRET_LENGTH_MIN = 16;

/**
 * Largest page of GET /v1/audit/segments: one store read (the store's LOG_PAGE_SEGMENTS_MAX), so a
 * page is one `readSegments` call and its limit is the store's own.
 */
export const AUDIT_SEGMENTS_PAGE_MAX = LOG_PAGE_SEGMENTS_MAX;

/** Segments per page of GET /v1/audit/segments when the client names no limit: a whole store read. */
export const AUDIT_SEGMENTS_PAGE_DEFAULT = AUDIT_SEGMENTS_PAGE_MAX;

/**
 * Segment bytes in one page of GET /v1/audit/segments (base64 makes the body a third larger): a
 * page stops before it would pass this, but always holds one segment, and a segment is at most
 * SEGMENT_BYTES_MAX (1 MiB), so one answer pins at most ~6 MiB of a node's memory.
 */
export const AUDIT_PAGE_BYTES_MAX = 4 * 1024 * 1024;

/**
 * Checkpoint bytes base64-encoded per chunk of GET /v1/audit/checkpoint's streamed body (a multiple
 * of 3, so the chunks' base64 concatenates to the whole's): the answer never holds the base64 of a
 * checkpoint of up to CHECKPOINT_BYTES_MAX (1 GiB) as one string, only the stored bytes plus this.
 */
export const AUDIT_CHECKPOINT_CHUNK_BYTES = 3 * 1024 * 1024;

/**
 * Longest `at` of GET /v1/snapshot (a version vector's JSON text): a cluster's vector names a few
 * origins of ~30 characters each; 8 KiB holds ~200 of them and stays well inside Node's 16 KiB
 * request-header limit, so a query too long for the vector is refused by the schema, not the parser.
 */
export const SNAPSHOT_AT_LENGTH_MAX = 8 * 1024;

/** Longest `at` of GET /v1/tenants/{tenant}/balance: an RFC 3339 time with a 9-digit fraction and an offset is 35. */
export const BALANCE_AT_LENGTH_MAX = 64;
