/**
 * The data directory's LevelDB as the store uses it (keys as text, values as bytes), and its one
 * way to write several records atomically.
 */
import type { Level } from 'level';

/** A data directory's LevelDB, keys as text and values as bytes. */
export type Db = Level<string, Uint8Array>;

/** One write of a LevelDB batch. */
export type DbWrite =
  | { readonly type: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: string };

/**
 * Writes `writes` as one atomic LevelDB batch. Through a chained batch, not `db.batch(array)`:
 * abstract-level copies and re-encodes every operation of an array batch on the calling thread,
 * ~8 µs each here against ~1.3 µs put by put (a commit of received segments writes a tenant-index
 * key per tenant, a thousand or more).
 */
export async function writeBatch(
  db: Db,
  writes: readonly DbWrite[],
  options: { readonly sync?: boolean } = {},
): Promise<void> {
  if (writes.length === 0) return;
  const batch = db.batch();
  try {
    for (const write of writes) {
      if (write.type === 'put') batch.put(write.key, write.value);
      else if (write.type === 'del') batch.del(write.key);
      else throw new TypeError(`a batch write of type ${String((write as { type?: unknown }).type)}`);
    }
  } catch (error) {
    await batch.close();
    throw error;
  }
  await batch.write({ sync: options.sync === true });
}
