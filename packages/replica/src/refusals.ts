/** The answers a replica gives when it does not decide a command at all (api.ts's StoreFailure, NotReady). */
import type { NotReady, StoreFailure } from './api.js';

/** The replica is closing. */
export const CLOSING: StoreFailure = { status: 'unavailable', reason: 'closing' };
/** A commit failed (the command's effects were undone), or the replica is broken. */
export const STORE_FAILED: StoreFailure = { status: 'unavailable', reason: 'store_failed' };
/** More than PENDING_EVENTS_MAX events would wait for the store. */
export const OVERLOADED: StoreFailure = { status: 'unavailable', reason: 'overloaded' };
/** A decision could not be made (logged). */
export const INTERNAL: StoreFailure = { status: 'unavailable', reason: 'internal' };
/** This node's own incarnation was retired: it takes no writes. */
export const RETIRED: NotReady = { status: 'not_ready', reason: 'retired', waitingFor: [] };
