/**
 * Example-test support: a replica's view of the ledger that appends decided bodies to its origins'
 * logs (next seq = what the state has folded of that origin + 1) and folds them, as a node does.
 */
import {
  applyEvent,
  type BalanceFigures,
  createLedgerState,
  type DebitDecision,
  decideDebit,
  decideGrant,
  type GrantDecision,
  type Json,
  type LedgerEvent,
  type LedgerState,
  makeEvent,
  type OriginId,
  originId,
  seqOf,
  type TenantEventBody,
  tenantFigures,
} from '@allot/core';

/** Test clock: every decision happens at T0 unless a test says otherwise. */
export const T0 = 1_700_000_000_000;
export const EU = originId('eu', 'aaaaaaaa');
/** Another incarnation of region eu (its data directory was lost and rebuilt). */
export const EU_NEXT = originId('eu', 'cccccccc');
export const US = originId('us', 'bbbbbbbb');
export const TENANT = 'acme';

/** One replica: its folded state and every event it folded, in order. */
export interface Replica {
  readonly state: LedgerState;
  readonly events: LedgerEvent[];
}

/** A replica that has folded `events` (from other replicas' logs). */
export function replica(...events: LedgerEvent[]): Replica {
  const r: Replica = { state: createLedgerState(), events: [] };
  deliver(r, ...events);
  return r;
}

/** Folds events received from other replicas; each must apply. */
export function deliver(r: Replica, ...events: LedgerEvent[]): void {
  for (const event of events) {
    const result = applyEvent(r.state, event);
    if (result !== 'applied') throw new Error(`event ${event.origin}/${event.seq} was ${result}`);
    r.events.push(event);
  }
}

/** Appends `body` to `origin`'s log at `at` and folds it. */
export function append(r: Replica, origin: OriginId, body: TenantEventBody, at = T0): LedgerEvent {
  const event = makeEvent({ origin, seq: seqOf(r.state.versionVector, origin) + 1, at }, body);
  deliver(r, event);
  return event;
}

/** Appends the body of an accepted decision; fails loudly on any other outcome. */
export function commit(
  r: Replica,
  origin: OriginId,
  decision: { readonly status: string; readonly body?: TenantEventBody },
  at = T0,
): LedgerEvent {
  if (decision.status !== 'accepted' || decision.body === undefined) {
    throw new Error(`expected an accepted decision, got ${JSON.stringify(decision)}`);
  }
  return append(r, origin, decision.body, at);
}

/** Decides and appends a grant at `origin`. */
export function grant(
  r: Replica,
  origin: OriginId,
  grantId: string,
  amount: number,
  options: { priority?: number; expiresAt?: number | null; tenant?: string; now?: number } = {},
): LedgerEvent {
  const now = options.now ?? T0;
  const decision: GrantDecision = decideGrant(
    r.state,
    { origin, now },
    {
      tenant: options.tenant ?? TENANT,
      grantId,
      amount,
      priority: options.priority ?? 100,
      expiresAt: options.expiresAt ?? null,
    },
  );
  return commit(r, origin, decision, now);
}

/** Decides and appends a debit at `origin`. */
export function debit(
  r: Replica,
  origin: OriginId,
  amount: number,
  idempotencyKey: string,
  options: { overdraftLimit?: number; metadata?: Json; tenant?: string; now?: number } = {},
): LedgerEvent {
  const now = options.now ?? T0;
  const decision: DebitDecision = decideDebit(
    r.state,
    { origin, now, overdraftLimit: options.overdraftLimit ?? 0 },
    { tenant: options.tenant ?? TENANT, amount, idempotencyKey, metadata: options.metadata ?? null },
  );
  return commit(r, origin, decision, now);
}

/** The tenant's figures at `now`; fails when the tenant is unknown. */
export function figures(
  r: Replica,
  options: { tenant?: string; now?: number; overdraft?: Record<string, number>; regions?: string[] } = {},
): BalanceFigures {
  const { tenant = TENANT, now = T0, overdraft, regions } = options;
  const found = tenantFigures(r.state, tenant, { now, overdraft, regions });
  if (found === undefined) throw new Error(`tenant ${tenant} is unknown`);
  return found;
}
