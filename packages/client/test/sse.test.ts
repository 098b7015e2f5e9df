/** The SSE parser: the WHATWG rules, any split of the bytes into chunks, and a bound on lines. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllotStreamError } from '../src/errors.js';
import { STREAM_LINE_BYTES_MAX } from '../src/limits.js';
import { SseParser } from '../src/stream.js';

const TEXT = [
  ': a comment, then a retry field nobody needs',
  'retry: 1000',
  '',
  'id: c1',
  'event: debit',
  'data: {"amount":3,',
  'data: "tenant":"acme"}',
  '',
  'data:{"plain":true}',
  '',
  'id: c3\r',
  'event: alert\r',
  'data: {"threshold":10}\r',
  '\r',
  '',
].join('\n');

const EXPECTED = [
  { event: 'debit', id: 'c1', data: '{"amount":3,\n"tenant":"acme"}' },
  // The last id persists into the next block (WHATWG).
  { event: 'message', id: 'c1', data: '{"plain":true}' },
  { event: 'alert', id: 'c3', data: '{"threshold":10}' },
];

describe('SseParser', () => {
  it('reads fields, joins data lines, keeps the last id, ignores comments and unknown fields', () => {
    expect(new SseParser().push(TEXT)).toEqual(EXPECTED);
  });

  it('gives the same events however the text is cut into chunks', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: TEXT.length - 1 }), { maxLength: 12 }), (cuts) => {
        const parser = new SseParser();
        const bounds = [0, ...cuts.sort((a, b) => a - b), TEXT.length];
        const events = bounds.slice(1).flatMap((end, index) => parser.push(TEXT.slice(bounds[index], end)));
        expect(events).toEqual(EXPECTED);
      }),
    );
  });

  it('moves the last event id at the end of a block, an id-only block too, a cut block not yet', () => {
    const parser = new SseParser();
    expect(parser.push('retry: 2000\nid: c0\n\n')).toEqual([]);
    expect(parser.lastEventId).toBe('c0');
    expect(parser.push('id: c1\ndata: {}')).toEqual([]);
    expect(parser.lastEventId).toBe('c0');
    expect(parser.push('\n\n')).toEqual([{ event: 'message', id: 'c1', data: '{}' }]);
    expect(parser.lastEventId).toBe('c1');
  });

  it('refuses a line longer than its limit', () => {
    const parser = new SseParser();
    expect(() => parser.push(`data: ${'x'.repeat(STREAM_LINE_BYTES_MAX)}`)).toThrow(AllotStreamError);
  });
});
