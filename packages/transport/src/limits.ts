/** Limits of the WebSocket transport. Each is named and says why it is that number (STYLE.md). */
import { FRAME_CONTROL_BYTES_MAX } from '@allot/replica';

/**
 * Bytes of one message after the handshake (the WebSocket `maxPayload`; a larger one closes the
 * link with 1009). The largest control message the replica may send, plus room for the frame's
 * own fields: "a few MiB" (DESIGN.md §8), so one message never pins much memory at the receiver.
 */
export const FRAME_BYTES_MAX_DEFAULT = FRAME_CONTROL_BYTES_MAX + 64 * 1024;

/**
 * Bytes queued for one peer before `send` answers false. Two full frames: a peer that reads slower
 * than we write gets pulls later instead of an unbounded queue (DESIGN.md §4), and a healthy link
 * always has room for the next frame while the previous one drains.
 */
export const SEND_BUFFER_BYTES_MAX_DEFAULT = 2 * FRAME_BYTES_MAX_DEFAULT;

/** How often a link is pinged: round-trip times for the cluster view, and traffic on a quiet link. */
export const PING_INTERVAL_MS_DEFAULT = 1_000;

/**
 * Silence after which a link is closed: five missed pings. Long enough for a stall of the peer's
 * event loop (a large group commit, a GC pause), short enough that rights are not pushed for long
 * to a region that is gone.
 */
export const PEER_TIMEOUT_MS_DEFAULT = 5_000;

/**
 * Time from opening a connection to the end of the handshake (hello, hello, auth, ready). Four
 * small messages take a few round trips even across continents; a connection still not through
 * after this is a stranger or a stuck peer and gives its slot back.
 */
export const HANDSHAKE_TIMEOUT_MS_DEFAULT = 5_000;

/** First reconnect delay: a peer restarting on the same host is usually back within this. */
export const BACKOFF_MS_MIN_DEFAULT = 100;

/**
 * Longest reconnect delay: a region that comes back after a long outage is found again within
 * ten seconds, while a cluster of dead peers costs each node at most one dial per peer per ten
 * seconds.
 */
export const BACKOFF_MS_MAX_DEFAULT = 10_000;

/**
 * Bytes of one handshake message. A hello is a cluster id (≤ 256 characters), two ids, a nonce and
 * a signature: well under 1 KiB. Anything larger before authentication is refused (the socket's
 * `maxPayload` is the frame limit, which a stranger should not get to use).
 */
export const HANDSHAKE_BYTES_MAX = 4 * 1024;

/**
 * Accepted connections still in their handshake. A cluster has a handful of regions, each with at
 * most a couple of connections in flight to us; past this, upgrades are answered 503 so strangers
 * cannot pin sockets and timers without bound.
 */
export const HANDSHAKES_PENDING_MAX = 64;

/** Random bytes of a handshake nonce: 256 bits never repeat, so a signed challenge cannot be replayed. */
export const NONCE_BYTES = 32;

/**
 * Characters of a cluster id in a hello: the same bound as the store's node metadata, which holds
 * the same config value.
 */
export const CLUSTER_ID_LENGTH_MAX = 256;

/**
 * Bytes of a WebSocket close reason: RFC 6455 allows 123 (a control frame's 125 minus the code);
 * `ws` throws past it.
 */
export const CLOSE_REASON_BYTES_MAX = 123;

/**
 * Time `close()` waits for a peer to answer the closing handshake before cutting the socket: a
 * live peer answers within a round trip, and shutdown must not hang on a dead one.
 */
export const CLOSE_WAIT_MS = 1_000;
