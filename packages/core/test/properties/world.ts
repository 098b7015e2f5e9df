/**
 * A small world for the core's properties: three regions, each a replica with its own state, log
 * and clock, fed generated operations (grants, debits, refunds, moves, expiry, repay) and
 * generated deliveries of other origins' events (late, relayed, duplicated, or never: partitions).
 * Every decision is checked against a naive bookkeeping of what that replica knew (S2), and the
 * true ledger (every event appended anywhere) is checked after every step (S1 and friends).
 */
import {
  applyEvent,
  type BalanceFigures,
  createLedgerState,
  decideDebit,
  decideExpire,
  decideGrant,
  decideMove,
  decideRefund,
  decideRepay,
  decideRevoke,
  type LedgerEvent,
  type LedgerState,
  makeEvent,
  type OriginId,
  originId,
  seqOf,
  stateText,
  type TenantEventBody,
  tenantFigures,
  unsettledDuplicates,
} from '@allot/core';
import fc from 'fast-check';
import { NaiveLedger } from './oracle.js';

/** Regions of the world (one incarnation each). */
export const REGIONS = ['eu', 'us', 'ap'] as const;
const ORIGINS = REGIONS.map((region, i) =>
  originId(region, `${'abcdefgh'.slice(i)}${'aaaaaaa'.slice(0, i)}`),
);
const TENANTS = ['acme', 'globex'];
const START_MS = 1_800_000_000_000;

/** One generated step. Indices are taken modulo the pools they choose from. */
export type Op =
  | {
      op: 'grant';
      node: number;
      tenant: number;
      grant: number;
      amount: number;
      priority: number;
      expiresInMs: number | null;
    }
  | { op: 'debit'; node: number; tenant: number; amount: number; key: number; meta: number }
  | { op: 'refund'; node: number; tenant: number; pick: number; amount: number | null; key: number }
  | { op: 'move'; node: number; tenant: number; to: number; amount: number }
  | { op: 'tick'; node: number; ms: number }
  | { op: 'repay'; node: number; tenant: number }
  | { op: 'revoke'; node: number; tenant: number }
  | { op: 'deliver'; via: number; origin: number; to: number; count: number }
  | { op: 'duplicate'; origin: number; to: number; back: number };

/** Overdraft allowed per region for every tenant (0 everywhere: the strict bound S1 ≥ 0). */
export type OverdraftConfig = Record<string, number>;

const node = fc.nat({ max: 2 });
const tenant = fc.nat({ max: TENANTS.length - 1 });

