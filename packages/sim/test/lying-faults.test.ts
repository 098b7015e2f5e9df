/**
 * Disks that lie and wires that forge (issue 15), run against the production replica: each storage
 * damage and a hostile wire on a small busy cluster, with every invariant checked.
 */
import {
  decodeFrame,
  encodeFrame,
  type HistoryRecord,
  HostileDirection,
  replaceAll,
  runSimulation,
  streamOf,
  unknownOrigin,
} from '@allot/sim';
import { DETECTABLE_DAMAGES, STORAGE_DAMAGES, type StorageDamage } from '@allot/store';
import { describe, expect, it } from 'vitest';
import { smallScenario } from './support.js';

type StorageRecord = Extract<HistoryRecord, { type: 'storage' }>;

describe('storage faults in a run', () => {
  it.each(STORAGE_DAMAGES.map((damage) => [damage]))(
    '%s: the region restarts on its damaged disk and every invariant holds',
    async (damage: StorageDamage) => {
      const scenario = smallScenario([{ kind: 'storage', region: 'eu', damage, atS: 5, forS: 1 }], {
        durationS: 8,
        quietS: 12,
      });
      const result = await runSimulation(scenario, 7);
      const failed = result.verdicts.filter((verdict) => !verdict.holds);
      expect(failed).toEqual([]);
      const storage = result.history.filter((record): record is StorageRecord => record.type === 'storage');
      expect(storage).toHaveLength(1);
      const [record] = storage as [StorageRecord];
      // A seal that fails stops the open, and so does a head older than its log (recovery reads past
      // each head); lost commits leave a consistent older state, which opens.
      const refuses = DETECTABLE_DAMAGES.has(damage) || damage === 'stale-read';
      expect(record.outcome).toBe(refuses ? 'refused' : 'opened');
      if (record.outcome === 'refused') expect(result.final?.lostOrigins).toHaveLength(1);
    },
  );

  it('a lost WAL whose commits the peers hold: the region fetches its own log back, nothing is excused', async () => {
    const scenario = smallScenario([{ kind: 'storage', region: 'eu', damage: 'lost-wal', atS: 6, forS: 1 }], {
      durationS: 10,
      quietS: 12,
    });
    const result = await runSimulation(scenario, 11);
    const [record] = result.history.filter((entry): entry is StorageRecord => entry.type === 'storage');
    const own = Object.keys(record?.held ?? {}).find((origin) => origin.startsWith('eu#')) as string;
    expect(record?.kept[own]).toBeLessThan(record?.held[own] ?? 0);
    expect(result.verdicts.every((verdict) => verdict.holds)).toBe(true);
    // Whatever a peer held when the WAL was lost came back: nothing acknowledged is excused.
    if ((record?.elsewhere[own] ?? 0) >= (record?.held[own] ?? 0))
      expect(result.verdicts.find((verdict) => verdict.invariant === 'S3')?.note).not.toMatch(/lost/);
  });
  /**
   * Finding 15.3 (S11, the harness): swarm seed 257. eu's disk was restored from the oldest backup,
   * taken before its first compaction: an empty disk, so eu came back as a new incarnation, and S11
   * found events of the old one that "no node ever was". Fixed: that incarnation is lost, as with a
   * disk loss (its rights stranded, what it never replicated excused).
   */
  it('old-backup from before the first compaction: an empty disk, a new incarnation, the old one lost', async () => {
    // At 2.5 s eu has made one compaction (64 commits) but not two, so its only backup is the
    // empty disk from before the first (at 2 s it had not compacted yet since issue 12's borrowing
    // changes: a plain crash, nothing to restore).
    const scenario = smallScenario(
      [{ kind: 'storage', region: 'eu', damage: 'old-backup', atS: 2.5, forS: 1 }],
      {
        durationS: 6,
        quietS: 12,
      },
    );
    const result = await runSimulation(scenario, 3);
    expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
    const [record] = result.history.filter((entry): entry is StorageRecord => entry.type === 'storage');
    expect(record?.kept).toEqual({});
    const old = Object.keys(record?.held ?? {}).find((origin) => origin.startsWith('eu#'));
    expect(result.final?.lostOrigins).toEqual([old]);
    expect(result.final?.regions.eu?.origin).not.toBe(old);
  });
});

