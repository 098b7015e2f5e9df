/**
 * The key indexes' closed buckets on disk (issue 18; core's key-spill.ts has the format). Once a
 * newer time bucket has begun, each closed bucket's tables are written to the store's keys area as
 * one part (its chunks in synced batches, its header last: a part exists only once whole) and leave
 * the heap; so does the open bucket's, as a further part, once the tables in memory outgrow
 * KEY_INDEX_TABLE_SHARE of the budget (a bucket is retention / 24 long, whatever the rate). A part covers each origin up to its durable head at that moment, so a start that folds
 * those events again does not index them twice. In memory stay the open bucket's tables and, within
 * the budget (`keyIndexMemoryBytes`), the closed parts' Bloom filters, newest first; a part without
 * one costs a chunk read for every lookup. A start reads the headers back: a part whose header is
 * missing (a write cut by a crash) or damaged goes, with every other part of its bucket, and that
 * bucket is rebuilt from the checkpoint and the logs. A chunk found damaged by a lookup is an error
 * (the request fails with store_failed, the key is named in the log), and its bucket's headers go
 * so that the next start rebuilds it. Writes and deletions run one at a time.
 *
 * Each part carries the SHA-256 of its header value (its digest, set when it is written or read at
 * start): a checkpoint refers to the parts by name and digest instead of embedding their keys (core's
 * checkpoint.ts, format 3), and the parts the newest checkpoints refer to stay on disk past the
 * retention until no kept checkpoint refers to them (`hold`). `readReferred` reads the parts of such
 * a checkpoint back for decoding it whole (a joiner, an auditor, a fold at a past vector).
 */
import {
  checkpointPartRefs,
  decodeKeyChunk,
  decodePartFilter,
  decodePartHeader,
  encodePart,
  type KeyChunk,
  type KeyIndex,
  keyPartPrefix,
  parseKeyAreaKey,
  type RecordWindow,
  refPrefix,
  type SpilledPart,
} from '@allot/core';
import {
  CHECKPOINTS_KEPT,
  KEY_INDEX_TABLE_SHARE,
  KEY_SPILL_PART_ENTRIES_MIN,
  KEY_SPILL_WRITE_BYTES,
} from './limits.js';
import type { Crypto, KeyAreaRecord, Logger, Store } from './ports.js';
import { sameBytes } from './values.js';

/** The parts of one bucket and kind, by prefix, from a listing of the keys area. */
function partsByPrefix(keys: readonly string[]): Map<string, string[]> {
  const parts = new Map<string, string[]>();
  for (const key of keys) {
    const at = parseKeyAreaKey(key);
    const prefix = at === null ? key : keyPartPrefix(at.kind, at.bucket, at.part);
    const list = parts.get(prefix) ?? [];
    list.push(key);
    parts.set(prefix, list);
  }
  return parts;
}

