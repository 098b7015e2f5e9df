/**
 * The true ledger: the fold of every event that any origin made durable, in the order each origin
 * wrote them, including what a lost disk took with it. It is the simulator's oracle:
 *  - its balance is the `truth` of the samples (what the regions' views converge to);
 *  - a decline is false when the true, live credits (plus the overdraft still allowed) covered it;
 *  - its per-origin rights are what S2 checks: an origin's true rights are at least what it knew
 *    of (moves to it only add), so a negative one means it spent rights it never had.
 * It is fed by a wrapper of each replica's Store: an own event counts once its commit is durable.
 */

import { createHash } from 'node:crypto';
import {
  applyEvent,
  createLedgerState,
  decodeSegment,
  eventCanonicalBytes,
  type LedgerEvent,
  type LedgerState,
  leastRightsOf,
  liveCredits,
  regionOf,
  tenantOverdraftInUse,
} from '@allot/core';
import type { Store, StoreBatch } from '@allot/replica';
import type { LedgerFigures } from './api.js';
import { SIM_EPOCH_MS } from './limits.js';

interface Totals {
  granted: number;
  debited: number;
  refunded: number;
  expired: number;
}

/** S2 observations of one origin for one tenant since the last sample. */
interface OriginWatch {
  rightsMin: number;
  overdraftInUseMax: number;
}

/** The fold of every durable event anywhere. */
export class TrueLedger {
  readonly state: LedgerState = createLedgerState();
  private readonly totals = new Map<string, Totals>();
  private readonly watch = new Map<string, Map<string, OriginWatch>>();
  /** An event arrived out of order: the logs are not what the replicas say they are. */
  problem: string | null = null;
  /**
   * Every event any store committed, own or received (S8): per origin, at index seq − 1, the
   * distinct event identities (SHA-256 of the canonical event) stored under that seq anywhere (hex, first 8 bytes).
   */
  readonly written = new Map<string, string[][]>();

  /** A store committed an event with identity `hash` (S8's record of every log anywhere). */
  stored(origin: string, seq: number, hash: Uint8Array): void {
    let log = this.written.get(origin);
    if (log === undefined) {
      log = [];
      this.written.set(origin, log);
    }
    while (log.length < seq) log.push([]);
    const text = Array.from(hash.subarray(0, 8), (byte) => byte.toString(16).padStart(2, '0')).join('');
    const seen = log[seq - 1] as string[];
    if (!seen.includes(text)) seen.push(text);
  }

  /** Folds an origin's newly durable event. */
  apply(event: LedgerEvent): void {
    const result = applyEvent(this.state, event);
    if (result === 'duplicate') return;
    if (result === 'gap') {
      this.problem ??= `event ${event.origin}/${event.seq} became durable before the events before it`;
      return;
    }
    let totals = this.totals.get(event.tenant);
    if (totals === undefined) {
      totals = { granted: 0, debited: 0, refunded: 0, expired: 0 };
      this.totals.set(event.tenant, totals);
    }
    switch (event.kind) {
      case 'grant':
        totals.granted += event.amount;
        break;
      case 'debit':
        totals.debited += event.amount;
        break;
      case 'refund':
        totals.refunded += event.amount;
        break;
      case 'expire':
        totals.expired += event.amount;
        break;
      case 'revoke':
        // A duplicate grant id taken back (issue 17): what it charged is no longer granted.
        totals.granted -= event.amount;
        break;
      // Held credits count as spent against the bound until released (S1, S7).
      case 'hold':
        totals.debited += event.amount;
        break;
      case 'capture':
        totals.debited -= event.released;
        break;
      case 'release':
        totals.debited -= event.amount;
        break;
      default:
        break;
    }
    this.observe(event.tenant, event.origin);
  }

  /** The tenant's true figures now. */
  figures(tenant: string): LedgerFigures {
    const totals = this.totals.get(tenant);
    return totals === undefined
      ? { granted: 0, debited: 0, refunded: 0, expired: 0 }
      : {
          granted: totals.granted,
          debited: totals.debited,
          refunded: totals.refunded,
          expired: totals.expired,
        };
  }

