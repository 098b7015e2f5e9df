/**
 * Converting a layout-v2 data directory (one record per event, a hash per event) to layout v3
 * (segments) on the first start of this build. A segment must carry its origin's signature, and a
 * node can sign only its own log, so:
 * - the node's own log is read back and verified as v2 (its hash chain, and its head's signature
 *   with the node's key), then cut into segments, chained and signed again with the node's key;
 * - the logs of other origins are not kept: a peer holds them signed, and sends them again (as it
 *   does to a new node); what was dropped is reported, per origin, for the node to log;
 * - the node's meta, control-document updates, heard-of incarnations and outbox are kept as they are.
 * Crash-safe: v3 keys are written in batches, the v3 meta last (synced); a start that finds v2
 * keys and no v3 meta clears any v3 keys and converts again, and one that finds both only removes
 * v2. A v2 log that does not verify refuses the start with one line, and converts nothing.
 */
import {
  eventCanonicalBytes,
  isOriginId,
  type LedgerEvent,
  type OriginId,
  originId,
  SegmentWriter,
  type TenantId,
} from '@allot/core';
import { type Crypto, headSigningBytes, type LogHead, SEGMENT_CUT_BYTES, sameBytes } from '@allot/replica';
import { counterRecord } from './commit-plan.js';
import {
  decodeControlTally,
  decodeControlUpdate,
  decodeHeardOrigin,
  decodeLogHead,
  decodeNodeMeta,
  decodeStoredEvent,
  encodeControlTally,
  encodeControlUpdate,
  encodeHeardOrigin,
  encodeLogHead,
  encodeNodeMeta,
} from './encoding.js';
import { StoreCorruptError } from './errors.js';
import {
  CONTROL_TALLY_KEY,
  controlKey,
  headKey,
  META_KEY,
  OUTBOX_KEY_PREFIX,
  originKey,
  segmentKey,
  tenantKey,
} from './keys.js';
import { type Db, writeBatch } from './level-batch.js';
import { CONVERT_BATCH_SEGMENTS, CONVERT_PAGE_EVENTS } from './limits.js';
import { openRecord, sealRecord } from './records.js';
import { type EventPosition, encodeSegmentRecord, encodeTenantEntry } from './segment-records.js';

/** What a conversion did: the own events kept (re-signed), and the other logs dropped. */
export interface ConversionReport {
  readonly origin: OriginId;
  readonly ownEvents: number;
  readonly segments: number;
  readonly dropped: readonly { readonly origin: OriginId; readonly events: number }[];
}

const V2 = { gte: 'v2/', lt: 'v20' } as const;
const V3 = { gte: 'v3/', lt: 'v30' } as const;
const V2_META = 'v2/meta';
const V2_LOG = 'v2/log/';
const V2_HEAD = 'v2/head/';
const V2_CONTROL = 'v2/control/';
const V2_TALLY = 'v2/control-tally';
const V2_ORIGIN = 'v2/origin/';
const V2_OUTBOX = 'v2/outbox/';

function v2LogKey(origin: OriginId, seq: number): string {
  return `${V2_LOG}${origin}/${String(seq).padStart(16, '0')}`;
}

/** v2's chain: H(previous ‖ canonical JSON of the event). */
function v2Hash(crypto: Crypto, previous: Uint8Array, event: LedgerEvent): Uint8Array {
  const body = eventCanonicalBytes(event);
  const input = new Uint8Array(previous.length + body.length);
  input.set(previous, 0);
  input.set(body, previous.length);
  return crypto.hash(input);
}

type Write = { type: 'put'; key: string; value: Uint8Array };

function put(key: string, payload: Uint8Array): Write {
  return { type: 'put', key, value: sealRecord(key, payload) };
}

