/**
 * The ids of the records made with each idempotency key of a tenant (debits, refunds or holds).
 * Almost every key has one record: its id is stored alone, with no array per record (this runs per
 * debit, and what a record keeps on the heap it keeps until the window or the retention drops it).
 * Only a cross-region race gives a key several records; then it holds an array of their ids.
 */

/** Idempotency key → the id of its record, or the ids of its records (two or more). */
export type KeyIds = Map<string, string | string[]>;

/** Adds `id` under `key` (once). */
export function addKeyId(index: KeyIds, key: string, id: string): void {
  const known = index.get(key);
  if (known === undefined) index.set(key, id);
  else if (typeof known === 'string') {
    if (known !== id) index.set(key, [known, id]);
  } else if (!known.includes(id)) known.push(id);
}

/** Removes `id` from under `key`; the key goes once it has no id left. */
export function dropKeyId(index: KeyIds | null, key: string, id: string): void {
  const known = index?.get(key);
  if (known === undefined || index === null) return;
  if (typeof known === 'string') {
    if (known === id) index.delete(key);
    return;
  }
  const left = known.filter((other) => other !== id);
  if (left.length === 0) index.delete(key);
  else index.set(key, left.length === 1 ? (left[0] as string) : left);
}

/** The ids under `key`, as a list (empty when none). */
export function keyIds(index: KeyIds | null, key: string): readonly string[] {
  const known = index?.get(key);
  return known === undefined ? [] : typeof known === 'string' ? [known] : known;
}