  /**
   * Whether the global ledger could pay `amount` at simulated time `nowMs`: credits left in grants
   * not expired by true time, plus the overdraft the policy allows over all regions, less what of it
   * is in use. The false-decline oracle.
   */
  covers(tenant: string, amount: number, nowMs: number, overdraftBound: number): boolean {
    const { live, overdraftInUse } = liveCredits(this.state, tenant, SIM_EPOCH_MS + nowMs);
    return live + overdraftBound - overdraftInUse >= amount;
  }

  /**
   * Per origin that wrote for `tenant`: the least true rights on any grant and the most overdraft in
   * use since the last call, then starts the next period from the current values.
   */
  takeOrigins(
    tenant: string,
  ): Record<string, { region: string; rightsMin: number; overdraftInUseMax: number }> {
    const watched = this.watch.get(tenant);
    const out: Record<string, { region: string; rightsMin: number; overdraftInUseMax: number }> = {};
    if (watched === undefined) return out;
    for (const [origin, seen] of [...watched].sort(([a], [b]) => (a < b ? -1 : 1))) {
      out[origin] = {
        region: regionOf(origin),
        rightsMin: seen.rightsMin,
        overdraftInUseMax: seen.overdraftInUseMax,
      };
      const now = this.current(tenant, origin);
      seen.rightsMin = now.rightsMin;
      seen.overdraftInUseMax = now.overdraftInUseMax;
    }
    return out;
  }

  private current(tenant: string, origin: string): OriginWatch {
    return {
      rightsMin: leastRightsOf(this.state, tenant, origin),
      overdraftInUseMax: tenantOverdraftInUse(this.state, tenant, origin),
    };
  }

  /** After an own event of `origin`: its rights only fall by its own events, so this sees every low. */
  private observe(tenant: string, origin: string): void {
    let watched = this.watch.get(tenant);
    if (watched === undefined) {
      watched = new Map();
      this.watch.set(tenant, watched);
    }
    const now = this.current(tenant, origin);
    const seen = watched.get(origin);
    if (seen === undefined) watched.set(origin, now);
    else {
      seen.rightsMin = Math.min(seen.rightsMin, now.rightsMin);
      seen.overdraftInUseMax = Math.max(seen.overdraftInUseMax, now.overdraftInUseMax);
    }
  }
}

/** SHA-256 of an event's canonical bytes: its identity for S8, whatever segment carried it. */
function eventIdentity(event: LedgerEvent): Uint8Array {
  return new Uint8Array(createHash('sha256').update(eventCanonicalBytes(event)).digest());
}

/**
 * A Store that tells the true ledger about every event of its own origin once it is durable. The
 * replica sees the store unchanged; the extra `then` runs before the replica's own continuation, so
 * the truth knows an event before any client hears "yes" or any peer sees it.
 */
export function observedStore(inner: Store, ownOrigin: () => string | null, truth: TrueLedger): Store {
  return {
    readMeta: () => inner.readMeta(),
    commit: (batch: StoreBatch, options) =>
      inner.commit(batch, options).then(() => {
        const origin = ownOrigin();
        for (const segment of batch.segments) {
          for (const event of decodeSegment(segment.bytes).events) {
            truth.stored(event.origin, event.seq, eventIdentity(event));
            if (origin !== null && event.origin === origin) truth.apply(event);
          }
        }
      }),
    heads: () => inner.heads(),
    readSegments: (origin, fromSeq, limit) => inner.readSegments(origin, fromSeq, limit),
    readLog: (origin, fromSeq, limit) => inner.readLog(origin, fromSeq, limit),
    readTenantEvents: (tenant, cursor, limit) => inner.readTenantEvents(tenant, cursor, limit),
    readControl: () => inner.readControl(),
    readOrigins: () => inner.readOrigins(),
    writeOutbox: (puts, deletes) => inner.writeOutbox(puts, deletes),
    readOutbox: () => inner.readOutbox(),
    writeCheckpoint: (checkpoint) => inner.writeCheckpoint(checkpoint),
    listCheckpoints: () => inner.listCheckpoints(),
    readCheckpoint: (total) => inner.readCheckpoint(total),
    deleteCheckpoint: (total) => inner.deleteCheckpoint(total),
    close: () => inner.close(),
  };
}
