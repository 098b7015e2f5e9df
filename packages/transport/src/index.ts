/**
 * @allot/transport — the replica's Transport port on WebSockets (DESIGN.md §4): one connection per
 * pair of regions, either side may dial, mutual Ed25519 challenge against keys from static config,
 * msgpackr frames bounded in bytes and shape-checked (`frameProblem`) before the replica sees
 * them, backpressure by a bounded send buffer, pings with round-trip times, peer timeouts, and
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
