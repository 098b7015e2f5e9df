/**
 * @allot/replica — one region's replica of the Allot ledger, sans-I/O: the origin log with its
 * hash chain and signed heads, group commit, idempotency, grant expiry, overdraft repay, and the
 * control document. It reaches the world only through its ports (Store, Clock, Rng, Crypto,
 * Logger), so the node and the simulator run the very same code.
 */
export * from './alert-rule.js';
export * from './api.js';
export * from './as-of.js';
export * from './borrow.js';
export * from './checkpoints.js';
export * from './clock.js';
export * from './control.js';
export * from './duplicate-grants.js';
export * from './event-feed.js';
export * from './event-shape.js';
export * from './frame-check.js';
export * from './frames.js';
export * from './incarnation.js';
export * from './join.js';
export * from './join-fold.js';
export * from './join-frames.js';
export * from './join-install.js';
export * from './join-serve.js';
export { type KeyIndexUse, keyIndexUse } from './key-spill.js';
export * from './limits.js';
export * from './log.js';
export * from './log-recovery.js';
export * from './msgpack-options.js';
export * from './peer-input.js';
export * from './policy-rule.js';
export * from './ports.js';
export * from './replica.js';
export * from './retire.js';
export * from './snapshot-view.js';
export * from './successors.js';
export * from './values.js';