/** The keys area's parts of closed key-index buckets, as one replica writes and reads them. */
export class KeySpill {
  /** Writes, deletions and pinned reads, one at a time. */
  private chain: Promise<void> = Promise.resolve();
  private running = false;
  private readonly lastNewest = new Map<string, string>();
  /** The prefixes of the parts each of the newest checkpoints refers to, newest first. */
  private held: (readonly string[])[] = [];

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    /** Bytes the key indexes may hold in memory (tables and filters). */
    private readonly budgetBytes: number,
    private readonly crypto: Pick<Crypto, 'hash'>,
  ) {}

  /**
   * The parts a checkpoint just written (or loaded at start) refers to: they stay on disk past the
   * retention while it is one of the CHECKPOINTS_KEPT newest.
   */
  hold(parts: readonly string[]): void {
    this.held = [parts, ...this.held].slice(0, CHECKPOINTS_KEPT);
  }

  private isHeld(key: string): boolean {
    return this.held.some((parts) => parts.some((prefix) => key.startsWith(prefix)));
  }

  /**
   * Reads the parts on disk at start, for a window of `bucketMs` buckets: every header checked,
   * filters within the budget, newest first. Parts of another bucket length, cut by a crash or
   * damaged go, with every part of their bucket (logged): their keys are folded again.
   */
  async load(bucketMs: number): Promise<SpilledPart[]> {
    // Not after idle(): a refold after a failed commit runs this while a checkpoint may wait for
    // that very commit. A write still running for the old fold loses at most its own part.
    this.lastNewest.clear();
    const heads = new Map((await this.store.heads()).map((head) => [head.origin, head.seq]));
    const keys = await this.store.listKeyArea('');
    const groups = partsByPrefix(keys);
    const parts: SpilledPart[] = [];
    const dropBuckets = new Set<string>();
    for (const [prefix, list] of groups) {
      const headerKey = `${prefix}h`;
      if (!list.includes(headerKey)) {
        dropBuckets.add(prefix.slice(0, 19));
        continue;
      }
      try {
        const bytes = (await this.store.readKeyArea(headerKey)) ?? new Uint8Array();
        const part = decodePartHeader(headerKey, bytes);
        part.digest = this.crypto.hash(bytes);
        const chunks = new Set(part.chunkKeys());
        const whole =
          list.filter((key) => chunks.has(key)).length === chunks.size && list.includes(`${prefix}f`);
        // A part never covers more than the logs hold (a disk restored from an older backup, a
        // lost tail): its keys could stand for events that are not there, or not those.
        const beyond = part.origins.some((each) => each.covered > (heads.get(each.origin) ?? 0));
        if (part.bucketMs !== bucketMs) dropBuckets.add(prefix.slice(0, 19));
        else if (beyond) {
          this.logger.warn(
            { part: prefix },
            `key index part ${prefix} covers more than the logs hold: its bucket is rebuilt from the checkpoint and the logs`,
          );
          dropBuckets.add(prefix.slice(0, 19));
        } else if (!whole) {
          this.logger.error(
            { part: prefix },
            `key index part ${prefix} on disk lacks values: its bucket is rebuilt from the checkpoint and the logs`,
          );
          dropBuckets.add(prefix.slice(0, 19));
        } else parts.push(part);
      } catch (error) {
        this.logger.error(
          { err: error, key: headerKey },
          `key index part ${headerKey} on disk is damaged: its bucket is rebuilt from the checkpoint and the logs`,
        );
        dropBuckets.add(prefix.slice(0, 19));
      }
    }
    const kept = parts.filter((part) => !dropBuckets.has(part.prefix.slice(0, 19)));
    const drop = keys.filter((key) => dropBuckets.has(key.slice(0, 19)));
    await this.deleteKeys(drop);
    await this.fitFilters(kept, 0);
    return kept;
  }

  /** Resolves once no write, deletion or pinned read is running. */
  idle(): Promise<void> {
    return this.chain;
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Starts writing the closed buckets of `window` to disk when a newer bucket began since the last
   * time (cheap otherwise: call it after every commit). `durable(origin)`: its durable head's seq.
   */
  poke(window: RecordWindow | undefined, durable: (origin: string) => number): void {
    if (window === undefined || this.running) return;
    const indexes = [window.debitKeys, window.refundKeys] as const;
    // A newer bucket began, or retention forgot older ones.
    const mark = (index: KeyIndex) => `${index.newestBucket}/${index.forgottenBelow}`;
    // Or the tables in memory outgrew their share of the budget: the open bucket goes too.
    const full = (index: KeyIndex) => {
      const use = index.tableUse;
      return (
        use.entries >= KEY_SPILL_PART_ENTRIES_MIN && use.bytes > this.budgetBytes * KEY_INDEX_TABLE_SHARE
      );
    };
    const fullNow = indexes.map(full);
    if (!fullNow.some(Boolean) && indexes.every((index) => this.lastNewest.get(index.kind) === mark(index)))
      return;
    for (const index of indexes) this.lastNewest.set(index.kind, mark(index));
    this.running = true;
    void this.enqueue(async () => {
      try {
        for (const [at, index] of indexes.entries())
          await this.writeClosed(index, window.options.bucketMs, durable, fullNow[at] === true);
        await this.deleteForgotten(indexes);
        await this.fitFilters(
          [...indexes[0].spilledParts(), ...indexes[1].spilledParts()],
          this.tableBytes(window),
        );
      } catch (error) {
        this.logger.error(
          { err: error },
          'key index: writing closed buckets to disk failed (they stay in memory)',
        );
      } finally {
        this.running = false;
      }
    });
  }

  private tableBytes(window: RecordWindow): number {
    const debits = window.debitKeys.footprint;
    const refunds = window.refundKeys.footprint;
    return debits.bytes - debits.filterBytes + refunds.bytes - refunds.filterBytes;
  }

  private async writeClosed(
    index: KeyIndex,
    bucketMs: number,
    durable: (origin: string) => number,
    open: boolean,
  ): Promise<void> {
    for (const bucket of open ? index.allInMemory() : index.closedInMemory()) {
      const { part, tables } = index.takeForWriting(bucket);
      try {
        const encoded = encodePart(index.kind, bucket, part, bucketMs, tables, durable);
        let batch: KeyAreaRecord[] = [];
        let bytes = 0;
        for (const [key, value] of encoded.chunks) {
          batch.push({ key, value });
          bytes += value.length;
          if (bytes >= KEY_SPILL_WRITE_BYTES) {
            await this.store.writeKeyArea(batch, []);
            batch = [];
            bytes = 0;
          }
        }
        const [filterKey, filter] = encoded.filter;
        const [headerKey, header] = encoded.header;
        batch.push({ key: filterKey, value: filter }, { key: headerKey, value: header });
        await this.store.writeKeyArea(batch, []);
        encoded.part.digest = this.crypto.hash(header);
        index.written(encoded.part);
        this.logger.debug(
          { part: encoded.part.prefix, entries: encoded.part.entries, chunks: encoded.part.chunks },
          'key index bucket written to disk',
        );
      } catch (error) {
        index.notWritten(bucket);
        throw error;
      }
    }
  }

  /** Deletes the parts on disk of buckets the indexes forgot (retention). */
  private async deleteForgotten(indexes: readonly KeyIndex[]): Promise<void> {
    const drop: string[] = [];
    for (const index of indexes)
      for (const key of await this.store.listKeyArea(`${index.kind}/`)) {
        const at = parseKeyAreaKey(key);
        if (at !== null && at.bucket < index.forgottenBelow && !this.isHeld(key)) drop.push(key);
      }
    await this.deleteKeys(drop);
  }

  private async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let at = 0; at < keys.length; at += 1024)
      await this.store.writeKeyArea([], keys.slice(at, at + 1024));
  }

  /**
   * Gives parts their filters newest first while `usedBytes` + filters fit the budget (reading
   * missing ones from disk), and takes them from the older parts past it.
   */
  private async fitFilters(parts: readonly SpilledPart[], usedBytes: number): Promise<void> {
    let used = usedBytes;
    const newestFirst = [...parts].sort((a, b) => b.bucket - a.bucket || b.part - a.part);
    for (const part of newestFirst) {
      const bytes = part.filterWords * 4;
      if (used + bytes > this.budgetBytes) {
        part.filter = null;
        continue;
      }
      used += bytes;
      if (part.filter !== null) continue;
      const key = `${part.prefix}f`;
      part.filter = decodePartFilter(part, (await this.store.readKeyArea(key)) ?? new Uint8Array());
    }
  }

  /** Reads chunk `key` of `part` back (recall of a lookup); a damaged one marks its bucket for rebuild. */
  async readChunk(part: SpilledPart, key: string): Promise<KeyChunk> {
    try {
      const bytes = await this.store.readKeyArea(key);
      if (bytes === null) throw new Error(`key index value ${key} is missing`);
      return decodeKeyChunk(part, key, bytes);
    } catch (error) {
      this.logger.error(
        { err: error, key },
        `key index chunk ${key} on disk is damaged or missing: lookups that need it fail; its bucket is rebuilt from the logs at the next start`,
      );
      void this.enqueue(async () => {
        const headers = (await this.store.listKeyArea(`${part.kind}/`)).filter(
          (known) => known.startsWith(part.prefix.slice(0, 19)) && known.endsWith('/h'),
        );
        await this.deleteKeys(headers);
      }).catch(() => undefined);
      throw error;
    }
  }

  /** The chunks of every key-index part checkpoint `bytes` refers to (readReferred). */
  readReferred(bytes: Uint8Array): Promise<Map<string, KeyChunk[]>> {
    return readReferred(this.store, this.crypto, bytes);
  }
}

