import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  controlKey,
  cursorOf,
  headKey,
  isCursor,
  parseControlKey,
  parseCursor,
  parseHeadKey,
  parseSegmentKey,
  parseTenantKey,
  StoreCursorError,
  segmentEnd,
  segmentKey,
  tenantKey,
  tenantRange,
} from '../src/index.js';
import { EU } from './support.js';

const seqArb = fc.oneof(
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.integer({ min: 0, max: 1_000 }),
);

describe('key layout v3', () => {
  it('spells each key under v3/', () => {
    expect(segmentKey(EU, 42)).toBe('v3/seg/eu#aaaaaaaa/0000000000000042');
    expect(headKey(EU)).toBe('v3/head/eu#aaaaaaaa');
    expect(tenantKey('a.b:c-d_e', 7)).toBe('v3/tenant/a.b:c-d_e/0000000000000007');
    expect(controlKey(3)).toBe('v3/control/0000000000000003');
    expect(segmentKey(EU, Number.MAX_SAFE_INTEGER)).toBe('v3/seg/eu#aaaaaaaa/9007199254740991');
  });

  it('orders numbers in keys as numbers', () => {
    fc.assert(
      fc.property(seqArb, seqArb, (a, b) => {
        const [ka, kb] = [segmentKey(EU, a), segmentKey(EU, b)];
        expect(ka < kb).toBe(a < b);
        expect(tenantKey('acme', a) < tenantKey('acme', b)).toBe(a < b);
        expect(controlKey(a) < controlKey(b)).toBe(a < b);
      }),
      { numRuns: 1000 },
    );
  });

  it('parses what it spells, and nothing else', () => {
    expect(parseSegmentKey(segmentKey(EU, 9))).toEqual({ origin: EU, lastSeq: 9 });
    expect(parseHeadKey(headKey(EU))).toBe(EU);
    expect(parseTenantKey(tenantKey('a.b', 5))).toEqual({ tenant: 'a.b', entry: 5 });
    expect(parseControlKey(controlKey(5))).toBe(5);
    for (const key of [
      'v3/seg/eu#aaaaaaaa/12',
      'v3/seg/eu/0000000000000001',
      'v3/meta',
      'v3/seg/eu#aaaaaaaa/0000000000000000',
      'v2/log/eu#aaaaaaaa/0000000000000001',
    ]) {
      expect(parseSegmentKey(key), key).toBeNull();
    }
    expect(parseTenantKey('v3/tenant/a/b/0000000000000001')).toBeNull();
    expect(parseControlKey('v3/control/x')).toBeNull();
  });

  it('keeps one tenant apart from a tenant whose id it prefixes', () => {
    const range = tenantRange('acme', 0);
    for (const other of ['acme.x', 'acme:1', 'acme-', 'acme_', 'acmf', 'acm']) {
      const key = tenantKey(other, 1);
      expect(key > range.gt && key <= range.lte, other).toBe(false);
    }
    expect(tenantKey('acme', 1) > range.gt && tenantKey('acme', 1) <= range.lte).toBe(true);
    const other = segmentKey('eu#aaaaaaaab', 1);
    expect(other >= segmentKey(EU, 1) && other < segmentEnd(EU)).toBe(false);
  });

  it('refuses ids that would make the layout ambiguous', () => {
    expect(() => tenantKey('a/b', 1)).toThrow(TypeError);
    expect(() => segmentKey('eu/x#aaaaaaaa', 1)).toThrow(TypeError);
    expect(() => segmentKey(EU, -1)).toThrow(RangeError);
    expect(() => segmentKey(EU, 1.5)).toThrow(RangeError);
  });
});

describe('tenant cursors', () => {
  it('round-trips every entry number', () => {
    fc.assert(
      fc.property(seqArb, (entry) => {
        expect(parseCursor(cursorOf(entry), Number.MAX_SAFE_INTEGER)).toBe(entry);
      }),
      { numRuns: 1000 },
    );
    expect(parseCursor(null, 0)).toBe(0);
  });

  it('refuses a cursor past the last entry, or not in canonical form', () => {
    expect(() => parseCursor(cursorOf(11), 10)).toThrow(/past the last event/);
    for (const cursor of ['', '0a0', 'A', '00', 'abc', 'zzzzzzzzzzz', '1 ', '0000000000A', '000000000001']) {
      expect(() => parseCursor(cursor, Number.MAX_SAFE_INTEGER), cursor).toThrow(
        /not a cursor of this store/,
      );
      expect(isCursor(cursor), cursor).toBe(false);
    }
    expect(() => parseCursor('abc', Number.MAX_SAFE_INTEGER)).toThrow(StoreCursorError);
    expect(isCursor(cursorOf(0))).toBe(true);
    expect(isCursor(cursorOf(Number.MAX_SAFE_INTEGER))).toBe(true);
    expect(cursorOf(Number.MAX_SAFE_INTEGER)).toHaveLength(11);
  });
});
