import { describe, expect, it } from 'vitest';
import { formatLine, SseParser } from '../src/commands/tail.js';

describe('allot tail', () => {
  it('parses Server-Sent Events split anywhere, keeping the last id and skipping heartbeats', () => {
    const parser = new SseParser();
    const text =
      'retry: 2000\nid: c0\n\n: heartbeat\n\nid: c1\ndata: {"kind":"grant"}\n\nevent: alert\ndata: {"alertId":"a"}\n\n';
    const messages = [];
    for (let i = 0; i < text.length; i += 7) messages.push(...parser.push(text.slice(i, i + 7)));
    expect(messages.filter((message) => message.data !== '')).toEqual([
      { event: 'message', id: 'c1', data: '{"kind":"grant"}' },
      { event: 'alert', id: null, data: '{"alertId":"a"}' },
    ]);
    expect(parser.lastId).toBe('c1');
  });

  it('prints an event and an alert as one line each', () => {
    const event = {
      origin: 'eu#abcdefgh',
      seq: 7,
      kind: 'debit',
      tenant: 'acme',
      at: '2026-12-01T00:00:00.000Z',
      amount: 3,
      idempotencyKey: 'req-1',
    };
    expect(formatLine({ event: 'message', id: 'c7', data: JSON.stringify(event) }, false)).toBe(
      '2026-12-01T00:00:00.000Z debit    acme 3 key=req-1 eu#abcdefgh:7',
    );
    expect(
      JSON.parse(formatLine({ event: 'message', id: 'c7', data: JSON.stringify(event) }, true) ?? ''),
    ).toEqual({
      id: 'c7',
      event,
    });
    const alert = {
      alertId: 'a1',
      tenant: 'acme',
      threshold: 500,
      balance: 400,
      at: '2026-12-01T00:00:01.000Z',
    };
    expect(formatLine({ event: 'alert', id: null, data: JSON.stringify(alert) }, false)).toBe(
      '2026-12-01T00:00:01.000Z ALERT    acme balance 400 below 500 (alert a1)',
    );
    expect(formatLine({ event: 'message', id: 'c0', data: '' }, false)).toBeNull();
  });
});
