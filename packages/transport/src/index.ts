/**
 * @allot/transport — the replica's Transport port on WebSockets (DESIGN.md §4): one connection per
 * pair of regions, either side may dial, mutual Ed25519 proof over the whole handshake transcript
 * (roles, both parties, both nonces, the TLS exporter) against keys from static config, links over
 * TLS 1.3 with client certificates from the cluster CA (`ws://` on loopback only), handshake-sized
 * messages and bounded pending-handshake slots before authentication, msgpackr frames bounded in
 * bytes and shape-checked (`frameProblem`) before the replica sees them, long runs split at signed
 * events, backpressure by a bounded send buffer, pings with round-trip times, peer timeouts, and
 * reconnects with exponential backoff and full jitter.
 */
export * from './admission.js';
export * from './codec.js';
export * from './handshake.js';
export * from './limits.js';
export * from './options.js';
export * from './protocol.js';
export * from './split-run.js';
export * from './upgrade-gate.js';
export * from './websocket-transport.js';
