/**
 * A MemoryStore's key index is kept up to date from each commit plan's own fields (memory-image.ts
 * `writePlan`), not by parsing its keys back: it must be the index that parsing the image's keys
 * gives (`indexOf`, what a restart builds), after any run of plans, keys written again included.
 */
import type { OriginId } from '@allot/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CommitPlan } from '../src/commit-plan.js';
import { controlKey, headKey, segmentKey, tenantKey } from '../src/keys.js';
import { emptyIndex, type Image, indexOf, writePlan } from '../src/memory-image.js';
import { EU, US } from './support.js';

const VALUE = new Uint8Array([1, 2, 3, 4, 5]);

/** A plan writing these segments, tenant entries and control entries (and a head, not indexed). */
function planOf(
  segments: readonly { origin: OriginId; lastSeq: number }[],
  entries: readonly { tenant: string; entry: number }[],
  control: readonly number[],
): CommitPlan {
  return {
    meta: null,
    segments: segments.map(({ origin, lastSeq }) => ({
      key: segmentKey(origin, lastSeq),
      value: VALUE,
      origin,
      lastSeq,
    })),
    entries: entries.map(({ tenant, entry }) => ({
      key: tenantKey(tenant, entry),
      value: VALUE,
      tenant,
      entry,
      count: 1,
    })),
    heads: [{ key: headKey(EU), value: VALUE, head: { origin: EU, seq: 1, hash: VALUE, signature: null } }],
    control: control.map((entry) => ({ key: controlKey(entry), value: VALUE, entry })),
    controlTally: { count: 0, last: 0 },
    controlTallyRecord: null,
    origins: [],
    lastEntry: 0,
    counter: null,
    bases: [],
  };
}

describe('the memory image', () => {
  it('keeps the key index that parsing its keys gives, after any run of commit plans', () => {
    // Ascending numbers per origin, tenant and control across plans, as planning guarantees; a
    // number drawn again writes an existing key again (it must not be indexed twice).
    const step = fc.record({
      // Keys within one plan are distinct (planning refuses a batch otherwise).
      segments: fc.uniqueArray(
        fc.record({ origin: fc.constantFrom(EU, US), lastSeq: fc.integer({ min: 1, max: 40 }) }),
        { maxLength: 4, selector: (s) => `${s.origin}/${s.lastSeq}` },
      ),
      entries: fc.uniqueArray(
        fc.record({ tenant: fc.constantFrom('acme', 'globex'), entry: fc.integer({ min: 1, max: 40 }) }),
        { maxLength: 4, selector: (e) => `${e.tenant}/${e.entry}` },
      ),
      control: fc.uniqueArray(fc.integer({ min: 1, max: 40 }), { maxLength: 3 }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 12 }), (steps) => {
        const image: Image = new Map();
        const index = emptyIndex();
        const last = new Map<string, number>();
        const ascending = <T>(items: T[], at: (item: T) => string, number: (item: T) => number): T[] =>
          items
            .sort((a, b) => number(a) - number(b))
            .filter((item) => {
              const keep = number(item) >= (last.get(at(item)) ?? 0);
              if (keep) last.set(at(item), number(item));
              return keep;
            });
        for (const { segments, entries, control } of steps) {
          const plan = planOf(
            ascending(
              segments,
              (s) => `s${s.origin}`,
              (s) => s.lastSeq,
            ),
            ascending(
              entries,
              (e) => `t${e.tenant}`,
              (e) => e.entry,
            ),
            ascending(
              control,
              () => 'c',
              (c) => c,
            ),
          );
          writePlan(image, plan, index);
          expect(index).toEqual(indexOf(image));
        }
      }),
      { numRuns: 500 },
    );
  });
});
