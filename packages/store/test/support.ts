/**
 * Test support: valid events of every kind, and logs that write them in segments and chain them as
 * a replica does (hash(s) = SHA-256(hash(s−1) ‖ bytes of segment s)), so batches pass a store's checks.
 */
import { createHash } from 'node:crypto';
import {
  encodeSegment,
  eventRecordId,
  type Json,
  type LedgerEvent,
  type OriginId,
  originId,
  type TenantEventBody,
} from '@allot/core';
import type { LogHead, NodeMeta, SegmentWrite, StoreBatch, StoredEvent, StoredSegment } from '@allot/replica';

export const EU = originId('eu', 'aaaaaaaa');
export const US = originId('us', 'bbbbbbbb');
export const T0 = 1_700_000_000_000;

/** A node's metadata, as the replica writes it for a new data directory. */
export const META: NodeMeta = {
  formatVersion: 1,
  cluster: 'acme-credits',
  region: 'eu',
  incarnation: 'aaaaaaaa',
  createdAt: T0,
};

/** A 64-byte stand-in for an Ed25519 signature (the store checks its length, not its validity). */
export function signature(fill: number): Uint8Array {
  return new Uint8Array(64).fill(fill);
}

/** SHA-256 of `previous` ‖ the segment's bytes, as the replica chains its logs. */
export function chainHash(previous: Uint8Array, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(previous).update(bytes).digest());
}

/** A segment appended to a test log: what a batch commits, and its events. */
export interface Appended extends SegmentWrite {
  /** Its one event (for one-event segments; the last of a longer one). */
  readonly event: LedgerEvent;
  readonly events: readonly LedgerEvent[];
}

/** A grant body of `tenant`. */
export function grantBody(tenant: string, grantId: string, amount: number): TenantEventBody {
  return { kind: 'grant', tenant, grantId, amount, priority: 100, expiresAt: null };
}

/** A debit body of `tenant`, burnt from one grant. */
export function debitBody(tenant: string, amount: number, metadata: Json = null): TenantEventBody {
  return {
    kind: 'debit',
    tenant,
    amount,
    idempotencyKey: `key-${amount}`,
    parts: [{ grantId: 'g1', amount }],
    overdraft: 0,
    metadata,
  };
}

/** One body of every kind, for `tenant` at `origin` (a move goes to `to`). */
export function everyKind(tenant: string, origin: OriginId, to: OriginId): TenantEventBody[] {
  return [
    { kind: 'grant', tenant, grantId: 'g1', amount: 2 ** 40, priority: 0, expiresAt: T0 + 1 },
    debitBody(tenant, 2 ** 32, { model: 'x', tokens: [1, 2.5], nested: { ünï: '😀' } }),
    {
      kind: 'refund',
      tenant,
      debitId: eventRecordId(origin, 2),
      amount: 3,
      idempotencyKey: 'r1',
      parts: [{ grantId: 'g1', amount: 2 }],
      overdraft: 1,
    },
    { kind: 'move', tenant, to, parts: [{ grantId: 'g1', amount: 5 }] },
    { kind: 'expire', tenant, grantId: 'g1', amount: Number.MAX_SAFE_INTEGER },
    { kind: 'repay', tenant, amount: 4, parts: [{ grantId: 'g1', amount: 4 }] },
  ];
}

/** The head that `segment` makes, signed with a stand-in signature. */
export function headOf(segment: Appended): LogHead {
  return { origin: segment.origin, seq: segment.lastSeq, hash: segment.hash, signature: segment.signature };
}

/** The segment as a batch commits it (without the test's own fields). */
export function writeOf(segment: Appended): SegmentWrite {
  const { event: _event, events: _events, ...write } = segment;
  return write;
}

/** The logs of several origins, appended to as a replica would, in memory. */
export class Logs {
  private readonly tails = new Map<OriginId, Appended>();

  /** Appends `body` to `origin`'s log as a segment of one event: the next seq, chained on. */
  append(origin: OriginId, body: TenantEventBody, at = T0): Appended {
    return this.segment(origin, [body], at);
  }

  /** Appends `bodies` to `origin`'s log as one segment. */
  segment(origin: OriginId, bodies: readonly TenantEventBody[], at = T0): Appended {
    const previous = this.tails.get(origin);
    const firstSeq = (previous?.lastSeq ?? 0) + 1;
    const events = bodies.map((body, i) => ({ ...body, origin, seq: firstSeq + i, at }) as LedgerEvent);
    const bytes = encodeSegment(events);
    const lastSeq = firstSeq + events.length - 1;
    const appended: Appended = {
      origin,
      firstSeq,
      lastSeq,
      bytes,
      hash: chainHash(previous?.hash ?? new Uint8Array(32), bytes),
      signature: signature(lastSeq % 256),
      tenants: events.map((event) => event.tenant),
      event: events[events.length - 1] as LedgerEvent,
      events,
    };
    this.tails.set(origin, appended);
    return appended;
  }

  /** The head of `origin` after what was appended, signed with a stand-in signature. */
  head(origin: OriginId): LogHead {
    const tail = this.tails.get(origin);
    if (tail === undefined) throw new Error(`nothing appended to ${origin}`);
    return headOf(tail);
  }

  /** A batch of `segments` with the new head of every origin they extend: its last segment there. */
  batch(segments: Appended[], extra: Partial<StoreBatch> = {}): StoreBatch {
    const last = new Map(segments.map((segment) => [segment.origin, segment]));
    return { segments: segments.map(writeOf), heads: [...last.values()].map(headOf), ...extra };
  }

  /** Forgets `origin`'s appends after `to` (to build a batch that a store must refuse, then retry). */
  rewind(origin: OriginId, to: Appended | StoredSegment | undefined): void {
    if (to === undefined) this.tails.delete(origin);
    else this.tails.set(origin, to as Appended); // only its last seq and hash are chained on
  }
}

/** The event of each stored event, for comparing pages. */
export function eventsOf(stored: readonly StoredEvent[]): LedgerEvent[] {
  return stored.map(({ event }) => event);
}

/** `origin/seq` of each stored (or appended) event: what a page holds, at a glance. */
export function idsOf(stored: readonly { readonly event: LedgerEvent }[]): string[] {
  return stored.map(({ event }) => `${event.origin}/${event.seq}`);
}
