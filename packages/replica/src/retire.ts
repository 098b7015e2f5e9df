/**
 * Retiring a lost incarnation (DESIGN.md §1, API.md `POST /v1/cluster/incarnations/{origin}/retire`):
 * what a retire writes and answers, and what a node refuses after one. Pure: the replica asks its
 * peers' summaries and appends what `planRetire` hands out; no clock, no I/O.
 */
import {
  heldByOrigin,
  type LedgerState,
  type OriginId,
  type Part,
  type RetiredOrigin,
  regionOf,
  retireFigures,
  retireProblem,
  seqOf,
  type TenantEventBody,
} from '@allot/core';
import { RETIRE_TENANTS_SHOWN_MAX } from './limits.js';
import type { PeerState } from './peers.js';

/** One tenant's share of a retire: the rights that moved and the lost one's overdraft in use. */
export interface RetiredTenant {
  readonly tenant: string;
  readonly rights: number;
  readonly overdraftInUse: number;
}

/** What a retire did (the 200 body of the route). */
export interface RetireView {
  /** The lost incarnation retired. */
  readonly origin: OriginId;
  readonly region: string;
  /** The incarnation that retired it and now holds its rights (this node's). */
  readonly by: OriginId;
  /** The highest seq of it that counts: from then on no node accepts its events past this. */
  readonly through: number;
  /** Σ of the rights moved over every tenant and grant. */
  readonly rights: number;
  /** Σ of its overdraft in use: what it counts for from now on instead of its whole allowance. */
  readonly overdraftInUse: number;
  /**
   * Σ of its holds still active: this incarnation ends them from now on (released at their expiry
   * unless settled); until the retire they stayed held (core `holdStranded`).
   */
  readonly held: number;
  /** Tenants with something moved or counted; `moved` lists the first RETIRE_TENANTS_SHOWN_MAX. */
  readonly tenants: number;
  readonly moved: readonly RetiredTenant[];
  /** Retire events written. */
  readonly events: number;
  /** Peer regions whose summary was compared (none holds more of it than `through`): all of them. */
  readonly peersAsked: readonly string[];
  /** The risk an operator takes, in words. */
  readonly risk: string;
}

/** Outcome of a retire command. */
export type RetirePlan =
  | { readonly status: 'not_found'; readonly what: string }
  | { readonly status: 'retired'; readonly origin: OriginId; readonly retired: RetiredOrigin }
  | {
      readonly status: 'behind';
      readonly region: string;
      /** The incarnation of the lost one's region that peer holds more of: the lost one, or another. */
      readonly origin: OriginId;
      readonly held: number;
      readonly here: number;
    }
  | { readonly status: 'unreachable'; readonly regions: readonly string[] }
  | {
      readonly status: 'plan';
      readonly through: number;
      /** The retire bodies to append, first the one that marks the origin retired. */
      readonly bodies: readonly TenantEventBody[];
      readonly view: Omit<RetireView, 'events'>;
    };

/**
 * What retiring `lost` at `current` takes: refuses an origin that is no lost incarnation of this
 * region known here (`known`: heard of, or in the fold), one retired already with nothing stranded
 * since, any while a peer region is not reachable, and any while a peer holds more than this node
 * of any incarnation of that region (wait for anti-entropy to bring it): of the lost one, whose
 * retired seq would cut off what exists, and of the others, whose own retire of it would move its
 * rights a second time (an incarnation lost before its retire replicated everywhere);
 * otherwise the retire bodies per tenant (grant id order), and a marker on the first tenant when no
 * tenant has anything at it (the retire still counts: its overdraft allowance comes back).
 */
