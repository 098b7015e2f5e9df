import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addKeyId, dropKeyId, type KeyIds, keyIds } from '../src/key-ids.js';

// The per-key record ids store one id alone and several as an array: whatever adds and drops
// happen, each key lists exactly the ids a plain map of arrays would, and an emptied key is gone.
describe('key ids', () => {
  it('list what a map of arrays lists, for any adds and drops', () => {
    const op = fc.record({
      add: fc.boolean(),
      key: fc.constantFrom('a', 'b', 'c'),
      id: fc.constantFrom('1', '2', '3', '4'),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const index: KeyIds = new Map();
        const model = new Map<string, string[]>();
        for (const { add, key, id } of ops) {
          const ids = model.get(key) ?? [];
          if (add) {
            addKeyId(index, key, id);
            if (!ids.includes(id)) model.set(key, [...ids, id]);
          } else {
            dropKeyId(index, key, id);
            const left = ids.filter((other) => other !== id);
            if (left.length === 0) model.delete(key);
            else model.set(key, left);
          }
        }
        expect([...index.keys()].sort()).toEqual([...model.keys()].sort());
        for (const key of ['a', 'b', 'c']) expect(keyIds(index, key)).toEqual(model.get(key) ?? []);
      }),
    );
  });

  it('stores a key with one record as its id alone', () => {
    const index: KeyIds = new Map();
    addKeyId(index, 'k', 'eu.a.1');
    expect(index.get('k')).toBe('eu.a.1');
    addKeyId(index, 'k', 'us.b.1');
    expect(index.get('k')).toEqual(['eu.a.1', 'us.b.1']);
    dropKeyId(index, 'k', 'eu.a.1');
    expect(index.get('k')).toBe('us.b.1');
  });
});
