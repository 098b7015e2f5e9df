/**
 * Checkpoint properties (issue 11): fold(checkpoint at a prefix + the tail) is the fold of the
 * whole log (same checkpoint bytes, same balances, same decisions); the encoding is canonical
 * (arrival order does not show, a decoded checkpoint re-encodes to its bytes); and damaged bytes
 * only ever give a CheckpointError or another valid checkpoint, never another kind of failure.
 */
import {
  applyEvent,
  type Canonical,
  CheckpointError,
  canonicalJson,
  checkpointHeads,
  createLedgerState,
  decideDebit,
  decideRefund,
  decodeCheckpoint,
  encodeCheckpoint,
  eventRecordId,
  type LedgerEvent,
  type LedgerState,
  type OriginId,
  type RecalledRecord,
  type RecordWindowOptions,
  recordFromEvent,
  stateText,
  tenantFigures,
} from '@allot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logsOf, opArbitrary, overdraftArbitrary, propertyRuns, runWorld } from './world.js';

const history = fc.record({
  ops: fc.array(opArbitrary, { minLength: 1, maxLength: 120, size: 'large' }),
  overdraft: overdraftArbitrary,
});
const options = { numRuns: Math.max(50, Math.floor(propertyRuns / 10)) };
const WINDOW: RecordWindowOptions = { records: 3, bucketMs: 700 };

/** A stand-in for each log's head hash at a seq (the replica passes the real chain hashes). */
function headHash(origin: string, seq: number): Uint8Array {
  const hash = new Uint8Array(32);
  for (let i = 0; i < 32; i++) hash[i] = (seq * 31 + origin.charCodeAt(i % origin.length) * (i + 1)) & 0xff;
  return hash;
}

function headsOf(state: LedgerState): Map<OriginId, Uint8Array> {
  return new Map(Object.entries(state.versionVector).map(([origin, seq]) => [origin, headHash(origin, seq)]));
}

function checkpointOf(state: LedgerState): Uint8Array {
  return encodeCheckpoint(state, headsOf(state));
}

/** Folds `events` in order into `state`; each must apply. */
function fold(state: LedgerState, events: readonly LedgerEvent[]): LedgerState {
  for (const event of events) {
    const result = applyEvent(state, event);
    if (result !== 'applied') throw new Error(`${event.origin}/${event.seq} ${result}`);
  }
  return state;
}

