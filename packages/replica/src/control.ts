/**
 * The control document (DESIGN.md §4): low-rate, admin-edited data that every region may change
 * and all must agree on, in one Yjs document. Keys are flat (`policy/<tenant>` → a plain value):
 * two regions creating the same nested Y.Map concurrently lose one of them silently.
 */

import { isTenantId } from '@allot/core';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as sync from 'y-protocols/sync';
import * as Y from 'yjs';
import type { TenantPolicy } from './api.js';
import { CONTROL_MESSAGE_BYTES_MAX } from './limits.js';
import { policyProblem } from './policy-rule.js';
import { sameBytes } from './values.js';

/** The root map of the control document. */
const ROOT = 'control';

/** The policy of a tenant nobody has set one for. */
export const DEFAULT_POLICY: TenantPolicy = Object.freeze({ overdraft: {}, weights: {}, blocked: false });

/** The prefix of a policy key: `policy/<tenant>`. */
const POLICY_PREFIX = 'policy/';

/** A peer's control message that must not be applied: the peer is dropped, nothing changes. */
export class ControlRefused extends Error {
  override readonly name = 'ControlRefused';
}

/** Why a key and its new value may not be in the control document, or null when they may. */
export function controlEntryProblem(key: string, value: unknown): string | null {
  if (!key.startsWith(POLICY_PREFIX)) return `unknown key ${JSON.stringify(key.slice(0, 60))}`;
  const tenant = key.slice(POLICY_PREFIX.length);
  if (!isTenantId(tenant))
    return `policy key of an invalid tenant ${JSON.stringify(key.slice(POLICY_PREFIX.length, POLICY_PREFIX.length + 60))}`;
  const problem = policyProblem(value);
  return problem === null ? null : `${key}: ${problem}`;
}

/** The document's Yjs guid: one fixed name, so making a document draws no randomness. */
const DOC_GUID = 'allot-control';

/** The control document of one replica. */
export class ControlDocument {
  readonly doc: Y.Doc;
  private readonly root: Y.Map<unknown>;
  /** Keys whose stored value breaks the policy rule (an older version's data): read as the default. */
  private readonly unreadable = new Set<string>();
  /** Changes to the document so far, from anywhere: `idle` holds while this stays. */
  private changes = 0;
  /**
   * The last received update that changed nothing here, and `changes` when it came. The same bytes
   * at the same state change nothing again: each summary's step 2 repeats the peer's delete set,
   * so 99 % of received updates are such repeats (swarm seeds 1–5), and each cost a scratch copy
   * of the whole document to admit.
   */
  private idle: { readonly update: Uint8Array; readonly changes: number } | null = null;
  /** The state vector as last encoded, and `changes` then (see stateVector). */
  private vector: { readonly bytes: Uint8Array; readonly changes: number } | null = null;

  /** A new, empty document whose Yjs client id comes from the replica's Rng (deterministic in the simulator). */
  constructor(clientId: number) {
    this.doc = new Y.Doc({ gc: true, guid: DOC_GUID });
    this.doc.clientID = clientId;
    this.root = this.doc.getMap(ROOT);
    this.doc.on('update', () => {
      this.changes += 1;
    });
  }

  /** Applies a stored or received update. */
  applyUpdate(update: Uint8Array): void {
    Y.applyUpdate(this.doc, update);
  }

  /**
   * Checks every stored entry against the rule a peer's update must pass; entries that break it
   * (written by an older version) read as the default from now on. Returns them, to be logged.
   */
  audit(): { key: string; problem: string }[] {
    const found: { key: string; problem: string }[] = [];
    this.unreadable.clear();
    for (const [key, value] of this.root.entries()) {
      const problem = controlEntryProblem(key, value);
      if (problem === null) continue;
      this.unreadable.add(key);
      found.push({ key, problem });
    }
    return found;
  }

  /** The tenant's policy (the default when none was set, or when the stored one is unreadable). */
  policy(tenant: string): TenantPolicy {
    const key = `${POLICY_PREFIX}${tenant}`;
    const value = this.root.get(key);
    if (value === undefined || this.unreadable.has(key)) return DEFAULT_POLICY;
    return value as TenantPolicy;
  }

  /** True once any region wrote a policy for the tenant (readable or not): it is then known here. */
  hasPolicy(tenant: string): boolean {
    return this.root.has(`${POLICY_PREFIX}${tenant}`);
  }

  /** Sets the tenant's policy; returns the Yjs update to persist and send to peers. */
  setPolicy(tenant: string, policy: TenantPolicy): Uint8Array {
    const before = Y.encodeStateVector(this.doc);
    const plain: TenantPolicy = {
      overdraft: { ...policy.overdraft },
      weights: { ...policy.weights },
      blocked: policy.blocked,
      ...(policy.alerts === undefined || policy.alerts.length === 0
        ? {}
        : { alerts: policy.alerts.map((rule) => ({ ...rule })) }),
    };
    const key = `${POLICY_PREFIX}${tenant}`;
    const problem = controlEntryProblem(key, plain);
    // The API's schema admits only valid policies: a bad one here is a bug, not a client's mistake.
    if (problem !== null) throw new Error(`refusing to write an invalid policy: ${problem}`);
    this.doc.transact(() => this.root.set(key, plain));
    this.unreadable.delete(key);
    return Y.encodeStateAsUpdate(this.doc, before);
  }

