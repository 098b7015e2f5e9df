/**
 * The control document (DESIGN.md §4): low-rate, admin-edited data that every region may change
 * and all must agree on, in one Yjs document. Keys are flat (`policy/<tenant>` → a plain value):
 * two regions creating the same nested Y.Map concurrently lose one of them silently.
 */
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
}
