import { encodeSegment } from '@allot/core';
import type { ReplicationFrame } from '@allot/replica';
import { blockedPairs, cloneFrame, frameBytes } from '@allot/sim';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const segments: ReplicationFrame = {
  type: 'segments',
  origin: 'eu#abcdefghabcdefgh',
  segments: [
    {
      firstSeq: 1,
      lastSeq: 1,
      bytes: encodeSegment([
        {
          kind: 'debit',
          origin: 'eu#abcdefghabcdefgh',
          seq: 1,
          at: 1_893_456_000_000,
          tenant: 'acme',
          amount: 5,
          idempotencyKey: 'k-1',
          parts: [{ grantId: 'g1', amount: 5 }],
          overdraft: 0,
          metadata: { note: 'a', nested: [1, true, null] },
        },
      ]),
      signature: new Uint8Array(64).fill(9),
    },
  ],
};

describe('frames on the simulated wire', () => {
  it('are copied like structuredClone copies them, sharing nothing with the sender', () => {
    const copy = cloneFrame(segments);
    expect(copy).toEqual(structuredClone(segments));
    if (copy.type !== 'segments' || segments.type !== 'segments') throw new Error('unreachable');
    expect(copy.segments[0]?.signature).not.toBe(segments.segments[0]?.signature);
    (copy.segments[0]?.signature as Uint8Array)[0] = 0;
    expect(segments.segments[0]?.signature[0]).toBe(9);
  });

  it('copy any plain data as structuredClone does (property)', () => {
    const data = fc.letrec((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.integer(),
        fc.double({ noNaN: true }),
        fc.string(),
        fc.uint8Array({ maxLength: 16 }),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    fc.assert(
      fc.property(data, (value) => {
        expect(cloneFrame(value)).toEqual(structuredClone(value));
      }),
      { numRuns: 300 },
    );
  });

  it('are counted at about their JSON size, byte arrays by their length', () => {
    const summary: ReplicationFrame = {
      type: 'summary',
      versionVector: { 'eu#abcdefgh': 12 },
      control: new Uint8Array(10),
    };
    // {"type":"summary","versionVector":{"eu#abcdefgh":12},"control":<10 bytes>}
    expect(frameBytes(summary)).toBe(
      JSON.stringify({ type: 'summary', versionVector: { 'eu#abcdefgh': 12 }, control: '' }).length - 2 + 10,
    );
    expect(frameBytes(segments)).toBeGreaterThan(64);
  });
});

describe('partitions', () => {
  const regions = ['eu', 'us', 'ap', 'sa', 'af'];
  const cut = (pairs: Set<string>, a: string, b: string) => pairs.has(`${a}>${b}`) && pairs.has(`${b}>${a}`);

  it('isolate cuts one region from all others, both ways', () => {
    const pairs = blockedPairs({ kind: 'isolate', region: 'us', atS: 0, forS: 1 }, regions);
    expect(pairs.size).toBe(8);
    for (const other of ['eu', 'ap', 'sa', 'af']) expect(cut(pairs, 'us', other)).toBe(true);
  });

  it('halves cut exactly the links between groups', () => {
    const pairs = blockedPairs(
      {
        kind: 'halves',
        groups: [
          ['eu', 'us'],
          ['ap', 'sa', 'af'],
        ],
        atS: 0,
        forS: 1,
      },
      regions,
    );
    expect(cut(pairs, 'eu', 'ap')).toBe(true);
    expect(cut(pairs, 'us', 'af')).toBe(true);
    expect(cut(pairs, 'eu', 'us')).toBe(false);
    expect(cut(pairs, 'ap', 'af')).toBe(false);
    expect(pairs.size).toBe(2 * 2 * 3);
  });

  it('a ring keeps each region linked to its two neighbours only', () => {
    const pairs = blockedPairs({ kind: 'ring', atS: 0, forS: 1 }, regions);
    expect(cut(pairs, 'eu', 'us')).toBe(false);
    expect(cut(pairs, 'af', 'eu')).toBe(false);
    expect(cut(pairs, 'eu', 'ap')).toBe(true);
    expect(cut(pairs, 'us', 'sa')).toBe(true);
    expect(pairs.size).toBe(2 * 5); // 10 pairs of 5 regions, 5 of them neighbours
  });

  it('a bridge joins two halves that are cut from each other', () => {
    const pairs = blockedPairs({ kind: 'bridge', bridge: 'us', atS: 0, forS: 1 }, ['eu', 'us', 'ap']);
    expect(cut(pairs, 'eu', 'ap')).toBe(true);
    expect(cut(pairs, 'eu', 'us')).toBe(false);
    expect(cut(pairs, 'us', 'ap')).toBe(false);
  });

  it('one-way drops one direction only; flapping cuts both', () => {
    expect([...blockedPairs({ kind: 'one-way', from: 'eu', to: 'us', atS: 0, forS: 1 }, regions)]).toEqual([
      'eu>us',
    ]);
    const flapping = blockedPairs(
      { kind: 'flapping', from: 'eu', to: 'us', periodS: 1, atS: 0, forS: 1 },
      regions,
    );
    expect(cut(flapping, 'eu', 'us')).toBe(true);
  });
});