/**
 * The chunks of every key-index part checkpoint `bytes` refers to (format 3; none before), each
 * part's header read and checked against the digest referred to, each chunk checked: what core's
 * decodeCheckpoint takes as `partChunks` to decode it whole. Throws naming a part that is gone or
 * differs (the checkpoint then cannot be decoded whole here).
 */
export async function readReferred(
  store: Store,
  crypto: Pick<Crypto, 'hash'>,
  bytes: Uint8Array,
): Promise<Map<string, KeyChunk[]>> {
  const read = new Map<string, KeyChunk[]>();
  for (const ref of checkpointPartRefs(bytes)) {
    const prefix = refPrefix(ref);
    const header = await store.readKeyArea(`${prefix}h`);
    if (header === null || !sameBytes(crypto.hash(header), ref.digest))
      throw new Error(`key index part ${prefix} is not on disk as the checkpoint refers to it`);
    const part = decodePartHeader(`${prefix}h`, header);
    const chunks: KeyChunk[] = [];
    for (const key of part.chunkKeys()) {
      const value = await store.readKeyArea(key);
      if (value === null) throw new Error(`key index value ${key} is missing`);
      chunks.push(decodeKeyChunk(part, key, value));
    }
    read.set(prefix, chunks);
  }
  return read;
}

