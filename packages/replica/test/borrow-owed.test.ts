/**
 * A debit that waits for rights at a region whose overdraft in use is past its allowance (swarm seed
 * 16071): what arrives repays that overdraft first, so the ask covers it too, and the debit waits
 * only when the connected peers hold enough for both. And a debit that stops waiting unpaid tells
 * the host, so what its region kept back for it serves the asks kept there (swarm seed 1725).
 * Borrowing is driven through a fake host.
 */
import {
  applyEvent,
  createLedgerState,
  decideDebit,
  decideGrant,
  type LedgerState,
  makeEvent,
  type OriginId,
  originId,
} from '@allot/core';
import { describe, expect, it } from 'vitest';
import { type BorrowHost, Borrowing, creditsKnown } from '../src/borrow.js';
import type { ReplicationFrame } from '../src/frames.js';
import { BORROW_ASK_FACTOR } from '../src/limits.js';

const T0 = 1_700_000_000_000;
const TENANT = 'acme';
const US = originId('us', 'bbbbbbbb');
const EU = originId('eu', 'aaaaaaaa');

/** Appends an accepted decision's body to `origin`'s log in `state`. */
function fold(state: LedgerState, origin: OriginId, decision: { status: string; body?: unknown }): void {
  if (decision.status !== 'accepted') throw new Error(`expected accepted, got ${JSON.stringify(decision)}`);
  const seq = (state.versionVector[origin] ?? 0) + 1;
  const event = makeEvent({ origin, seq, at: T0 }, decision.body as Parameters<typeof makeEvent>[1]);
  if (applyEvent(state, event) !== 'applied') throw new Error('not applied');
}

/**
 * us, with `overdraft` taken under an allowance of 40 and the allowance now `limit`; eu, connected,
 * holds `euRights`.
 */
function borrower(overdraft: number, limit: number, euRights: number) {
  const state = createLedgerState();
  fold(
    state,
    EU,
    decideGrant(
      state,
      { origin: EU, now: T0 },
      { tenant: TENANT, grantId: 'g1', amount: euRights, priority: 100, expiresAt: null },
    ),
  );
  // us holds no rights: it takes its overdraft.
  fold(
    state,
    US,
    decideDebit(
      state,
      { origin: US, now: T0, overdraftLimit: 40 },
      { tenant: TENANT, amount: overdraft, idempotencyKey: 'od', metadata: null },
    ),
  );
  const sent: { region: string; frame: ReplicationFrame }[] = [];
  const timers: (() => void)[] = [];
  const released: string[] = [];
  const host: BorrowHost = {
    origin: US,
    borrowWaitMs: 200,
    attached: () => true,
    state: () => state,
    overdraftLimit: () => limit,
    now: () => T0,
    setTimer: (_ms, callback) => {
      timers.push(callback);
      return { cancel: () => undefined };
    },
    peers: () => new Map([['eu', { origin: EU, connected: true }]]),
    send: (region, frame) => {
      sent.push({ region, frame });
      return true;
    },
    ownHead: () => state.versionVector[US] ?? 0,
    reachableCredits: () => creditsKnown(state, TENANT, US, T0, limit, new Set([EU])).near,
    waited: () => undefined,
    released: (tenant) => {
      released.push(tenant);
    },
  };
  return { borrowing: new Borrowing(host), sent, state, timers, released };
}

describe('borrowing past the overdraft allowance', () => {
  it('asks for the overdraft the repay takes first, beyond what the debit lacks (seed 16071)', () => {
    const { borrowing, sent } = borrower(30, 0, 8_000);
    expect(borrowing.worthWaiting(TENANT, 8)).toBe(true);
    void borrowing.wait(
      TENANT,
      8,
      8,
      () => null,
      () => 'declined',
    );
    expect(sent).toHaveLength(1);
    const ask = sent[0]?.frame;
    expect(ask?.type === 'borrow' && ask.amount).toBe(8 + (BORROW_ASK_FACTOR - 1) * 8 + 30);
    borrowing.close();
  });

  it('asks for only what the repay leaves unpaid past an allowance lowered part way', () => {
    const { borrowing, sent } = borrower(30, 20, 8_000);
    void borrowing.wait(
      TENANT,
      8,
      8,
      () => null,
      () => 'declined',
    );
    const ask = sent[0]?.frame;
    expect(ask?.type === 'borrow' && ask.amount).toBe(8 + (BORROW_ASK_FACTOR - 1) * 8 + 10);
    borrowing.close();
  });

  it('does not wait when the peers cannot cover the overdraft and the debit together', () => {
    const { borrowing, state } = borrower(30, 0, 20);
    expect(borrowing.worthWaiting(TENANT, 8)).toBe(false);
    // Nor do the credits it could reach count what the repay takes: 20 at eu, 30 owed.
    expect(creditsKnown(state, TENANT, US, T0, 0, new Set([EU])).near).toBe(-10);
  });
});

describe('a debit that stops waiting unpaid releases what its region kept for it (seed 1725)', () => {
  it('tells the host when the wait runs out, not when the debit is paid', async () => {
    const { borrowing, timers, released } = borrower(1, 40, 100);
    let paid = false;
    const declined = borrowing.wait(
      TENANT,
      8,
      8,
      () => null,
      () => ({ status: 'declined' }),
    );
    const accepted = borrowing.wait(
      TENANT,
      5,
      5,
      () => (paid ? { status: 'accepted' } : null),
      () => ({ status: 'declined' }),
    );
    paid = true;
    borrowing.wake(TENANT); // the 5 is paid; the 8 still finds nothing
    expect(await accepted).toEqual({ status: 'accepted' });
    expect(released).toEqual([]);
    timers[0]?.(); // the 8's wait runs out
    expect(await declined).toEqual({ status: 'declined' });
    expect(released).toEqual([TENANT]);
  });
});
