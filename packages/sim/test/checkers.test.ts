import {
  checkAll,
  checkS1,
  checkS2,
  checkS3,
  checkS4,
  checkS5,
  checkS6,
  type FinalState,
  type HistoryRecord,
} from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { clean, EU, input, ledger, scenario, US } from './hand-made-run.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

describe('the checkers on a clean history', () => {
  it('find nothing wrong', () => {
    const verdicts = checkAll(input());
    expect(verdicts.map((verdict) => [verdict.invariant, verdict.holds])).toEqual([
      ['S1', true],
      ['S2', true],
      ['S3', true],
      ['S4', true],
      ['S5', true],
      ['S6', true],
      ['S7', true],
      ['F1', true],
      ['S8', true],
      ['S9', true],
      ['S10', true],
      ['S11', true],
    ]);
    expect(verdicts[3]?.note).toMatch(/converged at 150 ms, 150 ms after the last heal/);
  });

  it('cannot check S3–S6, S8, S9 and S11 without a final state, and say so', () => {
    const verdicts = checkAll({ scenario, history: clean().history });
    expect(verdicts.slice(2, 6).every((verdict) => !verdict.holds && verdict.note === 'not checked')).toBe(
      true,
    );
    const faults = verdicts.filter((verdict) => ['S8', 'S9', 'S11'].includes(verdict.invariant));
    expect(faults.map((verdict) => verdict.invariant)).toEqual(['S8', 'S9', 'S11']);
    expect(faults.every((verdict) => !verdict.holds && verdict.note === 'not checked')).toBe(true);
  });
});

describe('S1 — no overspend beyond the bound', () => {
  it('flags acknowledged debits beyond grants − expired + Σ overdraft, with the first and the worst', () => {
    const verdict = checkS1(
      input(({ history }) => {
        history.push(
          {
            type: 'debit',
            t: 40,
            region: 'us',
            tenant: 'acme',
            key: 'k3',
            amount: 64, // 40 + 64 − 5 = 99 ≤ 100 + 5: fine
            result: 'accepted',
            falseDecline: false,
            latencyMs: 1,
            debitId: 'us.bbbbbbbb.2',
            ledger: ledger(100, 104, 5),
          },
          {
            type: 'debit',
            t: 50,
            region: 'us',
            tenant: 'acme',
            key: 'k4',
            amount: 7, // 111 − 5 = 106 > 105: over by 1
            result: 'accepted',
            falseDecline: false,
            latencyMs: 1,
            debitId: 'us.bbbbbbbb.3',
            ledger: ledger(100, 111, 5),
          },
          {
            type: 'debit',
            t: 60,
            region: 'eu',
            tenant: 'acme',
            key: 'k5',
            amount: 20, // over by 21
            result: 'accepted',
            falseDecline: false,
            latencyMs: 1,
            debitId: 'eu.aaaaaaaa.5',
            ledger: ledger(100, 131, 5),
          },
        );
      }),
    );
    expect(verdict.holds).toBe(false);
    expect(verdict.violations).toBe(2);
    expect(verdict.first?.t).toBe(50);
    expect(verdict.first?.detail).toMatch(/106 > grants 100 − expired 0 \+ overdraft 5 = 105/);
    expect(verdict.worst?.t).toBe(60);
  });

  it('flags a true balance below −Σ overdraft in a sample, and counts a replay once', () => {
    const verdict = checkS1(
      input(({ history }) => {
        const sample = history.find((record) => record.type === 'sample') as Mutable<
          Extract<HistoryRecord, { type: 'sample' }>
        >;
        sample.truth = -6;
        history.push({
          type: 'debit',
          t: 120,
          region: 'us',
          tenant: 'acme',
          key: 'k1',
          amount: 30,
          result: 'replayed',
          falseDecline: false,
          latencyMs: 1,
          debitId: 'eu.aaaaaaaa.3',
        });
      }),
    );
    expect(verdict.violations).toBe(1);
    expect(verdict.first?.detail).toMatch(/true balance is -6, below −Σ overdraft \(−5\)/);
  });

  /**
   * Swarm seed 1303: an acknowledged grant held by two peers was destroyed everywhere (two lost
   * disks and an old backup) after its rights paid debits elsewhere. It left the true ledger; S1
   * still counts it, as an acknowledged grant — once, and only when a client was told of it.
   */
  describe('an acknowledged grant that storage faults destroyed', () => {
    const destroyedRun = (told: 'accepted' | 'unavailable', faults = 1, truth = -40) =>
      input(({ history }) => {
        history.splice(1, 0, {
          type: 'grant',
          t: 5,
          region: 'us',
          tenant: 'acme',
          grantId: 'g2',
          amount: 50,
          result: told,
          origin: US,
        });
        for (let fault = 0; fault < faults; fault++)
          history.push({
            type: 'storage',
            t: 110 + fault,
            region: 'us',
            damage: 'old-backup',
            outcome: 'opened',
            detail: 'restored from a backup',
            damagedKeys: [],
            held: {},
            kept: {},
            elsewhere: {},
            destroyedGrants: [{ tenant: 'acme', grantId: 'g2', amount: 50 }],
          });
        history.push(
          {
            type: 'sample',
            t: 120,
            tenant: 'acme',
            truth, // −40 = 100 − 145 + 5: the 50 of g2 paid 45 of the debits, then left the truth
            views: { eu: { balance: truth, rights: 0 } },
            ledger: ledger(100, 145, 5),
            overdraftBound: 5,
          },
          {
            type: 'debit',
            t: 130,
            region: 'eu',
            tenant: 'acme',
            key: 'k7',
            amount: 5, // 145 − 5 = 140 ≤ 100 + 50 − 0 + 5 = 155
            result: 'accepted',
            falseDecline: false,
            latencyMs: 1,
            debitId: 'eu.aaaaaaaa.7',
            ledger: ledger(100, 150, 5),
          },
        );
      });

    it('still counts as granted, and the note says how much', () => {
      const verdict = checkS1(destroyedRun('accepted'));
      expect(verdict.holds).toBe(true);
      expect(verdict.note).toMatch(
        /50 credits of acknowledged grants that storage faults destroyed still count/,
      );
    });

    it('counts once when two faults destroy it', () => {
      // −91 + 50 = −41 < −5: counted twice, the 50 would hide it.
      const verdict = checkS1(destroyedRun('accepted', 2, -91));
      expect(verdict.holds).toBe(false);
      expect(verdict.first?.detail).toMatch(/true balance is -91 \(\+ 50 of acknowledged grants destroyed\)/);
    });

    it('does not count a grant no client was told of', () => {
      const verdict = checkS1(destroyedRun('unavailable'));
      expect(verdict.holds).toBe(false);
      expect(verdict.first?.detail).toMatch(/true balance is -40, below −Σ overdraft \(−5\)/);
    });
  });

  it('without recorded ledger figures, falls back on what was acknowledged', () => {
    const verdict = checkS1(
      input(({ history }) => {
        for (const record of history)
          if (record.type === 'debit') delete (record as { ledger?: unknown }).ledger;
        history.push({
          type: 'debit',
          t: 40,
          region: 'eu',
          tenant: 'acme',
          key: 'k9',
          amount: 80,
          result: 'accepted',
          falseDecline: false,
          latencyMs: 1,
          debitId: 'eu.aaaaaaaa.9',
        });
      }),
    );
    expect(verdict.holds).toBe(false);
    expect(verdict.first?.detail).toMatch(/acknowledged debits 120 − refunds 5 = 115 > grants 100/);
  });
});

