/**
 * A naive second bookkeeping of the ledger, written independently of packages/core/src/state.ts:
 * plain maps, obvious loops, no interning, no caches. Properties compare the core against it.
 * Each event must be given exactly once.
 */
import type { LedgerEvent } from '@allot/core';

interface NaiveGrant {
  definedBy: string | null;
  /** (at, origin, seq) of the winning definition. */
  definedAt: [number, string, number] | null;
  priority: number | null;
  expiresAt: number | null;
  granted: Map<string, number>;
  debited: Map<string, number>;
  refunded: Map<string, number>;
  expired: Map<string, number>;
  moved: Map<string, number>;
}

interface NaiveTenantOrigin {
  debited: number;
  refunded: number;
  overdrawn: number;
  repaid: number;
  overdraftRefunded: number;
  revoked: number;
}

const add = (map: Map<string, number>, key: string, amount: number) =>
  map.set(key, (map.get(key) ?? 0) + amount);
const sum = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0);

/** The naive ledger. */
export class NaiveLedger {
  readonly grants = new Map<string, Map<string, NaiveGrant>>();
  readonly origins = new Map<string, Map<string, NaiveTenantOrigin>>();
  readonly debitAmounts = new Map<string, number>();
  readonly refundedByDebit = new Map<string, number>();

  private grant(tenant: string, grantId: string): NaiveGrant {
    let grants = this.grants.get(tenant);
    if (!grants) {
      grants = new Map();
      this.grants.set(tenant, grants);
    }
    let grant = grants.get(grantId);
    if (!grant) {
      grant = {
        definedBy: null,
        definedAt: null,
        priority: null,
        expiresAt: null,
        granted: new Map(),
        debited: new Map(),
        refunded: new Map(),
        expired: new Map(),
        moved: new Map(),
      };
      grants.set(grantId, grant);
    }
    return grant;
  }

  private cells(tenant: string, origin: string): NaiveTenantOrigin {
    let origins = this.origins.get(tenant);
    if (!origins) {
      origins = new Map();
      this.origins.set(tenant, origins);
    }
    let cells = origins.get(origin);
    if (!cells) {
      cells = { debited: 0, refunded: 0, overdrawn: 0, repaid: 0, overdraftRefunded: 0, revoked: 0 };
      origins.set(origin, cells);
    }
    return cells;
  }

  /** Adds one event. */
  apply(event: LedgerEvent): void {
    const { tenant, origin } = event;
    switch (event.kind) {
      case 'grant': {
        const grant = this.grant(tenant, event.grantId);
        add(grant.granted, origin, event.amount);
        // Two origins may define one grant id concurrently; every replica takes the terms of the
        // definition with the smallest (at, origin, seq).
        const key: [number, string, number] = [event.at, origin, event.seq];
        const known = grant.definedAt;
        const earlier =
          known === null ||
          key[0] < known[0] ||
          (key[0] === known[0] && (key[1] < known[1] || (key[1] === known[1] && key[2] < known[2])));
        if (earlier) {
          grant.definedBy = origin;
          grant.definedAt = key;
          grant.priority = event.priority;
          grant.expiresAt = event.expiresAt;
        }
        break;
      }
      case 'debit':
        for (const part of event.parts) add(this.grant(tenant, part.grantId).debited, origin, part.amount);
        this.cells(tenant, origin).debited += event.amount;
        this.cells(tenant, origin).overdrawn += event.overdraft;
        this.debitAmounts.set(`${event.origin}/${event.seq}`, event.amount);
        break;
      case 'refund':
        for (const part of event.parts) add(this.grant(tenant, part.grantId).refunded, origin, part.amount);
        this.cells(tenant, origin).refunded += event.amount;
        this.cells(tenant, origin).overdraftRefunded += event.overdraft;
        this.refundedByDebit.set(
          event.debitId,
          (this.refundedByDebit.get(event.debitId) ?? 0) + event.amount,
        );
        break;
      case 'move':
        for (const part of event.parts)
          add(this.grant(tenant, part.grantId).moved, `${origin}>${event.to}`, part.amount);
        break;
      case 'expire':
        add(this.grant(tenant, event.grantId).expired, origin, event.amount);
        break;
      case 'repay':
        for (const part of event.parts) add(this.grant(tenant, part.grantId).debited, origin, part.amount);
        this.cells(tenant, origin).repaid += event.amount;
        break;
      case 'revoke':
        for (const part of event.parts) add(this.grant(tenant, part.grantId).debited, origin, part.amount);
        this.cells(tenant, origin).overdrawn += event.overdraft;
        this.cells(tenant, origin).revoked += event.amount;
        break;
    }
  }

  /** rights(origin) of one grant, straight from DESIGN.md §1. */
  rights(tenant: string, grantId: string, origin: string): number {
    const grant = this.grants.get(tenant)?.get(grantId);
    if (!grant) return 0;
    let rights =
      (grant.granted.get(origin) ?? 0) -
      (grant.debited.get(origin) ?? 0) +
      (grant.refunded.get(origin) ?? 0) -
      (grant.expired.get(origin) ?? 0);
    for (const [key, amount] of grant.moved) {
      const [from, to] = key.split('>');
      if (to === origin) rights += amount;
      if (from === origin) rights -= amount;
    }
    return rights;
  }

  /** Grants of the tenant the origin may burn at `now`, with its rights in each. */
  liveRights(tenant: string, origin: string, now: number): Map<string, number> {
    const live = new Map<string, number>();
    for (const [grantId, grant] of this.grants.get(tenant) ?? []) {
      if (grant.priority === null) continue;
      if (grant.expiresAt !== null && grant.expiresAt <= now) continue;
      const rights = this.rights(tenant, grantId, origin);
      if (rights > 0) live.set(grantId, rights);
    }
    return live;
  }

  /** Overdraft of the origin not yet repaid or refunded. */
  overdraftInUse(tenant: string, origin: string): number {
    const cells = this.origins.get(tenant)?.get(origin);
    return cells ? cells.overdrawn - cells.repaid - cells.overdraftRefunded : 0;
  }

  /** Figures of one tenant: granted, debited, refunded, expired, balance. */
  totals(tenant: string): {
    granted: number;
    debited: number;
    refunded: number;
    expired: number;
    balance: number;
  } {
    let granted = 0;
    let expired = 0;
    for (const grant of this.grants.get(tenant)?.values() ?? []) {
      granted += sum(grant.granted);
      expired += sum(grant.expired);
    }
    let debited = 0;
    let refunded = 0;
    for (const cells of this.origins.get(tenant)?.values() ?? []) {
      debited += cells.debited;
      refunded += cells.refunded;
      granted -= cells.revoked;
    }
    return { granted, debited, refunded, expired, balance: granted - debited + refunded - expired };
  }

  /** What is left of one grant over all origins. */
  remaining(tenant: string, grantId: string): number {
    const grant = this.grants.get(tenant)?.get(grantId);
    if (!grant) return 0;
    return sum(grant.granted) - sum(grant.debited) + sum(grant.refunded) - sum(grant.expired);
  }
}
