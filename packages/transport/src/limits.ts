/** Limits of the WebSocket transport. Each is named and says why it is that number (STYLE.md). */

// The link's timeouts, reconnect backoff and buffers are the cluster's one LINK_POLICY
// (@allot/replica limits.ts): the transport's defaults, the node's choice and the simulator's model.

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
