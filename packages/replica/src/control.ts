/**
 * The control document (DESIGN.md §4): low-rate, admin-edited data that every region may change
 * and all must agree on, in one Yjs document. Keys are flat (`policy/<tenant>` → a plain value):
 * two regions creating the same nested Y.Map concurrently lose one of them silently.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as sync from 'y-protocols/sync';
import * as Y from 'yjs';
import type { TenantPolicy } from './api.js';

/** The root map of the control document. */
const ROOT = 'control';

/** The policy of a tenant nobody has set one for. */
export const DEFAULT_POLICY: TenantPolicy = Object.freeze({ overdraft: {}, weights: {}, blocked: false });

/** The control document of one replica. */
export class ControlDocument {
  readonly doc: Y.Doc;
  private readonly root: Y.Map<unknown>;

  /** A new, empty document whose Yjs client id comes from the replica's Rng (deterministic in the simulator). */
  constructor(clientId: number) {
    this.doc = new Y.Doc({ gc: true });
    this.doc.clientID = clientId;
    this.root = this.doc.getMap(ROOT);
  }

  /** Applies a stored or received update. */
  applyUpdate(update: Uint8Array): void {
    Y.applyUpdate(this.doc, update);
  }

  /** The tenant's policy (the default when none was set). */
  policy(tenant: string): TenantPolicy {
    const value = this.root.get(`policy/${tenant}`);
    return value === undefined ? DEFAULT_POLICY : (value as TenantPolicy);
  }

  /** Sets the tenant's policy; returns the Yjs update to persist and send to peers. */
  setPolicy(tenant: string, policy: TenantPolicy): Uint8Array {
    const before = Y.encodeStateVector(this.doc);
    const plain: TenantPolicy = {
      overdraft: { ...policy.overdraft },
      weights: { ...policy.weights },
      blocked: policy.blocked,
    };
    this.doc.transact(() => this.root.set(`policy/${tenant}`, plain));
    return Y.encodeStateAsUpdate(this.doc, before);
  }

  /** The whole document as one update (for a new peer or a compaction). */
  encodeState(): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc);
  }

  /** This document's state vector (what a summary carries). */
  stateVector(): Uint8Array {
    return Y.encodeStateVector(this.doc);
  }

  /** A y-protocols sync step 1 message: "here is what I have, send me the rest". */
  syncStep1(): Uint8Array {
    const encoder = encoding.createEncoder();
    sync.writeSyncStep1(encoder, this.doc);
    return encoding.toUint8Array(encoder);
  }

  /** A y-protocols sync step 2 message with what a peer at `stateVector` lacks, or null when nothing. */
  syncStep2For(stateVector: Uint8Array): Uint8Array | null {
    const missing = Y.encodeStateAsUpdate(this.doc, stateVector);
    // An update that carries nothing is two zero bytes (no structs, empty delete set).
    if (missing.length <= 2) return null;
    const encoder = encoding.createEncoder();
    sync.writeUpdate(encoder, missing);
    return encoding.toUint8Array(encoder);
  }

  /** A y-protocols update message carrying `update` (a local change, sent to every peer). */
  static updateMessage(update: Uint8Array): Uint8Array {
    const encoder = encoding.createEncoder();
    sync.writeUpdate(encoder, update);
    return encoding.toUint8Array(encoder);
  }

  /**
   * Reads a y-protocols sync message from a peer: applies what it carries and returns the updates
   * that changed this document (to persist) and the reply to send back (sync step 2 for a step 1).
   * Throws on a malformed message.
   */
  receive(message: Uint8Array): { updates: Uint8Array[]; reply: Uint8Array | null } {
    const updates: Uint8Array[] = [];
    const capture = (update: Uint8Array) => {
      updates.push(update);
    };
    this.doc.on('update', capture);
    try {
      const decoder = decoding.createDecoder(message);
      const encoder = encoding.createEncoder();
      sync.readSyncMessage(decoder, encoder, this.doc, 'peer');
      if (decoding.hasContent(decoder)) throw new Error('trailing bytes after a sync message');
      const reply = encoding.length(encoder) > 0 ? encoding.toUint8Array(encoder) : null;
      return { updates, reply };
    } finally {
      this.doc.off('update', capture);
    }
  }
}
