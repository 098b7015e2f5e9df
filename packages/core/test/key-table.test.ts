import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FingerprintTable, type KeyFingerprint, SEQ_LOW } from '../src/key-table.js';
import { KEY_INDEX_SLOTS_MIN } from '../src/limits.js';

/** Every (origin, seq) `table.find` reports for `print`, sorted. */
function found(table: FingerprintTable, print: KeyFingerprint): number[] {
  const seqs: number[] = [];
  table.find(print, 0, (_, seq) => seqs.push(seq));
  return seqs.sort((a, b) => a - b);
}

// The table places a check at ⌊check × slots / 2^32⌋ and probes on from there: for any checks (the
// largest 32-bit ones included), any growth past the minimum size, tightening and a round trip
// through its image, it finds exactly the seqs a plain list of entries holds.
describe('the fingerprint table', () => {
  const check = fc.oneof(
    fc.integer({ min: 1, max: 2 ** 32 - 1 }),
    fc.constantFrom(1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1),
  );
  const print = fc.record({ check, extra: fc.integer({ min: 0, max: 255 }) });

  it('finds what a list of its entries holds, through growth, tightening and its image', () => {
    fc.assert(
      fc.property(
        fc.array(print, { minLength: 1, maxLength: 40 }),
        fc.array(fc.nat({ max: 3 * KEY_INDEX_SLOTS_MIN }), { maxLength: 3 * KEY_INDEX_SLOTS_MIN }),
        fc.integer({ min: 0, max: 3 }),
        fc.array(print, { maxLength: 10 }),
        (prints, picks, high, absent) => {
          const table = new FingerprintTable(KEY_INDEX_SLOTS_MIN);
          const entries: { print: KeyFingerprint; seq: number }[] = [];
          // More entries than the smallest table holds: it doubles at least once.
          for (const [i, pick] of picks.entries()) {
            const chosen = prints[pick % prints.length] as KeyFingerprint;
            const seq = high * SEQ_LOW + i + 1;
            table.add(chosen, seq);
            entries.push({ print: chosen, seq });
          }
          const expected = (wanted: KeyFingerprint) =>
            entries
              .filter(({ print: each }) => each.check === wanted.check && each.extra === wanted.extra)
              .map(({ seq }) => seq)
              .sort((a, b) => a - b);
          const check = (candidate: FingerprintTable) => {
            expect(candidate.size).toBe(entries.length);
            for (const each of [...prints, ...absent]) {
              const seqs = expected(each);
              expect(found(candidate, each)).toEqual(seqs);
              expect(candidate.holds(each)).toBe(seqs.length > 0);
            }
          };
          check(table);
          check(FingerprintTable.restore(table.image()));
          table.tighten();
          check(table);
        },
      ),
    );
  });
});
