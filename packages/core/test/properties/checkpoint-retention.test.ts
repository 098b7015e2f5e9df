/**
 * Checkpoints and the idempotency retention (issue 11): two replicas fed the same events in
 * different orders, sweeping records at different moments with different clocks, write the same
 * checkpoint bytes at one vector — the same bytes as a replica that never swept — because a sweep
 * never forgets past the cutoff the vector implies and a checkpoint holds exactly what is within it.
 * And a sweep keeps every record within the retention by the sweeping node's clock.
 */
import {
  applyEvent,
  createLedgerState,
  decodeCheckpoint,
  encodeCheckpoint,
  eventRecordId,
  forgetAllRecordsBefore,
  type LedgerEvent,
  type LedgerState,
  type OriginId,
  RETENTION_CLOCK_MARGIN_MS,
  type RecordWindowOptions,
  retentionSweepCutoff,
  vectorRetentionCutoff,
} from '@allot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logsOf, type Op, opArbitrary, overdraftArbitrary, propertyRuns, runWorld } from './world.js';

const RETENTION_MS = 20 * 60 * 1000;
const WINDOW: RecordWindowOptions = { records: 2, bucketMs: 5 * 60 * 1000 };
const options = { numRuns: Math.max(50, Math.floor(propertyRuns / 10)) };

/** Ticks of up to 15 minutes besides the world's short ones: histories span the retention. */
const longTick: fc.Arbitrary<Op> = fc.record({
  op: fc.constant('tick' as const),
  node: fc.nat({ max: 2 }),
  ms: fc.integer({ min: 1, max: 15 * 60 * 1000 }),
});
const history = fc.record({
  ops: fc.array(fc.oneof({ weight: 6, arbitrary: opArbitrary }, { weight: 1, arbitrary: longTick }), {
    minLength: 1,
    maxLength: 150,
    size: 'large',
  }),
  overdraft: overdraftArbitrary,
});

/** A stand-in for each log's head hash at a seq. */
function headsOf(state: LedgerState): Map<OriginId, Uint8Array> {
  return new Map(
    Object.entries(state.versionVector).map(([origin, seq]) => [origin, new Uint8Array(32).fill(seq & 0xff)]),
  );
}

/** The logs' events in one interleaving (each log in its order), chosen by `picks`. */
function interleave(logs: readonly LedgerEvent[][], picks: readonly number[]): LedgerEvent[] {
  const at = logs.map(() => 0);
  const out: LedgerEvent[] = [];
  for (let pick = 0; ; pick++) {
    const open = logs.map((_l, i) => i).filter((i) => (at[i] as number) < (logs[i] as LedgerEvent[]).length);
    if (open.length === 0) return out;
    const chosen = open[(picks[pick % picks.length] ?? 0) % open.length] as number;
    out.push((logs[chosen] as LedgerEvent[])[at[chosen] as number] as LedgerEvent);
    at[chosen] = (at[chosen] as number) + 1;
  }
}

/**
 * Folds `events` into a new state, running a retention sweep before the events `sweeps` names,
 * each with a clock that is the newest event time folded plus an offset (ahead or behind it).
 */
function foldSweeping(
  window: RecordWindowOptions | undefined,
  events: readonly LedgerEvent[],
  sweeps: readonly { readonly at: number; readonly clockOffsetMs: number }[],
): LedgerState {
  const state = createLedgerState(window === undefined ? {} : { recordWindow: window });
  const sweepsAt = new Map(sweeps.map(({ at, clockOffsetMs }) => [at % (events.length + 1), clockOffsetMs]));
  events.forEach((event, i) => {
    const offset = sweepsAt.get(i);
    if (offset !== undefined)
      forgetAllRecordsBefore(state, retentionSweepCutoff(state, state.newestAt + offset, RETENTION_MS));
    expect(applyEvent(state, event)).toBe('applied');
  });
  const last = sweepsAt.get(events.length);
  if (last !== undefined)
    forgetAllRecordsBefore(state, retentionSweepCutoff(state, state.newestAt + last, RETENTION_MS));
  return state;
}

const sweepsArbitrary = fc.array(
  fc.record({ at: fc.nat(), clockOffsetMs: fc.integer({ min: -3_600_000, max: 3_600_000 }) }),
  { maxLength: 8 },
);

describe('checkpoint retention properties', () => {
  it('two replicas with different arrival orders and sweeps write the same bytes at one vector', () => {
    let dropped = 0;
    fc.assert(
      fc.property(
        history,
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        sweepsArbitrary,
        sweepsArbitrary,
        fc.boolean(),
        ({ ops, overdraft }, picksA, picksB, sweepsA, sweepsB, windowed) => {
          const logs = logsOf(runWorld(ops, overdraft));
          const window = windowed ? WINDOW : undefined;
          const a = foldSweeping(window, interleave(logs, picksA), sweepsA);
          const b = foldSweeping(window, interleave(logs, picksB), sweepsB);
          const never = foldSweeping(window, logs.flat(), []);
          const encode = (state: LedgerState) =>
            encodeCheckpoint(state, headsOf(state), { retentionMs: RETENTION_MS });
          const bytes = encode(never);
          expect(encode(a)).toEqual(bytes);
          expect(encode(b)).toEqual(bytes);
          // Decoded, it re-encodes to the very bytes, and a sweep of it changes nothing.
          const decoded = decodeCheckpoint(bytes, window === undefined ? {} : { recordWindow: window });
          expect(decoded.state.newestAt).toBe(never.newestAt);
          expect(encode(decoded.state)).toEqual(bytes);
          if (encodeCheckpoint(never, headsOf(never)).length !== bytes.length) dropped += 1;
        },
      ),
      options,
    );
    // Some runs must have had records past the retention for the property to mean anything.
    expect(dropped).toBeGreaterThan(0);
  });

  it('a sweep keeps every debit within the retention by its own clock', () => {
    fc.assert(
      fc.property(
        history,
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        sweepsArbitrary,
        ({ ops, overdraft }, picks, sweeps) => {
          const logs = logsOf(runWorld(ops, overdraft));
          const events = interleave(logs, picks);
          const state = foldSweeping(undefined, events, []);
          // One node's sweeps, its clock moving forward from one to the next.
          const offsets = sweeps.map(({ clockOffsetMs }) => clockOffsetMs).sort((x, y) => x - y);
          for (const clockOffsetMs of offsets) {
            const now = state.newestAt + clockOffsetMs;
            forgetAllRecordsBefore(state, retentionSweepCutoff(state, now, RETENTION_MS));
            for (const event of events)
              if (event.kind === 'debit' && event.at >= now - RETENTION_MS)
                expect(
                  state.tenants.get(event.tenant)?.debits?.has(eventRecordId(event.origin, event.seq)),
                ).toBe(true);
          }
          // Never past what the vector implies, whatever the clock says.
          const cutoff = retentionSweepCutoff(state, Number.MAX_SAFE_INTEGER, RETENTION_MS);
          expect(cutoff).toBe(vectorRetentionCutoff(state.newestAt, RETENTION_MS, undefined));
          expect(cutoff).toBe(Math.max(0, state.newestAt - RETENTION_MS - RETENTION_CLOCK_MARGIN_MS));
        },
      ),
      options,
    );
  });
});
