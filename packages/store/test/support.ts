/**
 * Test support: valid events of every kind, and logs that chain them as a replica does
 * (hash(n) = SHA-256(hash(n−1) ‖ canonical bytes of event n)), so batches pass a store's checks.
 */
import { createHash } from 'node:crypto';
import {
  type Canonical,
  canonicalBytes,
  eventRecordId,
  type Json,
  type LedgerEvent,
  type OriginId,
  originId,
  type TenantEventBody,
} from '@allot/core';
import type { LogHead, NodeMeta, StoreBatch, StoredEvent } from '@allot/replica';

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

/** SHA-256 of `previous` ‖ the canonical bytes of `event`, as the replica chains its logs. */
export function chainHash(previous: Uint8Array, event: LedgerEvent): Uint8Array {
  return new Uint8Array(
    createHash('sha256')
      .update(previous)
      .update(canonicalBytes(event as unknown as Canonical))
      .digest(),
  );
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

/** The head that `stored` makes, signed with a stand-in signature (or not). */
export function headOf(stored: StoredEvent, signed = true): LogHead {
  const { origin, seq } = stored.event;
  return { origin, seq, hash: stored.hash, signature: signed ? signature(seq % 256) : null };
}

/** The logs of several origins, appended to as a replica would, in memory. */
export class Logs {
  private readonly tails = new Map<OriginId, StoredEvent>();

  /** Appends `body` to `origin`'s log: the next seq, chained to the previous hash. */
  append(origin: OriginId, body: TenantEventBody, at = T0): StoredEvent {
    const previous = this.tails.get(origin);
    const event = { ...body, origin, seq: (previous?.event.seq ?? 0) + 1, at } as LedgerEvent;
    const stored: StoredEvent = { event, hash: chainHash(previous?.hash ?? new Uint8Array(32), event) };
    this.tails.set(origin, stored);
    return stored;
  }

  /** The head of `origin` after what was appended, signed with a stand-in signature. */
  head(origin: OriginId, signed = true): LogHead {
    const tail = this.tails.get(origin);
    if (tail === undefined) throw new Error(`nothing appended to ${origin}`);
    return headOf(tail, signed);
  }

  /** A batch of `events` with the new head of every origin they extend: its last event there. */
  batch(events: StoredEvent[], extra: Partial<StoreBatch> = {}): StoreBatch {
    const last = new Map(events.map((stored) => [stored.event.origin, stored]));
    return { events, heads: [...last.values()].map((stored) => headOf(stored)), ...extra };
  }

  /** Forgets `origin`'s appends after `seq` (to build a batch that a store must refuse, then retry). */
  rewind(origin: OriginId, to: StoredEvent | undefined): void {
    if (to === undefined) this.tails.delete(origin);
    else this.tails.set(origin, to);
  }
}

/** The event of each stored event, for comparing pages. */
export function eventsOf(stored: readonly StoredEvent[]): LedgerEvent[] {
  return stored.map(({ event }) => event);
}

/** `origin/seq` of each stored event: what a page holds, at a glance. */
export function idsOf(stored: readonly StoredEvent[]): string[] {
  return stored.map(({ event }) => `${event.origin}/${event.seq}`);
}
