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
 * a signature: well under 1 KiB. It is the socket's `maxPayload` until the peer has proven its key,
 * so a stranger's larger message is refused by its header (1009) and never buffered; the frame
 * limit is only granted to an authenticated peer.
 */
export const HANDSHAKE_BYTES_MAX = 4 * 1024;

/**
 * Accepted connections still in their handshake, in all. A cluster has a handful of regions, each
 * with at most a couple of connections in flight to us; past this, upgrades are answered 503 so
 * strangers cannot pin sockets and timers without bound.
 */
export const HANDSHAKES_PENDING_MAX = 64;

/**
 * Of HANDSHAKES_PENDING_MAX, the slots only connections from a known peer address may take (a
 * configured peer URL's IP, or an address a peer authenticated from before): strangers holding
 * every other slot still leave a restarting region room to rejoin. Two per region of a large
 * cluster, with room for crossing dials and retries.
 */
export const HANDSHAKES_RESERVED_FOR_PEERS = 16;

/**
 * Pending handshakes from one remote address that is not a known peer address. An honest dialer
 * has one connection in flight (two while a stale one times out); four leaves room for a NAT of a
 * few hosts, while a stranger needs many addresses to fill the stranger slots.
 */
export const HANDSHAKES_PENDING_PER_ADDRESS_MAX = 4;

/**
 * Time from accepting a connection to its hello. A dialer sends its hello the moment the upgrade
 * completes, so it arrives within one trip even across continents (~150 ms); two seconds also
 * covers a GC pause. An idle socket gives its slot back after this, not after the whole handshake
 * timeout.
 */
export const HELLO_TIMEOUT_MS_DEFAULT = 2_000;

/**
 * Remote addresses remembered per peer once it authenticated from them (the reserve above is
 * theirs): a region behind a NAT or moving between a few hosts; older ones are forgotten.
 */
export const PEER_ADDRESSES_MAX = 4;

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

/**
 * Bytes of the TLS exporter value a handshake binds to (RFC 5705/8446 keying material): 256 bits,
 * the same strength as the Ed25519 keys and nonces around it.
 */
export const CHANNEL_BINDING_BYTES = 32;