/** Generated operations; small amounts so that regions run out of rights and contend. */
export const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('grant' as const),
      node,
      tenant,
      grant: fc.nat({ max: 5 }),
      amount: fc.integer({ min: 1, max: 200 }),
      priority: fc.constantFrom(10, 100, 100, 200),
      expiresInMs: fc.option(fc.integer({ min: 1, max: 5_000 }), { nil: null }),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant('debit' as const),
      node,
      tenant,
      amount: fc.integer({ min: 1, max: 60 }),
      key: fc.nat({ max: 30 }),
      meta: fc.nat({ max: 1 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('refund' as const),
      node,
      tenant,
      pick: fc.nat(),
      amount: fc.option(fc.integer({ min: 1, max: 40 }), { nil: null }),
      key: fc.nat({ max: 20 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('move' as const),
      node,
      tenant,
      to: node,
      amount: fc.integer({ min: 1, max: 80 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('tick' as const), node, ms: fc.integer({ min: 1, max: 2_000 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('repay' as const), node, tenant }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('revoke' as const), node, tenant }) },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('deliver' as const),
      via: node,
      origin: node,
      to: node,
      count: fc.integer({ min: 1, max: 8 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('duplicate' as const), origin: node, to: node, back: fc.nat() }),
  },
);

/** Overdraft: mostly none (the strict bound), sometimes a little per region. */
export const overdraftArbitrary: fc.Arbitrary<OverdraftConfig> = fc.oneof(
  fc.constant({}),
  fc.record({ eu: fc.nat({ max: 50 }), us: fc.nat({ max: 50 }), ap: fc.nat({ max: 50 }) }),
);

/** Runs of property tests: 1,000 by default, more with ALLOT_PROPERTY_RUNS for long runs. */
export const propertyRuns = Number(process.env.ALLOT_PROPERTY_RUNS ?? 1_000);

/** One region's replica. */
export interface Replica {
  readonly origin: OriginId;
  readonly region: string;
  readonly state: LedgerState;
  /** What this replica has folded, kept naively, to check its decisions against (S2). */
  readonly known: NaiveLedger;
  now: number;
}

/** A violated property: the message says which and where. */
export class PropertyViolation extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new PropertyViolation(message);
}

/** The world: replicas, every origin's log, and the true ledger of everything appended. */
export class World {
  readonly replicas: Replica[];
  readonly logs = new Map<OriginId, LedgerEvent[]>();
  readonly truth = new NaiveLedger();
  readonly overdraftLimits: OverdraftConfig;

  constructor(overdraft: OverdraftConfig) {
    this.overdraftLimits = overdraft;
    this.replicas = REGIONS.map((region, i) => ({
      origin: ORIGINS[i] as OriginId,
      region,
      state: createLedgerState(),
      known: new NaiveLedger(),
      now: START_MS,
    }));
    for (const origin of ORIGINS) this.logs.set(origin, []);
  }

  private overdraft(region: string): number {
    return this.overdraftLimits[region] ?? 0;
  }

  private append(replica: Replica, body: TenantEventBody): LedgerEvent {
    const log = this.logs.get(replica.origin) as LedgerEvent[];
    const event = makeEvent({ origin: replica.origin, seq: log.length + 1, at: replica.now }, body);
    const result = applyEvent(replica.state, event);
    check(result === 'applied', `own event ${event.seq} of ${replica.origin} was ${result}`);
    replica.known.apply(event);
    this.truth.apply(event);
    log.push(event);
    return event;
  }

  private liveTotal(replica: Replica, tenantId: string): Map<string, number> {
    return replica.known.liveRights(tenantId, replica.origin, replica.now);
  }

  /** Applies one operation, checking every decision and the true ledger. */
  step(op: Op): void {
    switch (op.op) {
      case 'grant': {
        const replica = this.replicas[op.node] as Replica;
        const tenantId = TENANTS[op.tenant] as string;
        const decision = decideGrant(replica.state, replica, {
          tenant: tenantId,
          grantId: `g${op.grant}`,
          amount: op.amount,
          priority: op.priority,
          expiresAt: op.expiresInMs === null ? null : replica.now + op.expiresInMs,
        });
        if (decision.status === 'accepted') this.append(replica, decision.body);
        break;
      }
      case 'debit': {
        const replica = this.replicas[op.node] as Replica;
        const tenantId = TENANTS[op.tenant] as string;
        const limit = this.overdraft(replica.region);
        const live = this.liveTotal(replica, tenantId);
        const rights = [...live.values()].reduce((a, b) => a + b, 0);
        const headroom = Math.max(0, limit - replica.known.overdraftInUse(tenantId, replica.origin));
        const decision = decideDebit(
          replica.state,
          { origin: replica.origin, now: replica.now, overdraftLimit: limit },
          { tenant: tenantId, amount: op.amount, idempotencyKey: `k${op.key}`, metadata: { m: op.meta } },
        );
        if (decision.status === 'accepted') {
          const { parts, overdraft } = decision.body;
          // S2: only the origin's own live rights, then its overdraft headroom.
          for (const part of parts) {
            check(
              part.amount <= (live.get(part.grantId) ?? 0),
              `S2: ${replica.origin} burnt ${part.amount} of ${part.grantId} holding ${live.get(part.grantId) ?? 0} live`,
            );
          }
          check(overdraft === op.amount - Math.min(rights, op.amount), 'rights are burnt before overdraft');
          check(overdraft <= headroom, `S2: overdraft ${overdraft} beyond headroom ${headroom}`);
          this.append(replica, decision.body);
        } else if (decision.status === 'declined') {
          check(
            op.amount > rights + headroom,
            `declined ${op.amount} with ${rights} + ${headroom} available`,
          );
          check(decision.available === rights + headroom, 'declined with the wrong available figure');
        }
        break;
      }
      case 'refund': {
        const replica = this.replicas[op.node] as Replica;
        const tenantId = TENANTS[op.tenant] as string;
        const debits = [...(replica.state.tenants.get(tenantId)?.debits?.values() ?? [])];
        if (debits.length === 0) break;
        const debit = debits[op.pick % debits.length] as (typeof debits)[number];
        const decision = decideRefund(
          replica.state,
          { origin: replica.origin, now: replica.now },
          {
            tenant: tenantId,
            debitId: debit.debitId,
            amount: op.amount ?? undefined,
            idempotencyKey: `r${op.key}`,
          },
        );
        if (decision.status === 'accepted') {
          check(debit.origin === replica.origin, 'a refund executed outside the debit region');
          this.append(replica, decision.body);
        }
        break;
      }
      case 'move': {
        const replica = this.replicas[op.node] as Replica;
        const tenantId = TENANTS[op.tenant] as string;
        const to = this.replicas[op.to] as Replica;
        const live = this.liveTotal(replica, tenantId);
        const decision = decideMove(
          replica.state,
          { origin: replica.origin, now: replica.now },
          { tenant: tenantId, to: to.origin, amount: op.amount },
        );
        if (decision.status === 'accepted') {
          for (const part of decision.body.parts) {
            check(
              part.amount <= (live.get(part.grantId) ?? 0),
              `S2: ${replica.origin} moved rights it did not hold`,
            );
          }
          this.append(replica, decision.body);
        }
        break;
      }
      case 'tick': {
        const replica = this.replicas[op.node] as Replica;
        replica.now += op.ms;
        for (const tenantId of TENANTS) {
          for (const body of decideExpire(replica.state, replica, tenantId).bodies) {
            check(
              body.amount === replica.known.rights(tenantId, body.grantId, replica.origin),
              'an expiry takes exactly what is left at the origin',
            );
            this.append(replica, body);
          }
        }
        break;
      }
      case 'repay': {
        const replica = this.replicas[op.node] as Replica;
        const tenantId = TENANTS[op.tenant] as string;
        const decision = decideRepay(replica.state, replica, tenantId);
        if (decision.status === 'accepted') {
          const inUse = replica.known.overdraftInUse(tenantId, replica.origin);
          const rights = [...this.liveTotal(replica, tenantId).values()].reduce((a, b) => a + b, 0);
          check(
            decision.body.amount === Math.min(inUse, rights),
            'repay takes min(overdraft in use, rights)',
          );
          this.append(replica, decision.body);
        }
        break;
      }
      case 'revoke': {
        // The region of every losing definition of a grant id this replica knows takes it back.
        const replica = this.replicas[op.node] as Replica;
        const tenantId = TENANTS[op.tenant] as string;
        const ledger = replica.state.tenants.get(tenantId);
        if (ledger === undefined) break;
        const limit = this.overdraft(replica.region);
        for (const duplicate of unsettledDuplicates(ledger)) {
          const headroom = Math.max(0, limit - replica.known.overdraftInUse(tenantId, replica.origin));
          const live = this.liveTotal(replica, tenantId);
          const decision = decideRevoke(
            replica.state,
            { origin: replica.origin, now: replica.now, overdraftLimit: limit },
            { tenant: tenantId, grantId: duplicate.grantId, loser: duplicate.loser.origin },
          );
          if (decision.status !== 'accepted') continue;
          check(
            duplicate.loser.origin === replica.origin,
            `a revoke of ${duplicate.loser.origin}'s definition at ${replica.origin}`,
          );
          const { parts, overdraft, amount, total } = decision.body;
          for (const part of parts) {
            const held =
              part.grantId === duplicate.grantId
                ? replica.known.rights(tenantId, part.grantId, replica.origin)
                : (live.get(part.grantId) ?? 0);
            check(part.amount <= held, `S2: revoke burnt ${part.amount} of ${part.grantId} holding ${held}`);
          }
          check(overdraft <= headroom, `S2: revoke overdraft ${overdraft} beyond headroom ${headroom}`);
          check(amount <= (duplicate.owed ?? total), 'a revoke takes back at most what is owed');
          this.append(replica, decision.body);
        }
        break;
      }
      case 'deliver': {
        const via = this.replicas[op.via] as Replica;
        const to = this.replicas[op.to] as Replica;
        const origin = ORIGINS[op.origin] as OriginId;
        const have = seqOf(to.state.versionVector, origin);
        const upTo = Math.min(seqOf(via.state.versionVector, origin), have + op.count);
        for (const event of (this.logs.get(origin) as LedgerEvent[]).slice(have, upTo))
          this.receive(to, event);
        break;
      }
      case 'duplicate': {
        const to = this.replicas[op.to] as Replica;
        const origin = ORIGINS[op.origin] as OriginId;
        const have = seqOf(to.state.versionVector, origin);
        if (have === 0) break;
        const event = (this.logs.get(origin) as LedgerEvent[])[op.back % have] as LedgerEvent;
        const before = stateText(to.state);
        check(applyEvent(to.state, event) === 'duplicate', 'a known event was not a duplicate');
        check(stateText(to.state) === before, 'a duplicate changed the state');
        break;
      }
    }
    this.checkTruth();
  }

  private receive(replica: Replica, event: LedgerEvent): void {
    check(applyEvent(replica.state, event) === 'applied', `event ${event.origin}/${event.seq} not applied`);
    replica.known.apply(event);
  }

  /** S1, S2 on the true ledger, and refunds never past their debit. */
  checkTruth(): void {
    const bound = REGIONS.reduce((total, region) => total + this.overdraft(region), 0);
    for (const tenantId of TENANTS) {
      const { balance } = this.truth.totals(tenantId);
      check(balance >= -bound, `S1: ${tenantId} balance ${balance} below −Σ overdraft ${-bound}`);
      for (const grantId of this.truth.grants.get(tenantId)?.keys() ?? []) {
        for (const origin of ORIGINS) {
          const rights = this.truth.rights(tenantId, grantId, origin);
          check(rights >= 0, `S2: true rights of ${origin} on ${tenantId}/${grantId} are ${rights}`);
        }
      }
    }
    for (const [debitId, refunded] of this.truth.refundedByDebit) {
      const [region, incarnation, seq] = debitId.split('.');
      const amount = this.truth.debitAmounts.get(`${region}#${incarnation}/${seq}`) ?? 0;
      check(refunded <= amount, `refunds of ${debitId} (${refunded}) exceed it (${amount})`);
    }
  }

  /** Delivers every event to every replica, in each origin's order. */
  deliverAll(): void {
    for (const replica of this.replicas) {
      for (const [origin, log] of this.logs) {
        for (const event of log.slice(seqOf(replica.state.versionVector, origin)))
          this.receive(replica, event);
      }
    }
  }

  /**
   * After a merge, revokes until nothing more can be taken back (each round: every replica revokes
   * what it can, then every event is delivered everywhere); returns how many rounds it took.
   */
  settleDuplicates(): number {
    for (let round = 1; round <= 20; round++) {
      const before = [...this.logs.values()].reduce((total, log) => total + log.length, 0);
      for (let node = 0; node < this.replicas.length; node++)
        for (let tenant = 0; tenant < TENANTS.length; tenant++) this.step({ op: 'revoke', node, tenant });
      this.deliverAll();
      const after = [...this.logs.values()].reduce((total, log) => total + log.length, 0);
      if (after === before) return round;
    }
    throw new PropertyViolation('revokes did not settle within 20 rounds');
  }

  /**
   * A grant id counts once after the revokes: granted = Σ of the winning definitions + what of each
   * loser had expired before its revoke + what is still owed; what is owed stays only while the
   * loser's region has no rights and no overdraft headroom left to take it from.
   */
  checkGrantsCountOnce(): void {
    for (const replica of this.replicas) {
      for (const tenantId of TENANTS) {
        const ledger = replica.state.tenants.get(tenantId);
        const figures = tenantFigures(replica.state, tenantId, { now: replica.now });
        if (ledger === undefined || figures === undefined) continue;
        let expected = 0;
        for (const grant of ledger.grants.values()) {
          if (grant.definition === null) continue;
          expected += grant.definition.amount;
          for (const loser of grant.others ?? []) {
            const revokes = ledger.revokes?.get(`${grant.grantId}\u0000${loser.origin}`);
            check(
              revokes !== undefined && revokes.length > 0,
              `${tenantId}/${grant.grantId}: ${loser.origin} not revoked`,
            );
            const total = revokes[0]?.total ?? 0;
            const charged = revokes.reduce((sum, revoke) => sum + revoke.amount, 0);
            check(charged <= total, `${tenantId}/${grant.grantId}: revoked ${charged} of ${total}`);
            expected += loser.amount - total + (total - charged);
            if (charged < total) {
              const region = this.replicas.find((other) => other.origin === loser.origin) as Replica;
              const rights = [...this.liveTotal(region, tenantId).values()].reduce((a, b) => a + b, 0);
              const headroom =
                this.overdraft(region.region) - region.known.overdraftInUse(tenantId, region.origin);
              check(
                rights === 0 && headroom <= 0,
                `${tenantId}/${grant.grantId}: ${total - charged} owed while ${loser.origin} holds ${rights} and ${headroom} headroom`,
              );
            }
          }
        }
        check(
          figures.granted === expected,
          `${tenantId} at ${replica.origin}: granted ${figures.granted}, grants once make ${expected}`,
        );
      }
    }
  }

  /** S4 and S5 after full delivery: equal replicas, balances that add up. */
  checkConverged(): void {
    const texts = new Set(this.replicas.map((replica) => stateText(replica.state)));
    check(texts.size === 1, 'S4: replicas differ after every event was delivered everywhere');
    for (const replica of this.replicas) {
      for (const tenantId of TENANTS) {
        const figures = tenantFigures(replica.state, tenantId, { now: replica.now }) as
          | BalanceFigures
          | undefined;
        const truth = this.truth.totals(tenantId);
        if (figures === undefined) {
          check(truth.granted === 0 && truth.debited === 0, `${tenantId} unknown at ${replica.origin}`);
          continue;
        }
        check(
          figures.balance === truth.granted - truth.debited + truth.refunded - truth.expired,
          'S5 balance',
        );
        check(
          figures.granted === truth.granted &&
            figures.debited === truth.debited &&
            figures.refunded === truth.refunded &&
            figures.expired === truth.expired,
          `S5: ${tenantId} totals at ${replica.origin} differ from the true ledger`,
        );
        for (const grant of figures.grants) {
          check(
            grant.remaining === this.truth.remaining(tenantId, grant.grantId),
            `S5: remaining of ${grant.grantId}`,
          );
        }
      }
    }
  }
}

/** Runs `ops` in a new world and returns it (throws PropertyViolation on the first broken check). */
export function runWorld(ops: readonly Op[], overdraft: OverdraftConfig): World {
  const world = new World(overdraft);
  for (const op of ops) world.step(op);
  return world;
}

/** Every origin's log of a world. */
export function logsOf(world: World): LedgerEvent[][] {
  return [...world.logs.values()];
}