export function planRetire(
  state: LedgerState,
  current: OriginId,
  lost: OriginId,
  known: boolean,
  peers: ReadonlyMap<string, PeerState>,
): RetirePlan {
  const problem = retireProblem(current, lost);
  if (problem !== null) return { status: 'not_found', what: `lost incarnation ${lost} (${problem})` };
  if (!known && !state.originIndex.has(lost))
    return { status: 'not_found', what: `lost incarnation ${lost}: no such incarnation was heard of here` };
  const here = seqOf(state.versionVector, lost);
  const peersAsked: string[] = [];
  const unreachable: string[] = [];
  for (const [region, peer] of [...peers].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (!peer.connected || !peer.summarized) {
      unreachable.push(region);
      continue;
    }
    const behind = regionBehind(state, lost, peer.versionVector);
    if (behind !== null) return { status: 'behind', region, ...behind };
    peersAsked.push(region);
  }
  // A region not heard now may hold more of it, replicated there: cutting that off would drop
  // history that exists (swarm seed 43 of retire-lost-incarnation dropped a grant so). Every peer
  // must say how much of it it holds.
  if (unreachable.length > 0) return { status: 'unreachable', regions: unreachable };
  const bodies: TenantEventBody[] = [];
  const moved: RetiredTenant[] = [];
  let rights = 0;
  let overdraftInUse = 0;
  let tenants = 0;
  for (const tenant of [...state.tenants.keys()].sort()) {
    const figures = retireFigures(state, tenant, lost);
    if (figures === null) continue;
    tenants += 1;
    rights += figures.rights;
    overdraftInUse += figures.overdraftInUse;
    if (moved.length < RETIRE_TENANTS_SHOWN_MAX)
      moved.push({ tenant, rights: figures.rights, overdraftInUse: figures.overdraftInUse });
    const chunks: (readonly Part[])[] = figures.parts.length === 0 ? [[]] : [...figures.parts];
    for (const parts of chunks) bodies.push({ kind: 'retire', tenant, retired: lost, through: here, parts });
  }
  const held = heldByOrigin(state, lost);
  const retired = state.retired.get(lost);
  if (retired !== undefined && rights === 0) return { status: 'retired', origin: lost, retired };
  if (bodies.length === 0) {
    const first = [...state.tenants.keys()].sort()[0];
    if (first === undefined)
      return { status: 'not_found', what: `anything of ${lost} to retire: no tenant is known here` };
    bodies.push({ kind: 'retire', tenant: first, retired: lost, through: here, parts: [] });
  }
  return {
    status: 'plan',
    through: here,
    bodies,
    view: {
      origin: lost,
      region: regionOf(lost),
      by: current,
      through: here,
      rights,
      overdraftInUse,
      held,
      tenants,
      moved,
      peersAsked,
      risk:
        `Debits that ${lost} acknowledged after seq ${here} and never replicated are unknown here: they were paid from rights that now belong to ${current}, so each tenant may be overspent by what it had debited there past seq ${here}.` +
        (held === 0
          ? ''
          : ` Its holds still active here (${held} credits) are ${current}'s to end from now on; a capture or void of one that it made past seq ${here} is unknown too, so what that returned and was spent there may be spent again.`),
    },
  };
}

/**
 * The incarnation of `lost`'s region (the lost one first) that a peer's `vector` shows further than
 * this node's fold, counted as here (countedVector), or null.
 */
function regionBehind(
  state: LedgerState,
  lost: OriginId,
  vector: Readonly<Record<OriginId, number>>,
): { readonly origin: OriginId; readonly held: number; readonly here: number } | null {
  const counted = countedVector(state, vector);
  const region = regionOf(lost);
  const origins = Object.keys(counted)
    .filter((origin) => regionOf(origin) === region)
    .sort((a, b) => (a === lost ? -1 : b === lost ? 1 : a < b ? -1 : 1));
  for (const origin of origins) {
    const held = counted[origin] ?? 0;
    const here = seqOf(state.versionVector, origin);
    if (held > here) return { origin, held, here };
  }
  return null;
}

/**
 * Why a verified run of `origin`'s segments ending at `lastSeq` must be refused because `origin`
 * was retired through an earlier seq, or null when it may be folded.
 */
export function retiredRunProblem(state: LedgerState, origin: OriginId, lastSeq: number): string | null {
  const retired = state.retired.get(origin);
  if (retired === undefined || lastSeq <= retired.through) return null;
  return `segments of ${origin} up to seq ${lastSeq}: it was retired by ${retired.by} at seq ${retired.through}`;
}

/**
 * `vector` with each retired origin counted only through its retired seq: what a peer holds of it
 * past that is refused here, so it never makes this node wait for it (writes, overdraft, retires).
 */
export function countedVector(
  state: LedgerState,
  vector: Readonly<Record<OriginId, number>>,
): Record<OriginId, number> {
  const counted: Record<OriginId, number> = { ...vector };
  for (const [origin, retired] of state.retired)
    if ((counted[origin] ?? 0) > retired.through) counted[origin] = retired.through;
  return counted;
}

/** Retired origins folded here past their retired seq, with that seq: the fold must be made again. */
export function retiredPastThrough(state: LedgerState): Map<OriginId, number> {
  const cut = new Map<OriginId, number>();
  for (const [origin, retired] of state.retired)
    if (seqOf(state.versionVector, origin) > retired.through) cut.set(origin, retired.through);
  return cut;
}

/** The one line a node whose own incarnation was retired says (at start, or when it hears of it). */
export function ownRetiredLine(origin: OriginId, retired: RetiredOrigin): string {
  return `incarnation ${origin} of this data directory was retired by ${retired.by} at seq ${retired.through} (a data directory restored from a backup?): start this region on an empty data directory`;
}