/** Converts the v2 records of `db` to v3 (see the file's doc); null when v2 held no node (no meta). */
export async function convertV2(db: Db, crypto: Crypto): Promise<ConversionReport | null> {
  if ((await db.get(META_KEY)) !== undefined) {
    await db.clear(V2); // converted before a crash removed v2: finish the removal
    return null;
  }
  await db.clear(V3);
  const metaBytes = await db.get(V2_META);
  if (metaBytes === undefined) {
    await db.clear(V2);
    return null;
  }
  const meta = decodeNodeMeta(V2_META, openRecord(V2_META, metaBytes));
  const own = originId(meta.region, meta.incarnation);

  const heads: LogHead[] = [];
  for (const [key, bytes] of await db.iterator({ gte: V2_HEAD, lt: 'v2/head0' }).all())
    heads.push(decodeLogHead(key, openRecord(key, bytes)));
  const ownHead = heads.find((head) => head.origin === own);

  let entry = 0;
  let segments = 0;
  let ownEvents = 0;
  let head: LogHead | null = null;
  if (ownHead !== undefined) {
    const signed =
      ownHead.signature !== null &&
      crypto.verify(
        crypto.publicKey,
        headSigningBytes(meta.cluster, own, ownHead.seq, ownHead.hash),
        ownHead.signature,
      );
    if (!signed)
      throw new StoreCorruptError(
        headKey(own),
        "the v2 head does not verify with this node's key: not converted",
      );
    let v2Previous: Uint8Array = new Uint8Array(32);
    let v3Previous: Uint8Array = new Uint8Array(32);
    let writer: SegmentWriter | null = null;
    let tenants: TenantId[] = [];
    let writes: Write[] = [];
    const seal = async (last: boolean): Promise<void> => {
      if (writer !== null) {
        const bytes = writer.finish();
        const hash = (() => {
          const input = new Uint8Array(32 + bytes.length);
          input.set(v3Previous, 0);
          input.set(bytes, 32);
          return crypto.hash(input);
        })();
        const lastSeq = writer.firstSeq + writer.count - 1;
        const signature = crypto.sign(headSigningBytes(meta.cluster, own, lastSeq, hash));
        const key = segmentKey(own, lastSeq);
        writes.push(
          put(
            key,
            encodeSegmentRecord({ origin: own, firstSeq: writer.firstSeq, lastSeq, bytes, hash, signature }),
          ),
        );
        const positions = new Map<TenantId, EventPosition[]>();
        tenants.forEach((tenant, i) => {
          const list = positions.get(tenant) ?? [];
          list.push({ origin: own, seq: (writer as SegmentWriter).firstSeq + i });
          positions.set(tenant, list);
        });
        for (const [tenant, list] of positions) {
          entry += list.length;
          writes.push(put(tenantKey(tenant, entry), encodeTenantEntry(list)));
        }
        head = { origin: own, seq: lastSeq, hash, signature };
        v3Previous = hash;
        segments += 1;
        writer = null;
        tenants = [];
      }
      if (writes.length > 0 && (last || segments % CONVERT_BATCH_SEGMENTS === 0)) {
        await writeBatch(db, writes);
        writes = [];
      }
    };
    for (let from = 1; from <= ownHead.seq; ) {
      const page = await db
        .iterator({ gte: v2LogKey(own, from), lte: v2LogKey(own, ownHead.seq), limit: CONVERT_PAGE_EVENTS })
        .all();
      if (page.length === 0)
        throw new StoreCorruptError(v2LogKey(own, from), 'missing from the v2 log: not converted');
      for (const [key, bytes] of page) {
        const { event, hash } = decodeStoredEvent(key, openRecord(key, bytes));
        if (key !== v2LogKey(own, from) || event.origin !== own || event.seq !== from)
          throw new StoreCorruptError(v2LogKey(own, from), 'missing from the v2 log: not converted');
        const computed = v2Hash(crypto, v2Previous, event);
        if (!sameBytes(computed, hash))
          throw new StoreCorruptError(key, 'the v2 hash chain breaks here: not converted');
        v2Previous = computed;
        if (writer !== null && writer.bytes >= SEGMENT_CUT_BYTES) await seal(false);
        writer ??= new SegmentWriter(own, event.seq);
        writer.add(event);
        tenants.push(event.tenant);
        ownEvents += 1;
        from += 1;
      }
    }
    if (!sameBytes(v2Previous, ownHead.hash))
      throw new StoreCorruptError(headKey(own), 'the v2 head is not the end of the v2 log: not converted');
    await seal(true);
  }

  const final: Write[] = [];
  if (head !== null) final.push(put(headKey(own), encodeLogHead(head)));
  const tallyBytes = await db.get(V2_TALLY);
  const tally =
    tallyBytes === undefined
      ? { count: 0, last: 0 }
      : decodeControlTally(V2_TALLY, openRecord(V2_TALLY, tallyBytes));
  let count = 0;
  for (const [key, bytes] of await db.iterator({ gte: V2_CONTROL, lt: 'v2/control0' }).all()) {
    entry += 1;
    count += 1;
    final.push(put(controlKey(entry), encodeControlUpdate(decodeControlUpdate(key, openRecord(key, bytes)))));
  }
  if (count !== tally.count)
    throw new StoreCorruptError(V2_TALLY, `counts ${tally.count} control updates; found ${count}`);
  if (count > 0) final.push(put(CONTROL_TALLY_KEY, encodeControlTally({ count, last: entry })));
  for (const [key, bytes] of await db.iterator({ gte: V2_ORIGIN, lt: 'v2/origin0' }).all()) {
    const origin = key.slice(V2_ORIGIN.length);
    if (!isOriginId(origin)) throw new StoreCorruptError(key, 'not a heard-of origin key');
    final.push(
      put(originKey(origin), encodeHeardOrigin(decodeHeardOrigin(key, openRecord(key, bytes), origin))),
    );
  }
  // The outbox (webhook deliveries, alert states) is kept as it is, under v3's prefix.
  for (const [key, bytes] of await db.iterator({ gte: V2_OUTBOX, lt: 'v2/outbox0' }).all()) {
    final.push(put(`${OUTBOX_KEY_PREFIX}${key.slice(V2_OUTBOX.length)}`, openRecord(key, bytes)));
  }
  final.push({ type: 'put', ...counterRecord(entry) });
  final.push(put(META_KEY, encodeNodeMeta(meta)));
  await writeBatch(db, final, { sync: true });
  const dropped = heads
    .filter((other) => other.origin !== own)
    .map((other) => ({ origin: other.origin, events: other.seq }));
  await db.clear(V2);
  return { origin: own, ownEvents, segments, dropped };
}
