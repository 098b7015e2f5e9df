/**
 * foldReceived keeps, of each folded debit's idempotency key, only what `keyCounts` asks for (the
 * replica: keys a debit of its own region may share), and still names every tenant it touched.
 */
import {
  createLedgerState,
  decodeSegment,
  encodeSegment,
  type LedgerEvent,
  makeEvent,
  tenantBalance,
} from '@allot/core';
import { describe, expect, it } from 'vitest';
import { foldReceived } from '../src/fold-received.js';
import type { WireSegment } from '../src/frames.js';
import { NO_SIGNATURE } from '../src/log.js';
import type { VerifiedSegment } from '../src/run-check.js';

const US = 'us#bbbbbbbb';

/** A segment of `events` as run-check passes it on: its signature kept (any bytes, not all zero) or not. */
function verified(events: LedgerEvent[], kept = true): VerifiedSegment {
  const bytes = encodeSegment(events);
  const first = events[0] as LedgerEvent;
  const signature = kept ? new Uint8Array(64).fill(1) : NO_SIGNATURE;
  const wire: WireSegment = { firstSeq: first.seq, lastSeq: first.seq + events.length - 1, bytes, signature };
  return { wire, hash: new Uint8Array(32).fill(first.seq), signature, decoded: decodeSegment(bytes) };
}

function run(): VerifiedSegment[] {
  let seq = 0;
  const event = (body: Parameters<typeof makeEvent>[1]) =>
    makeEvent({ origin: US, seq: ++seq, at: 1_000 + seq }, body);
  const grant = (tenant: string) =>
    event({ kind: 'grant', tenant, grantId: 'g1', amount: 100, priority: 100, expiresAt: null });
  const debit = (tenant: string, key: string) =>
    event({
      kind: 'debit',
      tenant,
      amount: 1,
      idempotencyKey: key,
      parts: [{ grantId: 'g1', amount: 1 }],
      overdraft: 0,
      metadata: null,
    });
  return [
    verified([grant('acme'), grant('globex')]),
    verified([debit('acme', 'k1'), debit('acme', 'k2'), debit('globex', 'k3')]),
  ];
}

describe('foldReceived', () => {
  it('keeps every debit key without a filter', () => {
    const folded = foldReceived(createLedgerState(), US, run());
    expect(folded.refused).toBeNull();
    expect(folded.events).toBe(5);
    expect(folded.touched).toEqual(
      new Map([
        ['acme', new Set(['k1', 'k2'])],
        ['globex', new Set(['k3'])],
      ]),
    );
  });

  it('stores a run the fold refused only up to its last kept signature, and says the state holds more', () => {
    let seq = 0;
    const event = (body: Parameters<typeof makeEvent>[1]) =>
      makeEvent({ origin: US, seq: ++seq, at: 1_000 + seq }, body);
    const grant = (grantId: string) =>
      event({ kind: 'grant', tenant: 'acme', grantId, amount: 100, priority: 100, expiresAt: null });
    const segments = [
      verified([grant('g1')]),
      verified([grant('g2')], false),
      verified([grant('g3')], false),
      // g1 again, with another amount: the fold refuses a grant it holds otherwise.
      verified([
        event({ kind: 'grant', tenant: 'acme', grantId: 'g1', amount: 7, priority: 100, expiresAt: null }),
      ]),
    ];
    const folded = foldReceived(createLedgerState(), US, segments);
    expect(folded.refused?.seq).toBe(4);
    expect(folded.refused?.partial).toBe(true);
    expect(folded.writes.map((write) => write.lastSeq)).toEqual([1]);
    expect(folded.events).toBe(1);
    expect(folded.last?.seq).toBe(1);
    expect(folded.last?.hash).toEqual(new Uint8Array(32).fill(1));
    // Refused at a segment after a kept one: nothing is cut and the state holds what is stored.
    const whole = foldReceived(createLedgerState(), US, [
      segments[0] as VerifiedSegment,
      segments[3] as VerifiedSegment,
    ]);
    expect(whole.refused?.partial).toBe(false);
    expect(whole.writes.map((write) => write.lastSeq)).toEqual([1]);
  });

  it('keeps only the keys the filter counts, asked once each debit is folded, and every tenant touched', () => {
    const state = createLedgerState();
    const asked: string[] = [];
    const folded = foldReceived(state, US, run(), (tenant, key) => {
      // The debit is in the fold when its key is asked about: the tenant's balance shows it.
      asked.push(`${tenant}/${key}:${tenantBalance(state, tenant)}`);
      return key === 'k2';
    });
    expect(asked).toEqual(['acme/k1:99', 'acme/k2:98', 'globex/k3:99']);
    expect(folded.touched).toEqual(
      new Map([
        ['acme', new Set(['k2'])],
        ['globex', new Set()],
      ]),
    );
    expect(folded.writes.map((write) => write.tenants)).toEqual([
      ['acme', 'globex'],
      ['acme', 'acme', 'globex'],
    ]);
  });
});
