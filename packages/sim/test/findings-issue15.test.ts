/**
 * Issue 15's soak findings, kept as regression cases: each is the scenario its swarm seed drew
 * (`randomScenario(seed)` as it was on 2026-12-01, in findings-issue15.json), run with that seed.
 * Replay one: `npx allot simulate --swarm 1 --seed N`.
 */
import { readFileSync } from 'node:fs';
import { type HistoryRecord, runSimulation, type SimulationResult, validateScenario } from '@allot/sim';
import { describe, expect, it } from 'vitest';

const DRAWN = JSON.parse(readFileSync(new URL('./findings-issue15.json', import.meta.url), 'utf8')) as Record<
  string,
  unknown
>;

async function run(seed: number): Promise<SimulationResult> {
  const result = await runSimulation(validateScenario(DRAWN[String(seed)]), seed);
  expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
  return result;
}

type StorageRecord = Extract<HistoryRecord, { type: 'storage' }>;
const storageOf = (result: SimulationResult) =>
  result.history.filter((record): record is StorageRecord => record.type === 'storage');
const noteOf = (result: SimulationResult, invariant: string) =>
  result.verdicts.find((verdict) => verdict.invariant === invariant)?.note ?? '';

describe('issue 15 soak findings', () => {
  /**
   * S8 (the replica): ap restarted on a disk that had lost part of its own log while the one peer
   * that held the rest was down; after the 2 s grace it trusted the peer it heard and reused those
   * seqs (also seeds 1271, 1453, 2183, 4541, 6237, 6395). Fixed: writes wait for every peer. In
   * this run eu reopens on a torn tail at 17 s while ap is down (17–24 s) and us paused (until
   * 17.4 s): it takes no write until ap is back. S8 holding (`run`) is the check on seqs: it fails on
   * a seq written again that another node held. One the damage destroyed before any peer held it
   * may be written again once every peer answered (S8 excuses it): since 5041471, whose borrowing
   * shifts the timing, the torn tail takes eu's seq 188, which no peer held, and eu writes it again.
   */
  it('seed 36: a node that lost its log tail waits for every peer, the silent one included', async () => {
    const result = await run(36);
    const restarts = storageOf(result).filter((record) => record.outcome === 'opened');
    expect(restarts.length).toBeGreaterThan(0);
    const reopened = restarts[0] as StorageRecord;
    const back = result.history.find(
      (record) => record.type === 'fault' && record.kind === 'crash' && record.phase === 'end',
    )?.t;
    expect(back).toBeGreaterThan(reopened.t);
    const writes = result.history.filter(
      (record) =>
        (record.type === 'debit' || record.type === 'grant') &&
        record.region === reopened.region &&
        record.t >= reopened.t &&
        record.t < (back ?? 0),
    );
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.filter((record) => 'result' in record && record.result === 'accepted')).toEqual([]);
  });

  /**
   * S3, S5, S8 (the checker): us lost its write-ahead log; ap alone held us's seq 52, and then ap's
   * disk was damaged, its replica refused it, and ap started on a new disk. Seq 52 was nowhere, us
   * wrote another event under it: destroyed by two faults, not forked (also 2485, 2687, 2785).
   */
  it('seed 1205: the last copy on a refused, replaced disk is destroyed, not forked', async () => {
    const result = await run(1205);
    expect(storageOf(result).some((record) => record.outcome === 'refused')).toBe(true);
    expect(noteOf(result, 'S8')).toMatch(/[1-9]\d* reused after a damaged disk/);
  });

  /**
   * S1 (the oracle): ap lost seqs 85–95 and wrote grant g1 under one of them; the true ledger,
   * one event per (origin, seq), left g1 out and saw an overspend (also 2567, 2619, 3837, 4156, 4652).
   */
  it('seed 3800: a grant written under a reused seq counts in the true ledger', async () => {
    const result = await run(3800);
    expect(noteOf(result, 'S8')).toMatch(/[1-9]\d* reused after a damaged disk/);
  });

  /** S1 (the oracle): ap's expiry of its share was destroyed and made again; counted twice, −5,981. */
  it('seed 4535: an expiry destroyed and made again counts once', async () => {
    const result = await run(4535);
    expect(noteOf(result, 'S8')).toMatch(/[1-9]\d* reused after a damaged disk/);
  });

  /**
   * S4, S5, S6, S9 (the simulator's wire): a hostile wire replayed into ap's next connection a frame
   * of events that ap's lost write-ahead log destroyed, after ap wrote others under those seqs. A
   * real connection is bound to its TLS channel: a replay only repeats frames of the same connection.
   */
  it('seed 5343: a hostile wire does not carry frames across connections', async () => {
    const result = await run(5343);
    expect(result.scenario.faults.map((fault) => fault.kind)).toEqual(
      expect.arrayContaining(['hostile', 'storage']),
    );
  });

  /**
   * S6 (the replica): a hostile wire rewrote ap's origin in its summaries to an invented incarnation
   * of ap; us relayed the name (seq 0: heard of, no events) to ap while ap was restarting, and the
   * successor rule took it for a newer incarnation of ap: ap never took writes again, so the refund
   * it owed for a key accepted at two regions never came (the key stayed charged twice). Also seed
   * 1887 (eu). Fixed: only a name the peer holds events of can show a successor.
   */
  it('seed 1283: an invented incarnation name relayed by a peer does not stop a restarting region', async () => {
    const result = await run(1283);
    expect(result.scenario.faults.map((fault) => fault.kind)).toEqual(
      expect.arrayContaining(['hostile', 'crash']),
    );
  });

  it('seed 1887: the same at eu, after halves and a crash', async () => {
    await run(1887);
  });

  /**
   * S6 (the replica): eu took key tenant-0/2/74 while ap was cut off, ap had taken it first; eu
   * crashed, restarted, folded ap's debit while it waited for us (paused) to confirm its log, so
   * the refund it owed waited in memory; eu crashed again before it was writable, and the restarted
   * eu folded ap's debit from its own disk: never received again, never refunded. Fixed: a start
   * hands every duplicate key it folds to the refund decision (recovery.ts).
   */
  it('seed 1560: a duplicate refund deferred before a crash is owed again after the restart', async () => {
    const result = await run(1560);
    expect(result.scenario.faults.filter((fault) => fault.kind === 'crash').length).toBe(2);
    expect(noteOf(result, 'S6')).toMatch(/[1-9]\d* taken at more than one region/);
  });
  /**
   * S5, S6 (the replica): eu and ap both restarted on new disks while us, which alone held their
   * earlier incarnations' logs, was paused. Each took the other's word that us had never started
   * (nobody either had heard of it) and took writes: eu granted again a g2 that ap's lost incarnation
   * had granted. When us came back, both took their earlier incarnations, fetched from us, for newer
   * ones and stopped writing for good, so eu never revoked its duplicate g2. Fixed: a newborn that
   * took writes without such a region takes what arrives from it later as older (successors.ts).
   */
  it('seed 5379: new incarnations that skipped a silent region take what it held as older', async () => {
    const result = await run(5379);
    expect(
      Object.keys(result.metrics.replicaLog ?? {}).filter((line) => line.includes('superseded')),
    ).toEqual([]);
    expect(noteOf(result, 'S6')).toMatch(/1 grant ids defined at two regions, revoked/);
  });

  /**
   * S3, S5, S8 (the oracle), soak of 2026-12-02 with 5 s of quiet instead of 20: us was restored
   * from a backup 167 commits old (it kept its seqs up to 120 of 162) while eu alone held 121–158
   * (ap's disk, the other copy, had been lost at 8.6 s); then eu's disk was lost too, at 19.8 s, with
   * the last copy. Once every peer had confirmed, us wrote seqs 121–158 again: unavoidable, two
   * disks held them and both are gone. But only a damaged disk's restart was recorded as destroying
   * seqs, never a lost disk, so the checkers called the acknowledged debits lost and the reused seqs
   * a fork. Fixed: a disk loss is recorded when it happens (damage `disk-loss`, outcome `lost`),
   * and what only that disk held of a live origin is destroyed, as for a refused disk.
   */
  it('seed 22486: what a lost disk held alone of a live origin is destroyed with it', async () => {
    const result = await run(22486);
    const lost = storageOf(result).filter((record) => record.outcome === 'lost');
    expect(lost.map((record) => record.region)).toEqual(['ap', 'eu']);
    expect(noteOf(result, 'S8')).toMatch(/[1-9]\d* reused after a damaged disk/);
  });

  /**
   * S1 (the oracle), soak of 2026-12-03 (with kept claimless asks sharing what arrives): ap's grant
   * g1 of 3,126, acknowledged at 5.2 s and held by eu and us, paid eu's debits through moved rights.
   * ap was restored from a backup 103 commits old (without g1) and had not fetched its tail again
   * when us crashed; eu's disk was lost and us's refused. g1 was then nowhere: destroyed, it left the
   * true ledger, while the debits it paid stayed, and the truth read −2,017 though no region spent
   * past its rights. Fixed: S1 counts an acknowledged grant a storage fault destroyed as granted
   * (DESIGN.md: "acknowledged grants"), once; the run records such grants (`destroyedGrants`).
   */
  it('seed 1303: an acknowledged grant destroyed everywhere still counts as granted', async () => {
    const result = await run(1303);
    const destroyed = storageOf(result).flatMap((record) => record.destroyedGrants ?? []);
    expect(destroyed).toContainEqual({ tenant: 'tenant-0', grantId: 'g1', amount: 3126 });
    expect(noteOf(result, 'S1')).toMatch(/3126 credits of acknowledged grants that storage faults destroyed/);
  });

  /**
   * S10 (the simulator's disk), swarm range 10,001–12,000 of 2026-12-03: eu's disk began to
   * misdirect reads of one of ap's segments at 10.8 s; eu crashed again at 16 s before it
   * restarted, and that crash's restart dropped the read fault (MemoryStore.crash made a store
   * without it), so eu opened at 22 s on a disk it must refuse. A read fault now lasts until healed.
   */
  it('seed 11912: a disk that misdirects reads still does after another crash', async () => {
    const result = await run(11912);
    const misdirected = storageOf(result).filter((record) => record.damage === 'misdirected-read');
    expect(misdirected.map((record) => [record.region, record.outcome])).toEqual([['eu', 'refused']]);
  });

  /**
   * S3, S5, S9 (the simulator), swarm range 12,001–14,000 of 2026-12-03: us lost its write-ahead
   * log at 8 s, with seqs 154–156 of its own log (debits it had acknowledged) that no peer held yet,
   * and at 10.3 s crashed on a misdirected read at the instant it restarted. The second damage
   * replaced the first before any start met it, so only the second was recorded: the debits the
   * lost log took counted as lost by the cluster. A damage no start met is now recorded (`untouched`)
   * before the next fault to the disk.
   */
  it('seed 13590: a damage no start met is recorded before the next one', async () => {
    const result = await run(13590);
    expect(storageOf(result).map((record) => [record.damage, record.outcome])).toEqual([
      ['lost-wal', 'untouched'],
      ['misdirected-read', 'refused'],
    ]);
    expect(noteOf(result, 'S3')).toMatch(/3 were lost with a disk before they replicated/);
  });
});