/** The logs' events in one interleaving (each log in its order), chosen by `picks`. */
function interleave(logs: readonly LedgerEvent[][], picks: readonly number[]): LedgerEvent[] {
  const at = logs.map(() => 0);
  const out: LedgerEvent[] = [];
  let pick = 0;
  for (;;) {
    const open = logs
      .map((_log, i) => i)
      .filter((i) => (at[i] as number) < (logs[i] as LedgerEvent[]).length);
    if (open.length === 0) return out;
    const chosen = open[(picks[pick++ % Math.max(1, picks.length)] ?? 0) % open.length] as number;
    out.push((logs[chosen] as LedgerEvent[])[at[chosen] as number] as LedgerEvent);
    at[chosen] = (at[chosen] as number) + 1;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** Balances and a few decisions of every tenant, as canonical text. */
function behaviour(state: LedgerState, logs: readonly LedgerEvent[][]): string {
  const now = 1_800_000_100_000;
  const out: Canonical[] = [];
  const debitIds = logs
    .flat()
    .filter((event) => event.kind === 'debit')
    .map((event) => eventRecordId(event.origin, event.seq));
  for (const tenant of [...state.tenants.keys()].sort()) {
    out.push(tenantFigures(state, tenant, { now, overdraft: { eu: 50 } }) as unknown as Canonical);
    for (const origin of [...state.origins].sort()) {
      const ctx = { origin, now, overdraftLimit: 20 };
      for (const key of ['k1', 'k7', 'fresh'])
        out.push(
          decideDebit(state, ctx, {
            tenant,
            amount: 5,
            idempotencyKey: key,
            metadata: { m: 0 },
          }) as unknown as Canonical,
        );
      for (const debitId of debitIds.slice(0, 3))
        out.push(
          decideRefund(state, ctx, {
            tenant,
            debitId,
            amount: 1,
            idempotencyKey: 'r-new',
          }) as unknown as Canonical,
        );
    }
  }
  return canonicalJson(out);
}

describe('checkpoint properties', () => {
  it('fold(checkpoint at a prefix + tail) = fold(whole log): bytes, balances and decisions', () => {
    fc.assert(
      fc.property(
        history,
        fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
        ({ ops, overdraft }, picks) => {
          const logs = logsOf(runWorld(ops, overdraft));
          const prefix = logs.map((log, i) => (picks[i] as number) % (log.length + 1));
          const whole = fold(createLedgerState(), logs.flat());
          const partial = fold(
            createLedgerState(),
            logs.flatMap((log, i) => log.slice(0, prefix[i])),
          );
          const loaded = decodeCheckpoint(checkpointOf(partial)).state;
          fold(
            loaded,
            logs.flatMap((log, i) => log.slice(prefix[i])),
          );
          expect(sameBytes(checkpointOf(loaded), checkpointOf(whole))).toBe(true);
          expect(stateText(loaded)).toBe(stateText(whole));
          expect(behaviour(loaded, logs)).toBe(behaviour(whole, logs));
        },
      ),
      options,
    );
  });

  it('with a record window: the same checkpoint bytes after checkpoint + tail, and the same answers', () => {
    fc.assert(
      fc.property(
        history,
        fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
        ({ ops, overdraft }, picks) => {
          const logs = logsOf(runWorld(ops, overdraft));
          const prefix = logs.map((log, i) => (picks[i] as number) % (log.length + 1));
          const whole = fold(createLedgerState({ recordWindow: WINDOW }), logs.flat());
          const partial = fold(
            createLedgerState({ recordWindow: WINDOW }),
            logs.flatMap((log, i) => log.slice(0, prefix[i])),
          );
          const loaded = decodeCheckpoint(checkpointOf(partial), { recordWindow: WINDOW }).state;
          fold(
            loaded,
            logs.flatMap((log, i) => log.slice(prefix[i])),
          );
          expect(sameBytes(checkpointOf(loaded), checkpointOf(whole))).toBe(true);
          // Records off the heap are read back from the logs (as the replica does) until it answers.
          const byId = new Map(logs.flat().map((event) => [eventRecordId(event.origin, event.seq), event]));
          const answers = (state: LedgerState) =>
            [...state.tenants.keys()].sort().flatMap((tenant) =>
              ['k1', 'k3', 'new'].map((key) => {
                const recalled = new Map<string, RecalledRecord>();
                for (let round = 0; round < 4; round++) {
                  const decision = decideDebit(
                    state,
                    {
                      origin: [...state.origins].sort()[0] as string,
                      now: 1_800_000_100_000,
                      overdraftLimit: 0,
                    },
                    { tenant, amount: 1, idempotencyKey: key, metadata: { m: 0 } },
                    recalled,
                  );
                  if (decision.status !== 'recall') return canonicalJson(decision as unknown as Canonical);
                  for (const id of decision.ids) {
                    const event = byId.get(id);
                    recalled.set(id, event === undefined ? null : recordFromEvent(event));
                  }
                }
                return 'recall did not end';
              }),
            );
          expect(answers(loaded)).toEqual(answers(whole));
        },
      ),
      options,
    );
  });

  it('is canonical: every arrival order of one vector writes the same bytes; decode re-encodes to them', () => {
    fc.assert(
      fc.property(
        history,
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        ({ ops, overdraft }, picks) => {
          const logs = logsOf(runWorld(ops, overdraft));
          for (const window of [undefined, WINDOW]) {
            const make = () => createLedgerState(window === undefined ? {} : { recordWindow: window });
            const inOrder = checkpointOf(fold(make(), logs.flat()));
            const shuffled = checkpointOf(fold(make(), interleave(logs, picks)));
            expect(sameBytes(shuffled, inOrder)).toBe(true);
            const again = decodeCheckpoint(inOrder, window === undefined ? {} : { recordWindow: window });
            expect(sameBytes(checkpointOf(again.state), inOrder)).toBe(true);
            expect(checkpointHeads(inOrder)).toEqual(again.heads);
          }
        },
      ),
      options,
    );
  });

  it('damaged bytes: a CheckpointError, or a checkpoint that re-encodes to exactly those bytes', () => {
    fc.assert(
      fc.property(
        history,
        fc.boolean(),
        fc.array(fc.record({ at: fc.nat(), byte: fc.nat({ max: 255 }), kind: fc.nat({ max: 3 }) }), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.constantFrom(0, 1, 60_000),
        ({ ops, overdraft }, windowed, damage, retentionMs) => {
          const logs = logsOf(runWorld(ops, overdraft));
          const window = windowed ? { recordWindow: WINDOW } : {};
          const state = fold(createLedgerState(window), logs.flat());
          let bytes = encodeCheckpoint(state, headsOf(state), { retentionMs });
          for (const { at, byte, kind } of damage) {
            const where = at % bytes.length;
            if (kind === 0)
              bytes = bytes.slice(0, where); // truncated
            else if (kind === 1)
              bytes = Uint8Array.from([...bytes.slice(0, where), byte, ...bytes.slice(where)]);
            else {
              bytes = bytes.slice();
              bytes[where] = kind === 2 ? byte : (bytes[where] as number) ^ (1 << (byte % 8));
            }
          }
          let decoded: ReturnType<typeof decodeCheckpoint>;
          try {
            decoded = decodeCheckpoint(bytes, window);
          } catch (error) {
            expect(error).toBeInstanceOf(CheckpointError);
            return;
          }
          const again = encodeCheckpoint(
            decoded.state,
            new Map([...decoded.heads].map(([o, h]) => [o, h.hash])),
            { retentionMs: decoded.retentionMs, version: decoded.version === 1 ? 1 : 2 },
          );
          expect(sameBytes(again, bytes)).toBe(true);
        },
      ),
      options,
    );
  });
});
