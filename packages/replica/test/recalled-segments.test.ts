/**
 * The segments a replica keeps after reading them back for a recall (cold-records.ts): found by
 * origin and seq, kept once, the first kept dropped first past the byte bound, the newest always.
 */
import { encodeSegment, type LedgerEvent, SegmentRecords } from '@allot/core';
import { describe, expect, it } from 'vitest';
import { RecalledSegments } from '../src/cold-records.js';

const debits = (origin: string, firstSeq: number, count: number): LedgerEvent[] =>
  Array.from(
    { length: count },
    (_, i) =>
      ({
        kind: 'debit',
        origin,
        seq: firstSeq + i,
        at: 1_000 + i,
        tenant: 'acme',
        amount: 1,
        idempotencyKey: `k-${origin}-${firstSeq + i}`,
        parts: [{ grantId: 'g1', amount: 1 }],
        overdraft: 0,
        metadata: null,
      }) as LedgerEvent,
  );

const segment = (origin: string, firstSeq: number, count: number) =>
  new SegmentRecords(encodeSegment(debits(origin, firstSeq, count)));

describe('RecalledSegments: stored segments kept for the recalls that follow', () => {
  it('finds the kept segment holding a seq of an origin, whatever order they were kept in', () => {
    const kept = new RecalledSegments(1 << 20);
    const eu = [segment('eu#aaaaaaaa', 11, 10), segment('eu#aaaaaaaa', 1, 10), segment('eu#aaaaaaaa', 31, 5)];
    const us = segment('us#bbbbbbbb', 1, 50);
    for (const one of [...eu, us]) kept.keep(one);
    expect(kept.find('eu#aaaaaaaa', 1)).toBe(eu[1]);
    expect(kept.find('eu#aaaaaaaa', 10)).toBe(eu[1]);
    expect(kept.find('eu#aaaaaaaa', 11)).toBe(eu[0]);
    expect(kept.find('eu#aaaaaaaa', 20)).toBe(eu[0]);
    expect(kept.find('eu#aaaaaaaa', 21)).toBeUndefined(); // 21–30 never read
    expect(kept.find('eu#aaaaaaaa', 35)).toBe(eu[2]);
    expect(kept.find('eu#aaaaaaaa', 36)).toBeUndefined();
    expect(kept.find('us#bbbbbbbb', 50)).toBe(us);
    expect(kept.find('ap#cccccccc', 1)).toBeUndefined();
    expect(kept.find('us#bbbbbbbb', 50)?.event(49)).toMatchObject({
      seq: 50,
      idempotencyKey: 'k-us#bbbbbbbb-50',
    });
  });

  it('keeps a segment once when two recalls read it at the same time', () => {
    const kept = new RecalledSegments(1 << 20);
    const first = segment('eu#aaaaaaaa', 1, 10);
    kept.keep(first);
    const bytes = kept.size;
    kept.keep(segment('eu#aaaaaaaa', 1, 10));
    expect(kept.size).toBe(bytes);
    expect(kept.find('eu#aaaaaaaa', 5)).toBe(first);
  });

  it('drops the first kept past its bound, and keeps the newest even when it alone is past it', () => {
    const segments = [1, 21, 41].map((first) => segment('eu#aaaaaaaa', first, 20));
    const [, second, third] = segments as [SegmentRecords, SegmentRecords, SegmentRecords];
    const bound = second.retainedBytes + third.retainedBytes;
    const kept = new RecalledSegments(bound);
    for (const each of segments) kept.keep(each);
    expect(kept.size).toBe(bound);
    expect(kept.find('eu#aaaaaaaa', 1)).toBeUndefined();
    expect(kept.find('eu#aaaaaaaa', 21)).toBe(second);
    expect(kept.find('eu#aaaaaaaa', 41)).toBe(third);
    const large = segment('us#bbbbbbbb', 1, 200);
    kept.keep(large);
    expect(kept.size).toBe(large.retainedBytes);
    expect(kept.find('eu#aaaaaaaa', 41)).toBeUndefined();
    expect(kept.find('us#bbbbbbbb', 200)).toBe(large);
  });
});
