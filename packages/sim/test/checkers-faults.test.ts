import {
  checkS1,
  checkS2,
  checkS3,
  checkS5,
  checkS8,
  checkS9,
  checkS10,
  checkS11,
  destroyedFoldedSince,
  destroyedRanges,
  type FinalState,
  type HistoryRecord,
} from '@allot/sim';
import { describe, expect, it } from 'vitest';
import { EU, input, US } from './hand-made-run.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type StorageRecord = Extract<HistoryRecord, { type: 'storage' }>;

/** eu restarted on a disk that lost seqs 4 of its own log while us held only up to 2 of it. */
const tornAtEu: HistoryRecord = {
  type: 'storage',
  t: 40,
  region: 'eu',
  damage: 'torn-tail',
  outcome: 'opened',
  detail: 'the last commit was half written',
  damagedKeys: [],
  held: { [EU]: 4, [US]: 1 },
  kept: { [EU]: 3, [US]: 1 },
  elsewhere: { [EU]: 2, [US]: 1 },
};

describe('S8 — log uniqueness', () => {
  it('holds when every (origin, seq) has one event anywhere', () => {
    expect(checkS8(input()).holds).toBe(true);
  });

  it('flags two different events under one (origin, seq), in any store', () => {
    const verdict = checkS8(
      input(({ final }) => {
        (final as Mutable<typeof final>).written = { [EU]: [['e1'], ['e2', 'x2'], ['e3']], [US]: [['u1']] };
      }),
    );
    expect(verdict.holds).toBe(false);
    expect(verdict.violations).toBe(1);
    expect(verdict.first?.detail).toMatch(/eu#aaaaaaaa seq 2: 2 different events stored/);
  });

  it('excuses a seq reused after a damaged disk destroyed it before any peer held it, and counts it', () => {
    const verdict = checkS8(
      input(({ history, final }) => {
        history.push(tornAtEu);
        (final as Mutable<typeof final>).written = {
          [EU]: [['e1'], ['e2'], ['e3'], ['e4', 'x4']],
          [US]: [['u1']],
        };
      }),
    );
    expect(verdict.holds).toBe(true);
    expect(verdict.note).toMatch(/1 reused after a damaged disk/);
  });

  it('excuses a seq whose last copy was on a disk its node refused and replaced (swarm seed 1205)', () => {
    // us held eu's seq 4 (eu itself had lost it); us's disk was damaged, its replica refused it, and
    // us started on a new disk: no node held seq 4 any more, and eu wrote another event under it.
    const refusedAtUs: HistoryRecord = {
      ...tornAtEu,
      region: 'us',
      damage: 'corrupt-middle',
      outcome: 'refused',
      held: { [EU]: 4, [US]: 1 },
      kept: { [EU]: 4, [US]: 1 },
      elsewhere: { [EU]: 3, [US]: 1 },
    } as HistoryRecord;
    const reusedAfter = (record: HistoryRecord) =>
      checkS8(
        input(({ history, final }) => {
          history.push(record);
          (final as Mutable<typeof final>).written = {
            [EU]: [['e1'], ['e2'], ['e3'], ['e4', 'x4']],
            [US]: [['u1']],
          };
        }),
      );
    expect(reusedAfter(refusedAtUs).holds).toBe(true);
    // The same disk opened, keeping seq 4: its copy is still there, so the reuse is a fork.
    expect(reusedAfter({ ...refusedAtUs, outcome: 'opened' } as HistoryRecord).holds).toBe(false);
  });

  it('does not excuse a reused seq that a peer held when the disk was damaged', () => {
    const verdict = checkS8(
      input(({ history, final }) => {
        history.push(tornAtEu);
        (final as Mutable<typeof final>).written = { [EU]: [['e1'], ['e2', 'x2'], ['e3']], [US]: [['u1']] };
      }),
    );
    expect(verdict.holds).toBe(false);
  });
});

describe('destroyedRanges with a lost disk that held the last copy of a live origin', () => {
  // us was restored from an old backup (it kept its seqs up to 2 of 5); eu's disk, the only one
  // holding us's seqs 3–5, is then lost, and eu's own incarnation with it (swarm seed 22486).
  const lostAtEu: StorageRecord = {
    type: 'storage',
    t: 60,
    region: 'eu',
    damage: 'disk-loss',
    outcome: 'lost',
    detail: 'the disk is lost: what only it held is gone',
    damagedKeys: [],
    held: { [EU]: 7, [US]: 5 },
    kept: {},
    elsewhere: { [EU]: 6, [US]: 2 },
    lost: [EU],
  };

  it('counts what only the lost disk held of a live origin as destroyed, its own incarnation as lost', () => {
    expect(destroyedRanges([lostAtEu])).toEqual(new Map([[US, [[2, 5]]]]));
  });

  it('excuses S8 for us writing those seqs again, and nothing a peer still held', () => {
    const run = (written: FinalState['written']) =>
      checkS8(
        input(({ history, final }) => {
          history.push(lostAtEu);
          (final as Mutable<typeof final>).written = written;
        }),
      );
    const reused = run({ [EU]: [['e1']], [US]: [['a'], ['b'], ['c', 'c2'], ['d', 'd2'], ['e', 'e2']] });
    expect(reused.holds).toBe(true);
    expect(reused.note).toMatch(/3 reused after a damaged disk/);
    expect(run({ [EU]: [['e1']], [US]: [['a'], ['b', 'b2']] }).holds).toBe(false);
  });
});

describe('destroyedRanges with lost incarnations', () => {
  // eu refused its damaged disk, the last copy of eu's seqs 1–4 and of us's seq 1: us's disk was lost.
  const refusedAtEu: StorageRecord = {
    ...(tornAtEu as StorageRecord),
    damage: 'corrupt-middle',
    outcome: 'refused',
    held: { [EU]: 4, [US]: 1 },
    kept: { [EU]: 4, [US]: 1 },
    elsewhere: {},
  };

  it('leaves out what no incarnation can write again: it is lost with a disk (swarm seed 3617)', () => {
    expect(destroyedRanges([refusedAtEu])).toEqual(
      new Map([
        [EU, [[0, 4]]],
        [US, [[0, 1]]],
      ]),
    );
    expect(destroyedRanges([{ ...refusedAtEu, lost: [US] }])).toEqual(new Map([[EU, [[0, 4]]]]));
    expect(destroyedRanges([{ ...refusedAtEu, lost: [EU, US] }])).toEqual(new Map());
  });

  it('keeps S1 counting a lost incarnation’s debit whose last copy a refused disk held', () => {
    // eu.aaaaaaaa.3 (30) was on eu's refused disk alone; eu's incarnation is gone, so it stays spent.
    const lostEu: StorageRecord = { ...refusedAtEu, t: 35, lost: [EU, US] };
    const overGrant: HistoryRecord = {
      type: 'debit',
      t: 36,
      region: 'us',
      tenant: 'acme',
      key: 'k3',
      amount: 71,
      result: 'accepted',
      falseDecline: false,
      latencyMs: 2,
      debitId: 'us.cccccccc.1',
    };
    const destroyed = checkS1(input(({ history }) => history.splice(4, 0, refusedAtEu, overGrant)));
    expect(destroyed.holds).toBe(true);
    const lost = checkS1(input(({ history }) => history.splice(4, 0, lostEu, overGrant)));
    expect(lost.holds).toBe(false);
    expect(lost.first?.detail).toMatch(
      /acknowledged debits 111 − refunds 5 = 106 > grants 100 − expired 0 \+ overdraft 5/,
    );
  });
});

describe('destroyedFoldedSince: events a lost disk had folded, destroyed later (swarm seed 14785)', () => {
  // us's disk is lost at 30 ms, holding eu's seqs up to 5 (us's own incarnation lost with it).
  const lostAtUs: StorageRecord = {
    type: 'storage',
    t: 30,
    region: 'us',
    damage: 'disk-loss',
    outcome: 'lost',
    detail: 'the disk is lost: what only it held is gone',
    damagedKeys: [],
    held: { [EU]: 5, [US]: 4 },
    kept: {},
    elsewhere: { [EU]: 7, [US]: 3 },
    lost: [US],
  };
  // eu is restored at 50 ms from a backup that kept 2 of its 7 seqs, while the others held 3.
  const oldBackupAtEu: StorageRecord = {
    type: 'storage',
    t: 50,
    region: 'eu',
    damage: 'old-backup',
    outcome: 'opened',
    detail: 'the disk is restored from a backup',
    damagedKeys: [],
    held: { [EU]: 7 },
    kept: { [EU]: 2 },
    elsewhere: { [EU]: 3 },
    lost: [US],
  };

  it('names the lost incarnation, from when what its disk held was destroyed everywhere', () => {
    expect(destroyedFoldedSince([lostAtUs, oldBackupAtEu])).toEqual(new Map([[US, 50]]));
  });

  it('counts from the fault that took the disk when that disk was the last copy (swarm seed 2132)', () => {
    // us's disk, lost at 30 ms, was the only one holding eu's seqs 4 and 5: the same fault
    // destroyed them and lost the incarnation that folded them.
    const lastCopy = { ...lostAtUs, elsewhere: { [EU]: 3, [US]: 3 } };
    expect(destroyedFoldedSince([lastCopy])).toEqual(new Map([[US, 30]]));
    expect(destroyedFoldedSince([lastCopy, oldBackupAtEu])).toEqual(new Map([[US, 30]]));
  });

  it('names none when the lost disk held none of the destroyed seqs, or the loss came after', () => {
    expect(destroyedFoldedSince([lostAtUs, { ...oldBackupAtEu, elsewhere: { [EU]: 5 } }])).toEqual(new Map());
    expect(destroyedFoldedSince([oldBackupAtEu, { ...lostAtUs, t: 60 }])).toEqual(new Map());
  });
});

describe('S9 — no shorter log than acknowledged', () => {
  it('holds when every node ends with each origin as far as it acknowledged', () => {
    expect(checkS9(input()).holds).toBe(true);
  });

  it('flags a node that ends with an origin shorter than a debit it acknowledged', () => {
    const verdict = checkS9(
      input(({ final }) => {
        const regions = final.regions as Record<string, Mutable<(typeof final.regions)[string]>>;
        regions.us = {
          ...(regions.us as (typeof final.regions)[string]),
          versionVector: { [EU]: 3, [US]: 1 },
        };
      }),
    );
    expect(verdict.holds).toBe(false);
    expect(verdict.first?.detail).toMatch(/us ends with eu#aaaaaaaa at seq 3, though it acknowledged seq 4/);
  });

  it('excuses what a damaged disk destroyed before any peer held it', () => {
    const verdict = checkS9(
      input(({ history, final }) => {
        history.push(tornAtEu);
        const regions = final.regions as Record<string, Mutable<(typeof final.regions)[string]>>;
        for (const region of ['eu', 'us'])
          regions[region] = {
            ...(regions[region] as (typeof final.regions)[string]),
            versionVector: { [EU]: 3, [US]: 1 },
          };
      }),
    );
    expect(verdict.holds).toBe(true);
  });
});

describe('S3 and S5 with a damaged disk', () => {
  it('excuse an acknowledged refund destroyed before any peer held it, and still flag one a peer held', () => {
    const destroyed = input(({ history, final }) => {
      history.push(tornAtEu);
      (final.ledger as Record<string, (typeof final.ledger)[string]>).acme = {
        ...(final.ledger.acme as (typeof final.ledger)[string]),
        refunds: {},
      };
    });
    expect(checkS3(destroyed).holds).toBe(true);
    expect(checkS3(destroyed).note).toMatch(/1 were lost/);
    const held = input(({ history, final }) => {
      history.push({ ...tornAtEu, elsewhere: { [EU]: 4, [US]: 1 } });
      (final.ledger as Record<string, (typeof final.ledger)[string]>).acme = {
        ...(final.ledger.acme as (typeof final.ledger)[string]),
        refunds: {},
      };
    });
    expect(checkS3(held).holds).toBe(false);
    expect(checkS5(held).holds).toBe(true); // the nodes' figures still say 5 refunded
  });
});

describe('S3 with a grant a damaged disk destroyed', () => {
  it('excuses a grant of an origin whose unreplicated tail a damaged disk destroyed (swarm seed 332)', () => {
    const missingGrant = ({ final }: { final: FinalState }) => {
      (final.ledger as Record<string, (typeof final.ledger)[string]>).acme = {
        ...(final.ledger.acme as (typeof final.ledger)[string]),
        grants: {},
      };
    };
    const destroyed = input((run) => {
      run.history.push(tornAtEu);
      missingGrant(run);
    });
    expect(checkS3(destroyed).holds).toBe(true);
    // Without the damaged disk, the missing grant is a violation.
    expect(checkS3(input(missingGrant)).holds).toBe(false);
  });
});

describe('S1 with debits a damaged disk destroyed', () => {
  const destroysEu3: HistoryRecord = {
    ...tornAtEu,
    t: 35,
    held: { [EU]: 3, [US]: 1 },
    kept: { [EU]: 2, [US]: 1 },
    elsewhere: { [EU]: 2, [US]: 1 },
  } as HistoryRecord;
  const spendsAgain: HistoryRecord = {
    type: 'debit',
    t: 36,
    region: 'eu',
    tenant: 'acme',
    key: 'k3',
    amount: 75,
    result: 'accepted',
    falseDecline: false,
    latencyMs: 2,
    debitId: 'eu.aaaaaaaa.5',
    ledger: { granted: 100, debited: 115, refunded: 5, expired: 0 },
  };

  it('flags spending past the grants, and stops counting a destroyed debit whose rights were spent again (seed 276)', () => {
    expect(checkS1(input(({ history }) => history.splice(4, 0, spendsAgain))).holds).toBe(false);
    const verdict = checkS1(input(({ history }) => history.splice(4, 0, destroysEu3, spendsAgain)));
    expect(verdict.holds).toBe(true);
    expect(verdict.note).toMatch(/1 acknowledged debits a damaged disk destroyed/);
  });
});

describe('S10 — no damaged record served', () => {
  const corrupt: HistoryRecord = {
    ...tornAtEu,
    damage: 'corrupt-end',
    outcome: 'refused',
    detail: 'bit 9 of v2/log/eu#aaaaaaaa/4 flipped',
    damagedKeys: ['v2/log/eu#aaaaaaaa/4'],
    kept: tornAtEu.held,
  } as HistoryRecord;

  it('holds when a node refuses to open on a record that fails its seal', () => {
    const verdict = checkS10(input(({ history }) => history.push(corrupt)));
    expect(verdict.holds).toBe(true);
    expect(verdict.note).toBe('1 restarts on damaged records checked');
  });

  it('flags a node that opened on a flipped bit or a misdirected read', () => {
    const verdict = checkS10(
      input(({ history }) => {
        history.push({ ...corrupt, outcome: 'opened' } as HistoryRecord);
        history.push({ ...corrupt, damage: 'misdirected-read', outcome: 'opened' } as HistoryRecord);
      }),
    );
    expect(verdict.holds).toBe(false);
    expect(verdict.violations).toBe(2);
    expect(verdict.first?.detail).toMatch(
      /eu opened on a disk whose v2\/log\/eu#aaaaaaaa\/4 read back wrong/,
    );
  });
});

describe('S11 — hostile frames change nothing', () => {
  const forged = '{"blocked":false,"overdraft":{"eu":-1000000},"weights":{}}';

  it('holds when no forged policy is in force and every origin stored is a real one', () => {
    const verdict = checkS11(
      input(({ final }) => {
        (final as Mutable<typeof final>).hostile = {
          tampered: 12,
          forgedPolicies: [forged],
          policies: {
            eu: { acme: '{"blocked":false,"overdraft":{"us":5},"weights":{}}' },
            us: { acme: null },
          },
        };
      }),
    );
    expect(verdict.holds).toBe(true);
    expect(verdict.note).toBe('12 frames tampered with');
  });

  it('flags a forged policy in force, a policy the API refuses, and events of an origin no node was', () => {
    const verdict = checkS11(
      input(({ final }) => {
        (final as Mutable<typeof final>).hostile = {
          tampered: 3,
          forgedPolicies: [forged],
          policies: {
            eu: { acme: forged },
            us: { acme: '{"blocked":false,"overdraft":{"us":1.5},"weights":{}}' },
          },
        };
        (final as Mutable<typeof final>).written = { ...final.written, 'eu#zzzzzzzz': [['f1']] };
      }),
    );
    expect(verdict.holds).toBe(false);
    expect(verdict.violations).toBe(3);
    const details = [verdict.first?.detail, verdict.worst?.detail].join('\n');
    expect(details).toMatch(/eu has the forged policy/);
    expect(details).toMatch(/eu#zzzzzzzz, which no node ever was/);
  });
});

describe('S2 after destroyed seqs were reused', () => {
  const overspent = (t: number): HistoryRecord => ({
    type: 'sample',
    t,
    tenant: 'acme',
    truth: 65,
    views: {},
    origins: { [US]: { region: 'us', rightsMin: -7, overdraftInUseMax: 0 } },
  });

  it('still flags an overspend before the damaged restart, and one when no destroyed seq was reused', () => {
    const before = checkS2(
      input(({ history, final }) => {
        history.push(overspent(30), tornAtEu);
        (final as Mutable<typeof final>).written = {
          [EU]: [['e1'], ['e2'], ['e3'], ['e4', 'x4']],
          [US]: [['u1']],
        };
      }),
    );
    expect(before.holds).toBe(false);
    const notReused = checkS2(input(({ history }) => history.push(tornAtEu, overspent(50))));
    expect(notReused.holds).toBe(false);
  });

  it('leaves out, and counts, what it observes after a restart whose destroyed seqs were reused', () => {
    const verdict = checkS2(
      input(({ history, final }) => {
        history.push(tornAtEu, overspent(50));
        (final as Mutable<typeof final>).written = {
          [EU]: [['e1'], ['e2'], ['e3'], ['e4', 'x4']],
          [US]: [['u1']],
        };
      }),
    );
    expect(verdict.holds).toBe(true);
    expect(verdict.note).toMatch(/; 3 after 40 ms left out: a damaged disk/);
  });
});