  /** The whole document as one update (for a new peer or a compaction). */
  encodeState(): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc);
  }

  /**
   * This document's state vector (what a summary carries): encoded again only after the document
   * changed (a summary goes to every peer every few hundred ms; the document rarely changes). The
   * same bytes are handed out each time: callers send them, never write to them.
   */
  stateVector(): Uint8Array {
    if (this.vector === null || this.vector.changes !== this.changes)
      this.vector = { bytes: Y.encodeStateVector(this.doc), changes: this.changes };
    return this.vector.bytes;
  }

  /** A y-protocols sync step 1 message: "here is what I have, send me the rest". */
  syncStep1(): Uint8Array {
    const encoder = encoding.createEncoder();
    sync.writeSyncStep1(encoder, this.doc);
    return encoding.toUint8Array(encoder);
  }

  /**
   * A y-protocols sync step 2 message with what a peer at `stateVector` lacks, or null when nothing.
   * Throws ControlRefused when a peer's state vector does not parse.
   */
  syncStep2For(stateVector: Uint8Array): Uint8Array | null {
    let missing: Uint8Array;
    try {
      missing = Y.encodeStateAsUpdate(this.doc, stateVector);
    } catch (error) {
      throw new ControlRefused(`state vector does not parse: ${(error as Error).message}`);
    }
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
   * Reads a y-protocols sync message from a peer, checked like API input: a step 1 only asks; a
   * step 2 or update is applied to a scratch copy first, and refused (ControlRefused, nothing
   * applied) unless every key it changes is `policy/<valid tenant>` with a value that passes the
   * policy rule, and it deletes no key. An update that needs updates not seen here yet is not
   * applied (null updates): the summaries' state vectors bring a complete one later. Returns the
   * updates that changed this document (to persist) and the reply to send back.
   */
  receive(message: Uint8Array): { updates: Uint8Array[]; reply: Uint8Array | null } {
    if (message.length > CONTROL_MESSAGE_BYTES_MAX) {
      throw new ControlRefused(
        `control message of ${message.length} bytes, more than ${CONTROL_MESSAGE_BYTES_MAX}`,
      );
    }
    let type: number;
    let payload: Uint8Array;
    try {
      const decoder = decoding.createDecoder(message);
      type = decoding.readVarUint(decoder);
      payload = decoding.readVarUint8Array(decoder);
      if (decoding.hasContent(decoder)) throw new Error('trailing bytes after a sync message');
    } catch (error) {
      throw new ControlRefused(`control message does not parse: ${(error as Error).message}`);
    }
    switch (type) {
      case sync.messageYjsSyncStep1:
        return { updates: [], reply: this.step2For(payload) };
      case sync.messageYjsSyncStep2:
      case sync.messageYjsUpdate: {
        const { idle } = this;
        if (idle !== null && idle.changes === this.changes && sameBytes(idle.update, payload))
          return { updates: [], reply: null };
        if (!this.admissible(payload)) {
          this.idle = { update: payload.slice(), changes: this.changes };
          return { updates: [], reply: null };
        }
        const updates: Uint8Array[] = [];
        const capture = (update: Uint8Array) => {
          updates.push(update);
        };
        this.doc.on('update', capture);
        try {
          Y.applyUpdate(this.doc, payload, 'peer');
        } finally {
          this.doc.off('update', capture);
        }
        if (updates.length === 0) this.idle = { update: payload.slice(), changes: this.changes };
        return { updates, reply: null };
      }
      default:
        throw new ControlRefused(`unknown sync message type ${type}`);
    }
  }

  /** A step 2 answering a peer's state vector (throws ControlRefused on a malformed one). */
  private step2For(stateVector: Uint8Array): Uint8Array {
    let missing: Uint8Array;
    try {
      missing = Y.encodeStateAsUpdate(this.doc, stateVector);
    } catch (error) {
      throw new ControlRefused(`state vector does not parse: ${(error as Error).message}`);
    }
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, sync.messageYjsSyncStep2);
    encoding.writeVarUint8Array(encoder, missing);
    return encoding.toUint8Array(encoder);
  }

  /**
   * Applies `update` to a copy of this document and checks what it changed. True: apply it here.
   * False: it depends on updates not seen yet (apply nothing now). Throws ControlRefused when it
   * breaks the rule.
   */
  private admissible(update: Uint8Array): boolean {
    // A fixed guid: without one Yjs draws a random uuid per document (~8 % of a swarm worker's CPU,
    // and randomness outside the replica's ports); the scratch copy is never synced, so the id is moot.
    const scratch = new Y.Doc({ gc: true, guid: DOC_GUID });
    const changed = new Map<string, string>();
    try {
      Y.applyUpdate(scratch, Y.encodeStateAsUpdate(this.doc));
      const root = scratch.getMap<unknown>(ROOT);
      root.observe((event) => {
        for (const [key, change] of event.changes.keys) changed.set(key, change.action);
        // The root is a map of flat keys: content in its list part is nothing this node writes.
        if (event.changes.delta.length > 0) changed.set('', 'list');
      });
      Y.applyUpdate(scratch, update);
    } catch (error) {
      throw new ControlRefused(`control update does not apply: ${(error as Error).message}`);
    }
    if (scratch.store.pendingStructs !== null || scratch.store.pendingDs !== null) return false;
    for (const name of scratch.share.keys()) {
      if (name !== ROOT)
        throw new ControlRefused(
          `control update writes an unknown root ${JSON.stringify(name.slice(0, 60))}`,
        );
    }
    const root = scratch.getMap<unknown>(ROOT);
    for (const [key, action] of changed) {
      if (action === 'list') throw new ControlRefused('control update writes list content into the root');
      if (action === 'delete' || !root.has(key)) {
        throw new ControlRefused(`control update deletes ${JSON.stringify(key.slice(0, 60))}`);
      }
      const problem = controlEntryProblem(key, root.get(key));
      if (problem !== null) throw new ControlRefused(`control update refused: ${problem}`);
    }
    return true;
  }
}
