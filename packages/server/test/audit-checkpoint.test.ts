/**
 * audit-checkpoint.ts's comparison of a node's checkpoint with the refold of the logs at its
 * vector: equal bytes pass; a head hash that is not the chain's is named with origin and seq; a
 * checkpoint of another fold is named by its first differing byte; and one that differs only as
 * the node's retention sweep explains (older key-index buckets dropped) passes with a note saying
 * from which time records were forgotten — never a silent pass.
 */
import {
  applyEvent,
  createLedgerState,
  encodeCheckpoint,
  forgetAllRecordsBefore,
  type LedgerEvent,
  type LedgerState,
  makeEvent,
  originId,
  type TenantEventBody,
} from '@allot/core';
import { describe, expect, it } from 'vitest';
import { type CheckedCheckpoint, compareCheckpoint } from '../src/audit-checkpoint.js';

const EU = originId('eu', 'aaaaaaaa');
const HOUR = 3_600_000;
const T0 = 1_796_083_200_000; // 2026-12-01T00:00:00Z, a bucket start
const WINDOW = { records: 0, bucketMs: HOUR };

function log(debitAmount = 10): LedgerEvent[] {
  const body = (seq: number): TenantEventBody =>
    seq === 1
      ? { kind: 'grant', tenant: 'acme', grantId: 'g1', amount: 1_000, priority: 100, expiresAt: null }
      : {
          kind: 'debit',
          tenant: 'acme',
          amount: seq === 2 ? debitAmount : 5,
          idempotencyKey: `k-${seq}`,
          parts: [{ grantId: 'g1', amount: seq === 2 ? debitAmount : 5 }],
          overdraft: 0,
          metadata: null,
        };
  // seq 2 in the first hour, seq 3 three hours later.
  return [1, 2, 3].map((seq) =>
    makeEvent({ origin: EU, seq, at: T0 + (seq === 3 ? 3 * HOUR : seq) }, body(seq)),
  );
}

function fold(events: LedgerEvent[]): LedgerState {
  const state = createLedgerState({ recordWindow: WINDOW });
  for (const event of events) expect(applyEvent(state, event)).toBe('applied');
  return state;
}

const CHAIN = new Map([[EU, new Uint8Array(32).fill(9)]]);

function checkpointOf(state: LedgerState): CheckedCheckpoint {
  return { bytes: encodeCheckpoint(state, CHAIN), vector: { [EU]: 3 }, heads: CHAIN, bucketMs: HOUR };
}

describe('compareCheckpoint', () => {
  it('passes the checkpoint of the same fold, byte for byte, with no note', () => {
    expect(compareCheckpoint(checkpointOf(fold(log())), fold(log()), CHAIN)).toEqual({ note: null });
  });

  it('names a head hash that is not the chain’s, with origin and seq', () => {
    const other = new Map([[EU, new Uint8Array(32).fill(8)]]);
    expect(compareCheckpoint(checkpointOf(fold(log())), fold(log()), other)).toMatchObject({
      file: 'checkpoint.bin',
      origin: EU,
      seq: 3,
      problem: expect.stringContaining('head hash'),
    });
  });

  it('names the first differing byte of a checkpoint of another fold at the same vector', () => {
    const verdict = compareCheckpoint(checkpointOf(fold(log(11))), fold(log()), CHAIN);
    expect(verdict).toMatchObject({
      file: 'checkpoint.bin',
      problem: expect.stringMatching(
        /^byte \d+ differs from core's encoding of the logs refolded to its vector/,
      ),
    });
  });

  it('passes a node that had swept its old records, saying from when, and only then', () => {
    const node = fold(log());
    forgetAllRecordsBefore(node, T0 + 2 * HOUR);
    const swept = checkpointOf(node);
    expect(swept.bytes).not.toEqual(checkpointOf(fold(log())).bytes);
    const verdict = compareCheckpoint(swept, fold(log()), CHAIN) as { note: string };
    expect(verdict.note).toMatch(/records before 2026-12-01T03:00:00\.000Z are forgotten .*retention sweep/);
    // A sweep does not excuse another fold.
    const other = fold(log(11));
    forgetAllRecordsBefore(other, T0 + 2 * HOUR);
    expect(compareCheckpoint(checkpointOf(other), fold(log()), CHAIN)).toMatchObject({
      file: 'checkpoint.bin',
    });
  });
});