describe('S2 — local safety', () => {
  it('flags an origin whose true rights went negative, or that used more overdraft than allowed', () => {
    const verdict = checkS2(
      input(({ history }) => {
        history.push({
          type: 'sample',
          t: 200,
          tenant: 'acme',
          truth: 60,
          views: {},
          origins: {
            [EU]: { region: 'eu', rightsMin: -3, overdraftInUseMax: 0 },
            [US]: { region: 'us', rightsMin: 0, overdraftInUseMax: 9 },
          },
        });
      }),
    );
    expect(verdict.violations).toBe(2);
    expect(verdict.first?.detail).toMatch(/eu#aaaaaaaa spent 3 beyond its rights/);
    expect(verdict.worst?.detail).toMatch(/us#bbbbbbbb had 9 of overdraft in use .* more than the 5/);
  });
});

describe('S3 — durability', () => {
  it('flags an acknowledged debit missing from the final state, or changed', () => {
    const verdict = checkS3(
      input(({ final }) => {
        const debits = final.ledger.acme?.debits as Record<string, { key: string; amount: number }>;
        delete debits['us.bbbbbbbb.1'];
        debits['eu.aaaaaaaa.3'] = { key: 'other', amount: 30 };
      }),
    );
    expect(verdict.violations).toBe(2);
    expect(verdict.first?.detail).toMatch(
      /debit eu\.aaaaaaaa\.3 is now other of 30, acknowledged as k1 of 30/,
    );
  });

  it('flags a missing grant and a missing refund', () => {
    const verdict = checkS3(
      input(({ final }) => {
        const acme = final.ledger.acme as {
          grants: Record<string, number>;
          refunds: Record<string, unknown>;
        };
        delete acme.grants.g1;
        delete acme.refunds['eu.aaaaaaaa.4'];
      }),
    );
    expect(verdict.violations).toBe(2);
  });

  it('flags an acknowledged hold missing from the final state, and excuses one a lost disk took', () => {
    const hold: HistoryRecord = {
      type: 'hold',
      t: 40,
      region: 'us',
      tenant: 'acme',
      key: 'h1',
      amount: 12,
      result: 'accepted',
      holdId: 'us.bbbbbbbb.9',
      latencyMs: 1,
    };
    const missing = checkS3(
      input(({ history }) => {
        history.splice(3, 0, hold);
      }),
    );
    expect(missing.violations).toBe(1);
    expect(missing.first?.detail).toMatch(/hold us\.bbbbbbbb\.9 \(h1\) is missing/);
    const lost = checkS3(
      input(({ history, final }) => {
        history.splice(3, 0, hold);
        (final as Mutable<FinalState>).lostOrigins = [US];
      }),
    );
    expect(lost.holds).toBe(true);
    expect(lost.note).toMatch(/1 were lost with a disk/);
    // Held, it counts toward no total: conservation (S5) is as before.
    expect(checkS5(input(({ history }) => history.splice(3, 0, hold))).holds).toBe(true);
  });

  it('excuses what a lost disk took before it replicated, and counts it', () => {
    const verdict = checkS3(
      input(({ final }) => {
        (final as Mutable<FinalState>).lostOrigins = [US];
        delete (final.ledger.acme as unknown as { debits: Record<string, unknown> }).debits['us.bbbbbbbb.1'];
      }),
    );
    expect(verdict.holds).toBe(true);
    expect(verdict.note).toMatch(/1 were lost with a disk/);
  });
});

describe('S4 — convergence', () => {
  it('flags different version vectors, different snapshots, a region down, no convergence', () => {
    const vectors = checkS4(
      input(({ final }) => {
        (final.regions.us as Mutable<FinalState['regions'][string]>).versionVector = { [EU]: 3, [US]: 1 };
      }),
    );
    expect(vectors.holds).toBe(false);
    expect(vectors.first?.detail).toMatch(/us has version vector/);
    const bytes = checkS4(
      input(({ final }) => {
        (final.regions.us as Mutable<FinalState['regions'][string]>).snapshotSha256 = 'other';
      }),
    );
    expect(bytes.first?.detail).toMatch(/snapshot differs/);
    const down = checkS4(
      input(({ final }) => {
        (final as Mutable<FinalState>).down = ['us'];
        delete (final.regions as Record<string, unknown>).us;
      }),
    );
    expect(down.first?.detail).toMatch(/us is not running/);
    const never = checkS4(
      input(({ history }) => {
        history.pop();
      }),
    );
    expect(never.first?.detail).toMatch(/no convergence/);
  });
});

describe('S5 — conservation', () => {
  it('flags a converged balance that is not grants − debits + refunds − expired of what was acknowledged', () => {
    const verdict = checkS5(
      input(({ final }) => {
        const lines = final.regions.us?.tenants as unknown as { debited: number }[];
        (lines[0] as { debited: number }).debited = 35;
      }),
    );
    expect(verdict.violations).toBe(2); // the debited column, and the balance that no longer adds up
    expect(verdict.first?.detail).toMatch(/us, acme: debited is 35, the acknowledged operations make 40/);
  });

  it('counts automatic refunds of cross-region duplicates as refunds', () => {
    const verdict = checkS5(
      input(({ history, final }) => {
        history.push({
          type: 'debit',
          t: 40,
          region: 'us',
          tenant: 'acme',
          key: 'k1',
          amount: 30,
          result: 'accepted',
          falseDecline: false,
          latencyMs: 1,
          debitId: 'us.bbbbbbbb.2',
          retry: true,
        });
        const acme = final.ledger.acme as FinalState['ledger'][string] & {
          debits: Record<string, unknown>;
          refunds: Record<string, unknown>;
        };
        acme.debits['us.bbbbbbbb.2'] = { key: 'k1', amount: 30 };
        acme.refunds['us.bbbbbbbb.3'] = {
          debitId: 'us.bbbbbbbb.2',
          amount: 30,
          key: 'duplicate-of:us.bbbbbbbb.2',
        };
        for (const region of Object.values(final.regions)) {
          (region as Mutable<FinalState['regions'][string]>).tenants = [
            { tenant: 'acme', balance: 65, granted: 100, debited: 70, refunded: 35, expired: 0 },
          ];
        }
      }),
    );
    expect(verdict.holds).toBe(true);
  });
});

describe('S6 — idempotency', () => {
  it('flags a key charged twice, and passes it once the duplicate is refunded', () => {
    const duplicate = (refunded: boolean) =>
      checkS6(
        input(({ final }) => {
          const acme = final.ledger.acme as FinalState['ledger'][string] & {
            debits: Record<string, unknown>;
            refunds: Record<string, unknown>;
          };
          acme.debits['us.bbbbbbbb.2'] = { key: 'k1', amount: 30 };
          if (refunded)
            acme.refunds['us.bbbbbbbb.3'] = {
              debitId: 'us.bbbbbbbb.2',
              amount: 30,
              key: 'duplicate-of:us.bbbbbbbb.2',
            };
        }),
      );
    const charged = duplicate(false);
    expect(charged.holds).toBe(false);
    // k1: 30 − 5 refunded by the client + 30 again = 55 > 30.
    expect(charged.first?.detail).toMatch(
      /key k1 has 2 debits charging 55 in all, more than one debit \(30\)/,
    );
    expect(duplicate(true).holds).toBe(true);
  });
});

describe('S6 — conflict answers', () => {
  /** A conflict answer at `region` for a request of key `key` and amount `amount`. */
  const conflict = (region: string, key: string, amount: number): HistoryRecord => ({
    type: 'debit',
    t: 40,
    region,
    tenant: 'acme',
    key,
    amount,
    result: 'conflict',
    falseDecline: false,
    latencyMs: 2,
    conflicting: true,
  });

  it('passes a conflict that a debit of the key with another amount holds, and says how many', () => {
    const verdict = checkS6(input(({ history }) => history.push(conflict('eu', 'k1', 31))));
    expect(verdict.holds).toBe(true);
    expect(verdict.note).toMatch(/1 conflict answers, each held by a debit of another amount$/);
  });

  it('flags a conflict that nothing holds: the debit it was answered against never happened', () => {
    const verdict = checkS6(input(({ history }) => history.push(conflict('us', 'k9', 12))));
    expect(verdict.holds).toBe(false);
    expect(verdict.first?.detail).toBe(
      'acme: key k9 was answered conflict at us, but no debit of another amount holds it',
    );
    // A debit of the same amount holds nothing against it: the request was a retry, not a conflict.
    expect(checkS6(input(({ history }) => history.push(conflict('eu', 'k1', 30)))).holds).toBe(false);
  });

  it('excuses a conflict at a region that lost its disk, and counts it', () => {
    const verdict = checkS6(
      input(({ history, final }) => {
        history.push(conflict('us', 'k9', 12));
        (final as Mutable<FinalState>).lostOrigins = [US];
      }),
    );
    expect(verdict.holds).toBe(true);
    expect(verdict.note).toMatch(
      /1 conflict answers, .* \(1 excused: the region lost or damaged its disk\)$/,
    );
  });
});

describe('S5 and S6 — a grant id counts once (issue 17)', () => {
  /** g1 defined at eu (first) and again at us; `revoked`: what us's revokes took back. */
  const duplicated = (revoked: number | null, granted: number) =>
    input(({ final }) => {
      const acme = final.ledger.acme as Mutable<FinalState['ledger'][string]>;
      acme.definitions = {
        g1: [
          { origin: US, seq: 1, at: 2_000, amount: 100 },
          { origin: EU, seq: 1, at: 1_000, amount: 100 },
        ],
      };
      acme.revokes = revoked === null ? [] : [{ grantId: 'g1', loser: US, total: 100, amount: revoked }];
      for (const region of Object.values(final.regions)) {
        (region as Mutable<FinalState['regions'][string]>).tenants = [
          { tenant: 'acme', balance: granted - 35, granted, debited: 40, refunded: 5, expired: 0 },
        ];
      }
    });

  it('pass once the loser is revoked in full', () => {
    expect(checkS5(duplicated(100, 100)).holds).toBe(true);
    expect(checkS6(duplicated(100, 100)).holds).toBe(true);
  });

  it('pass with what is still owed at the bound counted, and say how much', () => {
    expect(checkS5(duplicated(60, 140)).holds).toBe(true);
    expect(checkS6(duplicated(60, 140)).note).toContain(
      '1 grant ids defined at two regions, revoked (40 credits',
    );
  });

  it('flag a duplicate never revoked (both count) and a revoke past what it credited', () => {
    const never = duplicated(null, 200);
    expect(checkS5(never).first?.detail).toMatch(/granted is 200, the acknowledged operations make 100/);
    expect(checkS6(never).first?.detail).toMatch(/was never revoked/);
    const past = input(({ final }) => {
      const acme = final.ledger.acme as Mutable<FinalState['ledger'][string]>;
      acme.definitions = {
        g1: [
          { origin: EU, seq: 1, at: 1_000, amount: 100 },
          { origin: US, seq: 1, at: 2_000, amount: 100 },
        ],
      };
      acme.revokes = [
        { grantId: 'g1', loser: US, total: 100, amount: 100 },
        { grantId: 'g1', loser: US, total: 100, amount: 10 },
      ];
    });
    expect(checkS6(past).first?.detail).toMatch(/revoked 110, more than its 100/);
  });
});