/** What the key indexes hold (issue 18): in memory (tables, filters) and on disk only. */
export interface KeyIndexUse {
  /** The budget (`keyIndexMemoryBytes`). */
  readonly budgetBytes: number;
  /** Bytes in memory: tables of open (and not yet written) buckets, and filters. */
  readonly memoryBytes: number;
  /** Of which the closed parts' filters. */
  readonly filterBytes: number;
  /** Keys in memory tables. */
  readonly entriesInMemory: number;
  /** Keys in parts on disk. */
  readonly entriesOnDisk: number;
  /** Parts on disk, and how many of them have their filter in memory. */
  readonly parts: number;
  readonly partsFiltered: number;
}

/** The key indexes' use of `window` under budget `budgetBytes`. */
export function keyIndexUse(window: RecordWindow | undefined, budgetBytes: number): KeyIndexUse {
  let memoryBytes = 0;
  let filterBytes = 0;
  let entriesInMemory = 0;
  let entriesOnDisk = 0;
  let parts = 0;
  let partsFiltered = 0;
  for (const index of window === undefined ? [] : [window.debitKeys, window.refundKeys]) {
    const use = index.footprint;
    memoryBytes += use.bytes;
    filterBytes += use.filterBytes;
    entriesInMemory += use.entries;
    entriesOnDisk += use.onDisk;
    for (const part of index.spilledParts()) {
      parts += 1;
      if (part.filter !== null) partsFiltered += 1;
    }
  }
  return { budgetBytes, memoryBytes, filterBytes, entriesInMemory, entriesOnDisk, parts, partsFiltered };
}