describe('a hostile wire', () => {
  it('changes nothing: every tampered frame is refused or verified away, and every invariant holds', async () => {
    const scenario = smallScenario([{ kind: 'hostile', from: 'us', atS: 1, forS: 6 }], {
      durationS: 8,
      quietS: 12,
    });
    const result = await runSimulation(scenario, 5);
    expect(result.verdicts.filter((verdict) => !verdict.holds)).toEqual([]);
    const s11 = result.verdicts.find((verdict) => verdict.invariant === 'S11');
    expect(s11?.note).toMatch(/^[1-9][0-9]* frames tampered with$/);
    expect(result.final?.hostile?.forgedPolicies.length).toBeGreaterThan(0);
    // The receivers noticed: links dropped for bytes that do not parse and for frames that do not verify.
    const drops = Object.keys(result.metrics.network?.drops ?? {});
    expect(drops.some((reason) => reason.startsWith('hostile bytes refused by the transport'))).toBe(true);
    expect(drops.some((reason) => !reason.startsWith('hostile bytes'))).toBe(true);
  });

  it('is deterministic: the same seed gives the same history', async () => {
    const scenario = smallScenario([{ kind: 'hostile', from: 'eu', to: 'ap', atS: 1, forS: 4 }], {
      durationS: 6,
      quietS: 10,
    });
    const [a, b] = await Promise.all([runSimulation(scenario, 9), runSimulation(scenario, 9)]);
    expect(a.historyHash).toBe(b.historyHash);
  });

  it('tampers at the byte level: frames round-trip, and forged names keep their length', () => {
    const frame = { type: 'pull', origin: 'eu#abcdefgh', fromSeq: 3 } as const;
    const bytes = encodeFrame(frame);
    expect(decodeFrame(bytes)).toEqual({ frame });
    expect(decodeFrame(bytes.subarray(0, bytes.length - 2))).toHaveProperty('problem');
    const other = unknownOrigin('eu#abcdefgh');
    expect(other).toMatch(/^eu#[a-z2-7]{8}$/);
    expect(other).not.toBe('eu#abcdefgh');
    expect(unknownOrigin('eu#abcdefgh', true)).toMatch(/^(?!eu#)[a-z2-7]{2}#[a-z2-7]{8}$/);
    const forged = replaceAll(
      bytes,
      new TextEncoder().encode('eu#abcdefgh'),
      new TextEncoder().encode(other),
    );
    expect(decodeFrame(forged as Uint8Array)).toEqual({ frame: { ...frame, origin: other } });
    expect(
      replaceAll(bytes, new TextEncoder().encode('nowhere'), new TextEncoder().encode('nothere')),
    ).toBeNull();
  });

  it('draws every tampering, and a forged control update carries a policy the API refuses', () => {
    const wire = new HostileDirection(
      streamOf(1, 'test'),
      () => ({ own: 'us#bbbbbbbb', others: ['eu#aaaaaaaa'] }),
      ['acme'],
    );
    const summary = {
      type: 'summary',
      versionVector: { 'us#bbbbbbbb': 4 },
      control: new Uint8Array([0]),
    } as const;
    const kinds = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const out = wire.tamper(summary, 0);
      kinds.add(
        out.kind === 'refuse'
          ? 'refuse'
          : out.frames.length > 1
            ? 'extra'
            : out.overtakes > 0
              ? 'reorder'
              : 'one',
      );
    }
    expect([...kinds].sort()).toEqual(['extra', 'one', 'refuse', 'reorder']);
    expect(wire.tampered).toBe(200);
    expect([...wire.forgedPolicies]).toEqual(['{"blocked":false,"overdraft":{"us":-1000000},"weights":{}}']);
  });

  it('replays only frames of the same connection (swarm seed 5343)', () => {
    const wire = new HostileDirection(
      streamOf(5343, 'test'),
      () => ({ own: 'us#bbbbbbbb', others: ['eu#aaaaaaaa'] }),
      ['acme'],
    );
    const summaryAt = (seq: number) =>
      ({ type: 'summary', versionVector: { 'us#bbbbbbbb': seq }, control: new Uint8Array([0]) }) as const;
    const seqsOf = (frames: readonly unknown[]) =>
      frames.map(
        (frame) => (frame as { versionVector?: Record<string, number> }).versionVector?.['us#bbbbbbbb'],
      );
    let replayed = 0;
    for (let i = 0; i < 50; i++) wire.tamper(summaryAt(1), 0); // the first connection
    for (let i = 0; i < 200; i++) {
      const out = wire.tamper(summaryAt(2), 1); // the next one: nothing of the first may come back
      if (out.kind !== 'deliver') continue;
      const seqs = seqsOf(out.frames).filter((seq) => seq !== undefined);
      if (seqs.length > 1) replayed += 1;
      expect(seqs.every((seq) => seq === 2)).toBe(true);
    }
    expect(replayed).toBeGreaterThan(0);
  });
});
