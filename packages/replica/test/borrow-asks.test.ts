/**
 * Whom a waiting debit asks, and for how much (swarm seeds 5411, 9968, 4781 of the 10,000-seed soak
 * on fd11e33): each connected peer for what it can lend as known here, and what those cannot cover
 * asked of every peer besides, since rights may have reached one unseen here and a lender keeps an
 * ask it cannot serve for when they arrive. And a region that moves rights away while its debits
 * wait asks again, since its peers drop the asks it sent before the move. Borrowing is driven
 * through a fake host.
 */
import {
  applyEvent,
  createLedgerState,
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
const AP = originId('ap', 'aaaaaaaa');
const EU = originId('eu', 'bbbbbbbb');
const US = originId('us', 'cccccccc');

/** Folds a grant of `amount` made at `origin` into `state`. */
function grantAt(state: LedgerState, origin: OriginId, amount: number): void {
  const decision = decideGrant(
    state,
    { origin, now: T0 },
    { tenant: TENANT, grantId: `g-${origin}`, amount, priority: 100, expiresAt: null },
  );
  if (decision.status !== 'accepted') throw new Error(`grant ${decision.status}`);
  const seq = (state.versionVector[origin] ?? 0) + 1;
  if (applyEvent(state, makeEvent({ origin, seq, at: T0 }, decision.body)) !== 'applied')
    throw new Error('grant not applied');
}

/** us, holding nothing; eu holds 6 of the tenant's rights as known here, ap none; both connected. */
function borrower() {
  const state = createLedgerState();
  grantAt(state, EU, 6);
  let head = 3;
  let now = T0;
  const timers: { at: number; callback: () => void; cancelled: boolean }[] = [];
  const sent: { region: string; frame: ReplicationFrame }[] = [];
  const host: BorrowHost = {
    origin: US,
    borrowWaitMs: 200,
    attached: () => true,
    state: () => state,
    overdraftLimit: () => 0,
    now: () => now,
    setTimer: (ms, callback) => {
      const timer = { at: now + ms, callback, cancelled: false };
      timers.push(timer);
      return {
        cancel: () => {
          timer.cancelled = true;
        },
      };
    },
    peers: () =>
      new Map([
        ['ap', { origin: AP, connected: true }],
        ['eu', { origin: EU, connected: true }],
      ]),
    send: (region, frame) => {
      sent.push({ region, frame });
      return true;
    },
    ownHead: () => head,
    reachableCredits: () => creditsKnown(state, TENANT, US, T0, 0, new Set([AP, EU])).near,
    waited: () => undefined,
    released: () => undefined,
  };
  const asks = () =>
    sent.map(({ region, frame }) => ({
      region,
      amount: frame.type === 'borrow' ? frame.amount : null,
      head: frame.type === 'borrow' ? frame.head : null,
    }));
  return {
    borrowing: new Borrowing(host),
    asks,
    /** The smallest debit and the wait each borrow frame sent from the `from`th on says. */
    timings: (from = 0) =>
      sent
        .slice(from)
        .flatMap(({ frame }) =>
          frame.type === 'borrow' ? [{ least: frame.least, waitsMs: frame.waitsMs }] : [],
        ),
    /** us writes an event of its own (a move away, say): its head moves on. */
    write: () => {
      head += 1;
    },
    /** us's clock moves on `ms`, firing the timers due on the way in order. */
    later: (ms: number) => {
      const until = now + ms;
      for (;;) {
        const due = timers
          .filter((timer) => !timer.cancelled && timer.at <= until)
          .sort((a, b) => a.at - b.at)[0];
        if (due === undefined) break;
        due.cancelled = true;
        now = due.at;
        due.callback();
      }
      now = until;
    },
  };
}

/** A debit of `amount` that waits at us and is never paid here. */
function waitFor(borrowing: Borrowing, amount: number): void {
  void borrowing.wait(
    TENANT,
    amount,
    amount,
    () => null,
    () => 'declined',
  );
}

describe('borrow asks', () => {
  it('asks the peers known to hold rights for them, and every peer for what they cannot cover (seed 5411)', () => {
    const { borrowing, asks } = borrower();
    waitFor(borrowing, 19);
    // The debit lacks 19 and asks for BORROW_ASK_FACTOR × that; eu is known to hold 6.
    const shortfall = 19 * BORROW_ASK_FACTOR;
    expect(asks()).toEqual([
      { region: 'eu', amount: 6 + (shortfall - 6), head: 3 },
      { region: 'ap', amount: shortfall - 6, head: 3 },
    ]);
    borrowing.close();
  });

  it('the same asks are not sent again; after a move away they are, past the move (seed 5411)', () => {
    const { borrowing, asks, write } = borrower();
    waitFor(borrowing, 19);
    expect(asks()).toHaveLength(2);
    // Events of the tenant folded, nothing changed: the same plan is not sent again.
    borrowing.wake(TENANT);
    expect(asks()).toHaveLength(2);
    // us lent rights away (its move is past the head its asks carried): its peers drop those asks.
    write();
    borrowing.movedAway(TENANT);
    expect(asks().slice(2)).toEqual([
      { region: 'eu', amount: 38, head: 4 },
      { region: 'ap', amount: 32, head: 4 },
    ]);
    borrowing.close();
  });

  it('an ask says how long the newest debit it asks for will still wait (seed 13058)', () => {
    const { borrowing, timings, later, write } = borrower();
    waitFor(borrowing, 19);
    expect(timings()).toEqual([
      { least: 19, waitsMs: 200 },
      { least: 19, waitsMs: 200 },
    ]);
    later(100);
    waitFor(borrowing, 5);
    // The 5 asks for the 19 before it too; it began waiting now, so the ask's debits wait 200 ms.
    expect(timings(2)).toEqual([
      { least: 5, waitsMs: 200 },
      { least: 5, waitsMs: 200 },
    ]);
    // 60 ms on, us lends rights away and asks again: its newest debit waits 140 ms more.
    later(60);
    write();
    borrowing.movedAway(TENANT);
    expect(timings(4)).toEqual([
      { least: 5, waitsMs: 140 },
      { least: 5, waitsMs: 140 },
    ]);
    borrowing.close();
  });

  it('a move away with no debit waiting asks nothing', () => {
    const { borrowing, asks } = borrower();
    borrowing.movedAway(TENANT);
    expect(asks()).toEqual([]);
  });
});
