import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { API_TIME_MS_MAX } from '../src/limits.js';
import { formatRfc3339, parseRfc3339 } from '../src/time.js';

describe('RFC 3339 at the edge', () => {
  it('parses UTC, offsets, fractions and lowercase separators', () => {
    expect(parseRfc3339('2027-01-01T00:00:00Z')).toBe(Date.UTC(2027, 0, 1));
    expect(parseRfc3339('2027-01-01t00:00:00z')).toBe(Date.UTC(2027, 0, 1));
    expect(parseRfc3339('2027-01-01T02:30:00+02:30')).toBe(Date.UTC(2027, 0, 1));
    expect(parseRfc3339('2026-12-31T19:00:00-05:00')).toBe(Date.UTC(2027, 0, 1));
    expect(parseRfc3339('2027-01-01T00:00:00.5Z')).toBe(Date.UTC(2027, 0, 1) + 500);
    // Finer than a millisecond: truncated, the ledger keeps milliseconds.
    expect(parseRfc3339('2027-01-01T00:00:00.123999999Z')).toBe(Date.UTC(2027, 0, 1) + 123);
    expect(parseRfc3339('2028-02-29T00:00:00Z')).toBe(Date.UTC(2028, 1, 29));
    expect(parseRfc3339('1970-01-01T00:00:00Z')).toBe(0);
    expect(parseRfc3339('9999-12-31T23:59:59.999Z')).toBe(API_TIME_MS_MAX);
  });

  it.each([
    ['', 'empty'],
    ['2027-01-01', 'a date only'],
    ['2027-01-01T00:00:00', 'no zone'],
    ['2027-01-01 00:00:00Z', 'a space for T'],
    ['2027-02-29T00:00:00Z', 'no 29 February in 2027'],
    ['2026-04-31T00:00:00Z', 'no 31 April'],
    ['2027-13-01T00:00:00Z', 'month 13'],
    ['2027-00-01T00:00:00Z', 'month 0'],
    ['2027-01-00T00:00:00Z', 'day 0'],
    ['2027-01-01T24:00:00Z', 'hour 24'],
    ['2027-01-01T00:60:00Z', 'minute 60'],
    ['2016-12-31T23:59:60Z', 'a leap second'],
    ['2027-01-01T00:00:00+24:00', 'offset hour 24'],
    ['2027-01-01T00:00:00+01:60', 'offset minute 60'],
    ['2027-01-01T00:00:00.Z', 'an empty fraction'],
    ['1969-12-31T23:59:59Z', 'before the epoch'],
    ['1970-01-01T00:00:00+00:01', 'before the epoch by its offset'],
    ['10000-01-01T00:00:00Z', 'a five-digit year'],
    ['+002027-01-01T00:00:00Z', 'an extended year'],
    ['2027-01-01T00:00:00Z ', 'a trailing space'],
    ['１９７０-01-01T00:00:00Z', 'non-ASCII digits'],
  ])('refuses %j (%s)', (text) => {
    expect(parseRfc3339(text)).toBeNull();
  });

  it('formats as UTC with milliseconds, and parses back what it formats', () => {
    expect(formatRfc3339(Date.UTC(2027, 0, 1))).toBe('2027-01-01T00:00:00.000Z');
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: API_TIME_MS_MAX }),
        (ms) => parseRfc3339(formatRfc3339(ms)) === ms,
      ),
      { numRuns: 500 },
    );
  });
});
